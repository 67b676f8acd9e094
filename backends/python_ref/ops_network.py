"""python_ref's DICOM network ops (pynetdicom as the SCU): ``echo`` (C-ECHO), ``store`` (C-STORE of every
file over one association) and ``find`` (C-FIND). The errors are the contract's: ``network_error`` (no
connection, an abort, a silent peer), ``association_rejected`` (with the A-ASSOCIATE-RJ's result, source and reason),
``dimse_failure`` (a failure status, or no presentation context accepted)."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from dcmharness.backends.base import Outcome
from dcmharness.backends.network import (
    AssociationRejected,
    Rejection,
    StoreFile,
    StoreInput,
    dimse_failure,
    network_error,
    status_category,
    status_entry,
)
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.ops_models import EchoRequest, FindRequest, GetRequest, NetworkOptions, StoreRequest

if TYPE_CHECKING:
    from pynetdicom.association import Association

VERIFICATION = "1.2.840.10008.1.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
UNCOMPRESSED_LE = (IMPLICIT_LE, EXPLICIT_LE)
#: At most 128 presentation contexts in one A-ASSOCIATE-RQ (PS3.8 9.3.2.2: odd context IDs 1..255).
MAX_CONTEXTS = 128


class _Capture(logging.Handler):
    """pynetdicom's error messages while associating (why a connection failed)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _captured() -> Iterator[_Capture]:
    logger = logging.getLogger("pynetdicom")
    handler = _Capture()
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def _ae(opts: NetworkOptions) -> Any:
    from pynetdicom import AE

    ae = AE(ae_title=opts.calling_aet)
    ae.connection_timeout = opts.timeout
    ae.acse_timeout = opts.timeout
    ae.dimse_timeout = opts.timeout
    ae.network_timeout = opts.timeout
    return ae


def _peer(opts: NetworkOptions) -> dict[str, Any]:
    return {"host": opts.host, "port": opts.port, "called_aet": opts.called_aet, "calling_aet": opts.calling_aet}


def associate(ae: Any, opts: NetworkOptions, ext_neg: list[Any] | None = None, handlers: Any = ()) -> Association:
    """An established association, or the contract's error saying why not."""
    from pynetdicom import evt

    received: list[Any] = []

    def on_acse(event: Any) -> None:
        received.append(event.primitive)

    with _captured() as log:
        assoc = ae.associate(
            opts.host,
            opts.port,
            ae_title=opts.called_aet,
            ext_neg=ext_neg,
            evt_handlers=[(evt.EVT_ACSE_RECV, on_acse), *handlers],
        )
    if assoc.is_established:
        return assoc  # type: ignore[no-any-return]
    where = f"{opts.host}:{opts.port}"
    for prim in received:
        result = getattr(prim, "result", None)
        if result in (1, 2):
            raise AssociationRejected(
                Rejection(int(result), int(prim.result_source), int(prim.diagnostic)), opts.called_aet
            )
        if result == 0:
            raise dimse_failure(f"{where} accepted none of the proposed presentation contexts")
    why = "; ".join(m for m in log.messages if "Error" in m or "unable" in m or "timed out" in m.lower())
    if assoc.is_aborted and not why:
        raise network_error(f"{where} aborted the association")
    raise network_error(
        f"no association with {where}: " + (why or f"no answer within {opts.timeout:g} s (options.timeout)")
    )


def _contexts(assoc: Association) -> list[dict[str, str]]:
    return [
        {"abstract_syntax": str(cx.abstract_syntax), "transfer_syntax": str(cx.transfer_syntax[0])}
        for cx in assoc.accepted_contexts
    ]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def echo(request: EchoRequest) -> Outcome:
    opts = request.options
    ae = _ae(opts)
    ae.add_requested_context(VERIFICATION, opts.transfer_syntax_uids or list(UNCOMPRESSED_LE))
    started = time.perf_counter()
    assoc = associate(ae, opts)
    associated = time.perf_counter()
    try:
        status = assoc.send_c_echo()
        answered = time.perf_counter()
        if not status or "Status" not in status:
            raise network_error(f"no C-ECHO response from {opts.host}:{opts.port} within {opts.timeout:g} s")
        value = int(status.Status)
        contexts = _contexts(assoc)
    finally:
        _release(assoc)
    entry = status_entry(value)
    if status_category(value) not in ("success", "warning"):
        raise dimse_failure(f"C-ECHO status {entry['status']}: {entry['meaning']}")
    verification = next((c["transfer_syntax"] for c in contexts if c["abstract_syntax"] == VERIFICATION), None)
    result = {
        "status": entry["status"],
        "status_meaning": entry["meaning"],
        "peer": _peer(opts),
        "accepted_contexts": contexts,
        "transfer_syntax": verification,
        "timings_ms": {
            "association": _ms(associated - started),
            "dimse": _ms(answered - associated),
            "total": _ms(time.perf_counter() - started),
        },
    }
    return Outcome(result=result)


