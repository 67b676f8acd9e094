"""One conformance case: a (file, profile) rendered by the reference and by every backend, then compared.

``run_case`` is the unit of work the executors map (a process, a thread or a Dask worker): it only needs
the ``CaseTask`` (picklable) and a file system where ``task.case_dir`` is writable. Every request goes
through the dispatcher (``dcmharness.interface.api.run``), exactly as a user's would.
"""

from __future__ import annotations

import contextlib
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dcmharness.interface.conform import divergence
from dcmharness.interface.conform.status import (
    ERROR,
    EXPLAINED,
    MATCH,
    MISMATCH,
    REFERENCE_ERROR,
    UNSUPPORTED,
    UNSUPPORTED_CODES,
    WITHIN_TOLERANCE,
)

if TYPE_CHECKING:
    from dcmharness.contract.models import Response

FORMAT_EXT = {"png": ".png", "jpeg": ".jpg", "tiff": ".tif", "pnm": ".pnm"}


@dataclass(frozen=True)
class CaseTask:
    """Everything a worker needs for one (file, profile)."""

    index: int
    case_id: str
    input: str
    profile: str
    options: dict[str, Any]
    reference: str
    backends: tuple[str, ...]
    case_dir: str
    tolerance: float = 1.0
    min_psnr: float | None = None
    #: lossy output (JPEG): also judge each render by its fidelity to the reference's lossless render
    fidelity_margin_db: float | None = None
    registry: tuple[divergence.Divergence, ...] = ()
    thumbnails: bool = True
    timeout: float | None = None
    batch: bool = True  # let batch-capable backends render a work unit's cases in one go
    keep_all: bool = False  # keep every render (default: only those of a case needing attention)


@dataclass
class Render:
    """One request's outcome: ok with an output file, or an error."""

    backend: str
    ok: bool
    output: str | None = None
    error: dict[str, Any] | None = None
    version: str | None = None
    duration_ms: float = 0.0
    command: list[str] | None = None


@dataclass
class BackendResult:
    backend: str
    status: str
    render: Render
    metrics: dict[str, Any] | None = None
    divergence: dict[str, Any] | None = None
    exceeded: list[str] = field(default_factory=list)


@dataclass
class CaseOutcome:
    task: CaseTask
    reference: Render
    results: list[BackendResult]
    #: thumbnails: key ("reference", "<backend>", "<backend>.diff") -> (mime type, bytes)
    thumbs: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    duration_ms: float = 0.0
    removed: int = 0  # render files removed after the comparison (``prune``)


def output_path(task: CaseTask, who: str) -> Path:
    fmt = task.options.get("format") or "png"
    return Path(task.case_dir) / f"{who}{FORMAT_EXT.get(fmt, '.png')}"


def request_for(task: CaseTask, backend: str, label: str) -> dict[str, Any]:
    """The ``to_image`` request of one render of the case (the same options for every backend)."""
    request: dict[str, Any] = {
        "id": f"{task.case_id}/{label}",
        "op": "to_image",
        "input": task.input,
        "output": str(output_path(task, label)),
        "backend": backend,
        "overwrite": True,
        "options": task.options,
    }
    if task.timeout is not None:
        request["timeout"] = task.timeout
    return request


def from_response(resp: Response, backend: str, output: str) -> Render:
    if resp.ok:
        return Render(
            backend,
            True,
            resp.outputs[0] if resp.outputs else output,
            None,
            resp.backend_version,
            resp.duration_ms,
            resp.command,
        )
    err = resp.error.model_dump() if resp.error else {"code": "internal_error", "message": "no error", "field": None}
    if resp.stderr:
        err["stderr"] = resp.stderr[-2000:]
    return Render(backend, False, None, err, resp.backend_version, resp.duration_ms, resp.command)


def render(task: CaseTask, backend: str, label: str) -> Render:
    from dcmharness.interface.api import RunContext, run

    request = request_for(task, backend, label)
    return from_response(run(request, RunContext()), backend, request["output"])


def batch_capable(backend: str) -> bool:
    """Whether the backend offers ``execute_batch`` (many requests, one tool process: the Java tools)."""
    from dcmharness.interface import registry

    try:
        return callable(getattr(registry.get(backend), "execute_batch", None))
    except Exception:
        return False


