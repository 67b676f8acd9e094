"""Orthanc as a DICOM client (SCU) through its REST API: ``echo``, ``store``, ``find`` against a peer.

Per request the peer is registered as a modality under a fresh name (``PUT /modalities/{name}``: AET, Host,
Port), used, and removed (``DELETE /modalities/{name}``, also on failure). ``echo``: ``POST
/modalities/{name}/echo``; ``store``: every file uploaded (``POST /instances``), ``POST /modalities/{name}/store``
with the instance IDs (``"Synchronous": true``: one association), the uploaded instances deleted afterwards;
``find``: ``POST /modalities/{name}/query`` then ``GET /queries/{id}/answers/{i}/content`` for each answer
(Orthanc's tag JSON, turned into DICOM JSON with the data dictionary's VRs). The calls are values
(``HttpCall``, golden-tested). Facts (Orthanc 1.10.1, Debian 12, observed against the harness's SCP):

- ``"Timeout"`` (whole seconds) bounds each network step of echo, store and query; a fractional ``timeout``
  is refused. The modality's ``"LocalAet"`` is the calling AE title (an echo with ``"LocalAet"`` in the echo
  body still called as ORTHANC; in the modality it called as given: observed with a pynetdicom SCP
  printing the requestor's AE title).
- Orthanc proposes what it chooses (no list can be given): ``transfer_syntaxes`` is refused.
- The query model follows the level: patient level uses Patient Root, the others Study Root (the harness's SCP
  saw Study Root, 1.2.840.10008.5.1.4.1.2.2.1, for study and image queries): ``model: patient_root`` below
  patient level is refused.
- Orthanc adds keys of its own to a query: Specific Character Set (ISO_IR 100), Accession Number (study
  level and below) and, with a SOP Instance UID key, Media Storage SOP Instance UID (0002,0003) with the same
  value (``ParsedDicomFile::Replace`` mirrors the SOP Instance UID into the meta group).
- Errors come back as HTTP 500 with ``"Details"``: "DicomAssociation - connecting to AET "X": DUL
  Association Rejected" (association_rejected; Orthanc does not report the A-ASSOCIATE-RJ's reason),
  "TCP Initialization Error: Connection refused" (network_error).
- The store answer counts instances (``InstancesCount``, ``FailedInstancesCount``) and gives no per-instance
  status nor the negotiated contexts: each stored instance is reported with status 0x0000 (a warning status
  cannot be told from success), ``sent_transfer_syntax`` and ``accepted_contexts`` are unknown.
"""

from __future__ import annotations

import json
import math
import secrets
import urllib.parse
from typing import TYPE_CHECKING, Any

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
from dcmharness.adapters.orthanc.client import HttpCall, delete_call, http, json_body, orthanc_message
from dcmharness.adapters.runner import ToolError
from dcmharness.backends.base import Outcome, unsupported
from dcmharness.backends.network import StoreInput, dimse_failure, network_error, status_entry
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import RequestBase
from dcmharness.contract.ops_models import FindRequest, NetworkOptions, StoreRequest

if TYPE_CHECKING:
    from dcmharness.adapters.orthanc.adapter import OrthancAdapter

ORTHANC_NETWORK_OPS = ("echo", "store", "find")
QUERY_LEVELS = {"patient": "Patient", "study": "Study", "series": "Series", "image": "Instance"}
JSON = (("Content-Type", "application/json"),)


def _whole_seconds(value: Any, options: Any) -> str | None:
    """whole seconds (Orthanc's Timeout is an integer)"""
    return None if float(value).is_integer() else f"timeout {value} s: Orthanc's Timeout takes whole seconds"


def orthanc_network_capabilities() -> dict[str, dict[str, Capability]]:
    caps: dict[str, Capability] = {**NETWORK_CAPS, "timeout": _whole_seconds}
    return {"echo": dict(caps), "store": dict(caps), "find": {**caps, **FIND_CAPS}}


def check_orthanc_network(adapter: Any, request: RequestBase, info: InputInfo | None) -> list[str]:
    if (
        isinstance(request, FindRequest)
        and request.options.model == "patient_root"
        and request.options.level != ("patient")
    ):
        raise unsupported("model", "orthanc queries in Study Root below patient level (no model can be chosen)")
    return []


# -- the calls (pure) ------------------------------------------------------------------------------------------


