"""The real sample files: how many python_ref renders, and why the others do not (backends/python_ref/CORPUS.md)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from backends.python_ref import render_array
from contract.errors import HarnessError
from interface.samples import find, image_files

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
        ("SC_rgb_dcmtk_+eb+cy+n1.dcm", "SC_rgb_dcmtk_ebcyn1_dcmd.dcm"),  # YBR_FULL_422 in the JPEG
        ("SC_rgb_dcmtk_+eb+cy+n2.dcm", "SC_rgb_dcmtk_ebcyn2_dcmd.dcm"),
        ("SC_rgb_dcmtk_+eb+cy+s4.dcm", "SC_rgb_dcmtk_ebcys4_dcmd.dcm"),
        ("SC_rgb_dcmtk_+eb+cr.dcm", "SC_rgb_dcmtk_ebcr_dcmd.dcm"),  # RGB in the JPEG
    ],
)
def test_ybr_jpeg_converted_by_t871_matches_dcmtk_decompression(jpeg: str, decompressed: str) -> None:
    """The JPEG's YBR is converted here (T.871, rounded): within 2 levels of dcmtk's decompressed RGB twin."""
    try:
        a, b = find(jpeg), find(decompressed)
    except KeyError as exc:
        pytest.skip(f"sample file absent: {exc}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, theirs = render_array(str(a)), render_array(str(b))
    assert ours.shape == theirs.shape == (100, 100, 3)
    assert int(np.abs(ours.astype(int) - theirs).max()) <= 2