def proposed_contexts(files: list[StoreFile], proposed: list[str] | None) -> list[tuple[str, list[str]]]:
    """(SOP class, [transfer syntax]) to propose: one context per SOP class and transfer syntax (the files'
    own, or each of ``proposed``), so that every file is sent as it is; ``invalid_request`` past 128. Pure."""
    contexts: dict[tuple[str, str], None] = {}
    for f in files:
        for ts in proposed if proposed is not None else [f.transfer_syntax]:
            contexts[(f.sop_class_uid, ts)] = None
    if len(contexts) > MAX_CONTEXTS:
        raise HarnessError(
            ErrorCode.INVALID_REQUEST,
            f"the files need {len(contexts)} presentation contexts; one association holds {MAX_CONTEXTS}",
            "input",
        )
    return [(sop_class, [ts]) for sop_class, ts in contexts]


def store(request: StoreRequest, info: StoreInput) -> Outcome:
    opts = request.options
    ae = _ae(opts)
    for sop_class, syntaxes in proposed_contexts(info.files, opts.transfer_syntax_uids):
        ae.add_requested_context(sop_class, syntaxes)
    started = time.perf_counter()
    assoc = associate(ae, opts)
    associated = time.perf_counter()
    instances: list[dict[str, Any]] = []
    worst = 0x0000
    try:
        contexts = _contexts(assoc)
        for f in info.files:
            instances.append(_store_one(assoc, f, opts))
            value = int(instances[-1]["status"], 16)
            if status_category(value) == "warning" and worst == 0:
                worst = value
        sent = time.perf_counter()
    finally:
        _release(assoc)
    entry = status_entry(worst)
    warnings = [
        f"{f.path}: its File Meta Information names another SOP Class/Instance than its data set; sent with the "
        "data set's"
        for f in info.files
        if not f.meta_matches
    ]
    result = {
        "files": len(info.files),
        "stored": len(instances),
        "warnings": sum(1 for i in instances if i["status"] != "0x0000"),
        "status": entry["status"],
        "status_meaning": entry["meaning"],
        "peer": _peer(opts),
        "accepted_contexts": contexts,
        "instances": instances,
        "bytes": info.size_bytes,
        "timings_ms": {
            "association": _ms(associated - started),
            "dimse": _ms(sent - associated),
            "total": _ms(time.perf_counter() - started),
        },
    }
    return Outcome(result=result, warnings=warnings)


def _store_one(assoc: Association, f: StoreFile, opts: NetworkOptions) -> dict[str, Any]:
    accepted = {(str(cx.abstract_syntax), str(cx.transfer_syntax[0])) for cx in assoc.accepted_contexts}
    if (f.sop_class_uid, f.transfer_syntax) not in accepted:
        raise dimse_failure(
            f"{f.path}: the peer accepted no presentation context for SOP class {f.sop_class_uid} in transfer "
            f"syntax {f.transfer_syntax}"
        )
    sent = time.perf_counter()
    status = _send_as_is(assoc, f)
    if not status or "Status" not in status:
        where = f"{opts.host}:{opts.port}"
        # an empty answer long before the DIMSE timeout: the association ended under us (an A-ABORT, a close);
        # pynetdicom may not have flagged it yet
        early = time.perf_counter() - sent < 0.9 * opts.timeout
        if assoc.is_aborted or not assoc.is_established or early:
            raise network_error(f"{where} aborted the association (or closed it) while receiving {f.path}")
        raise network_error(f"no C-STORE response from {where} for {f.path} within {opts.timeout:g} s")
    value = int(status.Status)
    entry = status_entry(value)
    if entry["category"] not in ("success", "warning"):
        raise dimse_failure(f"C-STORE of {f.path}: status {entry['status']} ({entry['meaning']})")
    return {
        "file": str(f.path),
        "sop_instance_uid": f.sop_instance_uid,
        "transfer_syntax": f.transfer_syntax,
        "sent_transfer_syntax": f.transfer_syntax,  # sent as it is (chunked, never re-encoded)
        "status": entry["status"],
        "status_meaning": entry["meaning"],
    }


