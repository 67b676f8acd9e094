"""Reading 16-bit RGB images at full precision (Pillow has no 16-bit RGB mode and truncates them to 8 bits).

Only what the backends write is needed: PNG with colour type 2 (RGB) at bit depth 16, non-interlaced,
any of the five row filters (PNG spec, section 9); binary PPM (P6) with maxval above 255 (big-endian
samples, Netpbm). Everything else returns None and the caller uses Pillow. Pure functions over bytes.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def unfilter(raw: bytes, height: int, stride: int, bpp: int) -> np.ndarray:
    """The scanlines of a decompressed PNG image, filters undone (PNG spec 9.2), as uint8 (height, stride)."""
    rows = np.zeros((height, stride), dtype=np.uint8)
    prior = np.zeros(stride, dtype=np.int64)
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=start + 1).astype(np.int64)
        if kind == 0:
            out = line
        elif kind == 2:  # Up
            out = (line + prior) & 0xFF
        elif kind in (1, 3, 4):  # Sub, Average, Paeth: each byte depends on the one bpp to its left
            cur = line.tolist()
            up = prior.tolist()
            res = [0] * stride
            for x in range(stride):
                left = res[x - bpp] if x >= bpp else 0
                if kind == 1:
                    pred = left
                elif kind == 3:
                    pred = (left + up[x]) >> 1
                else:
                    pred = _paeth(left, up[x], up[x - bpp] if x >= bpp else 0)
                res[x] = (cur[x] + pred) & 0xFF
            out = np.asarray(res, dtype=np.int64)
        else:
            raise ValueError(f"PNG row {y}: unknown filter type {kind}")
        rows[y] = out
        prior = out
    return rows


def read_png_rgb16(data: bytes) -> np.ndarray | None:
    """A 16-bit RGB PNG as uint16 (rows, columns, 3); None when ``data`` is another kind of PNG (or not one)."""
    if not data.startswith(PNG_SIGNATURE):
        return None
    pos, header, idat = 8, None, bytearray()
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body[:13])
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None:
        return None
    width, height, depth, colour, _compression, _filter, interlace = header
    if depth != 16 or colour != 2 or interlace != 0:
        return None
    stride = width * 6
    rows = unfilter(zlib.decompress(bytes(idat)), height, stride, bpp=6)
    return rows.reshape(height, -1).view(">u2").astype(np.uint16).reshape(height, width, 3)


def read_ppm_rgb16(data: bytes) -> np.ndarray | None:
    """A binary PPM (P6) with maxval > 255 as uint16 (rows, columns, 3); None otherwise."""
    if not data.startswith(b"P6"):
        return None
    fields: list[int] = []
    pos = 2
    while len(fields) < 3:
        while pos < len(data) and data[pos : pos + 1].isspace():
            pos += 1
        if data[pos : pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        end = pos
        while end < len(data) and data[end : end + 1].isdigit():
            end += 1
        if end == pos:
            return None
        fields.append(int(data[pos:end]))
        pos = end
    width, height, maxval = fields
    if maxval <= 255:
        return None
    pos += 1  # the single whitespace after maxval
    count = width * height * 3
    samples = np.frombuffer(data, dtype=">u2", count=count, offset=pos).astype(np.uint16)
    return samples.reshape(height, width, 3)


def read_rgb16(data: bytes) -> np.ndarray | None:
    """A 16-bit RGB PNG or PPM as uint16 (rows, columns, 3); None for anything else."""
    return read_png_rgb16(data) if data.startswith(PNG_SIGNATURE) else read_ppm_rgb16(data)
