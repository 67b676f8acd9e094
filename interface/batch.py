"""Many requests, few tool processes: the batch path of the Java adapters.

A JVM costs about a second to start, so rendering requests one call each is dominated by start-up.
A backend that can run many requests at once implements ``execute_batch(jobs)``; ``run_batch`` is the
dispatcher for it: each request goes through the same steps as ``dcmharness.interface.api.run`` (validate, backend
available, inspect the input, plan the outputs, ``check``), then every request of a batch-capable
backend is executed in ONE ``execute_batch`` call, and each output plan is committed on its own (one
request failing does not fail the others). Requests for other backends, and any request that fails
before execution, are answered by ``dcmharness.interface.api.run`` itself, so errors are the dispatcher's own.

    >>> from dcmharness.interface.batch import run_batch
    >>> responses = run_batch([{"op": "to_image", "backend": "pixelmed", ...}, ...])
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dcmharness.backends.base import Backend
from dcmharness.backends.batch import BatchBackend, Job, JobResult
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import Response, ToImageRequest
from dcmharness.contract.ops_models import FromJsonRequest
from dcmharness.contract.validation import parse_request
from dcmharness.interface import input_warnings, registry
from dcmharness.interface.api import PREPARERS, RunContext, error_response, run


@dataclass
class _Pending:
    index: int
    job: Job
    backend: Backend
    version: str | None
    started: float


def _prepare(index: int, data: Any, ctx: RunContext) -> _Pending | None:
    """The prepared job, or None when this request is not for a batch-capable backend (or fails early)."""
    started = time.perf_counter()
    try:
        request = parse_request(data)
        if not isinstance(request, ToImageRequest | FromJsonRequest):  # the ops a batch backend runs many of
            return None
        backend = registry.get(request.backend)
        if not isinstance(backend, BatchBackend):
            return None
        avail = backend.availability()
        if not avail.available or request.op not in backend.ops:
            return None
        info, plan = PREPARERS[request.op](request, ctx)
        if info is None:
            return None
        if ctx.default_timeout is not None and request.timeout is None:
            request = request.model_copy(update={"timeout": ctx.default_timeout})
        warnings = backend.check(request, info)
    except HarnessError:
        return None  # api.run answers it, with the same error
    job = Job(request, info, plan, warnings)  # type: ignore[arg-type]  # a from_json job: its document as info
    return _Pending(index, job, backend, avail.version, started)


def _respond(pending: _Pending, result: JobResult) -> Response:
    job = pending.job
    request = job.request
    if isinstance(result, HarnessError):
        job.plan.discard()
        resp = error_response(
            result, request_id=request.id, op=request.op, backend=request.backend, started=pending.started
        )
        resp.backend_version = pending.version
        command = getattr(result, "command", None)
        stderr = getattr(result, "stderr", None)
        if command is not None:
            resp.command = command
        if stderr is not None:
            resp.stderr = stderr
        return resp
    try:
        outputs = job.plan.commit()
    except HarnessError as exc:
        return _respond(pending, exc)
    return Response(
        id=request.id,
        ok=True,
        op=request.op,
        backend=pending.backend.name,
        backend_version=pending.version,
        outputs=outputs,
        result=result.result,
        warnings=job.warnings + result.warnings,
        command=result.command,
        stderr=result.stderr,
        duration_ms=round((time.perf_counter() - pending.started) * 1000, 3),
    )


def run_batch(requests: Sequence[Any], ctx: RunContext | None = None) -> list[Response]:
    """Responses to ``requests`` (dicts or request models), in order, batching where a backend can."""
    ctx = ctx or RunContext()
    responses: list[Response | None] = [None] * len(requests)
    groups: dict[str, list[_Pending]] = {}
    for index, data in enumerate(requests):
        with input_warnings.collected() as seen:
            pending = _prepare(index, data, ctx)
        if pending is not None:
            pending.job.warnings += [w for w in seen if w not in pending.job.warnings]
        if pending is None:
            responses[index] = run(data, ctx)
        else:
            groups.setdefault(pending.backend.name, []).append(pending)
    for members in groups.values():
        backend = members[0].backend
        assert isinstance(backend, BatchBackend)
        try:
            results = backend.execute_batch([p.job for p in members])
            if len(results) != len(members):
                raise RuntimeError(f"execute_batch answered {len(results)} of {len(members)} jobs")
        except HarnessError as exc:
            results = [exc] * len(members)
        except Exception as exc:  # a bug, never user input
            err = HarnessError(ErrorCode.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}"[:500])
            results = [err] * len(members)
        for pending, result in zip(members, results, strict=True):
            responses[pending.index] = _respond(pending, result)
    return [r for r in responses if r is not None]
