"""Execution of each op on the reference backend."""

from __future__ import annotations

from typing import Any

from dcmharness.backends.base import Outcome
from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import RequestBase, ToImageRequest
from dcmharness.contract.options import format_for


def execute(request: RequestBase, info: InputInfo | None, plan: OutputPlan) -> Outcome:
    if isinstance(request, ToImageRequest):
        assert info is not None
        return to_image(request, info, plan)
    if getattr(request, "op", "") in ("echo", "store", "find", "get"):
        from dcmharness.backends.python_ref.ops_network import execute_network  # pynetdicom: echo, store, find, get

        return execute_network(request, info, plan)
    if getattr(request, "op", "") in ("stow", "qido", "wado"):
        from dcmharness.backends.python_ref.ops_dicomweb import execute_dicomweb  # requests, dicomweb-client

        return execute_dicomweb(request, info, plan)
    from dcmharness.backends.python_ref.ops_dispatch import (
        execute_op,  # dump, info, stats, histogram, transcode, anonymize
    )

    return execute_op(request, info, plan)


def to_image(request: ToImageRequest, info: InputInfo, plan: OutputPlan) -> Outcome:
    from dcmharness.backends.python_ref.encode import encode
    from dcmharness.backends.python_ref.pipeline import render_frame

    opts = request.options
    fmt = format_for(request.output, opts)
    frames_out: list[dict[str, Any]] = []
    last = None
    for target in plan.targets:
        frame = target.frame if target.frame is not None else 0
        rendered = render_frame(info.dataset, frame, opts, info.transfer_syntax)
        image = rendered.image
        try:
            encode(image, target.temp, fmt, quality=opts.quality, png_level=opts.png_compression)
        except (OSError, ValueError) as exc:
            raise HarnessError(ErrorCode.BACKEND_FAILED, f"could not write {fmt}: {exc}") from None
        frames_out.append({"frame": frame, "voi": rendered.voi, "overlays": rendered.overlays})
        last = rendered
    assert last is not None
    h, w = last.image.shape[:2]
    result: dict[str, Any] = {
        "width": w,
        "height": h,
        "mode": last.mode,
        "bit_depth": opts.bit_depth,
        "format": fmt,
        "frames": [f["frame"] for f in frames_out],
        "frame": frames_out[0]["frame"],
        "voi": frames_out[0]["voi"],
        "modality": last.modality,
        "inverted": last.inverted,
        "overlays": last.overlays,
        "photometric": info.photometric,
        "transfer_syntax": info.transfer_syntax,
    }
    if len(frames_out) > 1:
        result["per_frame"] = frames_out
    return Outcome(result=result)
