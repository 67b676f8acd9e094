"""Colour images (PS3.3 C.7.6.3.1.2): YBR -> RGB, palette colour lookups. Pure functions over arrays."""

from __future__ import annotations

from typing import Any

import numpy as np


def ybr_full_to_rgb(ybr: np.ndarray) -> np.ndarray:
    """ITU-T T.871 with chroma offset 128 (8-bit), float64 RGB (unrounded, unclipped)."""
    y = ybr[..., 0].astype(np.float64)
    cb = ybr[..., 1].astype(np.float64) - 128.0
    cr = ybr[..., 2].astype(np.float64) - 128.0
    r = y + 1.402 * cr
    g = y - 0.344136 * cb - 0.714136 * cr
    b = y + 1.772 * cb
    return np.stack([r, g, b], axis=-1)


def apply_palette(indices: np.ndarray, ds: Any) -> tuple[np.ndarray, int]:
    """RGB values for palette indices and the bits per entry (8 or 16)."""
    from pydicom.pixels.processing import apply_color_lut

    rgb = apply_color_lut(indices, ds)
    bits = int(ds.RedPaletteColorLookupTableDescriptor[2])
    return np.asarray(rgb), bits
