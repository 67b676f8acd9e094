"""The display pipeline composed from the stage functions: one frame in, one output array out."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from dcmharness.backends.base import unsupported
from dcmharness.backends.python_ref import (
    color,
    decode,
    lookup,
    modality,
    output_lut,
    overlays,
    presentation,
    voi,
)
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.options import ToImageOptions

_GRAY_ONLY = ("window_center", "window_width", "window_preset", "voi_function", "voi_index", "colormap")

#: An overlay fill: a gray level, or an RGB triple on colour output.
Fill = int | tuple[int, int, int]


@dataclass
class Rendered:
    """A rendered frame and what was applied to it."""

    image: np.ndarray  # uint8 / uint16, rows x cols (x 3)
    frame: int
    mode: str  # "L", "I;16", "RGB" or "RGB;16"
    voi: dict[str, Any] | None = None
    modality: str | None = None
    inverted: bool = False
    overlays: list[int] = field(default_factory=list)


def quantize(y: np.ndarray, ymax: int) -> np.ndarray:
    """The contract's rounding rule: floor(y + 0.5), clipped to [0, ymax]."""
    t = np.asarray(y, dtype=np.float64) + 0.5  # one temporary, then in place
    np.floor(t, out=t)
    np.clip(t, 0, ymax, out=t)
    return t.astype(np.uint16 if ymax > 255 else np.uint8)


def check_color_options(options: ToImageOptions, colour_16bit: bool = False) -> None:
    """Grayscale-only options on a colour image are refused (SEMANTICS.md, Colour).

    Adapters call this for the reference's refusals; ``bit_depth`` 16 on colour is refused unless the
    caller writes 16-bit RGB (``colour_16bit``: python_ref does).
    """
    for name in _GRAY_ONLY:
        if getattr(options, name) is not None:
            raise unsupported(name, f"{name} applies to grayscale images only; this image is colour")
    if options.voi != "auto":
        raise unsupported("voi", "voi applies to grayscale images only; this image is colour")
    if options.presentation != "auto":
        raise unsupported("presentation", "presentation applies to grayscale images only; this image is colour")
    if not options.modality_lut:
        raise unsupported("modality_lut", "modality_lut applies to grayscale images only; this image is colour")
    if options.bit_depth == 16 and not colour_16bit:
        raise unsupported("bit_depth", "this backend writes colour images at 8 bits per sample only")


def overlay_fill(overlay_value: int | str | None, ymax: int, colour: bool) -> Fill:
    """The value burned into overlay pixels (SEMANTICS.md section 5). Pure.

    Gray output: the gray level (default ymax, white); a colour is refused. Colour output: ``"#rrggbb"``
    (scaled by 257 at 16 bits), a gray level g as (g, g, g), default white.
    """
    if not colour:
        if isinstance(overlay_value, str):
            raise unsupported("overlay_value", "a colour overlay_value needs a colour image; give a gray level")
        return ymax if overlay_value is None else overlay_value
    if isinstance(overlay_value, str):
        scale = 1 if ymax == 255 else 257
        h = overlay_value
        return (int(h[1:3], 16) * scale, int(h[3:5], 16) * scale, int(h[5:7], 16) * scale)
    g = ymax if overlay_value is None else overlay_value
    return (g, g, g)


def select_voi(
    x: np.ndarray, ds: Any, frame: int, options: ToImageOptions, ymax: int, little_endian: bool = True
) -> tuple[np.ndarray, dict[str, Any]]:
    """Apply the VOI transform the request selects (SEMANTICS.md, section 3)."""
    explicit = options.explicit_window()
    if explicit is not None:
        c, w = explicit
        fn: str = options.voi_function or "linear"
        return voi.window(x, c, w, fn, ymax), {"source": "explicit", "center": c, "width": w, "function": fn}
    stored = stored_voi(ds, frame)
    source = options.voi
    index = options.voi_index or 0
    luts = ds.get("VOILUTSequence") or []
    centers, widths = stored["centers"], stored["widths"]
    if source == "auto":
        source = "lut" if luts else "window" if centers and widths else "minmax"
    if source == "lut":
        if index >= len(luts):
            raise HarnessError(
                ErrorCode.INVALID_REQUEST,
                f"VOI LUT {index} requested but the file has {len(luts)} VOI LUT(s)",
                "options.voi_index" if options.voi_index is not None else "options.voi",
            )
        signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
        lut = modality.read_lut(luts[index], signed_first=signed, little_endian=little_endian)
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
        fn = options.voi_function or voi.function_name(stored["function"])
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
    lo, hi = modality.theoretical_range(ds, frame, options.modality_lut, little_endian)
    return voi.linear_range(x, lo, hi, ymax), {"source": "none", "min": lo, "max": hi}


def stored_voi(ds: Any, frame: int) -> dict[str, Any]:
    """The stored windows (centres, widths) and VOI LUT Function of a frame.

    Top level (VOI LUT module), else the Frame VOI LUT Sequence of the per-frame, then the shared
    functional groups (enhanced multi-frame objects).
    """
    centers, widths = _values(ds.get("WindowCenter")), _values(ds.get("WindowWidth"))
    if centers and widths:
        return {"centers": centers, "widths": widths, "function": _first(ds.get("VOILUTFunction"))}
    for seq_name, index in (("PerFrameFunctionalGroupsSequence", frame), ("SharedFunctionalGroupsSequence", 0)):
        seq = ds.get(seq_name)
        if not seq or index >= len(seq):
            continue
        fvoi = seq[index].get("FrameVOILUTSequence")
        if fvoi:
            item = fvoi[0]
            c, w = _values(item.get("WindowCenter")), _values(item.get("WindowWidth"))
            if c and w:
                return {"centers": c, "widths": w, "function": _first(item.get("VOILUTFunction"))}
    return {"centers": [], "widths": [], "function": _first(ds.get("VOILUTFunction"))}


