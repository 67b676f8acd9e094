"""PixelMed's DICOM network clients (``com.pixelmed.network``, pixelmed 20220618): ``echo``
(VerificationSOPClassSCU), ``store`` (StorageSOPClassSCU: every file over one association, no compression) and
``find`` (FindSOPClassSCU), through the project's launcher ``PixelMedNetwork.java``: ONE heap-capped JVM per
process answers every request (started on the first, stopped by PID in the adapter's ``close()``, killed with
its process group when a request passes its bound or the harness exits).

The job lines and the parsing of the answers are pure (golden-tested). Facts (observed against the harness's
pynetdicom SCP):

- The classes take no timeout: the request is bounded by ``options.timeout`` per network step
  (``run_bound``); past it the JVM is killed (``network_error``) and a fresh one starts on the next request.
- Failures are ``DicomNetworkException`` messages: "A-ASSOCIATE-RJ indication - rejected-permanent by DICOM UL
  Service User, called AE Title not recognized" (association_rejected, the reason parsed), "A-P-ABORT indication
  - (127.0.0.1:1) - java.net.ConnectException: Connection refused" (network_error).
- StorageSOPClassSCU reports, per file, success or not (``MultipleInstanceTransferStatusHandlerWithFileName``)
  and counts of completed / failed / warning: not the DIMSE status itself; it takes the files as a set
  (``SetOfDicomFiles`` is a HashSet), so the order they are sent in is its own. It proposes the transfer
  syntaxes it chooses (no list can be given): ``transfer_syntaxes`` is refused.
- StorageSOPClassSCU takes the Affected SOP Instance UID from the File Meta Information: pydicom's
  rtplan.dcm (meta 1.2.999..., data set 1.2.777...) is stored by the peer as 1.2.999...; the adapter warns.
- An Explicit VR Big Endian file is sent as Explicit VR Little Endian (the peer stores 1.2.840.10008.1.2.1).
- FindSOPClassSCU hands each response identifier to the handler; the launcher writes it as a bare explicit VR
  little endian data set, read back here.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from pathlib import Path
from typing import Any

from dcmharness.adapters.base import Capability
from dcmharness.adapters.network_client import (
    FIND_CAPS,
    NETWORK_CAPS,
    NetworkClient,
    instance_entry,
    peer_of,
    run_bound,
    store_summary,
)
from dcmharness.adapters.pixelmed.launcher import JVM_FLAGS, batch_line, parse_answers
from dcmharness.adapters.pixelmed.worker import ValidatorWorker
from dcmharness.adapters.runner import read_line
from dcmharness.backends.base import Outcome
from dcmharness.backends.network import (
    FIND_MODELS,
    REJECT_REASONS,
    AssociationRejected,
    Rejection,
    StoreInput,
    dimse_failure,
    find_identifier,
    network_error,
    status_entry,
)
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import RequestBase
from dcmharness.contract.ops_models import FindRequest, NetworkOptions, StoreRequest

NETWORK_CLASS = "PixelMedNetwork"
PIXELMED_NETWORK_OPS = ("echo", "store", "find")
#: Seconds the first answer may take beyond its bound: the JVM starts and loads the classes.
JVM_START_GRACE = 20.0


def pixelmed_network_capabilities() -> dict[str, dict[str, Capability]]:
    caps: dict[str, Capability] = dict(NETWORK_CAPS)
    return {"echo": dict(caps), "store": dict(caps), "find": {**caps, **FIND_CAPS}}


def network_argv(java: str, jar: str, classes: str, heap: str) -> list[str]:
    """The launcher's command line (jobs go to its standard input); ``heap`` is its ``-Xmx``. Pure."""
    return [java, *JVM_FLAGS, heap, "-cp", f"{jar}{os.pathsep}{classes}", NETWORK_CLASS]


def job_fields(request: RequestBase, info: InputInfo | None, identifier: str = "", outdir: str = "") -> list[str]:
    """The fields of one job line (``batch_line`` escapes them). Pure."""
    opts: NetworkOptions = request.options  # type: ignore[attr-defined]
    peer = [opts.host, str(opts.port), opts.called_aet, opts.calling_aet]
    if isinstance(request, StoreRequest):
        if not isinstance(info, StoreInput):
            raise HarnessError(ErrorCode.INTERNAL_ERROR, "store without its prepared input")
        return ["store", *peer, *(os.path.abspath(str(f.path)) for f in info.files)]
    if isinstance(request, FindRequest):
        return ["find", *peer, FIND_MODELS[request.options.model], identifier, outdir]
    return ["echo", *peer]


