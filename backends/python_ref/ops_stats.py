"""``stats`` and ``histogram`` on the reference backend: pure functions over one frame's values.

The definitions (population std, type-7 percentiles, the bin formula) are in ``contract/ops_models.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dcmharness.backends.base import Outcome
from dcmharness.backends.preflight import InputInfo, check_frame
from dcmharness.contract.ops_models import HistogramOptions, HistogramRequest, StatsRequest


def percentile_key(p: float) -> str:
    """The result key of a percentile: ``format(p, "g")`` (1.0 -> "1", 2.5 -> "2.5")."""
    return format(p, "g")


def frame_stats(values: np.ndarray, percentiles: list[float]) -> dict[str, Any]:
    """count, zero_count, unique, min, max, mean, std (ddof 0) and type-7 percentiles. Pure."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    pct = np.percentile(flat, percentiles, method="linear") if percentiles else np.asarray([])
    return {
        "count": int(flat.size),
        "zero_count": int(np.count_nonzero(flat == 0)),
        "unique": int(np.unique(flat).size),
        "min": float(flat.min()),
        "max": float(flat.max()),
        "mean": float(flat.mean()),
        "std": float(flat.std()),
        "percentiles": {percentile_key(p): float(v) for p, v in zip(percentiles, pct, strict=True)},
    }


def histogram_range(values: np.ndarray, requested: list[float] | None) -> tuple[float, float]:
    """The bins' [lo, hi]: the requested range, else min..max (widened by 0.5 each side if equal). Pure."""
    if requested is not None:
        return float(requested[0]), float(requested[1])
    lo, hi = float(values.min()), float(values.max())
    if lo == hi:
        return lo - 0.5, hi + 0.5
    return lo, hi


def frame_histogram(values: np.ndarray, bins: int, requested: list[float] | None) -> dict[str, Any]:
    """Counts per bin: index ``floor(((x - lo) * bins) / (hi - lo))`` clamped to bins - 1. Pure."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    lo, hi = histogram_range(flat, requested)
    below = int(np.count_nonzero(flat < lo))
    above = int(np.count_nonzero(flat > hi))
    inside = flat[(flat >= lo) & (flat <= hi)]
    idx = np.floor(((inside - lo) * bins) / (hi - lo)).astype(np.int64)
    idx = np.clip(idx, 0, bins - 1)
    counts = np.bincount(idx, minlength=bins)
    return {"range": [lo, hi], "bins": bins, "counts": [int(c) for c in counts], "below": below, "above": above}


def frame_values(info: InputInfo, frame: int, space: str) -> tuple[np.ndarray, str]:
    """The stored or modality values of one frame and the modality transform that produced them."""
    from dcmharness.backends.python_ref.decode import decode_frame, little_endian_of
    from dcmharness.backends.python_ref.modality import apply_modality

    stored = decode_frame(info.dataset, frame, info.transfer_syntax)
    if space == "stored":
        return stored, "disabled"
    if info.is_color:
        return stored, "identity"
    # a Modality LUT's OW data is read in the file's byte order (as the to_image pipeline does)
    return apply_modality(stored, info.dataset, frame, True, little_endian_of(info.dataset, info.transfer_syntax))


def stats(request: StatsRequest, info: InputInfo) -> Outcome:
    opts = request.options
    frames: list[dict[str, Any]] = []
    transform = "disabled"
    for f in check_frame(info, opts.frame):
        values, transform = frame_values(info, f, opts.values)
        frames.append({"frame": f, **frame_stats(values, list(opts.percentiles))})
    return Outcome(result={"values": opts.values, "modality_lut": transform, "frames": frames})


def histogram(request: HistogramRequest, info: InputInfo) -> Outcome:
    opts: HistogramOptions = request.options
    frames: list[dict[str, Any]] = []
    transform = "disabled"
    for f in check_frame(info, opts.frame):
        values, transform = frame_values(info, f, opts.values)
        frames.append({"frame": f, **frame_histogram(values, opts.bins, opts.range)})
    return Outcome(result={"values": opts.values, "modality_lut": transform, "frames": frames})
