"""A folder as a request's ``input``: the op on each DICOM file in it, one response per file and a summary.

``expand`` lists the folder (its sub-folders too with ``recursive``) in the order of the files' relative paths
and makes one request per file: the same fields, ``input`` the file, ``output`` the mirrored path
``<output folder>/<relative folder>/<file name without .dcm><the op's extension>`` (ops that write nothing get
none), ``id`` = ``"<request id>/<relative path>"`` (the relative path alone when the request has no id).
Skipped, each named in the summary's warnings, never an error of the run: hidden entries (a name starting with
``.``), entries that are not files (FIFOs, sockets, devices: never opened, a read could block), symbolic links
to folders (not followed: no cycles), files that are not DICOM (no ``DICM`` at byte 128, and not a bare data
set the single-file path would read). A broken symbolic link or a damaged DICOM file is not skipped: it gets
its own error response and the other files still run.

Refused as a whole (one error response, nothing run): an output folder inside the input folder (outputs would
be read back as inputs) or equal to it, an output that is a file, an output folder whose parent is missing, an
``output`` for an op that writes nothing, and ``anonymize`` on a backend that cannot keep one mapping across
files. ``anonymize`` keeps one mapping for the whole folder as a batch does: every file gets the same
``uid_secret`` (a random one per folder request when none is given), hence the same new UIDs and Patient ID;
``date_shift_days`` is one option for all.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dcmharness.backends.preflight import read_dataset
from dcmharness.contract.catalog import OPS
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import RequestBase, Response
from dcmharness.contract.ops_models import AnonymizeOptions, AnonymizeRequest
from dcmharness.contract.validation import parse_request
from dcmharness.interface import registry
from dcmharness.interface.context import RunContext, confine, default_output_name, resolve_path
from dcmharness.interface.prepare import output_suffix

#: The first two bytes of a bare data set (no preamble): group 0002 or 0008, little or big endian.
_BARE_GROUPS = (b"\x02\x00", b"\x08\x00", b"\x00\x02", b"\x00\x08")


@dataclass
class FileJob:
    """One file of the folder: its relative path (POSIX separators) and its request."""

    rel: str
    request: RequestBase


@dataclass
class Expansion:
    """A folder request made into per-file requests."""

    request: RequestBase
    input_dir: Path
    output_dir: Path | None
    jobs: list[FileJob] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # one warning per skipped entry
    created: list[Path] = field(default_factory=list)  # folders made for the outputs, deepest last

    def remove_empty_folders(self) -> None:
        """Remove the output folders this run created and left empty (a failed file leaves no trace)."""
        for folder in reversed(self.created):
            with contextlib.suppress(OSError):
                folder.rmdir()


def sub_id(request_id: Any, rel: str) -> str:
    """The id of one file's response: the request id plus the relative path."""
    return rel if request_id is None else f"{request_id}/{rel}"


def folder_input(data: Any, ctx: RunContext) -> bool:
    """Whether ``data`` is a valid request whose input is a folder that the op reads file by file. Never raises."""
    try:
        request = parse_request(data)
        spec = OPS.get(request.op)  # type: ignore[attr-defined]
        value = getattr(request, "input", None)
        if spec is None or spec.input_kind != "file" or not isinstance(value, str):
            return False  # a series op reads its folder itself; echo and find take no input
        return resolve_path(value, ctx).is_dir()
    except (HarnessError, OSError):
        return False


def is_dicom(path: Path) -> bool:
    """``DICM`` at byte 128, or a bare data set (no preamble) that the single-file path reads too."""
    with open(path, "rb") as fh:
        head = fh.read(132)
    if head[128:132] == b"DICM":
        return True
    if head[:2] not in _BARE_GROUPS:
        return False
    try:
        read_dataset(path)
    except HarnessError:
        return False
    return True


