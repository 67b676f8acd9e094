"""``POST /compare``: one file, one option set, several backends: every render against the reference.

This is one conformance case (``interface/conform/case.py``: ``run_case``) with the options the user picked:
the same requests, metrics (``conform/compare.py``), statuses, registry explanations and heat maps
(``conform/thumbs.py``) as ``dcmharness conform`` computes for the same file and options.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.validation import parse_request
from dcmharness.interface import registry
from dcmharness.interface.conform import divergence
from dcmharness.interface.conform.case import CaseOutcome, CaseTask, Render, run_case
from dcmharness.interface.server.places import Places

CUSTOM_PROFILE = "custom"


class CompareRequest(BaseModel):
    """The body of ``POST /compare``."""

    model_config = ConfigDict(extra="forbid")

    input: str = Field(description="a DICOM file under --root (or an uploaded file)")
    options: dict[str, Any] = Field(default_factory=dict, description="to_image options, as in a run request")
    backends: list[str] | str = Field(default="all", description='backend names, or "all"')
    reference: str = Field(default="python_ref", description="the backend every other is compared with")
    profile: str = Field(default=CUSTOM_PROFILE, description="the profile name the divergence registry matches")
    tolerance: float = Field(default=1.0, ge=0, description="max abs difference still within tolerance")
    timeout: float | None = Field(default=None, gt=0, description="per-render timeout (s)")


def chosen_backends(request: CompareRequest) -> tuple[str, ...]:
    if request.backends == "all":  # every backend that renders (gdcm, say, only transcodes and anonymizes)
        names: list[str] | str = [n for n in registry.names() if "to_image" in registry.get(n).ops]
    else:
        names = request.backends
    if isinstance(names, str):
        raise HarnessError(ErrorCode.INVALID_REQUEST, 'backends must be a list of names or "all"', "backends")
    unknown = [n for n in names if n not in registry.BACKENDS]
    if unknown:
        raise HarnessError(ErrorCode.INVALID_REQUEST, f"unknown backend(s): {', '.join(unknown)}", "backends")
    if request.reference not in registry.BACKENDS:
        raise HarnessError(ErrorCode.INVALID_REQUEST, f"unknown backend {request.reference!r}", "reference")
    return tuple(dict.fromkeys(n for n in names if n != request.reference))


def build_task(request: CompareRequest, places: Places) -> CaseTask:
    """The conformance case of the request; refusals (paths, options) raised before anything renders."""
    input_path, _ = places.input_path(request.input)
    # the options are validated once, as the contract does for every render of the case
    parse_request({"op": "to_image", "input": str(input_path), "options": request.options})
    backends = chosen_backends(request)
    case_dir = places.fresh_folder("compare")
    return CaseTask(
        index=0,
        case_id=case_dir.name,
        input=str(input_path.resolve()),
        profile=request.profile,
        options=dict(request.options),
        reference=request.reference,
        backends=backends,
        case_dir=str(case_dir),
        tolerance=request.tolerance,
        registry=tuple(divergence.load()),
        thumbnails=True,
        keep_all=True,  # the page shows every render, matching ones included
        timeout=request.timeout or places.default_timeout,
        batch=False,
    )


def data_uri(thumb: tuple[str, bytes] | None) -> str | None:
    if thumb is None:
        return None
    mime, data = thumb
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _render_json(r: Render, places: Places) -> dict[str, Any]:
    url = None
    if r.ok and r.output:
        url = "/outputs/" + Path(r.output).resolve().relative_to(places.out_dir).as_posix()
    return {
        "backend": r.backend,
        "ok": r.ok,
        "output": r.output,
        "output_url": url,
        "error": r.error,
        "backend_version": r.version,
        "duration_ms": r.duration_ms,
        "command": r.command,
    }


def outcome_json(outcome: CaseOutcome, places: Places) -> dict[str, Any]:
    """The case as JSON: the reference's render, and per backend its render, status, metrics, diff image."""
    task = outcome.task
    results = []
    for res in outcome.results:
        results.append(
            {
                **_render_json(res.render, places),
                "status": res.status,
                "metrics": res.metrics,
                "divergence": res.divergence,
                "exceeded": res.exceeded,
                "diff_image": data_uri(outcome.thumbs.get(f"{res.backend}.diff")),
            }
        )
    return {
        "input": task.input,
        "options": task.options,
        "profile": task.profile,
        "reference": _render_json(outcome.reference, places),
        "results": results,
        "duration_ms": outcome.duration_ms,
    }


def compare_case(request: CompareRequest, places: Places) -> dict[str, Any]:
    return outcome_json(run_case(build_task(request, places)), places)