def modality_name() -> str:
    return f"dcmharness-{secrets.token_hex(6)}"


def _m(name: str) -> str:
    return f"/modalities/{urllib.parse.quote(name, safe='')}"


def register_call(name: str) -> HttpCall:
    return HttpCall("PUT", _m(name), (), JSON)


def register_body(opts: NetworkOptions) -> dict[str, Any]:
    return {"AET": opts.called_aet, "Host": opts.host, "Port": opts.port, "LocalAet": opts.calling_aet}


def unregister_call(name: str) -> HttpCall:
    return HttpCall("DELETE", _m(name))


def echo_call(name: str) -> HttpCall:
    return HttpCall("POST", f"{_m(name)}/echo", (), JSON)


def echo_body(opts: NetworkOptions) -> dict[str, Any]:
    return {"Timeout": math.ceil(opts.timeout)}


def store_call(name: str) -> HttpCall:
    return HttpCall("POST", f"{_m(name)}/store", (), JSON)


def store_body(opts: NetworkOptions, instance_ids: list[str]) -> dict[str, Any]:
    return {
        "Resources": instance_ids,
        "Synchronous": True,
        "Timeout": math.ceil(opts.timeout),
    }


def query_call(name: str) -> HttpCall:
    return HttpCall("POST", f"{_m(name)}/query", (), JSON)


def query_body(request: FindRequest) -> dict[str, Any]:
    opts = request.options
    return {
        "Level": QUERY_LEVELS[opts.level],
        "Query": dict(opts.query),
        "Normalize": False,
        "Timeout": math.ceil(opts.timeout),
    }


def answer_call(query_id: str, index: int) -> HttpCall:
    return HttpCall("GET", f"/queries/{urllib.parse.quote(query_id, safe='')}/answers/{index}/content")


def error_of(exc: ToolError, opts: NetworkOptions) -> HarnessError:
    """The contract error an Orthanc SCU failure means (its HTTP 500 body's Details). Pure."""
    text = (exc.stderr or "") + "\n" + exc.message
    details = orthanc_message(exc.stderr or "") if exc.stderr else exc.message
    where = f"{opts.host}:{opts.port}"
    if exc.code == ErrorCode.TIMEOUT:
        return network_error(f"{where}: no answer through Orthanc within the bound ({exc.message})")
    if "Association Rejected" in text:
        error = HarnessError(
            ErrorCode.ASSOCIATION_REJECTED,
            f"association rejected by the peer (called AE title {opts.called_aet!r}); Orthanc does not report "
            f"the A-ASSOCIATE-RJ's reason: {details}",
        )
        return error
    lowered = text.lower()
    if "dimse status" in lowered or "status 0x" in lowered or "bad status" in lowered:
        return dimse_failure(f"{where}: {details}")
    if "no acceptable presentation context" in lowered or "no presentation context" in lowered:
        return dimse_failure(f"{where} accepted no presentation context: {details}")
    if "network protocol" in lowered or "tcp" in lowered or "dul" in lowered or "timeout" in lowered:
        return network_error(f"{where}: {details}")
    return exc


def dicom_json_of_answer(answer: dict[str, Any]) -> dict[str, Any]:
    """Orthanc's answer content (``{"0010,0010": {"Name", "Type": "String"|"Null"|"Sequence", "Value"}}``) as
    DICOM JSON (PS3.18 F.2) with the data dictionary's VRs, group 0002 left out as every client does. Pure."""
    from pydicom import Dataset
    from pydicom.datadict import dictionary_VR

    from dcmharness.backends.network import json_of

    ds = Dataset()
    for key, entry in answer.items():
        tag = int(key.replace(",", ""), 16)
        if not isinstance(entry, dict) or entry.get("Type") == "Sequence":
            continue
        try:
            vr = dictionary_VR(tag)
        except KeyError:
            continue  # a private tag: its VR is unknown
        value = entry.get("Value") if entry.get("Type") == "String" else None
        if isinstance(value, str) and vr in ("US", "SS", "UL", "SL", "FL", "FD"):
            parts = [p for p in value.split("\\") if p]
            number: Any = [float(p) if vr in ("FL", "FD") else int(p) for p in parts]
            ds.add_new(tag, vr, number if len(number) != 1 else number[0])
        else:
            ds.add_new(tag, vr, value)
    return json_of(ds)