def render_frame(
    ds: Any, frame: int, options: ToImageOptions, transfer_syntax: str | None, by_value: bool = True
) -> Rendered:
    """Run the whole pipeline on one 0-based frame.

    ``by_value``: run the grayscale stages once per stored value and look each pixel up
    (``lookup.py``: the same output); False runs them on every pixel (the definition the tests compare with).
    """
    ymax = 255 if options.bit_depth == 8 else 65535
    lay = decode.layout_of(ds)
    little = decode.little_endian_of(ds, transfer_syntax)
    if lay.samples > 1 or lay.photometric == "PALETTE COLOR":
        check_color_options(options, colour_16bit=True)  # refused before anything is decoded
        fill = overlay_fill(options.overlay_value, ymax, colour=True)
        decoded = decode.decode_words(ds, frame, transfer_syntax)
        rgb, bits = to_rgb(decoded, lay, ds, little)
        image = colour_output(rgb, bits, ymax, by_value)
        image, shown = _burn_overlays(ds, frame, options, image, None, fill, little)
        return Rendered(image=image, frame=frame, mode="RGB" if ymax == 255 else "RGB;16", overlays=shown)
    pseudo = options.colormap is not None
    fill = overlay_fill(options.overlay_value, ymax, colour=pseudo)
    decoded = decode.decode_words(ds, frame, transfer_syntax)
    stored = decode.stored_values(decoded.words, lay)
    table = None
    if by_value:
        monotone = modality.is_monotone(ds, frame, options.modality_lut)
        table = lookup.value_table(stored, present_only=not monotone)
    pixels = table.values if table is not None else stored
    gray = gray_stages(pixels, ds, frame, options, ymax, little, lay.photometric)
    image = table.expand(gray.image) if table is not None else gray.image
    image, shown = _burn_overlays(ds, frame, options, image, decoded.words, fill, little)
    return Rendered(
        image=image,
        frame=frame,
        mode=gray.mode,
        voi=gray.voi,
        modality=gray.modality,
        inverted=gray.inverted,
        overlays=shown,
    )


def gray_stages(
    stored: np.ndarray,
    ds: Any,
    frame: int,
    options: ToImageOptions,
    ymax: int,
    little_endian: bool,
    photometric: str,
) -> Rendered:
    """Modality, VOI, Presentation LUT and quantization (or the pseudo-colour palette) of stored values, each
    value on its own (the min-max window aside: the values' own range); no overlays."""
    values, mod = modality.apply_modality(stored, ds, frame, options.modality_lut, little_endian)
    y, voi_info = select_voi(values, ds, frame, options, ymax, little_endian)
    invert = presentation.should_invert(photometric, _first(ds.get("PresentationLUTShape")), options.presentation)
    if invert:
        y = presentation.invert(y, ymax)
    if options.colormap is not None:
        image = output_lut.apply_colormap(y, ymax, options.colormap)
        mode = "RGB" if ymax == 255 else "RGB;16"
    else:
        image = quantize(y, ymax)
        mode = "L" if ymax == 255 else "I;16"
    return Rendered(image=image, frame=frame, mode=mode, voi=voi_info, modality=mod, inverted=invert)


def to_rgb(decoded: decode.Decoded, lay: decode.PixelLayout, ds: Any, little_endian: bool) -> tuple[np.ndarray, int]:
    """Colour samples and their bit depth: palette lookup, RGB as is (integers), YBR_FULL -> RGB (float64)."""
    unsigned = replace(lay, signed=False)
    if lay.photometric == "PALETTE COLOR":
        indices = decode.stored_values(decoded.words, unsigned)
        return color.apply_palette(indices, ds, little_endian)
    samples = decode.stored_values(decoded.words, unsigned)
    if decoded.photometric.startswith("YBR_FULL"):
        return color.ybr_full_to_rgb(samples, float(1 << (lay.bits_stored - 1))), lay.bits_stored
    return samples, lay.bits_stored


def colour_output(rgb: np.ndarray, bits: int, ymax: int, by_value: bool = True) -> np.ndarray:
    """Colour samples of ``bits`` bits onto ``[0, ymax]``, rounded; integer samples once per sample value and
    looked up (``lookup.py``: the same output), when ``by_value``."""
    table = lookup.value_table(rgb) if by_value else None
    if table is None:
        return quantize(color.scale_samples(rgb, bits, ymax), ymax)
    return table.expand(quantize(color.scale_samples(table.values, bits, ymax), ymax))


def _burn_overlays(
    ds: Any,
    frame: int,
    options: ToImageOptions,
    image: np.ndarray,
    raw: np.ndarray | None,
    fill: Fill,
    little_endian: bool,
) -> tuple[np.ndarray, list[int]]:
    if options.overlays is False:
        return image, []
    wanted = None if options.overlays is True else set(options.overlays)
    rows, cols = image.shape[:2]
    shown = []
    for group in overlays.overlay_groups(ds):
        plane = (group - 0x6000) // 2
        if wanted is not None and plane not in wanted:
            continue
        try:
            mask = overlays.overlay_mask(ds, group, frame, rows, cols, raw, little_endian)
        except (KeyError, ValueError, TypeError, IndexError):
            continue
        if mask is not None:
            image = overlays.burn_in(image, mask, fill)
            shown.append(plane)
    return image, shown


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