def _kind(st: os.stat_result) -> str:
    mode = st.st_mode
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def list_folder(root: Path, recursive: bool) -> tuple[list[tuple[str, Path]], list[str]]:
    """The candidate files (relative path, path) sorted by relative path, and a warning per skipped entry."""
    found: list[tuple[str, Path]] = []
    skipped: list[str] = []
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            skipped.append(f"skipped {_rel(folder, root) or '.'}/: cannot list the folder ({exc.strerror})")
            continue
        for entry in entries:
            path = Path(entry.path)
            rel = _rel(path, root)
            if entry.name.startswith("."):
                skipped.append(f"skipped {rel}: hidden")
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    if recursive:
                        pending.append(path)
                    else:
                        skipped.append(f"skipped {rel}/: a sub-folder (set recursive to include it)")
                    continue
                if entry.is_symlink():
                    if path.is_dir():
                        skipped.append(f"skipped {rel}: a symbolic link to a folder (not followed)")
                        continue
                    if not path.exists():
                        found.append((rel, path))  # a broken link: answered input_not_found on its own
                        continue
                st = path.stat()
            except OSError as exc:
                skipped.append(f"skipped {rel}: {exc.strerror}")
                continue
            if not stat.S_ISREG(st.st_mode):
                skipped.append(f"skipped {rel}: {_kind(st)}, never opened")
                continue
            found.append((rel, path))
    found.sort(key=lambda item: item[0])
    return found, skipped


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path != root else ""


def _dicom_files(found: list[tuple[str, Path]], skipped: list[str]) -> list[tuple[str, Path]]:
    kept: list[tuple[str, Path]] = []
    for rel, path in found:
        if not path.exists():
            kept.append((rel, path))
            continue
        try:
            if path.stat().st_size == 0:
                skipped.append(f"skipped {rel}: empty, not DICOM")
                continue
            dicom = is_dicom(path)
        except OSError:
            kept.append((rel, path))  # unreadable: answered input_not_found on its own
            continue
        if dicom:
            kept.append((rel, path))
        else:
            skipped.append(f"skipped {rel}: not a DICOM file")
    return kept


def _json_documents(found: list[tuple[str, Path]], skipped: list[str]) -> list[tuple[str, Path]]:
    """``from_json``'s inputs in a folder: its ``.json`` files (bulk data files beside them are not inputs)."""
    kept = [(rel, path) for rel, path in found if path.name.lower().endswith(".json")]
    skipped += [f"skipped {rel}: not a .json document" for rel, path in found if (rel, path) not in kept]
    return kept


def _output_dir(request: RequestBase, ctx: RunContext, input_dir: Path) -> Path | None:
    op: str = request.op  # type: ignore[attr-defined]
    if output_suffix(request) is None:
        if request.output is not None:
            raise HarnessError(ErrorCode.INVALID_REQUEST, f"{op} writes no file: drop 'output'", "output")
        if OPS[op].writes_output:
            raise HarnessError(ErrorCode.INVALID_REQUEST, f"{op} does not take a folder input", "input")
        return None
    name = request.output or f"{input_dir.resolve().name or 'root'}.{op}"
    out = confine(resolve_path(name, ctx, "output"), ctx.root, "output")
    real_out, real_in = out.resolve(), input_dir.resolve()
    if real_out == real_in or real_in in real_out.parents:
        raise HarnessError(
            ErrorCode.INVALID_REQUEST,
            f"the output folder {out} is inside the input folder: its files would be read back as inputs",
            "output",
        )
    if out.exists() and not out.is_dir():
        raise HarnessError(ErrorCode.INVALID_REQUEST, f"for a folder input, output must be a folder: {out}", "output")
    if not out.parent.is_dir():
        raise HarnessError(
            ErrorCode.OUTPUT_DIR_MISSING, f"output folder's parent does not exist: {out.parent}", "output"
        )
    return out


def anonymize_options(request: AnonymizeRequest) -> AnonymizeOptions:
    """The options every file of a folder gets: one ``uid_secret`` for all (a random one if none is given)."""
    if request.options.uid_secret is not None:
        return request.options
    return request.options.model_copy(update={"uid_secret": secrets.token_hex(16)})


def _check_anonymize_backend(request: AnonymizeRequest) -> None:
    """Only a backend that takes ``uid_secret`` keeps one mapping across files (the others draw new UIDs per
    call: gdcmanon gave two slices of one study two Study Instance UIDs, run one file at a time)."""
    from dcmharness.adapters.base import ToolAdapter  # only a folder anonymize asks (start-up time of every run)

    backend = registry.get(request.backend)
    if not isinstance(backend, ToolAdapter):
        return  # in-process (python_ref): every option honoured
    tool = backend.tool()
    table = backend.capabilities_for(tool.version if tool else None).get("anonymize", {})
    if table.get("uid_secret", False) is False:
        raise HarnessError(
            ErrorCode.UNSUPPORTED_OPTION,
            f"{backend.name} cannot be given one UID key (uid_secret) for all files, so a folder would get new "
            "UIDs per file, not one mapping; anonymize the folder on python_ref",
            "input",
        )


