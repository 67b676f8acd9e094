"""python_ref's encoders and the dispatcher's outputs: PNG 8/16, JPEG + quality, TIFF 8/16, PNM, frame "all"."""

from __future__ import annotations

import struct
import warnings
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from dcmharness.backends.python_ref import render_array
from dcmharness.backends.python_ref.encode import encode, png_bytes, pnm_bytes, tiff_rgb16_bytes
from dcmharness.interface.api import run
from dcmharness.interface.samples import find

RGB16 = (np.arange(2 * 3 * 3, dtype=np.uint16).reshape(2, 3, 3) * 3000 + 7).astype(np.uint16)


def _png_pixels(data: bytes) -> tuple[dict[str, int], np.ndarray]:
    """A tiny PNG reader for filter-0 images (what png_bytes writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, ihdr = 8, b"", {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        crc = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])[0]
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            ihdr = {"w": w, "h": h, "depth": depth, "ctype": ctype}
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    from dcmharness.interface.conform.rgb16 import unfilter

    data = zlib.decompress(idat)
    stride = len(data) // ihdr["h"] - 1
    filters = np.frombuffer(data, dtype=np.uint8).reshape(ihdr["h"], -1)[:, 0]
    assert filters[0] == 0 and set(filters[1:].tolist()) <= {2}  # row 0 None, the others Up
    bpp = (3 if ihdr["ctype"] == 2 else 1) * ihdr["depth"] // 8
    samples = unfilter(data, ihdr["h"], stride, bpp).view(">u2" if ihdr["depth"] == 16 else np.uint8)
    return ihdr, samples.reshape(ihdr["h"], ihdr["w"], -1).squeeze()


def test_png_rgb16_roundtrip() -> None:
    ihdr, pixels = _png_pixels(png_bytes(RGB16))
    assert ihdr == {"w": 3, "h": 2, "depth": 16, "ctype": 2}
    assert np.array_equal(pixels, RGB16)


def test_png_gray16_by_pillow_and_by_hand(tmp_path: Path) -> None:
    gray = np.array([[0, 1, 65535], [256, 257, 40000]], dtype=np.uint16)
    encode(gray, tmp_path / "g.png", "png")
    with Image.open(tmp_path / "g.png") as im:
        assert np.array_equal(np.asarray(im).astype(np.uint16), gray)
    ihdr, pixels = _png_pixels(png_bytes(gray))
    assert ihdr["depth"] == 16 and ihdr["ctype"] == 0 and np.array_equal(pixels, gray)


def test_up_filter_rows_by_hand() -> None:
    from dcmharness.backends.python_ref.encode import up_filtered_rows

    samples = np.array([[10, 250, 3], [12, 4, 3], [0, 0, 255]], dtype=np.uint8)
    rows = up_filtered_rows(samples)
    # row 0: filter None, bytes as they are; then Up: Raw(x) - Prior(x) mod 256
    assert rows.tolist() == [[0, 10, 250, 3], [2, 2, 10, 0], [2, 244, 252, 252]]


@pytest.mark.parametrize("level", [None, 0, 1, 6, 9])
@pytest.mark.parametrize("kind", ["gray8", "gray16", "rgb8"])
def test_png_levels_and_default_compressor_round_trip_in_pillow(tmp_path: Path, level: int | None, kind: str) -> None:
    rng = np.random.default_rng(3)
    image = {
        "gray8": np.tile(np.arange(40, dtype=np.uint8), (30, 1)) + rng.integers(0, 3, (30, 40), dtype=np.uint8),
        "gray16": rng.integers(0, 65536, (30, 40), dtype=np.uint16),
        "rgb8": rng.integers(0, 256, (30, 40, 3), dtype=np.uint8),
    }[kind]
    data = png_bytes(image, level)
    (tmp_path / "a.png").write_bytes(data)
    with Image.open(tmp_path / "a.png") as img:
        assert np.array_equal(np.asarray(img), image)
    _ihdr, pixels = _png_pixels(data)
    assert np.array_equal(pixels, image)
    if level == 0:  # stored blocks: at least the raw scanlines
        assert len(data) > image.nbytes + image.shape[0]


def test_default_png_is_smaller_than_pillows_level_1_on_a_ct() -> None:
    import io

    image = render_array(str(find("693_UNCR.dcm")), voi="minmax")
    pillow = io.BytesIO()
    Image.fromarray(image).save(pillow, format="PNG", compress_level=1)
    assert len(png_bytes(image)) < len(pillow.getvalue())  # Up + Z_RLE: 42 kB against 48.6 kB here


def test_tiff_rgb16_layout() -> None:
    data = tiff_rgb16_bytes(RGB16)
    assert data[:4] == b"II*\x00"
    (ifd,) = struct.unpack("<I", data[4:8])
    (n,) = struct.unpack("<H", data[ifd : ifd + 2])
    tags: dict[int, tuple[int, int, bytes]] = {}
    for i in range(n):
        tag, kind, count = struct.unpack("<HHI", data[ifd + 2 + 12 * i : ifd + 10 + 12 * i])
        tags[tag] = (kind, count, data[ifd + 10 + 12 * i : ifd + 14 + 12 * i])

    def value(t: int) -> int:
        kind, _, raw = tags[t]
        return int(struct.unpack("<H", raw[:2])[0] if kind == 3 else struct.unpack("<I", raw)[0])

    assert (value(256), value(257), value(277), value(262), value(259)) == (3, 2, 3, 2, 1)
    (bps_at,) = struct.unpack("<I", tags[258][2])
    assert struct.unpack("<HHH", data[bps_at : bps_at + 6]) == (16, 16, 16)
    start, size = value(273), value(279)
    assert np.array_equal(np.frombuffer(data[start : start + size], "<u2").reshape(2, 3, 3), RGB16)


def test_tiff_rgb16_opens_in_pillow(tmp_path: Path) -> None:
    encode(RGB16, tmp_path / "c.tiff", "tiff")
    with Image.open(tmp_path / "c.tiff") as im:
        assert im.size == (3, 2)


def test_pnm_headers_and_samples() -> None:
    assert pnm_bytes(np.array([[1, 2]], dtype=np.uint8)) == b"P5\n2 1\n255\n\x01\x02"
    assert pnm_bytes(np.array([[258]], dtype=np.uint16)) == b"P5\n1 1\n65535\n\x01\x02"
    assert pnm_bytes(np.array([[[1, 2, 3]]], dtype=np.uint8)) == b"P6\n1 1\n255\n\x01\x02\x03"


def _run(tmp_path: Path, name: str, output: str, **options: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run({"op": "to_image", "input": str(find(name)), "output": str(tmp_path / output), "options": options})


@pytest.mark.parametrize(
    ("output", "options", "mode"),
    [
        ("ct.png", {}, "L"),
        ("ct16.png", {"bit_depth": 16}, "I;16"),
        ("ct.tiff", {}, "L"),
        ("ct16.tif", {"bit_depth": 16}, "I;16"),
        ("ct.pgm", {"bit_depth": 16}, None),
    ],
)
def test_gray_outputs_hold_the_rendered_values(tmp_path: Path, output: str, options: dict[str, Any], mode: str) -> None:
    resp = _run(tmp_path, "CT_small.dcm", output, window_center=40, window_width=400, **options)
    assert resp.ok, resp
    expected = render_array(str(find("CT_small.dcm")), window_center=40, window_width=400, **options)
    with Image.open(tmp_path / output) as im:
        if mode is not None:
            assert im.mode.startswith(mode[:1])
        assert np.array_equal(np.asarray(im).astype(expected.dtype), expected)


def test_jpeg_quality_changes_the_file(tmp_path: Path) -> None:
    low = _run(tmp_path, "US1_UNCR.dcm", "q20.jpg", quality=20)
    high = _run(tmp_path, "US1_UNCR.dcm", "q95.jpg", quality=95)
    assert low.ok and high.ok
    assert (tmp_path / "q20.jpg").stat().st_size < (tmp_path / "q95.jpg").stat().st_size
    expected = render_array(str(find("US1_UNCR.dcm"))).astype(int)
    with Image.open(tmp_path / "q95.jpg") as im:
        assert im.mode == "RGB"
        assert np.abs(np.asarray(im).astype(int) - expected).mean() < 3


def test_colour_16bit_png_keeps_16_bits(tmp_path: Path) -> None:
    resp = _run(tmp_path, "SC_rgb_16bit.dcm", "c16.png", bit_depth=16)
    assert resp.ok and resp.result["mode"] == "RGB;16"
    ihdr, pixels = _png_pixels((tmp_path / "c16.png").read_bytes())
    assert ihdr["depth"] == 16 and ihdr["ctype"] == 2
    import pydicom

    assert np.array_equal(pixels, pydicom.dcmread(find("SC_rgb_16bit.dcm")).pixel_array)


def test_frame_all_naming(tmp_path: Path) -> None:
    resp = _run(tmp_path, "emri_small.dcm", "mr.png", frame="all")
    assert resp.ok
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"mr_{k:04d}.png" for k in range(10)]
    assert resp.result["frames"] == list(range(10))
    with Image.open(tmp_path / "mr_0003.png") as im:
        assert np.array_equal(np.asarray(im), render_array(str(find("emri_small.dcm")), 3))


def test_colour_rejects_gray_only_options(tmp_path: Path) -> None:
    resp = _run(tmp_path, "US1_UNCR.dcm", "x.png", window_center=1, window_width=2)
    assert not resp.ok and resp.error.code == "unsupported_option" and resp.error.field == "options.window_center"
    resp = _run(tmp_path, "US1_UNCR.dcm", "x.png", presentation="inverse")
    assert not resp.ok and resp.error.field == "options.presentation"
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize(
    "name", ["emri_small.dcm", "MR_small_bigendian.dcm", "OBXXXX1A_expb.dcm", "SC_rgb_jpeg_dcmtk.dcm"]
)
def test_rendering_never_modifies_the_input(tmp_path: Path, name: str) -> None:
    import hashlib

    try:
        source = find(name)
    except KeyError:
        pytest.skip(f"sample file absent: {name}")
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    resp = _run(tmp_path, name, "out.png", frame="all")
    assert resp.ok, resp.error
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before
