"""python_ref's DICOMweb client ops: ``stow`` (STOW-RS), ``qido`` (QIDO-RS), ``wado`` (WADO-RS).

QIDO runs through ``dicomweb-client`` (``DICOMwebClient.search_for_studies/series/instances``, retries off,
the status read from a response hook). STOW and WADO use ``requests`` directly, because dicomweb-client
sends pydicom data sets it encodes itself (``store_instances``) and returns retrieved instances decoded
(``retrieve_study`` ...): the harness sends the files' bytes as they are and writes the parts as received.

Errors: ``network_error`` (no connection, a silent server past ``options.timeout``), ``http_error`` (a 4xx/5xx
status, with the body's excerpt), ``backend_failed`` (an answer that is not what PS3.18 says it is).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from dcmharness.backends.base import Outcome
from dcmharness.backends.dicomweb import (
    DICOM_JSON,
    MultipartSplitter,
    RetrievalPlan,
    StowInput,
    batches,
    boundary_of,
    http_error,
    instance_rows,
    is_multipart_related,
    ms,
    multipart_chunks,
    network_error,
    new_boundary,
    part_identity,
    qido_url,
    safe_name,
    stow_content_type,
    stow_statuses,
    stow_url,
    wado_accept,
    wado_url,
)
from dcmharness.contract.dicomweb_models import QidoRequest, StowRequest, WadoRequest
from dcmharness.contract.errors import ErrorCode, HarnessError

DICOMWEB_OPS = ("stow", "qido", "wado")
USER_AGENT = "dcmharness (python_ref)"


@contextlib.contextmanager
def _http(method: str, url: str, timeout: float) -> Iterator[None]:
    """Every failure of ``requests`` as the contract's error: network_error (connection, timeout), http_error."""
    import requests

    try:
        yield
    except requests.HTTPError as exc:
        resp = exc.response
        if resp is None:
            raise network_error(f"{method} {url}: {exc}") from None
        raise http_error(resp.status_code, method, url, resp.content[:4000]) from None
    except requests.JSONDecodeError as exc:
        raise HarnessError(
            ErrorCode.BACKEND_FAILED, f"{method} {url} answered something that is not JSON ({exc})"[:500], "options.url"
        ) from None
    except (requests.Timeout, TimeoutError):
        raise network_error(f"{method} {url}: no answer within {timeout:g} s (options.timeout)") from None
    except requests.ConnectionError as exc:
        raise network_error(f"{method} {url}: cannot connect ({_reason(exc)})") from None
    except requests.RequestException as exc:
        raise network_error(f"{method} {url}: {exc}") from None


def _reason(exc: BaseException) -> str:
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "timed out", "No route to host"):
        if marker in text:
            return marker
    return text[:300]


def _session() -> Any:
    import requests

    session = requests.Session()
    session.trust_env = False  # no proxy from the environment: the URL is the server
    session.headers["User-Agent"] = USER_AGENT
    return session


def _check(resp: Any, method: str, url: str) -> None:
    if resp.status_code >= 400:
        raise http_error(resp.status_code, method, url, resp.content[:4000])