def _check_backend(request: RequestBase) -> None:
    """Answer once for the whole folder what every file would answer alike."""
    backend = registry.get(request.backend)
    avail = backend.availability()
    if not avail.available:
        raise HarnessError(
            ErrorCode.BACKEND_UNAVAILABLE, f"backend {backend.name!r} is not available: {avail.reason}", "backend"
        )
    op: str = request.op  # type: ignore[attr-defined]
    if op not in backend.ops:
        raise HarnessError(ErrorCode.UNSUPPORTED_OPTION, f"backend {backend.name!r} does not implement op {op!r}", "op")
    if isinstance(request, AnonymizeRequest):
        _check_anonymize_backend(request)


def expand(request: RequestBase, ctx: RunContext) -> Expansion:
    """The per-file requests of a folder request; ``HarnessError`` for what refuses the whole run."""
    input_dir = confine(resolve_path(request.input, ctx), ctx.root, "input")
    _check_backend(request)
    output_dir = _output_dir(request, ctx, input_dir)
    found, skipped = list_folder(input_dir, request.recursive)
    from_json = request.op == "from_json"  # type: ignore[attr-defined]
    files = _json_documents(found, skipped) if from_json else _dicom_files(found, skipped)
    expansion = Expansion(request, input_dir, output_dir, skipped=skipped)
    common: dict[str, Any] = {"recursive": False, "output": None}
    if isinstance(request, AnonymizeRequest):
        common["options"] = anonymize_options(request)
    suffix = output_suffix(request)
    owners: dict[Path, str] = {}
    for rel, path in files:
        update = {**common, "id": sub_id(request.id, rel), "input": str(path)}
        if output_dir is not None and suffix is not None:
            name = Path(rel).name
            if from_json and name.lower().endswith(".json"):
                name = name[: -len(".json")]  # <stem>.json -> <stem>.dcm, as prepare_from_json names it
            out = output_dir / Path(rel).parent / default_output_name(name, suffix)
            if out in owners:
                skipped.append(f"skipped {rel}: its output {out.name} is also that of {owners[out]}")
                continue
            owners[out] = rel
            update["output"] = str(out)
        expansion.jobs.append(FileJob(rel, request.model_copy(update=update)))
    return expansion


def make_folders(expansion: Expansion) -> None:
    """Create the output folder (its parent exists: checked) and the sub-folders the files' outputs go to."""
    if expansion.output_dir is None:
        return
    needed = {Path(job.request.output).parent for job in expansion.jobs if job.request.output is not None}
    for folder in sorted(needed | {expansion.output_dir}, key=lambda p: len(p.parts)):
        missing = [p for p in (folder, *folder.parents) if not p.exists()]
        for p in reversed(missing):
            p.mkdir()
            expansion.created.append(p)


def no_file_error(expansion: Expansion) -> HarnessError:
    where = "the folder or its sub-folders" if expansion.request.recursive else "the folder"
    return HarnessError(
        ErrorCode.INPUT_NOT_FOUND,
        f"no DICOM file in {where} {expansion.input_dir} ({len(expansion.skipped)} entries skipped)",
        "input",
    )


def summary(expansion: Expansion, responses: Sequence[Response], started: float) -> Response:
    """The last answer of a folder request: counts per status (``ok`` or the error code), skipped entries."""
    request = expansion.request
    counts = Counter("ok" if r.ok else (r.error.code if r.error else "failed") for r in responses)
    error = None
    if not expansion.jobs:
        err = no_file_error(expansion)
        error = {"code": err.code.value, "message": err.message, "field": err.field}
    return Response.model_validate(
        {
            "id": request.id,
            "ok": error is None and counts.get("ok", 0) == len(responses),
            "op": request.op,  # type: ignore[attr-defined]
            "backend": request.backend,
            "backend_version": next((r.backend_version for r in responses if r.backend_version), None),
            "result": {
                "folder": str(expansion.input_dir),
                "output": str(expansion.output_dir) if expansion.output_dir is not None else None,
                "files": len(responses),
                "counts": dict(sorted(counts.items())),
                "skipped": len(expansion.skipped),
            },
            "warnings": expansion.skipped,
            "error": error,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        }
    )
