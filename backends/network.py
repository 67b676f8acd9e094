"""What every DICOM network backend shares (pure, no network library): the files a ``store`` sends, the
meaning of DIMSE statuses (PS3.7 Annex C) and of A-ASSOCIATE-RJ reasons (PS3.8 9.3.4), the errors of a
failed association, and a free loopback port for the peers the harness starts.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError

#: Files of a folder ``store`` sends at most (one association); more is refused before connecting.
MAX_STORE_FILES = 100_000

#: PS3.8 Table 9-21: (result source, diagnostic) -> reason, as the standard names them.
REJECT_SOURCES: dict[int, str] = {
    1: "DICOM UL service-user",
    2: "DICOM UL service-provider (ACSE related function)",
    3: "DICOM UL service-provider (Presentation related function)",
}
REJECT_RESULTS: dict[int, str] = {1: "rejected-permanent", 2: "rejected-transient"}
REJECT_REASONS: dict[tuple[int, int], str] = {
    (1, 1): "no-reason-given",
    (1, 2): "application-context-name-not-supported",
    (1, 3): "calling-AE-title-not-recognized",
    (1, 7): "called-AE-title-not-recognized",
    (2, 1): "no-reason-given",
    (2, 2): "protocol-version-not-supported",
    (3, 1): "temporary-congestion",
    (3, 2): "local-limit-exceeded",
}

#: DIMSE statuses by exact value (PS3.7 C.1-C.4 and the service classes of PS3.4).
STATUS_MEANINGS: dict[int, str] = {
    0x0000: "Success",
    0xFF00: "Pending",
    0xFF01: "Pending (optional keys not supported)",
    0xFE00: "Cancel",
    0x0105: "No such attribute",
    0x0106: "Invalid attribute value",
    0x0110: "Processing failure",
    0x0111: "Duplicate SOP instance",
    0x0112: "No such SOP instance",
    0x0117: "Invalid object instance",
    0x0118: "No such SOP class",
    0x0119: "Class-instance conflict",
    0x0122: "SOP class not supported",
    0x0124: "Not authorized",
    0x0210: "Duplicate invocation",
    0x0211: "Unrecognized operation",
    0x0212: "Mistyped argument",
    0x0213: "Resource limitation",
    0xB000: "Warning: coercion of data elements",
    0xB006: "Warning: elements discarded",
    0xB007: "Warning: data set does not match SOP class",
}


#: C-GET / C-MOVE statuses whose meaning differs from the general table (PS3.4 Table C.4-3).
RETRIEVE_STATUS_MEANINGS: dict[int, str] = {
    0xB000: "Warning: sub-operations complete, one or more failures or warnings",
    0xA701: "Refused: out of resources, unable to calculate number of matches",
    0xA702: "Refused: out of resources, unable to perform sub-operations",
    0xA900: "Error: identifier does not match SOP class",
}


def retrieve_status_entry(status: int) -> dict[str, Any]:
    """``status_entry`` with the meanings of a C-GET response (PS3.4 Table C.4-3). Pure."""
    entry = status_entry(status)
    if status in RETRIEVE_STATUS_MEANINGS:
        entry["meaning"] = RETRIEVE_STATUS_MEANINGS[status]
    return entry


def status_meaning(status: int) -> str:
    """The meaning of a DIMSE status (exact value first, then the ranges of PS3.4 Annex B and C). Pure."""
    if status in STATUS_MEANINGS:
        return STATUS_MEANINGS[status]
    high = status >> 8
    if high == 0xA7:
        return "Refused: out of resources"
    if high == 0xA9:
        return "Error: data set does not match SOP class"
    if status >> 12 == 0xC:
        return "Error: cannot understand"
    if high == 0xB0:
        return "Warning"
    return "Unknown status"


def status_category(status: int) -> str:
    """``success``, ``warning``, ``pending``, ``cancel`` or ``failure`` (PS3.7 C.1). Pure."""
    if status == 0x0000:
        return "success"
    if status in (0xFF00, 0xFF01):
        return "pending"
    if status == 0xFE00:
        return "cancel"
    if status >> 12 == 0xB or status == 0x0001 or status == 0x0107 or status == 0x0116:
        return "warning"
    return "failure"


def status_entry(status: int) -> dict[str, Any]:
    """A status as the results carry it: ``{"status": "0x0000", "meaning", "category"}``. Pure."""
    return {"status": f"0x{status:04X}", "meaning": status_meaning(status), "category": status_category(status)}


@dataclass(frozen=True)
class Rejection:
    """An A-ASSOCIATE-RJ: result, source and diagnostic as received."""

    result: int
    source: int
    diagnostic: int

    @property
    def reason(self) -> str:
        return REJECT_REASONS.get((self.source, self.diagnostic), f"reason {self.diagnostic}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "result": REJECT_RESULTS.get(self.result, str(self.result)),
            "source": REJECT_SOURCES.get(self.source, str(self.source)),
            "reason": self.reason,
            "codes": [self.result, self.source, self.diagnostic],
        }


class AssociationRejected(HarnessError):
    """``association_rejected`` with the A-ASSOCIATE-RJ's reason (``rejection``) and what was called."""

    def __init__(self, rejection: Rejection, called_aet: str) -> None:
        super().__init__(
            ErrorCode.ASSOCIATION_REJECTED,
            f"association rejected by the peer ({REJECT_RESULTS.get(rejection.result, rejection.result)}, "
            f"{REJECT_SOURCES.get(rejection.source, rejection.source)}): {rejection.reason} "
            f"(called AE title {called_aet!r})",
            "options.called_aet" if (rejection.source, rejection.diagnostic) == (1, 7) else None,
        )
        self.rejection = rejection