# -- stow ----------------------------------------------------------------------------------------------------
def stow(request: StowRequest, info: StowInput) -> Outcome:
    opts = request.options
    url = stow_url(opts.url, opts.study_uid)
    started = time.perf_counter()
    deadline = started + max(opts.timeout, (request.timeout or 0))
    statuses: dict[str, dict[str, Any]] = {}
    responses: list[dict[str, Any]] = []
    codes: list[int] = []
    request_ms: list[float] = []
    with _session() as session:
        for batch in batches(info.files, opts.batch_mb * 1024 * 1024):
            paths = [f.path for f in batch]
            boundary = new_boundary()
            headers = {
                "Content-Type": stow_content_type(boundary),
                "Accept": DICOM_JSON,
            }
            t0 = time.perf_counter()
            with _http("POST", url, opts.timeout):
                resp = session.post(
                    url, data=_bounded(multipart_chunks(paths, boundary), deadline, url), headers=headers,
                    timeout=(opts.timeout, opts.timeout),
                )
            request_ms.append(ms(time.perf_counter() - t0))
            codes.append(resp.status_code)
            answer = _stow_answer(resp, url)
            if resp.status_code >= 400 and not (resp.status_code == 409 and answer):
                raise http_error(resp.status_code, "POST", url, resp.content[:4000])
            responses.append(answer)
            statuses.update(stow_statuses(answer))
    rows = instance_rows(info.files, statuses)
    stored = sum(1 for r in rows if r["status"] == "stored")
    failed = sum(1 for r in rows if r["status"] == "failed")
    if all(code >= 400 for code in codes):  # 409 to every request: nothing stored (PS3.18 10.5.3)
        reasons = sorted({r.get("failure_reason", "?") for r in rows if r["status"] == "failed"})
        raise HarnessError(
            ErrorCode.HTTP_ERROR,
            f"HTTP {codes[-1]} from POST {url}: no instance stored, {failed} failed (Failure Reason "
            f"{', '.join(reasons)})",
            "options.url",
        )
    result = {
        "url": url,
        "http_status": codes[-1],
        "http_statuses": codes,
        "files": len(info.files) + len(info.skipped),
        "sent": len(info.files),
        "stored": stored,
        "failed": failed,
        "skipped": info.skipped,
        "instances": rows,
        "response": responses,
        "requests": len(codes),
        "bytes": info.size_bytes,
        "timings_ms": {"total": ms(time.perf_counter() - started), "requests": request_ms},
    }
    warnings = [f"{s['file']}: skipped, not a DICOM file ({s['reason']})" for s in info.skipped]
    warnings += [f"{r['file']}: the server did not store it (Failure Reason {r.get('failure_reason', '?')})"
                 for r in rows if r["status"] == "failed"]
    return Outcome(result=result, warnings=warnings)


def _bounded(chunks: Iterator[bytes], deadline: float, url: str) -> Iterator[bytes]:
    for chunk in chunks:
        if time.perf_counter() > deadline:
            raise network_error(f"POST {url}: the upload did not finish in time (options.timeout)")
        yield chunk


def _stow_answer(resp: Any, url: str) -> dict[str, Any]:
    """The STOW response as DICOM JSON ({} when the body is empty or an error text)."""
    if not resp.content:
        return {}
    ctype = str(resp.headers.get("Content-Type", ""))
    try:
        data = json.loads(resp.content)
    except ValueError:
        if resp.status_code >= 400:
            return {}
        raise HarnessError(
            ErrorCode.BACKEND_FAILED, f"POST {url} answered {ctype or 'no type'}, not DICOM JSON", "options.url"
        ) from None
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and len(k) == 8}


# -- qido ----------------------------------------------------------------------------------------------------
def qido(request: QidoRequest) -> Outcome:
    from dicomweb_client.api import DICOMwebClient

    opts = request.options
    url = qido_url(opts)
    seen: list[Any] = []
    session = _session()
    session.hooks["response"].append(lambda r, *a, **k: seen.append(r))
    client = DICOMwebClient(opts.url.rstrip("/"), session=session, timeout=(opts.timeout, opts.timeout))
    client.set_http_retry_params(retry=False)
    filters = {k: v for k, v in opts.query.items() if v != ""}
    fields = [k for k, v in opts.query.items() if v == ""] or None
    kwargs: dict[str, Any] = {
        "search_filters": filters or None,
        "fields": fields,
        "limit": opts.limit,
        "fuzzymatching": True if opts.fuzzymatching else None,
    }
    started = time.perf_counter()
    with session, _http("GET", url, opts.timeout):
        if opts.level == "study":
            matches = client.search_for_studies(**kwargs)
        elif opts.level == "series":
            matches = client.search_for_series(study_instance_uid=opts.study_uid, **kwargs)
        else:
            matches = client.search_for_instances(
                study_instance_uid=opts.study_uid, series_instance_uid=opts.series_uid, **kwargs
            )
    if not isinstance(matches, list) or not all(isinstance(m, dict) for m in matches):
        raise HarnessError(ErrorCode.BACKEND_FAILED, f"GET {url} answered no list of DICOM JSON objects")
    last = seen[-1] if seen else None
    result = {
        "url": str(last.url) if last is not None else url,
        "http_status": last.status_code if last is not None else None,
        "level": opts.level,
        "count": len(matches),
        "matches": matches,
        "timings_ms": {"total": ms(time.perf_counter() - started)},
    }
    return Outcome(result=result)


