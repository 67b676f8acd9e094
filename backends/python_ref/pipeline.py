"""The display pipeline composed from the stage functions: one frame in, one output array out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backends.base import unsupported
from backends.python_ref import color, decode, modality, overlays, presentation, voi
from contract.errors import ErrorCode, HarnessError
from contract.options import ToImageOptions

_GRAY_ONLY = ("window_center", "window_width", "window_preset", "voi_function", "voi_index")


@dataclass
class Rendered:
    """A rendered frame and what was applied to it."""

    image: np.ndarray  # uint8 / uint16, rows x cols (x 3)
    frame: int
    mode: str  # "L", "I;16" or "RGB"
    voi: dict[str, Any] | None = None
    modality: str | None = None
    inverted: bool = False
    overlays: list[int] = field(default_factory=list)


def quantize(y: np.ndarray, ymax: int) -> np.ndarray:
    """The contract's rounding rule: floor(y + 0.5), clipped to [0, ymax]."""
    out = np.clip(np.floor(np.asarray(y, dtype=np.float64) + 0.5), 0, ymax)
    return out.astype(np.uint16 if ymax > 255 else np.uint8)


def check_color_options(options: ToImageOptions) -> None:
    """Grayscale-only options on a colour image are refused (SEMANTICS.md, Colour)."""
    for name in _GRAY_ONLY:
        if getattr(options, name) is not None:
            raise unsupported(name, f"{name} applies to grayscale images only; this image is colour")
    if options.voi != "auto":
        raise unsupported("voi", "voi applies to grayscale images only; this image is colour")
    if options.presentation != "auto":
        raise unsupported("presentation", "presentation applies to grayscale images only; this image is colour")
    if not options.modality_lut:
        raise unsupported("modality_lut", "modality_lut applies to grayscale images only; this image is colour")
    if options.bit_depth == 16:
        raise unsupported("bit_depth", "16-bit output is for grayscale images; colour output is 8-bit RGB")


def select_voi(
    x: np.ndarray, ds: Any, frame: int, options: ToImageOptions, ymax: int
) -> tuple[np.ndarray, dict[str, Any]]:
    """Apply the VOI transform the request selects (SEMANTICS.md, section 3)."""
    explicit = options.explicit_window()
    file_function = voi.function_name(_first(ds.get("VOILUTFunction")))
    if explicit is not None:
        c, w = explicit
        fn: str = options.voi_function or "linear"
        return voi.window(x, c, w, fn, ymax), {"source": "explicit", "center": c, "width": w, "function": fn}
    source = options.voi
    index = options.voi_index or 0
    luts = ds.get("VOILUTSequence") or []
    centers = _values(ds.get("WindowCenter"))
    widths = _values(ds.get("WindowWidth"))
    if source == "auto":
        source = "lut" if luts else "window" if centers and widths else "minmax"
    if source == "lut":
        if index >= len(luts):
            raise HarnessError(
                ErrorCode.INVALID_REQUEST,
                f"VOI LUT {index} requested but the file has {len(luts)} VOI LUT(s)",
                "options.voi_index" if options.voi_index is not None else "options.voi",
            )
        lut = modality.read_lut(luts[index])
        return voi.apply_voi_lut(x, lut, ymax), {"source": "lut", "index": index, "bits": voi.lut_bits(lut)}
    if source == "window":
        n = min(len(centers), len(widths))
        if index >= n:
            raise HarnessError(
                ErrorCode.INVALID_REQUEST,
                f"stored window {index} requested but the file has {n} window(s)",
                "options.voi_index" if options.voi_index is not None else "options.voi",
            )
        c, w = centers[index], widths[index]
        fn = options.voi_function or file_function
        if fn == "linear" and w < 1:
            w = 1.0
        if w <= 0:
            raise HarnessError(ErrorCode.DECODE_FAILED, f"the file's window width {w} is not > 0", "input")
        return voi.window(x, c, w, fn, ymax), {
            "source": "window",
            "index": index,
            "center": c,
            "width": w,
            "function": fn,
        }
    if source == "minmax":
        lo, hi = float(np.min(x)), float(np.max(x))
        return voi.linear_range(x, lo, hi, ymax), {"source": "minmax", "min": lo, "max": hi}
    lo, hi = modality.theoretical_range(ds, frame, options.modality_lut)
    return voi.linear_range(x, lo, hi, ymax), {"source": "none", "min": lo, "max": hi}