def _send_as_is(assoc: Association, f: StoreFile) -> Any:
    """C-STORE the file's data set bytes as they are on disk (pynetdicom's chunked send: not decoded, not
    re-encoded, never whole in memory). A file whose File Meta Information names another SOP Instance than its
    data set is decoded and sent as a data set instead: the chunked send would take the Affected SOP Instance
    UID from the meta, and the C-STORE must name the instance it carries (PS3.7 9.1.1, as storescu does)."""
    from pynetdicom import _config

    if not f.meta_matches:
        from pydicom import dcmread

        try:
            return assoc.send_c_store(dcmread(f.path))
        except (AttributeError, OSError, ValueError) as exc:
            raise HarnessError(ErrorCode.NOT_DICOM, f"{f.path}: {exc}"[:500], "input") from None

    previous = _config.STORE_SEND_CHUNKED_DATASET
    _config.STORE_SEND_CHUNKED_DATASET = True
    try:
        return assoc.send_c_store(f.path)
    except (AttributeError, OSError, ValueError) as exc:  # a file changed since it was read, or unreadable now
        raise HarnessError(ErrorCode.NOT_DICOM, f"{f.path}: {exc}"[:500], "input") from None
    finally:
        _config.STORE_SEND_CHUNKED_DATASET = previous


def _release(assoc: Association) -> None:
    with contextlib.suppress(Exception):
        if assoc.is_established:
            assoc.release()


def find(request: FindRequest) -> Outcome:
    from dcmharness.backends.network import FIND_MODELS, find_identifier, json_of

    opts = request.options
    model_uid = FIND_MODELS[opts.model]
    identifier = find_identifier(opts.level, opts.query)
    ae = _ae(opts)
    ae.add_requested_context(model_uid, opts.transfer_syntax_uids or list(UNCOMPRESSED_LE))
    started = time.perf_counter()
    assoc = associate(ae, opts)
    associated = time.perf_counter()
    matches: list[dict[str, Any]] = []
    final: int | None = None
    try:
        contexts = _contexts(assoc)
        for status, found in assoc.send_c_find(identifier, model_uid):
            if not status or "Status" not in status:
                where = f"{opts.host}:{opts.port}"
                raise network_error(f"no C-FIND response from {where} within {opts.timeout:g} s (or it aborted)")
            value = int(status.Status)
            if status_category(value) == "pending":
                if found is not None:
                    matches.append(json_of(found))
                continue
            final = value
        answered = time.perf_counter()
    finally:
        _release(assoc)
    if final is None:
        raise network_error(f"{opts.host}:{opts.port} sent no final C-FIND response")
    entry = status_entry(final)
    if entry["category"] not in ("success", "warning"):
        raise dimse_failure(f"C-FIND status {entry['status']}: {entry['meaning']}")
    result = {
        "status": entry["status"],
        "status_meaning": entry["meaning"],
        "level": opts.level,
        "model": opts.model,
        "count": len(matches),
        "matches": matches,
        "peer": _peer(opts),
        "accepted_contexts": contexts,
        "timings_ms": {
            "association": _ms(associated - started),
            "dimse": _ms(answered - associated),
            "total": _ms(time.perf_counter() - started),
        },
    }
    return Outcome(result=result)


def retrieve_proposal(proposed: list[str] | None) -> list[str]:
    """The transfer syntaxes proposed for the instances a C-GET receives: ``proposed``, or explicit and implicit
    VR little endian first, then every other transfer syntax pynetdicom knows (the peer picks the first it can
    send in, PS3.8 9.3.2.2). Pure."""
    from pynetdicom import ALL_TRANSFER_SYNTAXES

    if proposed is not None:
        return list(proposed)
    first = [EXPLICIT_LE, IMPLICIT_LE]
    return first + [str(ts) for ts in ALL_TRANSFER_SYNTAXES if str(ts) not in first]


def retrieve_storage_classes() -> list[str]:
    """The storage SOP classes a C-GET accepts instances of (the SCP role, PS3.4 C.4.3.1): pynetdicom's storage
    presentation contexts, at most 127 (one context is the C-GET's)."""
    from pynetdicom import StoragePresentationContexts

    return [str(cx.abstract_syntax) for cx in StoragePresentationContexts][: MAX_CONTEXTS - 1]


