"""The Python API: build a request, run it on a backend, get the response. Never raises on user input.

    >>> from dcmharness.interface.api import run
    >>> resp = run({"op": "to_image", "input": "CT_small.dcm", "output": "ct.png",
    ...             "options": {"window_center": 40, "window_width": 400}})
    >>> resp.ok, resp.outputs

Every request goes through the same steps: validate (contract), resolve the backend and check it is
available, inspect the input (shared checks: exists, DICOM, pixel data, frame, size), plan the outputs
(folder exists, no overwrite unless asked, temp files), let the backend refuse unsupported options,
execute, then commit the outputs atomically. Any failure removes the temporary files.
"""

from __future__ import annotations

import os
import time
from typing import Any

from dcmharness.backends.outputs import OutputPlan
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import ErrorInfo, RequestBase, Response, ToImageRequest
from dcmharness.contract.options import EXTENSION_FORMATS
from dcmharness.contract.validation import parse_request
from dcmharness.interface import input_warnings, registry
from dcmharness.interface.context import RunContext, confine, default_output_name, resolve_path
from dcmharness.interface.prepare import PREPARERS, prepare_to_image

__all__ = [  # the API: run and render; the run context and the preparation steps re-exported for callers
    "PREPARERS",
    "RunContext",
    "confine",
    "default_output_name",
    "error_response",
    "prepare_to_image",
    "render",
    "resolve_path",
    "run",
]


def _echo_id(data: Any) -> Any:
    if isinstance(data, RequestBase):
        return data.id
    if isinstance(data, dict):
        value = data.get("id")
        if value is None or (isinstance(value, str | int) and not isinstance(value, bool)):
            return value
    return None


def error_response(
    exc: HarnessError,
    *,
    request_id: Any = None,
    op: str | None = None,
    backend: str | None = None,
    started: float | None = None,
) -> Response:
    return Response(
        id=request_id,
        ok=False,
        op=op,
        backend=backend,
        error=ErrorInfo(code=exc.code.value, message=exc.message, field=exc.field),
        duration_ms=round((time.perf_counter() - started) * 1000, 3) if started else 0.0,
    )


def run(data: Any, ctx: RunContext | None = None) -> Response:
    """Run one request (a dict decoded from JSON, or a request model) and return its response.

    What pydicom warned about while reading the input (a damaged file it tolerated) is in
    ``response.warnings`` (``interface.input_warnings``), also when the request failed."""
    with input_warnings.collected() as seen:
        resp = _run(data, ctx)
    resp.warnings = [*resp.warnings, *(w for w in seen if w not in resp.warnings)]
    return resp


def _run(data: Any, ctx: RunContext | None = None) -> Response:
    ctx = ctx or RunContext()
    started = time.perf_counter()
    request_id = _echo_id(data)
    op = data.get("op") if isinstance(data, dict) and isinstance(data.get("op"), str) else None
    backend_name = data.get("backend") if isinstance(data, dict) and isinstance(data.get("backend"), str) else None
    plan: OutputPlan | None = None
    version: str | None = None
    try:
        request = parse_request(data)
        op, backend_name = request.op, request.backend  # type: ignore[attr-defined]
        backend = registry.get(request.backend)
        avail = backend.availability()
        version = avail.version
        if not avail.available:
            raise HarnessError(
                ErrorCode.BACKEND_UNAVAILABLE, f"backend {backend.name!r} is not available: {avail.reason}", "backend"
            )
        if op not in backend.ops:
            raise HarnessError(
                ErrorCode.UNSUPPORTED_OPTION, f"backend {backend.name!r} does not implement op {op!r}", "op"
            )
        preparer = PREPARERS[op]  # type: ignore[index]
        info, plan = preparer(request, ctx)
        if ctx.default_timeout is not None and request.timeout is None:
            request = request.model_copy(update={"timeout": ctx.default_timeout})
        warnings = backend.check(request, info)
        warnings += _extension_warnings(request)
        warnings += list(getattr(info, "warnings", None) or [])  # e.g. the files a folder store skips
        outcome = backend.execute(request, info, plan)
        outputs = plan.commit()
        return Response(
            id=request_id,
            ok=True,
            op=op,
            backend=backend.name,
            backend_version=version,
            outputs=outputs,
            result=outcome.result,
            warnings=warnings + outcome.warnings,
            command=outcome.command,
            stderr=outcome.stderr,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
        )
    except HarnessError as exc:
        if plan is not None:
            plan.discard()
        resp = error_response(exc, request_id=request_id, op=op, backend=backend_name, started=started)
        resp.backend_version = version
        command = getattr(exc, "command", None)
        stderr = getattr(exc, "stderr", None)
        if command is not None:
            resp.command = command
        if stderr is not None:
            resp.stderr = stderr
        return resp
    except (KeyboardInterrupt, SystemExit):
        if plan is not None:
            plan.discard()
        raise
    except RecursionError:
        if plan is not None:
            plan.discard()
        err = HarnessError(ErrorCode.DECODE_FAILED, "the input is nested too deeply to parse", "input")
        return error_response(err, request_id=request_id, op=op, backend=backend_name, started=started)
    except MemoryError:
        if plan is not None:
            plan.discard()
        err = HarnessError(ErrorCode.INPUT_TOO_LARGE, "out of memory while processing the input", "input")
        return error_response(err, request_id=request_id, op=op, backend=backend_name, started=started)
    except Exception as exc:
        if plan is not None:
            plan.discard()
        err = HarnessError(ErrorCode.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}"[:500])
        return error_response(err, request_id=request_id, op=op, backend=backend_name, started=started)
    except BaseException as exc:
        if plan is not None:
            plan.discard()
        if type(exc).__name__ != "PanicException":
            raise
        # a Rust extension (pyo3) panicked, e.g. a decoder indexing past damaged data: not a crash of the run
        err = HarnessError(ErrorCode.DECODE_FAILED, f"a native decoder failed: {exc}"[:500], "input")
        return error_response(err, request_id=request_id, op=op, backend=backend_name, started=started)


def _extension_warnings(request: RequestBase) -> list[str]:
    if not isinstance(request, ToImageRequest) or not request.output or request.options.format is None:
        return []
    suffix = os.path.splitext(request.output)[1].lower()
    implied = EXTENSION_FORMATS.get(suffix)
    if implied and implied != request.options.format:
        return [f"output extension {suffix} does not match format {request.options.format}"]
    return []


def render(path: str, frame: int = 0, **options: Any) -> Any:
    """The rendered pixels of one frame as a numpy array (python_ref, nothing written)."""
    from dcmharness.backends.python_ref import render_array

    return render_array(path, frame, **options)