def render_frame(ds: Any, frame: int, options: ToImageOptions, transfer_syntax: str | None) -> Rendered:
    """Run the whole pipeline on one 0-based frame."""
    ymax = 255 if options.bit_depth == 8 else 65535
    photometric = str(ds.get("PhotometricInterpretation", "") or "").strip().upper()
    spp = int(ds.get("SamplesPerPixel", 1) or 1)
    raw = decode.decode_frame(ds, frame, transfer_syntax)
    if spp > 1 or photometric == "PALETTE COLOR":
        check_color_options(options)
        rgb = _to_rgb(raw, ds, photometric)
        image = quantize(rgb, 255)
        planes = _burn_overlays(ds, frame, options, image, None, 255, colour=True)
        return Rendered(image=planes[0], frame=frame, mode="RGB", overlays=planes[1])
    values, mod = modality.apply_modality(raw, ds, frame, options.modality_lut)
    y, voi_info = select_voi(values, ds, frame, options, ymax)
    invert = presentation.should_invert(photometric, _first(ds.get("PresentationLUTShape")), options.presentation)
    if invert:
        y = presentation.invert(y, ymax)
    image = quantize(y, ymax)
    image, shown = _burn_overlays(ds, frame, options, image, _raw_words(ds, frame, transfer_syntax), ymax)
    return Rendered(
        image=image,
        frame=frame,
        mode="L" if ymax == 255 else "I;16",
        voi=voi_info,
        modality=mod,
        inverted=invert,
        overlays=shown,
    )


def _raw_words(ds: Any, frame: int, transfer_syntax: str | None) -> np.ndarray | None:
    """Unmasked pixel words (for embedded overlays), only when an overlay needs them."""
    if not any((g, 0x0102) in ds and (g, 0x3000) not in ds for g in overlays.overlay_groups(ds)):
        return None
    from pydicom.pixels.utils import pixel_array

    try:
        arr = pixel_array(ds, index=frame, raw=True)
        return np.asarray(arr)
    except Exception:
        return None


def _burn_overlays(
    ds: Any,
    frame: int,
    options: ToImageOptions,
    image: np.ndarray,
    raw: np.ndarray | None,
    ymax: int,
    colour: bool = False,
) -> tuple[np.ndarray, list[int]]:
    if options.overlays is False:
        return image, []
    wanted = None if options.overlays is True else set(options.overlays)
    value: Any = ymax
    if isinstance(options.overlay_value, int):
        value = options.overlay_value
    if colour:
        if isinstance(options.overlay_value, str):
            h = options.overlay_value
            value = (int(h[1:3], 16), int(h[3:5], 16), int(h[5:7], 16))
        elif isinstance(options.overlay_value, int):
            value = (options.overlay_value,) * 3
        else:
            value = (255, 255, 255)
    elif isinstance(options.overlay_value, str):
        raise unsupported("overlay_value", "a colour overlay_value needs a colour image; give a gray level")
    rows, cols = image.shape[:2]
    shown = []
    for group in overlays.overlay_groups(ds):
        plane = (group - 0x6000) // 2
        if wanted is not None and plane not in wanted:
            continue
        try:
            mask = overlays.overlay_mask(ds, group, frame, rows, cols, raw)
        except (KeyError, ValueError, TypeError, IndexError):
            continue
        if mask is not None:
            image = overlays.burn_in(image, mask, value)
            shown.append(plane)
    return image, shown


def _to_rgb(raw: np.ndarray, ds: Any, photometric: str) -> np.ndarray:
    if photometric == "PALETTE COLOR":
        rgb, bits = color.apply_palette(raw, ds)
        return rgb.astype(np.float64) / 257.0 if bits > 8 or rgb.dtype == np.uint16 else rgb.astype(np.float64)
    return raw.astype(np.float64)  # YBR was converted to RGB by the decoding stage


def _first(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list | tuple) or (hasattr(value, "__getitem__") and not isinstance(value, str)):
        try:
            return str(value[0])
        except (IndexError, TypeError):
            return None
    return str(value)


def _values(value: Any) -> list[float]:
    if value is None or value == "":
        return []
    items = list(value) if not isinstance(value, str | int | float) and hasattr(value, "__iter__") else [value]
    out = []
    for v in items:
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            continue
    return out