def network_error(message: str) -> HarnessError:
    return HarnessError(ErrorCode.NETWORK_ERROR, message, "options.port")


def dimse_failure(message: str) -> HarnessError:
    return HarnessError(ErrorCode.DIMSE_FAILURE, message)


@dataclass(frozen=True)
class StoreFile:
    """One file a ``store`` sends: what the association must propose for it."""

    path: Path
    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax: str
    #: the File Meta Information names the same SOP Class and Instance as the data set (not so in some files)
    meta_matches: bool = True


def read_store_file(path: Path) -> StoreFile:
    """The SOP class, instance and transfer syntax of a DICOM file (header only); ``not_dicom`` otherwise."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID", "SOPInstanceUID"])
    except (InvalidDicomError, OSError, ValueError, EOFError, KeyError, TypeError) as exc:
        raise HarnessError(ErrorCode.NOT_DICOM, f"{path}: not a DICOM file ({exc})"[:500], "input") from None
    meta = getattr(ds, "file_meta", None)
    sop_class = str(ds.get("SOPClassUID", "") or (meta.get("MediaStorageSOPClassUID", "") if meta else ""))
    sop_instance = str(ds.get("SOPInstanceUID", "") or (meta.get("MediaStorageSOPInstanceUID", "") if meta else ""))
    tsyntax = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    if not sop_class or not sop_instance or not tsyntax:
        raise HarnessError(
            ErrorCode.NOT_DICOM,
            f"{path}: a DICOM file to store needs a File Meta Information header with its transfer syntax and "
            "a SOP Class and Instance UID",
            "input",
        )
    matches = meta is not None and (
        str(meta.get("MediaStorageSOPClassUID", "")) == sop_class
        and str(meta.get("MediaStorageSOPInstanceUID", "")) == sop_instance
    )
    return StoreFile(path, sop_class, sop_instance, tsyntax, matches)


def list_store_files(path: Path) -> list[Path]:
    """A file, or every regular file under a folder (recursive, sorted, hidden entries skipped)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise HarnessError(ErrorCode.INPUT_NOT_FOUND, f"{path} is neither a file nor a folder", "input")
    found: list[Path] = []
    for entry in sorted(path.rglob("*")):
        if any(part.startswith(".") for part in entry.relative_to(path).parts) or not entry.is_file():
            continue
        found.append(entry)
        if len(found) > MAX_STORE_FILES:
            raise HarnessError(ErrorCode.INVALID_REQUEST, f"more than {MAX_STORE_FILES} files under {path}", "input")
    if not found:
        raise HarnessError(ErrorCode.INPUT_NOT_FOUND, f"no file under {path}", "input")
    return found


def store_files(path: Path) -> tuple[list[StoreFile], list[str]]:
    """Every file a ``store`` of ``path`` sends, each checked to be a DICOM file, and a warning for each file of a
    folder that is not (skipped). A single file that is not DICOM, or a folder without any DICOM file, is
    ``not_dicom``: nothing is sent."""
    paths = list_store_files(path)
    if path.is_file():
        return [read_store_file(path)], []
    files: list[StoreFile] = []
    skipped: list[str] = []
    for p in paths:
        try:
            files.append(read_store_file(p))
        except HarnessError as exc:
            if exc.code != ErrorCode.NOT_DICOM:
                raise
            skipped.append(f"skipped (not sent): {exc.message}"[:500])
    if not files:
        raise HarnessError(ErrorCode.NOT_DICOM, f"no DICOM file under {path} ({len(skipped)} skipped)", "input")
    return files, skipped