def prerender_batches(tasks: Sequence[CaseTask]) -> dict[tuple[str, str], Render]:
    """The renders of the batch-capable backends for all ``tasks`` at once, by (case id, backend).

    A batch that fails as a whole is left out: those cases then run request by request.
    """
    if len(tasks) < 2 or not tasks[0].batch:
        return {}
    try:
        from dcmharness.interface.batch import run_batch
    except ImportError:
        return {}
    from dcmharness.interface.api import RunContext

    done: dict[tuple[str, str], Render] = {}
    for backend in tasks[0].backends:
        if not batch_capable(backend):
            continue
        requests = [request_for(t, backend, backend) for t in tasks]
        for t in tasks:
            Path(t.case_dir).mkdir(parents=True, exist_ok=True)
        try:
            responses = run_batch(requests, RunContext())
        except Exception:
            continue
        if len(responses) != len(requests):
            continue
        for t, req, resp in zip(tasks, requests, responses, strict=True):
            done[(t.case_id, backend)] = from_response(resp, backend, req["output"])
    return done


def run_cases(tasks: Sequence[CaseTask]) -> list[CaseOutcome]:
    """Several cases (typically every profile of one file): batch-capable backends render them in one go."""
    pre = prerender_batches(tasks)
    return [run_case(t, pre) for t in tasks]


def finite(metrics: dict[str, Any]) -> dict[str, Any]:
    """The metrics with infinities (shape mismatch) as null, so the JSON stays standard."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in metrics.items()}


def classify(
    task: CaseTask,
    backend: str,
    metrics: dict[str, Any],
    dataset_case: divergence.Case | None,
) -> tuple[str, divergence.Explanation | None]:
    """The status of a compared pair (both rendered) from its metrics and the registry."""
    shape_mode = bool(metrics["shape_match"] and metrics["mode_match"])
    max_diff = float(metrics["max_abs_diff"])
    if shape_mode and max_diff == 0:
        return MATCH, None
    if shape_mode and (
        max_diff <= task.tolerance
        or (task.min_psnr is not None and metrics["psnr"] is not None and metrics["psnr"] >= task.min_psnr)
        or as_faithful(task, metrics)
    ):
        return WITHIN_TOLERANCE, None
    case = dataset_case or divergence.Case(backend, task.profile, task.input, task.options)
    explanation = divergence.find_explanation(task.registry, case, max_diff, shape_mode)
    return (EXPLAINED if explanation.entry is not None else MISMATCH), explanation


def known_failure(task: CaseTask, backend: str, header: divergence.Case) -> dict[str, Any] | None:
    """The registry entry (``tool_fails = true``) that names the cause of a backend's failure, if one does.

    The status stays ``error``: a known failure is still a failure, but the report says why it happens.
    """
    case = divergence.Case(backend, task.profile, task.input, task.options, header.dataset, header.transfer_syntax)
    entry = divergence.find_failure(task.registry, case)
    return None if entry is None else {"id": entry.id, "cause": entry.cause, "source": entry.source}


def as_faithful(task: CaseTask, metrics: Mapping[str, Any]) -> bool:
    """Lossy profiles: the render is as close to the lossless truth as the reference's own encoding
    (within ``fidelity_margin_db``), e.g. 4:2:2 vs 4:2:0 chroma subsampling of two JPEG encoders."""
    if task.fidelity_margin_db is None:
        return False
    own, ref = metrics.get("fidelity_psnr", 0.0), metrics.get("reference_fidelity_psnr", math.inf)
    if own is None or ref is None:  # identical to the truth: infinite PSNR
        return own is None
    return bool(own >= ref - task.fidelity_margin_db)


def lossless_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The same rendering written losslessly (PNG): the truth a lossy output is judged against."""
    return {k: v for k, v in options.items() if k not in ("format", "quality")} | {"format": "png"}


def _psnr(reference: Any, other: Any) -> float | None:
    from dcmharness.interface.conform.compare import compare

    m = compare(reference, other)
    return m.psnr if m.shape_match else 0.0


def _dataset_case(task: CaseTask, backend: str) -> divergence.Case:
    """The registry's view of the case (reads the header; the dataset is read once per case)."""
    from dcmharness.backends.preflight import inspect

    try:
        info = inspect(task.input)
        ds, ts = info.dataset, info.transfer_syntax
    except Exception:
        ds, ts = None, None
    return divergence.Case(backend, task.profile, task.input, task.options, ds, ts)


