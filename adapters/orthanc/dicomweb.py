"""Orthanc as a DICOMweb CLIENT (its DICOMweb plugin's ``/dicom-web/servers`` routes): ``stow``, ``qido``,
``wado`` against the service at ``options.url``, through the adapter's private Orthanc (``server.py``).

Per request the remote service is declared to our Orthanc (``PUT /dicom-web/servers/{name}`` with ``Url`` and
``Timeout``), then:

- stow: each file uploaded to our Orthanc (``POST /instances``, stored as it is), ``POST
  /dicom-web/servers/{name}/stow`` with their Orthanc IDs, then the uploads deleted. The plugin answers
  ``{"InstancesCount", "NetworkSizeMB"}`` and not the STOW response: every instance's status is
  ``not_reported`` (a failure the remote reports makes the plugin answer an HTTP error).
- qido: ``POST /dicom-web/servers/{name}/get`` with ``Uri`` (the search path) and ``Arguments`` (the query
  keys; the ``""`` keys as one comma-separated ``includefield``): the remote's DICOM JSON as it answered it
  (the plugin's ``/qido`` route rewrites it into Orthanc's own JSON format, so it is not used).
- wado: what our Orthanc already holds of the study/series/instance is deleted (else it would keep its copy),
  ``POST /dicom-web/servers/{name}/retrieve`` with the resource, then each received instance read back
  (``POST /tools/find`` by its UIDs, ``GET /instances/{id}/file``) into the output folder and deleted.
  The plugin asks for the stored transfer syntax (observed: a JPEG 2000 file comes back byte-identical),
  so ``transfer_syntax`` other than ``*`` is refused.

Facts checked against Orthanc 1.10.1 + DICOMweb plugin 1.7 (Debian 12): ``Timeout`` in a server's definition
exists since plugin 1.6 (whole seconds: a fractional ``timeout`` is refused); an unreachable remote is HTTP 500
``"Error in the network protocol"`` (OrthancStatus 9) from our Orthanc -> ``network_error``; a remote's HTTP
error status is relayed by ``/get`` as Orthanc's own error with that status -> ``http_error``; ``/stow`` posts
to ``{Url}studies`` only (``study_uid`` refused).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import time
import urllib.parse
from typing import TYPE_CHECKING, Any, TypeVar

from dcmharness.adapters.base import Capability, ToolAdapter
from dcmharness.adapters.orthanc.client import HttpCall, http, json_body, server_failure
from dcmharness.adapters.runner import ToolError
from dcmharness.backends.base import Outcome, unsupported
from dcmharness.backends.dicomweb import (
    RetrievalPlan,
    StowInput,
    http_error,
    instance_rows,
    ms,
    network_error,
    part_identity,
    qido_path,
    safe_name,
    stow_url,
    wado_url,
)
from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.dicomweb_models import DicomwebOptions, QidoRequest, StowRequest, WadoRequest
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import RequestBase

if TYPE_CHECKING:
    from dcmharness.adapters.orthanc.adapter import OrthancAdapter
    from dcmharness.adapters.orthanc.server import OrthancServer

DICOMWEB_OPS = ("stow", "qido", "wado")
#: OrthancStatus 9: "Error in the network protocol" (the plugin's HTTP client could not reach the remote).
ORTHANC_NETWORK_PROTOCOL = 9
ORTHANC_TIMEOUT_STATUSES = (9, 14)  # 14: "Timeout"


def _whole_seconds(value: Any, options: Any) -> str | None:
    """whole seconds (the plugin's server "Timeout" is an integer)"""
    return None if float(value).is_integer() else f"timeout {value} s: the DICOMweb plugin takes whole seconds"


def dicomweb_capabilities() -> dict[str, dict[str, Capability]]:
    common: dict[str, Capability] = {"url": True, "timeout": _whole_seconds}
    return {
        "stow": {**common, "study_uid": False, "batch_mb": False},
        "qido": {**common, "level": True, "study_uid": True, "series_uid": True, "query": True, "limit": True,
                 "fuzzymatching": True},
        "wado": {**common, "study_uid": True, "series_uid": True, "sop_instance_uid": True, "transfer_syntax": ("*",)},
    }


def check_dicomweb(request: Any) -> list[str]:
    """Refuse, before running, what the plugin cannot be asked."""
    opts: DicomwebOptions = request.options
    reason = _whole_seconds(opts.timeout, opts)
    if reason:
        raise unsupported("timeout", f"orthanc: {reason}")
    if isinstance(request, StowRequest) and request.options.study_uid is not None:
        raise unsupported("study_uid", "orthanc's /dicom-web/servers/{name}/stow posts to {url}/studies only")
    if isinstance(request, StowRequest) and request.options.batch_mb != 64:
        raise unsupported("batch_mb", "orthanc's DICOMweb plugin chooses how it splits a STOW itself")
    if isinstance(request, WadoRequest) and request.options.transfer_syntax != "*":
        raise unsupported(
            "transfer_syntax", "orthanc's /dicom-web/servers/{name}/retrieve asks for the stored transfer syntax"
        )
    return []


# -- the calls (pure, golden-tested) ------------------------------------------------------------------------
def server_name(url: str, timeout: float) -> str:
    """The name the remote service is declared under in our Orthanc (one per URL and timeout)."""
    return "dcmharness-" + hashlib.sha256(f"{url}|{timeout:g}".encode()).hexdigest()[:16]


def declare_body(url: str, timeout: float) -> dict[str, Any]:
    return {"Url": url.rstrip("/") + "/", "Timeout": int(timeout)}


def _json_call(method: str, path: str) -> HttpCall:
    return HttpCall(method, path, (), (("Content-Type", "application/json"),))


def declare_call(name: str) -> HttpCall:
    return _json_call("PUT", f"/dicom-web/servers/{name}")


def stow_call(name: str) -> HttpCall:
    return _json_call("POST", f"/dicom-web/servers/{name}/stow")


def get_call(name: str) -> HttpCall:
    return _json_call("POST", f"/dicom-web/servers/{name}/get")


def retrieve_call(name: str) -> HttpCall:
    return _json_call("POST", f"/dicom-web/servers/{name}/retrieve")


def qido_get_body(request: QidoRequest) -> dict[str, Any]:
    """The body of ``/get`` for a QIDO search: the path and its arguments (``includefield`` comma-joined, as
    PS3.18 8.3.4.3 allows: ``Arguments`` is a JSON object, one value per key)."""
    opts = request.options
    args: dict[str, str] = {k: v for k, v in opts.query.items() if v != ""}
    fields = [k for k, v in opts.query.items() if v == ""]
    if fields:
        args["includefield"] = ",".join(fields)
    if opts.limit is not None:
        args["limit"] = str(opts.limit)
    if opts.fuzzymatching:
        args["fuzzymatching"] = "true"
    return {"Uri": qido_path(opts), "Arguments": args}


def retrieve_body(request: WadoRequest) -> dict[str, Any]:
    opts = request.options
    resource: dict[str, str] = {"Study": opts.study_uid}
    if opts.series_uid:
        resource["Series"] = opts.series_uid
    if opts.sop_instance_uid:
        resource["Instance"] = opts.sop_instance_uid
    return {"Resources": [resource]}


def find_body(request: WadoRequest) -> dict[str, Any]:
    opts = request.options
    query = {"StudyInstanceUID": opts.study_uid}
    if opts.series_uid:
        query["SeriesInstanceUID"] = opts.series_uid
    if opts.sop_instance_uid:
        query["SOPInstanceUID"] = opts.sop_instance_uid
    return {"Level": "Instance", "Query": query}


# -- running -------------------------------------------------------------------------------------------------
def _body(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()


def remote_failure(exc: ToolError, method: str, url: str, timeout: float, log: str = "") -> HarnessError:
    """Our Orthanc's error about the remote as the contract's: network_error (OrthancStatus 9/14, a timeout),
    else http_error with the status Orthanc relays and its message. A failure inside the plugin is HTTP 500 with
    OrthancStatus 1 whatever the remote said: the remote's status is then read from our Orthanc's log ("Error in
    HTTP request, received HTTP status 404 (Not Found)"), which is appended to the message."""
    stderr = exc.stderr or ""
    try:
        data = json.loads(stderr)
    except ValueError:
        data = {}
    status = data.get("OrthancStatus") if isinstance(data, dict) else None
    http_status = data.get("HttpStatus") if isinstance(data, dict) else None
    if exc.code == ErrorCode.TIMEOUT:
        error = network_error(f"{method} {url} (through orthanc): no answer within {timeout:g} s (options.timeout)")
    elif status in ORTHANC_TIMEOUT_STATUSES:
        error = network_error(f"{method} {url} (through orthanc): {data.get('Message', 'network error')}")
    elif isinstance(http_status, int) and http_status >= 400:
        said = "; ".join(dict.fromkeys(str(data[k]) for k in ("Message", "Details") if data.get(k)))
        logged = " | ".join(ln.split("]", 1)[-1].strip() for ln in log.splitlines() if ln.startswith("E"))
        remote = re.search(r"received HTTP status (\d{3})", log)  # the remote's own status, as our Orthanc logs it
        if remote:
            http_status = int(remote.group(1))
        error = http_error(http_status, method, url, f"orthanc: {said}" + (f" (its log: {logged})" if logged else ""))
    else:
        return exc
    setattr(error, "command", exc.command)  # noqa: B010 - the response carries the calls made
    setattr(error, "stderr", exc.stderr)  # noqa: B010
    return error


def execute_dicomweb(adapter: Any, request: Any, info: Any, plan: Any) -> Outcome:
    server = adapter.server()
    opts: DicomwebOptions = request.options
    # our Orthanc must outwait the remote: its own HTTP timeout is the plugin's; ours a little longer
    timeout = max(float(request.timeout or 0), opts.timeout + 5)
    commands: list[str] = []
    log_offset = server.log_offset()
    name = server_name(opts.url, opts.timeout)
    try:
        call = declare_call(name)
        commands.append(call.describe(server.base_url))
        http(call, server.base_url, _body(declare_body(opts.url, opts.timeout)), timeout, commands)
        if isinstance(request, StowRequest) and isinstance(info, StowInput):
            return _stow(adapter, server, name, request, info, timeout, commands)
        if isinstance(request, QidoRequest):
            return _qido(server, name, request, timeout, commands)
        if isinstance(request, WadoRequest) and isinstance(plan, RetrievalPlan):
            return _wado(server, name, request, plan, timeout, commands)
    except ToolError as exc:
        raise server_failure(exc, server, log_offset, commands) from None
    raise HarnessError(ErrorCode.INTERNAL_ERROR, "DICOMweb op without its prepared input or output")


def _remote(
    server: OrthancServer, call: HttpCall, body: dict[str, Any], method: str, url: str, timeout: float,
    opts: DicomwebOptions, commands: list[str],
) -> tuple[bytes, str]:
    commands.append(call.describe(server.base_url) + " " + json.dumps(body))
    offset = server.log_offset()
    try:
        return http(call, server.base_url, _body(body), timeout, commands)
    except ToolError as exc:
        raise remote_failure(exc, method, url, opts.timeout, server.log_since(offset, 600)) from None


def _stow(
    adapter: OrthancAdapter, server: OrthancServer, name: str, request: StowRequest, info: StowInput,
    timeout: float, commands: list[str],
) -> Outcome:
    opts = request.options
    url = stow_url(opts.url)
    started = time.perf_counter()
    ids: list[str] = []
    warnings = [f"{s['file']}: skipped, not a DICOM file ({s['reason']})" for s in info.skipped]
    try:
        for f in info.files:
            instance_id, ours = adapter._upload(server.base_url, f.path.read_bytes(), timeout, commands,
                                                replace=not server.external)
            if ours:
                ids.append(instance_id)
            else:
                warnings.append(f"{server.base_url} already held {f.path.name}'s instance: its copy was sent")
        t0 = time.perf_counter()
        body, _ = _remote(server, stow_call(name), {"Resources": ids}, "POST", url, timeout, opts, commands)
        answer = json_body(body, commands)
        sent_ms = ms(time.perf_counter() - t0)
    finally:
        for instance_id in ids:
            with contextlib.suppress(HarnessError):
                call = HttpCall("DELETE", f"/instances/{instance_id}")
                commands.append(call.describe(server.base_url))
                http(call, server.base_url, None, timeout, commands)
    rows = instance_rows(info.files, {})
    result = {
        "url": url,
        "http_status": 200,
        "http_statuses": [200],
        "files": len(info.files) + len(info.skipped),
        "sent": len(info.files),
        "stored": 0,
        "failed": 0,
        "skipped": info.skipped,
        "instances": rows,
        "response": [],
        "orthanc_answer": answer,
        "requests": 1,
        "bytes": info.size_bytes,
        "timings_ms": {"total": ms(time.perf_counter() - started), "requests": [sent_ms]},
    }
    return Outcome(result=result, command=commands, warnings=warnings)


def _qido(server: OrthancServer, name: str, request: QidoRequest, timeout: float, commands: list[str]) -> Outcome:
    opts = request.options
    get = qido_get_body(request)
    query = urllib.parse.urlencode(get["Arguments"], safe="*?,")
    url = opts.url.rstrip("/") + get["Uri"] + (f"?{query}" if query else "")
    started = time.perf_counter()
    body, ctype = _remote(server, get_call(name), get, "GET", url, timeout, opts, commands)
    try:
        matches = json.loads(body) if body.strip() else []
    except ValueError:
        raise HarnessError(
            ErrorCode.BACKEND_FAILED, f"GET {url} (through orthanc) answered {ctype or 'no type'}, not JSON",
            "options.url",
        ) from None
    if not isinstance(matches, list) or not all(isinstance(m, dict) for m in matches):
        raise HarnessError(ErrorCode.BACKEND_FAILED, f"GET {url} answered no list of DICOM JSON objects")
    result = {
        "url": url,
        "http_status": 200,
        "level": opts.level,
        "count": len(matches),
        "matches": matches,
        "timings_ms": {"total": ms(time.perf_counter() - started)},
    }
    return Outcome(result=result, command=commands)


def _wado(
    server: OrthancServer, name: str, request: WadoRequest, plan: RetrievalPlan, timeout: float, commands: list[str]
) -> Outcome:
    opts = request.options
    url = wado_url(opts)
    started = time.perf_counter()
    base = server.base_url
    find = _json_call("POST", "/tools/find")
    if not server.external:  # what we hold already would be kept instead of the remote's copy
        for instance_id in _found(base, find, find_body(request), timeout, commands):
            _delete(base, instance_id, timeout, commands)
    body, _ = _remote(server, retrieve_call(name), retrieve_body(request), "GET", url, timeout, opts, commands)
    answer = json_body(body, commands)
    received = _found(base, find, find_body(request), timeout, commands)
    instances = []
    try:
        for index, instance_id in enumerate(received):
            call = HttpCall("GET", f"/instances/{instance_id}/file")
            commands.append(call.describe(base))
            data, _ = http(call, base, None, timeout, commands)
            temp = plan.part_temp(index)
            temp.write_bytes(data)
            ident = part_identity(temp)
            final = plan.add(safe_name(ident["sop_instance_uid"]), temp)
            instances.append({"file": str(final), **ident, "bytes": len(data)})
    finally:
        if not server.external:
            for instance_id in received:
                _delete(base, instance_id, timeout, commands)
    if not instances:
        raise HarnessError(ErrorCode.BACKEND_FAILED, f"GET {url} (through orthanc) retrieved no instance: {answer}")
    result = {
        "url": url,
        "http_status": 200,
        "files": len(instances),
        "instances": instances,
        "bytes": sum(i["bytes"] for i in instances),
        "orthanc_answer": answer,
        "timings_ms": {"total": ms(time.perf_counter() - started)},
    }
    return Outcome(result=result, command=commands)


def _found(base: str, call: HttpCall, body: dict[str, Any], timeout: float, commands: list[str]) -> list[str]:
    commands.append(call.describe(base) + " " + json.dumps(body))
    data, _ = http(call, base, _body(body), timeout, commands)
    ids = json.loads(data)
    return [str(i) for i in ids] if isinstance(ids, list) else []


def _delete(base: str, instance_id: str, timeout: float, commands: list[str]) -> None:
    with contextlib.suppress(HarnessError):
        call = HttpCall("DELETE", f"/instances/{instance_id}")
        commands.append(call.describe(base))
        http(call, base, None, timeout, commands)


T = TypeVar("T", bound=ToolAdapter)


def with_dicomweb(cls: type[T]) -> type[T]:
    """Class decorator for Orthanc's adapter: adds stow, qido and wado (the client side of the DICOMweb plugin);
    everything else is delegated."""

    class WithDicomweb(cls):  # type: ignore[valid-type,misc]
        ops = (*cls.ops, *(op for op in DICOMWEB_OPS if op not in cls.ops))

        def capabilities_for(self, version: str | None) -> dict[str, dict[str, Capability]]:
            table: dict[str, dict[str, Capability]] = dict(super().capabilities_for(version))
            table.update(dicomweb_capabilities())
            return table

        def check(self, request: RequestBase, info: InputInfo | None) -> list[str]:
            if getattr(request, "op", "") not in DICOMWEB_OPS:
                warnings: list[str] = super().check(request, info)
                return warnings
            return check_dicomweb(request)

        def execute(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan) -> Outcome:
            if getattr(request, "op", "") not in DICOMWEB_OPS:
                outcome: Outcome = super().execute(request, info, plan)
                return outcome
            return execute_dicomweb(self, request, info, plan)

    WithDicomweb.__name__ = cls.__name__
    WithDicomweb.__qualname__ = cls.__qualname__
    WithDicomweb.__module__ = cls.__module__
    WithDicomweb.__doc__ = cls.__doc__
    return WithDicomweb  # type: ignore[return-value]
