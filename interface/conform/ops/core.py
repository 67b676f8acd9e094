"""The parts every op's conformance check shares: the run's settings (``OpsConfig``), one request run
through the API (``run_request``), the result records in the to_image report format (``record``, with the
registry's explanation of a difference), and the plug-in shape of one op's check (``OpCheck``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dcmharness.interface.conform import divergence
from dcmharness.interface.conform.ops.compare_json import Difference
from dcmharness.interface.conform.status import (
    ERROR,
    EXPLAINED,
    MATCH,
    MISMATCH,
    REFERENCE_ERROR,
    UNSUPPORTED,
    UNSUPPORTED_CODES,
)


@dataclass
class OpsConfig:
    op: str
    out: Path
    corpus: Sequence[Path] | None = None
    backends: Sequence[str] | None = None  # None: every available backend implementing the op
    reference: str = "python_ref"
    limit: int | None = None
    registry_path: Path | None = None
    timeout: float | None = None
    targets: Sequence[str] | None = None  # transcode: None = every target
    progress: bool = False
    html: bool = True  # also write report.html (ops/html.py)
    keep_all: bool = False  # keep every output (default: only those of the results needing attention)


@dataclass
class Run:
    ok: bool
    output: str | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    command: list[str] | None = None
    duration_ms: float = 0.0
    version: str | None = None


@dataclass
class Ctx:
    config: OpsConfig
    entries: list[divergence.Divergence]
    records: list[dict[str, Any]] = field(default_factory=list)
    refs: list[dict[str, Any]] = field(default_factory=list)
    #: what an op's check adds to the report beside the records (e.g. transcode's cross-decoding matrix)
    extra: dict[str, Any] = field(default_factory=dict)


#: One file of an op's corpus: (ctx, path, case name, the backends compared, the case's output folder).
FileCheck = Callable[[Ctx, Path, str, Sequence[str], Path], None]


@dataclass(frozen=True)
class OpCheck:
    """How one op is compared across backends: its default corpus (sample file names; missing ones are
    skipped), the check of one file, and what it adds to the finished report."""

    files: tuple[str, ...]
    check_file: FileCheck
    charset_files: bool = False  # add pydicom's character-set files to the default corpus
    finish: Callable[[Ctx, dict[str, Any]], None] | None = None
    generated: Callable[[], list[Path]] | None = None  # files the check writes or finds itself (planted defects)
    #: the op's own corpus (e.g. series folders), given the run's settings; replaces ``files`` when set
    corpus: Callable[[OpsConfig], list[Path]] | None = None


def sample_files(check: OpCheck) -> list[Path]:
    """The sample files of an op's default corpus."""
    from dcmharness.interface.samples import find

    files: list[Path] = []
    for name in check.files:
        try:
            files.append(find(name))
        except KeyError:
            continue
    if check.charset_files:
        from pydicom.data import get_charset_files

        files += sorted(Path(p) for p in get_charset_files("*.dcm"))
    if check.generated is not None:
        files = check.generated() + files
    return files


def run_request(request: dict[str, Any], timeout: float | None) -> Run:
    from dcmharness.interface.api import run

    if timeout is not None:
        request = {**request, "timeout": timeout}
    resp = run(request)
    return Run(
        ok=resp.ok,
        output=resp.outputs[0] if resp.outputs else None,
        result=resp.result,
        error=resp.error.model_dump() if resp.error else None,
        command=resp.command,
        duration_ms=resp.duration_ms,
        version=resp.backend_version,
    )


def _case(backend: str, profile: str, path: Path, options: dict[str, Any]) -> divergence.Case:
    try:
        import pydicom

        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        ts = str(ds.file_meta.TransferSyntaxUID) if "TransferSyntaxUID" in getattr(ds, "file_meta", {}) else None
    except Exception:
        ds, ts = None, None
    return divergence.Case(
        backend=backend, profile=profile, input=str(path), options=options, dataset=ds, transfer_syntax=ts
    )


def explain(
    ctx: Ctx, backend: str, profile: str, path: Path, options: dict[str, Any], max_abs_diff: float | None = None
) -> divergence.Explanation:
    """A registry entry naming this profile explicitly (ops never borrow to_image entries). Without a measured
    ``max_abs_diff`` only ``any_difference`` entries explain; with one, a ``max_abs_diff`` entry bounding it."""
    entries = [e for e in ctx.entries if e.profiles is not None and profile in e.profiles]
    case = _case(backend, profile, path, options)
    if max_abs_diff is None:
        return divergence.find_explanation(entries, case, math.inf, False)
    return divergence.find_explanation(entries, case, max_abs_diff, True)


def known_failure(
    ctx: Ctx, backend: str, profile: str, path: Path, options: dict[str, Any]
) -> divergence.Divergence | None:
    """A ``tool_fails`` entry naming this profile whose conditions hold: the known cause of an error."""
    entries = [e for e in ctx.entries if e.profiles is not None and profile in e.profiles]
    return divergence.find_failure(entries, _case(backend, profile, path, options))


def record(
    ctx: Ctx,
    *,
    case: str,
    path: Path,
    profile: str,
    options: dict[str, Any],
    backend: str,
    run: Run,
    problems: list[Any] | None,
    reference: Run | None,
    metrics: dict[str, Any] | None = None,
    max_abs_diff: float | None = None,
) -> dict[str, Any]:
    """One result record; ``problems`` None means the comparison could not run (see the run's error).
    ``max_abs_diff``: the measured difference of same-shaped arrays (``decode``), bounded by registry entries."""
    div: dict[str, Any] | None = None
    exceeded: tuple[str, ...] = ()
    if reference is not None and not reference.ok:
        status = REFERENCE_ERROR
    elif not run.ok:
        code = (run.error or {}).get("code")
        status = UNSUPPORTED if code in UNSUPPORTED_CODES else ERROR
        failure = known_failure(ctx, backend, profile, path, options) if status == ERROR else None
        if failure is not None:  # the error stays an error, with its registered cause
            div = {"id": failure.id, "cause": failure.cause, "source": failure.source}
    elif not problems:
        status = MATCH
    else:
        found = explain(ctx, backend, profile, path, options, max_abs_diff)
        exceeded = found.exceeded
        if found.entry is not None:
            status, div = EXPLAINED, {"id": found.entry.id, "cause": found.entry.cause, "source": found.entry.source}
        else:
            status = MISMATCH
    rec = {
        "case": case,
        "input": str(path),
        "file": path.name,
        "profile": profile,
        "options": options,
        "backend": backend,
        "backend_version": run.version,
        "status": status,
        "metrics": {**(metrics or {}), "problems": len(problems or []), "details": (problems or [])[:20]},
        "divergence": div,
        "exceeded": list(exceeded),
        "output": run.output,
        "error": run.error,
        "duration_ms": run.duration_ms,
        "command": run.command,
        "reference_output": reference.output if reference else None,
        "reference_error": reference.error if reference else None,
    }
    ctx.records.append(rec)
    return rec


def ref_record(ctx: Ctx, case: str, path: Path, profile: str, options: dict[str, Any], run: Run) -> None:
    ctx.refs.append(
        {
            "case": case,
            "input": str(path),
            "file": path.name,
            "profile": profile,
            "options": options,
            "ok": run.ok,
            "output": run.output,
            "error": run.error,
            "duration_ms": run.duration_ms,
            "command": run.command,
        }
    )


def as_dicts(items: list[Difference]) -> list[Any]:
    return [d.as_dict() for d in items]
