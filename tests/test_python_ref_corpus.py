"""The real sample files: how many python_ref renders, and why the others do not (backends/python_ref/CORPUS.md)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from dcmharness.backends.python_ref import render_array
from dcmharness.contract.errors import HarnessError
from dcmharness.interface.samples import find, image_files

#: Measured 2026-11-22 (pydicom 3.0.2, pylibjpeg 2.1 + libjpeg/openjpeg/rle): 155 of 161 render.
MIN_RENDERED = 155

#: The files that do not render, with the error code they must give (never a traceback).
KNOWN_FAILURES = {
    "badVR.dcm": "decode_failed",  # Number of Frames "1A"
    "JPEG-lossy.dcm": "decode_failed",  # libjpeg: misplaced marker in this 12-bit extended stream
    "JPEG2000-embedded-sequence-delimiter.dcm": "decode_failed",  # 266-byte fragment for 1024x256
    "meta_missing_tsyntax.dcm": "decode_failed",  # 2-byte Pixel Data, no Rows/Columns
    "nested_priv_SQ.dcm": "decode_failed",  # 2-byte Pixel Data, no Rows/Columns
    "MR_truncated.dcm": "decode_failed",  # 8130 of 8192 bytes
}


@pytest.mark.slow
def test_corpus_rendered_count_does_not_drop() -> None:
    rendered, failed = 0, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in image_files():
            try:
                image = render_array(str(path))
            except HarnessError as exc:
                failed[path.name] = exc.code.value
                continue
            assert image.dtype in (np.uint8, np.uint16) and image.size > 0, path.name
            rendered += 1
    assert rendered >= MIN_RENDERED, failed
    unexpected = {k: v for k, v in failed.items() if KNOWN_FAILURES.get(k) != v}
    assert not unexpected, f"new failures (update CORPUS.md if intended): {unexpected}"


@pytest.mark.parametrize(
    ("little", "big"),
    [
        ("MR_small.dcm", "MR_small_bigendian.dcm"),
        ("OBXXXX1A.dcm", "OBXXXX1A_expb.dcm"),  # 8-bit palette: LUT data read big-endian (pydicom does not)
        ("gdcm-US-ALOKA-16.dcm", "gdcm-US-ALOKA-16_big.dcm"),  # 16-bit palette entries
        ("SC_rgb_32bit.dcm", "SC_rgb_expb_32bit.dcm"),
        ("SC_rgb_16bit.dcm", "SC_rgb_expb_16bit.dcm"),
    ],
)
def test_big_endian_twins_render_identically(little: str, big: str) -> None:
    try:
        a, b = find(little), find(big)
    except KeyError as exc:
        pytest.skip(f"sample file absent: {exc}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.array_equal(render_array(str(a)), render_array(str(b)))


@pytest.mark.parametrize(
    ("native", "compressed"),
    [
        ("OBXXXX1A.dcm", "OBXXXX1A_rle.dcm"),
        ("SC_rgb.dcm", "SC_rgb_rle.dcm"),
        ("SC_rgb_16bit.dcm", "SC_rgb_rle_16bit.dcm"),
        ("MR_small.dcm", "MR_small_RLE.dcm"),
        ("MR_small.dcm", "MR_small_jp2klossless.dcm"),
        ("emri_small.dcm", "emri_small_jpeg_ls_lossless.dcm"),
        ("US1_UNCR.dcm", "US1_J2KR.dcm"),  # YBR_RCT: reversible
    ],
)
def test_lossless_syntaxes_match_native(native: str, compressed: str) -> None:
    try:
        a, b = find(native), find(compressed)
    except KeyError as exc:
        pytest.skip(f"sample file absent: {exc}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.array_equal(render_array(str(a)), render_array(str(b)))


@pytest.mark.parametrize(
    ("jpeg", "decompressed"),
    [
        ("SC_rgb_dcmtk_+eb+cy+n1.dcm", "SC_rgb_dcmtk_ebcyn1_dcmd.dcm"),  # 4:2:2 subsampled YBR in the JPEG
        ("SC_rgb_dcmtk_+eb+cy+np.dcm", "SC_rgb_dcmtk_ebcynp_dcmd.dcm"),
        ("SC_rgb_dcmtk_+eb+cy+n2.dcm", "SC_rgb_dcmtk_ebcyn2_dcmd.dcm"),
        ("SC_rgb_dcmtk_+eb+cy+s4.dcm", "SC_rgb_dcmtk_ebcys4_dcmd.dcm"),
        ("SC_rgb_dcmtk_+eb+cr.dcm", "SC_rgb_dcmtk_ebcr_dcmd.dcm"),  # RGB in the JPEG
    ],
)
def test_ybr_jpeg_converted_by_t871_matches_dcmtk_decompression(jpeg: str, decompressed: str) -> None:
    """IJG chroma upsampling + T.871 here: within 1 level of dcmtk's decompressed RGB twin (0 on the YBR ones)."""
    try:
        a, b = find(jpeg), find(decompressed)
    except KeyError as exc:
        pytest.skip(f"sample file absent: {exc}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, theirs = render_array(str(a)), render_array(str(b))
    assert ours.shape == theirs.shape == (100, 100, 3)
    assert int(np.abs(ours.astype(int) - theirs).max()) <= 1


@pytest.mark.parametrize("name", ["examples_ybr_color.dcm", "color3d_jpeg_baseline.dcm"])
def test_subsampled_jpeg_matches_an_ijg_decode(name: str) -> None:
    """4:2:2 JPEG: the chroma is upsampled as IJG libjpeg does (Pillow's own RGB decode of the frame, within 1)."""
    import io

    import pydicom
    from PIL import Image
    from pydicom.encaps import get_frame

    try:
        path = find(name)
    except KeyError as exc:
        pytest.skip(f"sample file absent: {exc}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
        fragment = get_frame(ds.PixelData, 0, number_of_frames=int(ds.get("NumberOfFrames", 1) or 1))
        ours = render_array(str(path))
    with Image.open(io.BytesIO(fragment)) as im:
        ijg = np.asarray(im.convert("RGB"))
    assert int(np.abs(ours.astype(int) - ijg).max()) <= 1