# -- wado ----------------------------------------------------------------------------------------------------
def wado(request: WadoRequest, plan: RetrievalPlan) -> Outcome:
    opts = request.options
    url = wado_url(opts)
    started = time.perf_counter()
    deadline = started + max(opts.timeout, (request.timeout or 0))
    handles: list[IO[bytes]] = []

    def open_part(index: int) -> tuple[Path, IO[bytes]]:
        temp = plan.part_temp(index)
        fh = open(temp, "wb")  # noqa: SIM115 - closed by the splitter (or below)
        handles.append(fh)
        return temp, fh

    with _session() as session, _http("GET", url, opts.timeout):
        resp = session.get(
            url, headers={"Accept": wado_accept(opts.transfer_syntax_uid)}, stream=True,
            timeout=(opts.timeout, opts.timeout),
        )
        with contextlib.closing(resp):
            _check(resp, "GET", url)
            ctype = str(resp.headers.get("Content-Type", ""))
            boundary = boundary_of(ctype)
            if resp.status_code == 204:
                raise HarnessError(ErrorCode.BACKEND_FAILED, f"GET {url} answered 204 No Content", "options.url")
            if not is_multipart_related(ctype) or boundary is None:
                raise HarnessError(
                    ErrorCode.BACKEND_FAILED, f"GET {url} answered {ctype or 'no type'}, not multipart/related",
                    "options.url",
                )
            splitter = MultipartSplitter(boundary, open_part)
            try:
                for chunk in _chunks(resp.raw):
                    if time.perf_counter() > deadline:
                        raise network_error(f"GET {url}: the answer did not finish in time (options.timeout)")
                    splitter.feed(chunk)
                parts = splitter.finish()
            except ValueError as exc:
                raise HarnessError(
                    ErrorCode.BACKEND_FAILED, f"GET {url}: a malformed multipart answer: {exc}"
                ) from None
            finally:
                splitter.abort()
                for fh in handles:
                    fh.close()
    received = ms(time.perf_counter() - started)
    instances = []
    for part in parts:
        ident = part_identity(part.path)
        final = plan.add(safe_name(ident["sop_instance_uid"]), part.path)
        instances.append({"file": str(final), **ident, "bytes": part.size, "content_type": part.headers.get(
            "content-type", "")})
    result = {
        "url": url,
        "http_status": resp.status_code,
        "files": len(instances),
        "instances": instances,
        "bytes": sum(i["bytes"] for i in instances),
        "timings_ms": {"receive": received, "total": ms(time.perf_counter() - started)},
    }
    return Outcome(result=result)


def _chunks(raw: Any, size: int = 1 << 20) -> Iterator[bytes]:
    """What has arrived, as it arrives (urllib3's ``read1``: at most ``size`` bytes, without waiting for all of
    them as ``read``/``iter_content`` do), so that a trickling answer meets the deadline check."""
    read = getattr(raw, "read1", None)
    if read is None:  # urllib3 < 2.3
        yield from raw.stream(size, decode_content=True)
        return
    while block := read(size, decode_content=True):
        yield block


def execute_dicomweb(request: Any, info: Any, plan: Any) -> Outcome:
    try:
        import dicomweb_client  # noqa: F401
        import requests  # noqa: F401
    except ImportError as exc:
        raise HarnessError(
            ErrorCode.BACKEND_UNAVAILABLE, f"python_ref's DICOMweb ops need dicomweb-client ({exc})", "backend"
        ) from None
    if isinstance(request, StowRequest) and isinstance(info, StowInput):
        return stow(request, info)
    if isinstance(request, QidoRequest):
        return qido(request)
    if isinstance(request, WadoRequest) and isinstance(plan, RetrievalPlan):
        return wado(request, plan)
    raise HarnessError(ErrorCode.INTERNAL_ERROR, "DICOMweb op without its prepared input or output")
