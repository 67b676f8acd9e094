"""Conformance profiles: named to_image option sets, each applied to every input it fits.

A profile is a function of the input's header (``InputInfo``) returning the options, or ``None`` when it
does not fit that input (e.g. ``stored_window`` on a file without a stored window). Deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dcmharness.backends.preflight import InputInfo


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    build: Callable[[InputInfo], dict[str, Any] | None]
    #: a compared render is ``within_tolerance`` when its max abs difference is <= ``tolerance`` levels ...
    tolerance: float = 1.0
    #: ... or (lossy outputs) when its PSNR against the reference is >= ``min_psnr`` dB
    min_psnr: float | None = None
    #: ... or (lossy outputs) when its PSNR against the reference's lossless render is at most this many dB
    #: below the reference's own (encoders differ: quantisation tables, chroma subsampling 4:2:0 vs 4:2:2)
    fidelity_margin_db: float | None = None

    def options_for(self, info: InputInfo) -> dict[str, Any] | None:
        return self.build(info)


def _gray(info: InputInfo) -> bool:
    return not info.is_color


def explicit_window_for(info: InputInfo) -> tuple[float, float]:
    """A deterministic per-file window: the middle half of the stored range, through the rescale if any.

    Centre and width are integers so every tool's parser takes them as written.
    """
    bits = info.bits_stored or 8
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if info.pixel_representation else (0, (1 << bits) - 1)
    ds = info.dataset
    slope = float(ds.get("RescaleSlope", 1) or 1) if "RescaleSlope" in ds else 1.0
    intercept = float(ds.get("RescaleIntercept", 0) or 0) if "RescaleIntercept" in ds else 0.0
    a, b = lo * slope + intercept, hi * slope + intercept
    lo_m, hi_m = min(a, b), max(a, b)
    center = round((lo_m + hi_m) / 2)
    width = max(2, round((hi_m - lo_m) / 4))
    return float(center), float(width)


def _explicit(info: InputInfo) -> dict[str, Any] | None:
    if not _gray(info):
        return None
    c, w = explicit_window_for(info)
    return {"window_center": c, "window_width": w}


def _windowed(function: str) -> Callable[[InputInfo], dict[str, Any] | None]:
    def build(info: InputInfo) -> dict[str, Any] | None:
        base = _explicit(info)
        return None if base is None else {**base, "voi_function": function}

    return build


#: the profile of a synthetic case's own options (from its manifest; fits synthetic files only)
SYNTHETIC = "synthetic"

PROFILES: dict[str, Profile] = {
    p.name: p
    for p in [
        Profile("default", "no options: each backend's reading of the contract's defaults", lambda i: {}),
        Profile(
            "stored_window",
            "the file's first stored window (voi=window, index 0)",
            lambda i: {"voi": "window", "voi_index": 0} if _gray(i) and i.n_windows > 0 else None,
        ),
        Profile("explicit_window", "a deterministic per-file explicit window (LINEAR)", _explicit),
        Profile("minmax", "min-max of the frame's modality values", lambda i: {"voi": "minmax"} if _gray(i) else None),
        Profile(
            "none",
            "no VOI: the full theoretical range (dcmtk's default)",
            lambda i: {"voi": "none"} if _gray(i) else None,
        ),
        Profile("linear_exact", "the explicit window with LINEAR_EXACT", _windowed("linear_exact")),
        Profile("sigmoid", "the explicit window with SIGMOID", _windowed("sigmoid")),
        Profile("inverse", "presentation shape INVERSE", lambda i: {"presentation": "inverse"} if _gray(i) else None),
        Profile(
            "frame_last",
            "the last frame of a multi-frame file",
            lambda i: {"frame": i.frames - 1} if i.frames > 1 else None,
        ),
        Profile("overlays_off", "overlays not burned in", lambda i: {"overlays": False} if i.overlay_planes else None),
        Profile(
            "bit16",
            "16-bit output of the stored window or min-max",
            lambda i: {"bit_depth": 16} if _gray(i) and i.bits_stored > 8 else None,
        ),
        Profile(
            "jpeg",
            "JPEG output, quality 90 (encoders differ: within tolerance when PSNR >= 40 dB against the "
            "reference's JPEG, or as faithful to the lossless render as the reference's JPEG, 3 dB margin)",
            lambda i: {"format": "jpeg", "quality": 90},
            min_psnr=40.0,
            fidelity_margin_db=3.0,
        ),
        Profile(
            "colormap",
            "pseudo-colour through the PET palette of PS3.6 B.1.2 after the default VOI (RGB output)",
            lambda i: {"colormap": "pet"} if _gray(i) else None,
        ),
        Profile(
            SYNTHETIC, "a synthetic case's own options (interface/synth manifest; synthetic files only)", lambda i: None
        ),
    ]
}


def get(name: str) -> Profile:
    return PROFILES[name]
