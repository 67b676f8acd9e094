"""Talking to an Orthanc server over its REST API: the calls as values (``HttpCall``, golden-tested), one
function that performs a call (``http``) and turns every failure into a ``ToolError`` with Orthanc's own
message, and the identifiers Orthanc files an instance under. Shared by rendering (``adapter.py``) and the
other ops (``ops.py``).
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from dcmharness.adapters.orthanc.server import OrthancServer
from dcmharness.adapters.runner import ToolError
from dcmharness.contract.errors import ErrorCode, HarnessError


@dataclass(frozen=True)
class HttpCall:
    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()

    def url(self, base: str) -> str:
        q = urllib.parse.urlencode(self.query, safe=",")
        return base.rstrip("/") + self.path + (f"?{q}" if q else "")

    def describe(self, base: str) -> str:
        head = "".join(f" [{k}: {v}]" for k, v in self.headers if k.lower() == "accept")
        return f"{self.method} {self.url(base)}{head}"


def upload_call() -> HttpCall:
    return HttpCall("POST", "/instances", (), (("Content-Type", "application/dicom"),))


def delete_call(instance_id: str) -> HttpCall:
    return HttpCall("DELETE", f"/instances/{urllib.parse.quote(instance_id, safe='')}")


def instance_uids(ds: Any) -> tuple[str, str, str]:
    """(Study, Series, SOP Instance UID) of the input; ``backend_failed`` when one is missing."""
    out = []
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        value = uid_of(ds, keyword)
        if not value:
            raise HarnessError(ErrorCode.BACKEND_FAILED, f"orthanc needs {keyword}, which the input lacks", "input")
        out.append(value)
    return out[0], out[1], out[2]


def uid_of(ds: Any, keyword: str) -> str:
    """The UID as text; ``decode_failed`` when the element cannot be read (a damaged VR or length: fuzz seed
    20261204 cases 89 and 1061, (0020,000D) read as FD and (0020,000E) with VR 'WI')."""
    try:
        value = ds.get(keyword, "")
    except Exception as exc:
        raise HarnessError(
            ErrorCode.DECODE_FAILED, f"{keyword} is unreadable: {type(exc).__name__}: {str(exc)[:200]}", "input"
        ) from None
    return str(value or "").strip().rstrip("\x00").strip()


def server_failure(exc: ToolError, server: OrthancServer, log_offset: int, commands: list[str]) -> ToolError:
    """``exc`` as the response should carry it: the server's log of the request appended to the stderr, and
    "orthanc crashed: ..." when the server died under it (the field at fault kept)."""
    log = server.log_since(log_offset)
    stderr = "\n".join(part for part in (exc.stderr, log and f"--- orthanc log ---\n{log}") if part) or None
    crash = server.crash_report(wait=2.0 if "unreachable" in exc.message else 0.0)
    error = ToolError(exc.code, f"orthanc crashed: {crash}" if crash else exc.message, commands, stderr)
    error.field = exc.field
    return error


def http(call: HttpCall, base: str, body: bytes | None, timeout: float, commands: list[str]) -> tuple[bytes, str]:
    """Perform ``call``; the body and content type, or a ``ToolError`` carrying Orthanc's message."""
    req = urllib.request.Request(call.url(base), data=body, method=call.method, headers=dict(call.headers))
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.read(), str(resp.headers.get("Content-Type", "") or "")
    except urllib.error.HTTPError as exc:
        text = exc.read().decode("utf-8", "replace")
        raise ToolError(
            ErrorCode.BACKEND_FAILED,
            f"orthanc answered HTTP {exc.code} to {call.method} {call.path}: {orthanc_message(text)}",
            commands,
            text[:4000] or None,
        ) from None
    except TimeoutError:
        raise ToolError(
            ErrorCode.TIMEOUT, f"orthanc did not answer {call.method} {call.path} within {timeout:g} s", commands, None
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError | socket.timeout):
            raise ToolError(
                ErrorCode.TIMEOUT,
                f"orthanc did not answer {call.method} {call.path} within {timeout:g} s",
                commands,
                None,
            ) from None
        raise ToolError(ErrorCode.BACKEND_FAILED, f"orthanc unreachable at {base}: {reason}", commands, None) from None


def orthanc_message(text: str) -> str:
    """The useful part of an Orthanc error body (JSON with Message/Details), else the text itself."""
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip()[:300] or "no message"
    if isinstance(data, dict):
        parts = [str(data.get(k)) for k in ("Message", "Details", "OrthancError") if data.get(k)]
        if parts:
            return "; ".join(dict.fromkeys(parts))[:500]
    return text.strip()[:300]


def json_body(body: bytes, commands: list[str]) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        raise ToolError(
            ErrorCode.BACKEND_FAILED, "orthanc answered something that is not JSON", commands, None
        ) from None
    if not isinstance(data, dict):
        raise ToolError(ErrorCode.BACKEND_FAILED, f"orthanc answered {data!r}", commands, None)
    return data
