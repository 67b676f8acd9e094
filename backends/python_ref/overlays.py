"""Stage 5, overlays (PS3.3 C.9.2): 1-bit planes burned in after the presentation stage."""

from __future__ import annotations

from typing import Any

import numpy as np


def overlay_groups(ds: Any) -> list[int]:
    """Overlay groups (0x6000..0x601E) that carry an overlay plane."""
    groups = {t.group for t in ds.keys() if 0x6000 <= t.group <= 0x601E and t.group % 2 == 0}
    return sorted(g for g in groups if (g, 0x0010) in ds or (g, 0x3000) in ds)


def unpack_bits(data: bytes, count: int) -> np.ndarray:
    """Overlay Data bits, LSB first (PS3.5 8.1.2), the first ``count`` as uint8 0/1. Pure."""
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")
    if len(bits) < count:
        bits = np.concatenate([bits, np.zeros(count - len(bits), dtype=np.uint8)])
    return bits[:count]


def place(mask: np.ndarray, rows: int, cols: int, origin_row: int, origin_col: int) -> np.ndarray:
    """Put an overlay mask at a 1-based origin on a rows x cols image (clipped at the borders). Pure."""
    out = np.zeros((rows, cols), dtype=bool)
    r0, c0 = origin_row - 1, origin_col - 1
    h, w = mask.shape
    rs, cs = max(r0, 0), max(c0, 0)
    re, ce = min(r0 + h, rows), min(c0 + w, cols)
    if rs < re and cs < ce:
        out[rs:re, cs:ce] = mask[rs - r0 : re - r0, cs - c0 : ce - c0].astype(bool)
    return out


def overlay_mask(
    ds: Any, group: int, frame: int, rows: int, cols: int, raw: np.ndarray | None, little_endian: bool = True
) -> np.ndarray | None:
    """The overlay plane of ``group`` for a 0-based image frame, or None if it does not cover that frame.

    ``raw`` is the frame's unmasked Pixel Data words (for embedded overlays); Overlay Data in OW of a
    big-endian file is byte-swapped back to the little-endian bit order first.
    """
    o_rows = int(ds[group, 0x0010].value) if (group, 0x0010) in ds else rows
    o_cols = int(ds[group, 0x0011].value) if (group, 0x0011) in ds else cols
    origin = ds[group, 0x0050].value if (group, 0x0050) in ds else [1, 1]
    origin_row, origin_col = (int(origin[0]), int(origin[1])) if len(origin) >= 2 else (1, 1)
    n_frames = int(ds[group, 0x0015].value) if (group, 0x0015) in ds and ds[group, 0x0015].value else 1
    first = int(ds[group, 0x0051].value) if (group, 0x0051) in ds and ds[group, 0x0051].value else 1
    k = frame - (first - 1)
    if not 0 <= k < n_frames:
        return None
    if (group, 0x3000) in ds:
        elem = ds[group, 0x3000]
        data = bytes(elem.value)
        if not little_endian and elem.VR == "OW":
            data = np.frombuffer(data[: len(data) - len(data) % 2], dtype=">u2").astype("<u2").tobytes()
        n = o_rows * o_cols
        bits = unpack_bits(data, n * (k + 1))[n * k : n * (k + 1)]
        mask = bits.reshape(o_rows, o_cols)
        return place(mask, rows, cols, origin_row, origin_col)
    if (group, 0x0102) in ds and raw is not None and raw.dtype.kind in "iu":  # embedded in Pixel Data
        bit = int(ds[group, 0x0102].value)
        unsigned = raw.view(f"u{raw.dtype.itemsize}") if raw.dtype.kind == "i" else raw
        mask = ((unsigned.astype(np.uint64) >> np.uint64(bit)) & np.uint64(1)).astype(np.uint8)
        return place(mask[:o_rows, :o_cols], rows, cols, origin_row, origin_col)
    return None


def burn_in(image: np.ndarray, mask: np.ndarray, value: int | tuple[int, int, int]) -> np.ndarray:
    """Set the masked pixels to ``value`` (a gray level, or an RGB triple on colour images). Pure."""
    out = image.copy()
    out[mask] = value
    return out