def run_case(task: CaseTask, prerendered: Mapping[tuple[str, str], Render] | None = None) -> CaseOutcome:
    """Render the case on the reference and on every backend; compare; make the thumbnails."""
    import numpy as np

    from dcmharness.interface.conform.compare import compare, load_image
    from dcmharness.interface.conform.thumbs import heatmap, thumbnail

    started = time.perf_counter()
    Path(task.case_dir).mkdir(parents=True, exist_ok=True)
    ref = render(task, task.reference, "reference")
    outcome = CaseOutcome(task, ref, [])
    ref_img: np.ndarray | None = None
    if ref.ok and ref.output:
        try:
            ref_img = load_image(ref.output)
        except Exception as exc:  # an unreadable reference output is a reference error
            ref.ok, ref.error = False, {"code": "internal_error", "message": f"reference output unreadable: {exc}"}
    if ref_img is not None and task.thumbnails:
        outcome.thumbs["reference"] = thumbnail(ref_img)
    truth: np.ndarray | None = None
    ref_fidelity: float | None = None
    if ref_img is not None and task.fidelity_margin_db is not None:
        lossless = replace(task, options=lossless_options(task.options))
        truth_render = render(lossless, task.reference, "reference_lossless")
        if truth_render.ok and truth_render.output:
            truth = load_image(truth_render.output)
            ref_fidelity = _psnr(truth, ref_img)
    header: Any = None
    for backend in task.backends:
        r = (prerendered or {}).get((task.case_id, backend)) or render(task, backend, backend)
        if not r.ok:
            code = (r.error or {}).get("code")
            status = UNSUPPORTED if code in UNSUPPORTED_CODES else ERROR
            if ref_img is None:
                status = REFERENCE_ERROR
            failed = BackendResult(backend, status, r)
            if status == ERROR and task.registry:
                if header is None:
                    header = _dataset_case(task, backend)
                failed.divergence = known_failure(task, backend, header)
            outcome.results.append(failed)
            continue
        if ref_img is None:
            outcome.results.append(BackendResult(backend, REFERENCE_ERROR, r))
            continue
        try:
            img = load_image(r.output or "")
        except Exception as exc:
            r.ok, r.error = False, {"code": "backend_failed", "message": f"output unreadable: {exc}", "field": None}
            outcome.results.append(BackendResult(backend, ERROR, r))
            continue
        metrics = compare(ref_img, img).as_dict()
        if truth is not None:
            metrics["fidelity_psnr"] = _psnr(truth, img)
            metrics["reference_fidelity_psnr"] = ref_fidelity
        needs_registry = not (metrics["shape_match"] and metrics["mode_match"] and metrics["max_abs_diff"] <= 0)
        dcase = None
        if needs_registry and task.registry:
            if header is None:
                header = _dataset_case(task, backend)
            dcase = divergence.Case(
                backend, task.profile, task.input, task.options, header.dataset, header.transfer_syntax
            )
        status, expl = classify(task, backend, metrics, dcase)
        result = BackendResult(backend, status, r, finite(metrics))
        if expl is not None:
            result.exceeded = list(expl.exceeded)
            if expl.entry is not None:
                e = expl.entry
                result.divergence = {"id": e.id, "cause": e.cause, "source": e.source}
        outcome.results.append(result)
        if task.thumbnails and status != MATCH:
            outcome.thumbs[backend] = thumbnail(img)
            if metrics["shape_match"]:
                outcome.thumbs[f"{backend}.diff"] = heatmap(ref_img, img)
    if not task.keep_all:
        outcome.removed = prune(outcome)
    outcome.duration_ms = round((time.perf_counter() - started) * 1000, 3)
    return outcome


#: The statuses of a case "needing attention" (report.html's list): their renders stay on disk.
ATTENTION = frozenset({MISMATCH, ERROR, EXPLAINED})
_FRAME_SUFFIX = re.compile(r"_\d{4}$")


def render_label(file_name: str) -> str:
    """Who wrote a file of a case folder: ``dcmtk_0003.png`` -> ``dcmtk``, ``reference.jpg`` -> ``reference``."""
    stem = file_name.lstrip(".").split(".", 1)[0]
    return _FRAME_SUFFIX.sub("", stem)


def kept_labels(outcome: CaseOutcome) -> set[str]:
    """The renders a case keeps: those of the results needing attention, and then the reference's."""
    attention = {r.backend for r in outcome.results if r.status in ATTENTION}
    return attention | {"reference", "reference_lossless"} if attention else set()


def prune(outcome: CaseOutcome) -> int:
    """Remove the case's renders the report does not need (the thumbnails are already made); the results
    of the removed ones get ``output`` None. Returns the number of files removed."""
    folder = Path(outcome.task.case_dir)
    keep = kept_labels(outcome)
    removed = 0
    for f in list(folder.iterdir()) if folder.is_dir() else []:
        if f.is_file() and render_label(f.name) not in keep:
            f.unlink()
            removed += 1
    for r in outcome.results:
        if r.backend not in keep:
            r.render.output = None
    if not keep:
        outcome.reference.output = None
        for d in (folder, folder.parent):  # the case's folder, then the file's when it is empty
            with contextlib.suppress(OSError):
                d.rmdir()
    return removed