_REJECT = re.compile(r"A-ASSOCIATE-RJ indication - (rejected-\w+) by ([^,]+), (.+)$")
_SOURCES = {"dicom ul service user": 1, "dicom ul service provider (acse related function)": 2}


def rejection_of(message: str) -> Rejection | None:
    """The A-ASSOCIATE-RJ in PixelMed's exception message, or None. Pure."""
    m = _REJECT.search(message)
    if not m:
        return None
    result = {"rejected-permanent": 1, "rejected-transient": 2}.get(m.group(1), 0)
    reason = re.sub(r"[^a-z]", "", m.group(3).lower())
    for (source, diagnostic), name in REJECT_REASONS.items():
        if re.sub(r"[^a-z]", "", name.lower()) == reason:
            return Rejection(result, source, diagnostic)
    return Rejection(result, _SOURCES.get(m.group(2).strip().lower(), 0), 0)


def error_of(message: str, opts: NetworkOptions) -> HarnessError:
    """The contract error a failed job's message means. Pure."""
    where = f"{opts.host}:{opts.port}"
    rejection = rejection_of(message)
    if rejection is not None:
        return AssociationRejected(rejection, opts.called_aet)
    lowered = message.lower()
    if "status" in lowered and "abort" not in lowered:
        return dimse_failure(f"{where}: {message[:400]}")
    if "presentation context" in lowered:
        return dimse_failure(f"{where} accepted no presentation context: {message[:400]}")
    if "dicomnetworkexception" in lowered or "abort" in lowered or "socket" in lowered or "connect" in lowered:
        return network_error(f"{where}: {message[:400]}")
    return HarnessError(ErrorCode.BACKEND_FAILED, f"PixelMed failed: {message[:400]}")


def store_outcome(fields: list[str]) -> tuple[dict[str, bool], int]:
    """(file -> sent successfully, warnings) of a store answer ``store, completed, failed, warning, FILE=1|0...``.
    Pure."""
    if len(fields) < 4 or fields[0] != "store":
        raise HarnessError(ErrorCode.BACKEND_FAILED, f"PixelMed answered {fields[:4]!r} to a store")
    per_file: dict[str, bool] = {}
    for item in fields[4:]:
        path, _, flag = item.rpartition("=")
        per_file[path] = flag == "1"
    return per_file, int(fields[3])


class NetworkWorker(ValidatorWorker):
    """The launcher JVM: one job line in, one answer line out (``ValidatorWorker``'s process life cycle)."""

    def ask_fields(self, fields: list[str], timeout: float) -> tuple[bool, list[str]]:
        with self.lock:
            assert self.proc.stdin is not None and self.proc.stdout is not None
            limit = timeout + (JVM_START_GRACE if self.jobs == 0 else 0.0)
            job = self.jobs
            self.jobs += 1
            self.proc.stdin.write((batch_line(fields) + "\n").encode("utf-8"))
            self.proc.stdin.flush()
            import time

            deadline = time.monotonic() + limit
            while True:
                line, self.buffer = read_line(self.proc.stdout.fileno(), self.buffer, deadline)
                answers = parse_answers(line.decode("utf-8", "replace"))
                if job in answers:
                    return answers[job]


_lock = threading.Lock()


def _worker(adapter: Any, argv: list[str]) -> NetworkWorker:
    with _lock:
        worker: NetworkWorker | None = getattr(adapter, "_network_worker", None)
        if worker is None or not worker.alive():
            worker = NetworkWorker(argv)
            adapter._network_worker = worker
        return worker


def close_worker(adapter: Any) -> None:
    with _lock:
        worker: NetworkWorker | None = getattr(adapter, "_network_worker", None)
        adapter._network_worker = None
    if worker is not None:
        worker.close()


def check_pixelmed_network(adapter: Any, request: RequestBase, info: InputInfo | None) -> list[str]:
    if adapter.network_classes() is None:
        raise HarnessError(
            ErrorCode.BACKEND_UNAVAILABLE,
            "pixelmed: the network launcher is not built (bash adapters/pixelmed/build.sh)",
            "backend",
        )
    return []


