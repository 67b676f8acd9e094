"""Stage 6, encoding the rendered array as PNG (8/16-bit), JPEG, TIFF or PNM.

Pillow writes gray 8/16-bit and RGB 8-bit; it has no 16-bit RGB mode, so 16-bit RGB PNG and TIFF are
written here directly (PNG: one IDAT, filter 0, big-endian samples; TIFF: one uncompressed strip).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_PNG_LEVEL = 1  # zlib level: ~5x faster than 6 on large images for a few % more bytes
DEFAULT_JPEG_QUALITY = 90


def to_pil(image: np.ndarray) -> Any:
    """A Pillow image of a uint8 gray/RGB or uint16 gray array."""
    from PIL import Image

    if image.ndim == 3:
        if image.dtype == np.uint16:
            raise ValueError("Pillow has no 16-bit RGB mode")
        return Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8))
    if image.dtype == np.uint16:
        return Image.fromarray(np.ascontiguousarray(image, dtype="<u2"))  # mode I;16
    return Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8))


def encode(
    image: np.ndarray, path: Path, fmt: str, *, quality: int | None = None, png_level: int | None = None
) -> None:
    """Write ``image`` (uint8 gray/RGB, uint16 gray/RGB) to ``path`` in ``fmt``."""
    level = DEFAULT_PNG_LEVEL if png_level is None else png_level
    if fmt == "pnm":
        write_pnm(image, path)
        return
    if image.ndim == 3 and image.dtype == np.uint16:
        if fmt == "png":
            path.write_bytes(png_bytes(image, level))
            return
        if fmt == "tiff":
            path.write_bytes(tiff_rgb16_bytes(image))
            return
        raise ValueError(f"16-bit RGB cannot be written as {fmt}")
    pil = to_pil(image)
    if fmt == "png":
        pil.save(path, format="PNG", compress_level=level)
    elif fmt == "jpeg":
        pil.save(path, format="JPEG", quality=quality or DEFAULT_JPEG_QUALITY)
    elif fmt == "tiff":
        pil.save(path, format="TIFF")
    else:  # pragma: no cover - the contract validates formats
        raise ValueError(f"unknown format {fmt}")


def write_pnm(image: np.ndarray, path: Path) -> None:
    """Binary PGM (P5) or PPM (P6); 16-bit samples big-endian with maxval 65535 (Netpbm)."""
    path.write_bytes(pnm_bytes(image))


def pnm_bytes(image: np.ndarray) -> bytes:
    """The bytes of a binary PGM/PPM of ``image``. Pure."""
    magic = b"P6" if image.ndim == 3 else b"P5"
    maxval = 65535 if image.dtype == np.uint16 else 255
    h, w = image.shape[:2]
    data = image.astype(">u2").tobytes() if maxval == 65535 else image.astype(np.uint8).tobytes()
    return magic + b"\n%d %d\n%d\n" % (w, h, maxval) + data


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(image: np.ndarray, level: int = DEFAULT_PNG_LEVEL) -> bytes:
    """A PNG of a gray or RGB, 8- or 16-bit array (PNG spec: colour type 0/2, filter 0). Pure."""
    h, w = image.shape[:2]
    depth = 16 if image.dtype == np.uint16 else 8
    colour_type = 2 if image.ndim == 3 else 0
    samples = image.astype(">u2" if depth == 16 else np.uint8).reshape(h, -1).view(np.uint8)
    rows = np.concatenate([np.zeros((h, 1), dtype=np.uint8), samples], axis=1)
    header = struct.pack(">IIBBBBB", w, h, depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows.tobytes(), level))
        + _chunk(b"IEND", b"")
    )


def tiff_rgb16_bytes(image: np.ndarray) -> bytes:
    """A baseline little-endian TIFF of a 16-bit RGB array: one uncompressed, chunky strip. Pure."""
    h, w = image.shape[:2]
    pixels = np.ascontiguousarray(image, dtype="<u2").tobytes()
    n_tags = 10
    ifd_offset = 8
    ifd_size = 2 + 12 * n_tags + 4
    bps_offset = ifd_offset + ifd_size
    data_offset = bps_offset + 6
    short, long_ = 3, 4
    tags = [
        (256, long_, 1, w),  # ImageWidth
        (257, long_, 1, h),  # ImageLength
        (258, short, 3, bps_offset),  # BitsPerSample -> 16,16,16
        (259, short, 1, 1),  # Compression: none
        (262, short, 1, 2),  # PhotometricInterpretation: RGB
        (273, long_, 1, data_offset),  # StripOffsets
        (277, short, 1, 3),  # SamplesPerPixel
        (278, long_, 1, h),  # RowsPerStrip
        (279, long_, 1, len(pixels)),  # StripByteCounts
        (284, short, 1, 1),  # PlanarConfiguration: chunky
    ]
    out = bytearray(b"II*\x00" + struct.pack("<I", ifd_offset))
    out += struct.pack("<H", n_tags)
    for tag, kind, count, value in tags:
        packed = struct.pack("<HI", value, 0)[:4] if kind == short and count == 1 else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, kind, count) + packed
    out += struct.pack("<I", 0)
    out += struct.pack("<HHH", 16, 16, 16)
    out += pixels
    return bytes(out)