# -- running -------------------------------------------------------------------------------------------------


def execute_orthanc_network(adapter: OrthancAdapter, request: RequestBase, info: InputInfo | None) -> Outcome:
    import time

    opts: NetworkOptions = request.options  # type: ignore[attr-defined]
    server = adapter.server()
    base = server.base_url
    files = len(info.files) if isinstance(info, StoreInput) else 1
    bound = run_bound(request, 1 + files) + 5.0  # Orthanc's own Timeout answers first; the HTTP wait is a backstop
    commands: list[str] = []
    name = modality_name()
    started = time.perf_counter()

    def call(c: HttpCall, body: Any = None) -> bytes:
        commands.append(c.describe(base))
        data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        return http(c, base, data, bound, commands)[0]

    uploaded: list[str] = []
    try:
        call(register_call(name), register_body(opts))
        try:
            if isinstance(request, StoreRequest):
                assert isinstance(info, StoreInput)
                uploaded = [_upload(adapter, server, f.path.read_bytes(), bound, commands) for f in info.files]
                answer = json_body(call(store_call(name), store_body(opts, uploaded)), commands)
                result = _store_result(answer, request, info)
            elif isinstance(request, FindRequest):
                query = json_body(call(query_call(name), query_body(request)), commands)
                qid = str(query.get("ID", ""))
                count = len(json.loads(call(HttpCall("GET", f"/queries/{urllib.parse.quote(qid, safe='')}/answers"))))
                matches = [dicom_json_of_answer(json_body(call(answer_call(qid, i)), commands)) for i in range(count)]
                entry = status_entry(0)
                result = {
                    "status": entry["status"],
                    "status_meaning": entry["meaning"],
                    "level": request.options.level,
                    "model": "patient_root" if request.options.level == "patient" else "study_root",
                    "count": len(matches),
                    "matches": matches,
                    "peer": peer_of(opts),
                    "accepted_contexts": [],
                }
            else:
                call(echo_call(name), echo_body(opts))
                entry = status_entry(0)
                result = {
                    "status": entry["status"],
                    "status_meaning": entry["meaning"],
                    "peer": peer_of(opts),
                    "accepted_contexts": [],
                    "transfer_syntax": None,
                }
        finally:
            _cleanup(base, name, uploaded, bound, commands)
    except ToolError as exc:
        error = error_of(exc, opts)
        error.command = commands  # type: ignore[attr-defined]
        error.stderr = exc.stderr  # type: ignore[attr-defined]
        raise error from None
    result["timings_ms"] = {"total": round((time.perf_counter() - started) * 1000, 3)}
    return Outcome(result=result, command=commands)


def _upload(adapter: OrthancAdapter, server: Any, data: bytes, timeout: float, commands: list[str]) -> str:
    instance_id, _ours = adapter._upload(server.base_url, data, timeout, commands, replace=not server.external)
    return instance_id


def _cleanup(base: str, name: str, uploaded: list[str], timeout: float, commands: list[str]) -> None:
    import contextlib

    for instance_id in uploaded:
        with contextlib.suppress(HarnessError):
            c = delete_call(instance_id)
            commands.append(c.describe(base))
            http(c, base, None, timeout, commands)
    with contextlib.suppress(HarnessError):
        c = unregister_call(name)
        commands.append(c.describe(base))
        http(c, base, None, timeout, commands)


def _store_result(answer: dict[str, Any], request: StoreRequest, info: StoreInput) -> dict[str, Any]:
    """The store result from Orthanc's counts (no per-instance status: see the module's facts). Pure."""
    failed = int(answer.get("FailedInstancesCount", 0) or 0)
    sent = int(answer.get("InstancesCount", 0) or 0)
    if failed or sent < len(info.files):
        raise dimse_failure(
            f"orthanc stored {sent - failed} of {len(info.files)} files at {request.options.host}:"
            f"{request.options.port} ({failed} failed; Orthanc does not say which nor with what status)"
        )
    instances = [instance_entry(f, str(f.path), None, 0) for f in info.files]
    return store_summary(info, request.options, instances, [], 0)


ORTHANC_CLIENT = NetworkClient(
    ORTHANC_NETWORK_OPS, orthanc_network_capabilities, check_orthanc_network, execute_orthanc_network
)