@dataclass
class StoreInput(InputInfo):
    """The input of a ``store``: the file or folder (``path``), every file it sends, in order, and what it skips
    (``warnings``: the dispatcher puts them in the response)."""

    files: list[StoreFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def store_input(path: Path) -> StoreInput:
    """Read every file of a ``store`` (headers only) before anything connects."""
    files, skipped = store_files(path)
    size = sum(f.path.stat().st_size for f in files)
    return StoreInput(
        path=path,
        dataset=None,
        transfer_syntax=None,
        has_pixel_data=False,
        size_bytes=size,
        files=files,
        warnings=skipped,
    )


def check_proposal(files: list[StoreFile], proposed: list[str] | None) -> None:
    """With explicit ``transfer_syntaxes``, every file must be in one of them (nobody re-encodes in transit)."""
    if proposed is None:
        return
    for f in files:
        if f.transfer_syntax not in proposed:
            raise HarnessError(
                ErrorCode.INVALID_REQUEST,
                f"{f.path} is in transfer syntax {f.transfer_syntax}, which transfer_syntaxes does not propose "
                "(store sends files as they are)",
                "options.transfer_syntaxes",
            )


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_listening(host: str, port: int, deadline_s: float, alive: Any = None) -> bool:
    """True once ``host:port`` accepts a TCP connection, False after ``deadline_s`` (or when ``alive()`` is
    False: the server died while starting)."""
    import time

    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if alive is not None and not alive():
            return False
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


@dataclass(frozen=True)
class Peer:
    """A DICOM peer the harness started: where it listens and its process id."""

    host: str
    port: int
    aet: str
    pid: int
    store_dir: str


@contextlib.contextmanager
def started_peer(
    argv: list[str], host: str, port: int, aet: str, store_dir: str, start_s: float = 20.0
) -> Iterator[Peer]:
    """Run ``argv`` (a server listening on ``host:port``) in its own process group until the block ends; stopped
    by its PID (SIGTERM, then SIGKILL of the group) also on error and Ctrl-C. ``backend_unavailable`` if it
    does not listen within ``start_s``."""
    import subprocess

    try:  # a port another server holds would answer the readiness check in our server's stead
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((host, port))
    except OSError as exc:
        raise HarnessError(ErrorCode.BACKEND_UNAVAILABLE, f"cannot listen on {host}:{port}: {exc}", "port") from None
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        if not wait_listening(host, port, start_s, alive=lambda: proc.poll() is None):
            stop_process(proc)
            err = proc.stderr.read().decode("utf-8", "replace")[-2000:] if proc.stderr else ""
            raise HarnessError(
                ErrorCode.BACKEND_UNAVAILABLE,
                f"{os.path.basename(argv[0])} did not listen on {host}:{port} within {start_s:g} s: {err.strip()}",
                "backend",
            )
        yield Peer(host, port, aet, proc.pid, store_dir)
    finally:
        stop_process(proc)


def stop_process(proc: Any) -> None:
    """SIGTERM the process group of ``proc``, SIGKILL it after 5 s; reap it."""
    import signal
    import subprocess

    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    if proc.stderr is not None:
        proc.stderr.close()


#: C-FIND information models (PS3.4 C.6): contract name -> the FIND SOP Class UID.
FIND_MODELS: dict[str, str] = {
    "patient_root": "1.2.840.10008.5.1.4.1.2.1.1",
    "study_root": "1.2.840.10008.5.1.4.1.2.2.1",
}
#: C-GET information models (PS3.4 C.6): contract name -> the GET SOP Class UID.
GET_MODELS: dict[str, str] = {
    "patient_root": "1.2.840.10008.5.1.4.1.2.1.3",
    "study_root": "1.2.840.10008.5.1.4.1.2.2.3",
}


_BINARY_NUMBERS = ("US", "SS", "UL", "SL", "UV", "SV", "FL", "FD")


def find_identifier(level: str, query: dict[str, str]) -> Any:
    """The C-FIND identifier (a pydicom Dataset): Query/Retrieve Level and each key; ``invalid_request`` naming a
    key that is not a keyword of the data dictionary or is a sequence."""
    from pydicom import Dataset
    from pydicom.datadict import dictionary_VR, tag_for_keyword

    ds = Dataset()
    ds.QueryRetrieveLevel = level.upper()
    for key, value in query.items():
        tag = tag_for_keyword(key)
        if tag is None:
            raise HarnessError(ErrorCode.INVALID_REQUEST, f"{key!r} is not a DICOM keyword", f"options.query.{key}")
        vr = dictionary_VR(tag)
        if vr == "SQ":
            raise HarnessError(
                ErrorCode.INVALID_REQUEST, f"{key} is a sequence: not a query key here", f"options.query.{key}"
            )
        try:
            if value and vr in _BINARY_NUMBERS:
                float(value) if vr in ("FL", "FD") else int(value)  # a binary number must be one
            ds.add_new(tag, vr, value)
        except (ValueError, TypeError, OverflowError) as exc:
            raise HarnessError(
                ErrorCode.INVALID_REQUEST, f"{key}: {value!r} is not a {vr} value ({exc})"[:300], f"options.query.{key}"
            ) from None
    return ds


def json_of(identifier: Any) -> dict[str, Any]:
    """A response identifier as DICOM JSON (PS3.18 F.2), without the group 0000/0002 elements."""
    model: dict[str, Any] = identifier.to_json_dict()
    return {tag: value for tag, value in model.items() if not tag.startswith(("0000", "0002"))}


# -- get: the output folder ----------------------------------------------------------------------------------


def instance_file_name(uid: str) -> str:
    """``<SOP Instance UID>.dcm``, only digits and dots kept (a UID from the network names no other path). Pure."""
    cleaned = "".join(c for c in uid if c.isdigit() or c == ".").strip(".")
    return f"{cleaned or 'instance'}.dcm"


@dataclass
class RetrievePlan(OutputPlan):
    """The output of a ``get``: a folder; the backend writes what it receives into ``incoming`` (a hidden folder
    inside it), ``commit`` moves every file into the folder, all or nothing: a file that exists there is
    ``output_exists`` (nothing moved) unless ``overwrite``. ``discard`` removes ``incoming`` (and the folder when
    the preparer created it)."""

    folder: Path = Path(".")
    incoming: Path = Path(".")
    created: bool = False

    def received(self) -> list[Path]:
        return sorted(p for p in self.incoming.iterdir() if p.is_file()) if self.incoming.is_dir() else []

    def commit(self) -> list[str]:
        files = self.received()
        try:
            if not self.overwrite:
                taken = [p.name for p in files if os.path.lexists(self.folder / p.name)]
                if taken:
                    raise HarnessError(
                        ErrorCode.OUTPUT_EXISTS,
                        f'{len(taken)} retrieved file(s) exist in {self.folder}, e.g. {taken[0]} (set "overwrite": '
                        "true to replace them); nothing written",
                        "output",
                    )
            done: list[Path] = []
            try:
                for p in files:
                    final = self.folder / p.name
                    if self.overwrite:
                        os.replace(p, final)
                    else:
                        os.link(p, final)  # fails if the name appeared meanwhile: never an overwrite
                        p.unlink()
                    done.append(final)
            except BaseException:
                for q in done:
                    with contextlib.suppress(OSError):
                        q.unlink()
                raise
        except FileExistsError as exc:
            self.discard()
            raise HarnessError(ErrorCode.OUTPUT_EXISTS, f"output exists: {exc.filename}", "output") from None
        except BaseException:
            self.discard()
            raise
        self._remove_incoming()
        return [str(p) for p in done]

    def _remove_incoming(self) -> None:
        import shutil

        shutil.rmtree(self.incoming, ignore_errors=True)

    def discard(self) -> None:
        self._remove_incoming()
        if self.created:
            with contextlib.suppress(OSError):
                self.folder.rmdir()


def retrieve_plan(folder: Path, overwrite: bool) -> RetrievePlan:
    """Create the output folder (its parent must exist) and the hidden ``incoming`` folder in it."""
    import secrets

    if folder.exists() and not folder.is_dir():
        raise HarnessError(ErrorCode.OUTPUT_EXISTS, f"output is a file, not a folder: {folder}", "output")
    if not folder.parent.is_dir():
        raise HarnessError(ErrorCode.OUTPUT_DIR_MISSING, f"output folder's parent does not exist: {folder}", "output")
    created = not folder.exists()
    if created:
        folder.mkdir()
    incoming = folder / f".dcmharness-get-{os.getpid()}-{secrets.token_hex(4)}"
    incoming.mkdir()
    return RetrievePlan(overwrite=overwrite, folder=folder, incoming=incoming, created=created)


def received_file(path: Path) -> dict[str, Any]:
    """What a retrieved file is (header only): ``sop_instance_uid``, ``sop_class_uid``, ``transfer_syntax``."""
    import pydicom

    ds = pydicom.dcmread(path, stop_before_pixels=True)
    meta = ds.file_meta
    return {
        "sop_instance_uid": str(ds.get("SOPInstanceUID", "") or meta.get("MediaStorageSOPInstanceUID", "")),
        "sop_class_uid": str(ds.get("SOPClassUID", "") or meta.get("MediaStorageSOPClassUID", "")),
        "transfer_syntax": str(meta.get("TransferSyntaxUID", "")),
    }