def used_contexts(contexts: list[dict[str, str]], model_uid: str, files: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The accepted contexts a C-GET used: its own and those of the SOP classes received (not all 128). Pure."""
    classes = {f["sop_class_uid"] for f in files}
    return [c for c in contexts if c["abstract_syntax"] == model_uid or c["abstract_syntax"] in classes]


def get(request: GetRequest, plan: Any) -> Outcome:
    """C-GET: the instances the peer sends back (C-STORE sub-operations on the same association) are written,
    File Meta Information + the data set's bytes as received, into ``plan.incoming``; the plan moves them into the
    output folder once the request succeeded."""
    from pydicom.filebase import DicomFileLike
    from pydicom.filewriter import write_file_meta_info
    from pynetdicom import build_role, evt

    from dcmharness.backends.network import (
        GET_MODELS,
        find_identifier,
        instance_file_name,
        received_file,
        retrieve_status_entry,
    )

    opts = request.options
    model_uid = GET_MODELS[opts.model]
    identifier = find_identifier(opts.level, opts.query)
    ae = _ae(opts)
    ae.add_requested_context(model_uid, list(UNCOMPRESSED_LE))
    syntaxes = retrieve_proposal(opts.transfer_syntax_uids)
    classes = retrieve_storage_classes()
    for sop_class in classes:
        ae.add_requested_context(sop_class, syntaxes)
    roles = [build_role(uid, scp_role=True) for uid in classes]
    incoming = plan.incoming
    received_ts: dict[str, str] = {}

    def on_store(event: Any) -> int:
        uid = str(event.request.AffectedSOPInstanceUID)
        if not event.request.DataSet.getvalue():
            return 0xA900  # an empty data set is no instance: refused, counted as a failed sub-operation
        try:
            with open(incoming / instance_file_name(uid), "wb") as fh:
                fh.write(b"\x00" * 128 + b"DICM")
                write_file_meta_info(DicomFileLike(fh), event.file_meta, enforce_standard=True)
                fh.write(event.request.DataSet.getvalue())
        except (OSError, ValueError, AttributeError):
            return 0xA700  # Refused: out of resources
        received_ts[uid] = str(event.context.transfer_syntax)
        return 0x0000

    started = time.perf_counter()
    assoc = associate(ae, opts, ext_neg=roles, handlers=[(evt.EVT_C_STORE, on_store)])
    associated = time.perf_counter()
    final: Any = None
    try:
        contexts = _contexts(assoc)
        for status, _identifier in assoc.send_c_get(identifier, model_uid):
            if not status or "Status" not in status:
                where = f"{opts.host}:{opts.port}"
                raise network_error(f"no C-GET response from {where} within {opts.timeout:g} s (or it aborted)")
            if status_category(int(status.Status)) != "pending":
                final = status
        answered = time.perf_counter()
    finally:
        _release(assoc)
    if final is None:
        raise network_error(f"{opts.host}:{opts.port} sent no final C-GET response")
    value = int(final.Status)
    entry = retrieve_status_entry(value)
    counts = {
        name: int(final.get(f"NumberOf{name.title()}Suboperations", 0) or 0)
        for name in ("completed", "failed", "warning", "remaining")
    }
    if entry["category"] not in ("success", "warning"):
        raise dimse_failure(
            f"C-GET status {entry['status']}: {entry['meaning']} (sub-operations: {counts['completed']} completed, "
            f"{counts['failed']} failed)"
        )
    files = []
    for path in plan.received():
        described = received_file(path)
        files.append({"file": str(plan.folder / path.name), **described})
    result = {
        "status": entry["status"],
        "status_meaning": entry["meaning"],
        "level": opts.level,
        "model": opts.model,
        "sub_operations": counts,
        "count": len(files),
        "files": files,
        "peer": _peer(opts),
        "accepted_contexts": used_contexts(contexts, model_uid, files),
        "bytes": sum(p.stat().st_size for p in plan.received()),
        "timings_ms": {
            "association": _ms(associated - started),
            "dimse": _ms(answered - associated),
            "total": _ms(time.perf_counter() - started),
        },
    }
    return Outcome(result=result)


#: The ops this module runs (added to ``PythonRefBackend.ops``).
NETWORK_OPS = ("echo", "store", "find", "get")


def execute_network(request: Any, info: Any, plan: Any = None) -> Outcome:
    """Dispatch ``echo`` / ``store`` / ``find`` / ``get`` (``info`` is the ``StoreInput`` the dispatcher prepared
    for a store, ``plan`` the ``RetrievePlan`` of a get)."""
    from dcmharness.backends.network import RetrievePlan

    if isinstance(request, GetRequest) and isinstance(plan, RetrievePlan):
        return get(request, plan)
    if isinstance(request, EchoRequest):
        return echo(request)
    if isinstance(request, FindRequest):
        return find(request)
    if isinstance(request, StoreRequest) and isinstance(info, StoreInput):
        return store(request, info)
    raise HarnessError(ErrorCode.INTERNAL_ERROR, "network op without its prepared input")
