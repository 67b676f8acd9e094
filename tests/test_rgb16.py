"""16-bit RGB images read at full precision (Pillow would truncate them to 8 bits per sample)."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from dcmharness.backends.python_ref.encode import png_bytes, pnm_bytes
from dcmharness.interface.conform.compare import load_image
from dcmharness.interface.conform.rgb16 import PNG_SIGNATURE, _paeth, read_png_rgb16, read_ppm_rgb16, read_rgb16


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _filtered_png(image: np.ndarray, filters: list[int]) -> bytes:
    """A 16-bit RGB PNG whose row y uses filter ``filters[y]``, filtered by the PNG spec's formulas."""
    h, w, _ = image.shape
    rows = image.astype(">u2").reshape(h, -1).view(np.uint8).astype(int)
    bpp, raw = 6, bytearray()
    prior = [0] * rows.shape[1]
    for y, kind in enumerate(filters):
        cur = rows[y].tolist()
        out = []
        for x, value in enumerate(cur):
            left = cur[x - bpp] if x >= bpp else 0
            upleft = prior[x - bpp] if x >= bpp else 0
            pred = {0: 0, 1: left, 2: prior[x], 3: (left + prior[x]) // 2, 4: _paeth(left, prior[x], upleft)}[kind]
            out.append((value - pred) % 256)
        raw += bytes([kind, *out])
        prior = cur
    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    return PNG_SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(bytes(raw))) + _chunk(b"IEND", b"")


def test_paeth_predictor_by_the_spec() -> None:
    # p = a + b - c; the nearest of a, b, c to p, ties in the order a, b, c (PNG spec 9.4)
    assert _paeth(10, 20, 15) == 15  # p=15
    assert _paeth(10, 20, 10) == 20  # p=20
    assert _paeth(20, 10, 10) == 20  # p=20 -> a
    assert _paeth(5, 5, 5) == 5


def test_every_row_filter_is_undone() -> None:
    rng = np.random.default_rng(7)
    image = rng.integers(0, 65536, (5, 4, 3), dtype=np.uint16)
    image[2] = image[1]  # a row equal to the one above (Up gives zeros)
    data = _filtered_png(image, [0, 1, 2, 3, 4])
    got = read_png_rgb16(data)
    assert got is not None and np.array_equal(got, image)


def test_python_ref_png_and_ppm_round_trip(tmp_path) -> None:
    image = np.array([[[0, 1, 65535], [256, 257, 4660]]], dtype=np.uint16)
    for data in (png_bytes(image), pnm_bytes(image)):
        got = read_rgb16(data)
        assert got is not None and np.array_equal(got, image)
    (tmp_path / "a.png").write_bytes(png_bytes(image))
    (tmp_path / "a.ppm").write_bytes(pnm_bytes(image))
    for name in ("a.png", "a.ppm"):
        got = load_image(tmp_path / name)
        assert got.dtype == np.uint16 and got[0, 1].tolist() == [256, 257, 4660]


def test_other_images_are_left_to_pillow(tmp_path) -> None:
    gray16 = np.array([[0, 1000], [65535, 7]], dtype=np.uint16)
    rgb8 = np.array([[[1, 2, 3], [4, 5, 6]]], dtype=np.uint8)
    assert read_png_rgb16(png_bytes(gray16)) is None
    assert read_png_rgb16(png_bytes(rgb8)) is None
    assert read_ppm_rgb16(pnm_bytes(rgb8)) is None
    (tmp_path / "g.png").write_bytes(png_bytes(gray16))
    (tmp_path / "c.ppm").write_bytes(pnm_bytes(rgb8))
    assert load_image(tmp_path / "g.png").tolist() == gray16.tolist()
    assert load_image(tmp_path / "c.ppm").tolist() == rgb8.tolist()


def test_unknown_filter_is_an_error() -> None:
    raw = bytes([9, *([0] * 6)])
    data = (
        PNG_SIGNATURE
        + _chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 16, 2, 0, 0, 0))
        + _chunk(b"IDAT", zlib.compress(raw))
        + _chunk(b"IEND", b"")
    )
    with pytest.raises(ValueError, match="filter type 9"):
        read_png_rgb16(data)
