"""decode: stored values as .npy, checked against independent decodings (pydicom's own pixel_array for native
data; the same image stored losslessly in other transfer syntaxes), on python_ref and python_gdcm."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

from dcmharness.backends.python_ref.ops_decode import md5_of, output_dtype, ybr_full_to_rgb
from dcmharness.interface import registry
from dcmharness.interface.api import run
from dcmharness.interface.conform.ops.decode import compare_arrays
from dcmharness.interface.samples import find

#: MR_small in every lossless form pydicom ships: the same stored values.
MR_LOSSLESS = ("MR_small.dcm", "MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm")


def decode(name: str, tmp_path: Path, backend: str = "python_ref", **options: Any) -> tuple[dict[str, Any], np.ndarray]:
    out = tmp_path / f"{backend}-{name}.npy"
    resp = run({"op": "decode", "input": str(find(name)), "output": str(out), "backend": backend, "options": options})
    assert resp.ok, resp.error
    assert resp.outputs == [str(out)] and resp.result is not None
    return resp.result, np.load(out, allow_pickle=False)


def test_native_values_equal_pydicoms_pixel_array(tmp_path: Path) -> None:
    result, array = decode("CT_small.dcm", tmp_path)
    expected = pydicom.dcmread(find("CT_small.dcm")).pixel_array.astype("<i2")
    assert np.array_equal(array, expected)
    assert result["shape"] == [128, 128] and result["dtype"] == "int16" and array.dtype == np.dtype("<i2")
    assert result["md5"] == hashlib.md5(expected.tobytes()).hexdigest() == md5_of(array)
    assert result["frames"] == [0] and result["photometric"] == "MONOCHROME2"


def test_every_lossless_form_of_a_file_decodes_to_the_same_values(tmp_path: Path) -> None:
    md5s = {name: decode(name, tmp_path)[0]["md5"] for name in MR_LOSSLESS}
    assert len(set(md5s.values())) == 1, md5s
    reference = pydicom.dcmread(find("MR_small.dcm")).pixel_array.astype("<i2")
    assert md5s["MR_small.dcm"] == hashlib.md5(reference.tobytes()).hexdigest()


def test_all_frames_come_first(tmp_path: Path) -> None:
    result, array = decode("emri_small.dcm", tmp_path)
    frames = int(pydicom.dcmread(find("emri_small.dcm"), stop_before_pixels=True).NumberOfFrames)
    assert array.shape == (frames, 64, 64) and result["frames"] == list(range(frames))
    (tmp_path / "one").mkdir()
    one, single = decode("emri_small.dcm", tmp_path / "one", frame=3)
    assert np.array_equal(single, array[3]) and one["frames"] == [3]


def test_ybr_kept_or_converted(tmp_path: Path) -> None:
    native, ybr = decode("SC_rgb_dcmtk_+eb+cy+np.dcm", tmp_path)
    assert native["photometric"] == "YBR_FULL" and ybr.shape == (100, 100, 3) and ybr.dtype == np.uint8
    (tmp_path / "rgb").mkdir()
    converted, rgb = decode("SC_rgb_dcmtk_+eb+cy+np.dcm", tmp_path / "rgb", color_space="rgb")
    assert converted["photometric"] == "RGB" and converted["color_space"] == "rgb"
    assert rgb.dtype == np.uint8 and converted["dtype"] == "uint8"  # the contract's integer type, not float
    from pydicom.pixels.processing import convert_color_space

    independent = convert_color_space(ybr, "YBR_FULL", "RGB").astype(np.int16)  # pydicom's own conversion
    assert int(np.abs(independent - rgb.astype(np.int16)).max()) <= 1


def test_ybr_full_to_rgb_formula() -> None:
    grey = ybr_full_to_rgb(np.array([[[128, 128, 128]]]), 8)
    assert grey.tolist() == [[[128, 128, 128]]]
    # near-red: R = 76 + 1.402 * 127 = 254.05, G = 76 + 0.344136 * 43 - 0.714136 * 127 = 0.10, B = 76 - 1.772 * 43 < 0
    red = ybr_full_to_rgb(np.array([[[76, 85, 255]]]), 8)
    assert red.tolist() == [[[254, 0, 0]]]


def test_output_dtypes() -> None:
    assert output_dtype(8, False) == np.dtype("u1") and output_dtype(16, True) == np.dtype("<i2")
    assert output_dtype(32, False) == np.dtype("<u4") and output_dtype(1, False) == np.dtype("u1")
    assert output_dtype(32, False, is_float=True) == np.dtype("<f4")


def test_compare_arrays() -> None:
    a = np.zeros((2, 2), np.int16)
    b = a.copy()
    b[0, 0] = 2
    assert compare_arrays(a, a) == ([], 0.0)
    assert compare_arrays(a, b) == ([{"difference": "values", "max_abs_diff": 2.0, "samples_differing": 1}], 2.0)
    assert compare_arrays(a, a.astype(np.uint16))[0][0]["difference"] == "dtype"


def gdcm_missing() -> str | None:
    avail = registry.get("python_gdcm").availability()
    return None if avail.available else str(avail.reason)


def test_python_gdcm_decodes_jpeg_2000_like_the_reference(tmp_path: Path) -> None:
    if why := gdcm_missing():
        pytest.skip(why)
    ref, a = decode("MR_small_jp2klossless.dcm", tmp_path)
    got, b = decode("MR_small_jp2klossless.dcm", tmp_path, backend="python_gdcm")
    assert np.array_equal(a, b) and ref["md5"] == got["md5"]
    assert got["decoder"].startswith("pydicom + python-gdcm")


def test_python_gdcm_refuses_what_it_does_not_decode() -> None:
    if why := gdcm_missing():
        pytest.skip(why)
    for name in ("CT_small.dcm", "MR_small_RLE.dcm", "JPGExtended.dcm"):  # native, RLE, 12-bit JPEG extended
        resp = run({"op": "decode", "input": str(find(name)), "backend": "python_gdcm", "output": "/tmp/never.npy"})
        assert not resp.ok and resp.error is not None
        assert (resp.error.code, resp.error.field) == ("unsupported_transfer_syntax", "input"), name


def test_ybr_files_get_the_rgb_profile_too() -> None:
    from dcmharness.interface.conform.ops.decode import profiles_of

    assert profiles_of(find("CT_small.dcm")) == [("decode", {})]
    assert profiles_of(find("SC_rgb_dcmtk_+eb+cy+s2.dcm")) == [("decode", {}), ("decode:rgb", {"color_space": "rgb"})]


def test_a_measured_difference_is_bounded_by_the_entry(tmp_path: Path) -> None:
    """``record`` with a measured max_abs_diff: explained within the entry's bound, a mismatch beyond it."""
    from dcmharness.interface.conform import divergence
    from dcmharness.interface.conform.ops.core import Ctx, OpsConfig, Run, record

    entries = divergence.parse(
        '[[divergence]]\nid = "x-idct"\nbackends = ["dcmtk"]\nprofiles = ["decode"]\nmax_abs_diff = 1\n'
        'cause = "c"\nsource = "s"\n'
    )
    ctx = Ctx(OpsConfig(op="decode", out=tmp_path), entries)
    ok = Run(ok=True, output=None, result={}, error=None, command=None, duration_ms=1, version=None)
    path = find("JPGExtended.dcm")
    problems = [{"difference": "values", "max_abs_diff": 1.0}]
    within = record(ctx, case="c", path=path, profile="decode", options={}, backend="dcmtk", run=ok,
                    problems=problems, reference=ok, max_abs_diff=1.0)  # fmt: skip
    beyond = record(ctx, case="c", path=path, profile="decode", options={}, backend="dcmtk", run=ok,
                    problems=problems, reference=ok, max_abs_diff=2.0)  # fmt: skip
    unmeasured = record(ctx, case="c", path=path, profile="decode", options={}, backend="dcmtk", run=ok,
                        problems=problems, reference=ok)  # fmt: skip
    assert (within["status"], within["divergence"]["id"]) == ("explained", "x-idct")
    assert beyond["status"] == "mismatch" and beyond["exceeded"] == ["x-idct"]
    assert unmeasured["status"] == "mismatch"  # without a measure only any_difference entries explain
