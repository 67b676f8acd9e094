"""Colour images (PS3.3 C.7.6.3.1.2, C.7.9): YBR -> RGB, palette colour lookups. Pure functions over arrays.

The Palette Color LUTs are read here from their bytes in the file's byte order (pydicom's own lookup
reads a big-endian palette in native order), segmented LUTs (C.7.9.2) are expanded here.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from dcmharness.backends.python_ref.modality import invalid_lut, lut_descriptor, packed_bytes

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
    32-bit offset (low word first) counts entries of the segmented data. The segments are parsed first
    into pieces (a linear segment's last entry is exactly its end value, so the next one's start is known
    without computing it), then every entry is computed at once.
    """
    data = words.tolist()
    pieces = _Pieces()
    try:
        _parse_segments(data, 0, None, pieces, n, 0, 0, 0)
    except IndexError:
        raise invalid_lut("segmented palette LUT data ends inside a segment") from None
    arr = pieces.entries(np.asarray(words, dtype=np.int64))[:n]
    if len(arr) < n:
        arr = np.concatenate([arr, np.full(n - len(arr), arr[-1] if len(arr) else 0, dtype=np.int64)])
    return arr


class _Pieces:
    """The parsed segments, in output order: a discrete run (``start`` into the data, ``length``) or a linear
    ramp (``y0`` -> ``y1`` over ``length`` entries)."""

    def __init__(self) -> None:
        self.linear: list[bool] = []
        self.start: list[int] = []
        self.length: list[int] = []
        self.y0: list[int] = []
        self.y1: list[int] = []

    def add(self, linear: bool, start: int, length: int, y0: int, y1: int) -> None:
        self.linear.append(linear)
        self.start.append(start)
        self.length.append(length)
        self.y0.append(y0)
        self.y1.append(y1)

    def entries(self, data: np.ndarray) -> np.ndarray:
        """Every entry: discrete ones gathered from ``data``, linear ones ``y0 + (y1-y0)*i/length`` (i = 1..length)
        rounded half up."""
        lengths = np.asarray(self.length, dtype=np.int64)
        if not len(lengths):
            return np.zeros(0, dtype=np.int64)
        piece = np.repeat(np.arange(len(lengths)), lengths)
        step = np.arange(len(piece), dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)  # 0-based
        linear = np.asarray(self.linear, dtype=bool)[piece]
        gathered = data[np.where(linear, 0, np.asarray(self.start, dtype=np.int64)[piece] + step)]
        y0 = np.asarray(self.y0, dtype=np.int64)[piece]
        y1 = np.asarray(self.y1, dtype=np.int64)[piece]
        ramp = np.floor(y0 + (y1 - y0) * (step + 1) / lengths[piece] + 0.5).astype(np.int64)
        return np.where(linear, ramp, gathered)


def _parse_segments(
    data: list[int], start: int, max_segments: int | None, pieces: _Pieces, n: int, count: int, last: int, depth: int
) -> tuple[int, int]:
    """Add the segments' pieces; return (entries so far, last entry)."""
    if depth > 8:
        raise invalid_lut("segmented palette LUT: indirect segments nested deeper than 8")
    pos = start
    done = 0
    size = len(data)
    while pos + 1 < size and (max_segments is None or done < max_segments) and count < n:
        opcode, length = data[pos], data[pos + 1]
        pos += 2
        if opcode == 0:
            if pos + length > size:
                raise IndexError(pos + length)
            if length:
                pieces.add(False, pos, length, 0, 0)
                last = data[pos + length - 1]
            count += length
            pos += length
        elif opcode == 1:
            y1 = data[pos]
            pos += 1
            if length:
                pieces.add(True, 0, length, last, y1)
                last = y1  # floor(y0 + (y1-y0)*length/length + 0.5) == y1 exactly
            count += length
        elif opcode == 2:
            offset = data[pos] | (data[pos + 1] << 16)
            pos += 2
            count, last = _parse_segments(data, offset, length, pieces, n, count, last, depth + 1)
        else:
            raise invalid_lut(f"unknown segment type {opcode} in a segmented palette LUT")
        done += 1
    return count, last


@functools.lru_cache(maxsize=16)
def expanded_segmented_lut(data: bytes, little_endian: bool, n: int, bits: int) -> np.ndarray:
    """``expand_segmented`` of a segmented LUT's raw bytes, remembered: the files of a series (or of a
    device) share their palettes, and expanding thousands of segments costs milliseconds. Read-only."""
    unpack = packed_bytes if bits == 8 else words_from_bytes
    lut = expand_segmented(unpack(data, little_endian), n)
    lut.flags.writeable = False
    return lut


def palette_lut(ds: Any, channel: str, little_endian: bool) -> tuple[np.ndarray, int, int]:
    """One Palette Color LUT: (entries as int64, first mapped value, bits per entry)."""
    name = f"{channel}PaletteColorLookupTableDescriptor"
    n, first, bits = lut_descriptor(ds[name].value if name in ds else None, f"{channel} Palette Color LUT Descriptor")
    segmented = ds.get(f"Segmented{channel}PaletteColorLookupTableData")
    if segmented is not None and segmented != b"":
        return expanded_segmented_lut(bytes(segmented), little_endian, n, bits), first, bits
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
