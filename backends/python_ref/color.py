"""Colour images (PS3.3 C.7.6.3.1.2, C.7.9): YBR -> RGB, palette colour lookups. Pure functions over arrays.

The Palette Color LUTs are read here from their bytes in the file's byte order (pydicom's own lookup
reads a big-endian palette in native order), segmented LUTs (C.7.9.2) are expanded here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from backends.python_ref.modality import invalid_lut, lut_descriptor, packed_bytes

CHANNELS = ("Red", "Green", "Blue")


def ybr_full_to_rgb(ybr: np.ndarray, offset: float = 128.0) -> np.ndarray:
    """ITU-T T.871 with chroma offset 128 (8-bit; 2**(bits-1) in general), float64 RGB (unrounded). Pure."""
    y = ybr[..., 0].astype(np.float64)
    cb = ybr[..., 1].astype(np.float64) - offset
    cr = ybr[..., 2].astype(np.float64) - offset
    r = y + 1.402 * cr
    g = y - 0.344136 * cb - 0.714136 * cr
    b = y + 1.772 * cb
    return np.stack([r, g, b], axis=-1)


def words_from_bytes(data: bytes, little_endian: bool) -> np.ndarray:
    """16-bit words of an OW value in the file's byte order, as int64. Pure."""
    even = len(data) - len(data) % 2
    return np.frombuffer(data[:even], dtype="<u2" if little_endian else ">u2").astype(np.int64)


def expand_segmented(words: np.ndarray, n: int) -> np.ndarray:
    """Expand a segmented LUT (C.7.9.2: discrete 0, linear 1, indirect 2) to its ``n`` entries. Pure.

    Linear segments are interpolated from the previous entry and rounded half up; the indirect segment's
    32-bit offset (low word first) counts entries of the segmented data.
    """
    out: list[int] = []
    try:
        _expand_into(words.tolist(), 0, None, out, n, 0)
    except IndexError:
        raise invalid_lut("segmented palette LUT data ends inside a segment") from None
    arr = np.asarray(out[:n], dtype=np.int64)
    if len(arr) < n:
        arr = np.concatenate([arr, np.full(n - len(arr), arr[-1] if len(arr) else 0, dtype=np.int64)])
    return arr


def _expand_into(data: list[int], start: int, max_segments: int | None, out: list[int], n: int, depth: int) -> None:
    if depth > 8:
        raise invalid_lut("segmented palette LUT: indirect segments nested deeper than 8")
    pos = start
    done = 0
    while pos + 1 < len(data) and (max_segments is None or done < max_segments) and len(out) < n:
        opcode, length = data[pos], data[pos + 1]
        pos += 2
        if opcode == 0:
            if pos + length > len(data):
                raise IndexError(pos + length)
            out.extend(data[pos : pos + length])
            pos += length
        elif opcode == 1:
            y0 = out[-1] if out else 0
            y1 = data[pos]
            pos += 1
            out.extend(int(np.floor(y0 + (y1 - y0) * (i + 1) / length + 0.5)) for i in range(length))
        elif opcode == 2:
            offset = data[pos] | (data[pos + 1] << 16)
            pos += 2
            _expand_into(data, offset, length, out, n, depth + 1)
        else:
            raise invalid_lut(f"unknown segment type {opcode} in a segmented palette LUT")
        done += 1


def palette_lut(ds: Any, channel: str, little_endian: bool) -> tuple[np.ndarray, int, int]:
    """One Palette Color LUT: (entries as int64, first mapped value, bits per entry)."""
    name = f"{channel}PaletteColorLookupTableDescriptor"
    n, first, bits = lut_descriptor(ds[name].value if name in ds else None, f"{channel} Palette Color LUT Descriptor")
    segmented = ds.get(f"Segmented{channel}PaletteColorLookupTableData")
    if segmented is not None and segmented != b"":
        unpack = packed_bytes if bits == 8 else words_from_bytes
        return expand_segmented(unpack(bytes(segmented), little_endian), n), first, bits
    raw = ds.get(f"{channel}PaletteColorLookupTableData")
    if raw is None or len(raw) == 0:
        raise invalid_lut(f"{channel} Palette Color LUT Data is absent or empty")
    if bits == 8 and len(raw) in (n, n + 1, n + n % 2):  # 8-bit entries packed one per byte
        data = packed_bytes(bytes(raw), little_endian)[:n]
    else:
        data = words_from_bytes(bytes(raw), little_endian)
        if bits == 8 and len(data) and int(data.max()) > 255:  # 8-bit entries in the high byte of words
            data = data >> 8
    if len(data) < n:
        data = np.concatenate([data, np.full(n - len(data), data[-1] if len(data) else 0, dtype=np.int64)])
    return data[:n], first, bits


def apply_palette_luts(indices: np.ndarray, luts: list[tuple[np.ndarray, int, int]]) -> np.ndarray:
    """Look the indices up in the red, green and blue LUTs: rows x cols x 3 int64. Pure."""
    channels = []
    for data, first, _bits in luts:
        idx = np.clip(indices.astype(np.int64) - first, 0, len(data) - 1)
        channels.append(data[idx])
    return np.stack(channels, axis=-1)


def apply_palette(indices: np.ndarray, ds: Any, little_endian: bool = True) -> tuple[np.ndarray, int]:
    """RGB entries for palette indices and the bits per entry (8 or 16)."""
    luts = [palette_lut(ds, ch, little_endian) for ch in CHANNELS]
    bits = max(b for _, _, b in luts)
    return apply_palette_luts(indices, luts), bits


def scale_samples(rgb: np.ndarray, bits: int, ymax: int) -> np.ndarray:
    """Colour samples of ``bits`` bits onto ``[0, ymax]``: ``v * ymax / (2**bits - 1)``, float64. Pure.

    8 -> 8 bits is the identity, 16 -> 8 bits is ``v / 257``; rounding is the pipeline's.
    """
    top = float((1 << bits) - 1)
    if top == ymax:
        return rgb.astype(np.float64)
    return rgb.astype(np.float64) * (ymax / top)