def execute_pixelmed_network(adapter: Any, request: RequestBase, info: InputInfo | None) -> Outcome:
    import time

    from dcmharness.adapters.jvm import max_heap_mb

    opts: NetworkOptions = request.options  # type: ignore[attr-defined]
    tool = adapter.tool()
    classes = adapter.network_classes()
    if tool is None or adapter.jar is None or classes is None:
        raise HarnessError(ErrorCode.BACKEND_UNAVAILABLE, "pixelmed: java, the jar or the launcher missing", "backend")
    argv = network_argv(tool.path, adapter.jar, classes, f"-Xmx{max_heap_mb()}m")
    files = len(info.files) if isinstance(info, StoreInput) else 1
    bound = run_bound(request, 1 + files)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dcmharness-pixelmed-net-") as work:
        identifier = os.path.join(work, "query.dcm")
        outdir = os.path.join(work, "answers")
        if isinstance(request, FindRequest):
            os.mkdir(outdir)
            _save_identifier(find_identifier(request.options.level, request.options.query), identifier, request)
        fields = job_fields(request, info, identifier, outdir)
        worker = _worker(adapter, argv)
        try:
            ok, payload = worker.ask_fields(fields, bound)
        except TimeoutError:
            close_worker(adapter)
            error = network_error(
                f"{opts.host}:{opts.port} did not complete within {bound:g} s (options.timeout {opts.timeout:g} s per "
                "network step; PixelMed's classes have no timeout: its JVM was stopped)"
            )
            error.command = argv  # type: ignore[attr-defined]
            raise error from None
        except (EOFError, OSError, ValueError) as exc:
            close_worker(adapter)
            raise HarnessError(ErrorCode.BACKEND_FAILED, f"PixelMed's network JVM ended: {exc!r}") from None
        if not ok:
            error = error_of(payload[0] if payload else "no message", opts)
            error.command = argv  # type: ignore[attr-defined]
            raise error
        result = _result(request, info, payload, outdir)
    result["timings_ms"] = {"total": round((time.perf_counter() - started) * 1000, 3)}
    warnings = [
        f"{f.path}: its File Meta Information names another SOP Instance UID than its data set "
        f"({f.sop_instance_uid}); PixelMed sends the File Meta Information's as the Affected SOP Instance UID"
        for f in (info.files if isinstance(info, StoreInput) else [])
        if not f.meta_matches
    ]
    return Outcome(result=result, command=argv, warnings=warnings)


def _save_identifier(ds: Any, path: str, request: FindRequest) -> None:
    """The query keys as a DICOM file (explicit VR little endian with a meta header, which the launcher drops)."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(FIND_MODELS[request.options.model])
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.save_as(path, enforce_file_format=True)


def _result(request: RequestBase, info: InputInfo | None, payload: list[str], outdir: str) -> dict[str, Any]:
    opts: NetworkOptions = request.options  # type: ignore[attr-defined]
    entry = status_entry(0)
    base = {"status": entry["status"], "status_meaning": entry["meaning"], "peer": peer_of(opts)}
    if isinstance(request, StoreRequest):
        assert isinstance(info, StoreInput)
        per_file, warnings = store_outcome(payload)
        for f in info.files:
            if not per_file.get(os.path.abspath(str(f.path)), False):
                raise dimse_failure(
                    f"C-STORE of {f.path}: PixelMed reports it failed, giving neither the status nor the cause (a "
                    "failure status and an abort by the peer look the same)"
                )
        instances = [instance_entry(f, str(f.path), None, 0) for f in info.files]
        result = store_summary(info, opts, instances, [], 0)
        result["warnings"] = warnings
        return result
    if isinstance(request, FindRequest):
        import pydicom

        from dcmharness.backends.network import json_of

        names = sorted((p for p in os.listdir(outdir) if re.fullmatch(r"rsp\d+\.dcm", p)), key=lambda p: int(p[3:-4]))
        matches = [json_of(pydicom.dcmread(Path(outdir) / p, force=True)) for p in names]
        return {
            **base,
            "level": request.options.level,
            "model": request.options.model,
            "count": len(matches),
            "matches": matches,
            "accepted_contexts": [],
        }
    return {**base, "accepted_contexts": [], "transfer_syntax": None}


PIXELMED_CLIENT = NetworkClient(
    PIXELMED_NETWORK_OPS,
    pixelmed_network_capabilities,
    check_pixelmed_network,
    execute_pixelmed_network,
    close_worker,
)
