"""decode on the toolkit backends (dcmtk, gdcm, orthanc, dicom_rs, rust_render): golden argv and refusals
(no tool needed), live runs (marked ``live``) whose MD5s are computed independently of the backend."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

from dcmharness.adapters.base import ToolInfo
from dcmharness.adapters.dcmtk.ops import build_decode_argv, check_op_input, decode_tool
from dcmharness.adapters.gdcm.adapter import build_decode_argv as gdcm_decode_argv
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import HarnessError
from dcmharness.contract.ops_models import DecodeRequest
from dcmharness.interface import registry
from dcmharness.interface.api import run
from dcmharness.interface.samples import find

NATIVE, BIG, RLE = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.5"
JPEG_BASELINE, JPEG_EXT, JPEG_SV1 = "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.70"
JLS, J2K = "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.90"


def info_for(path: str, ts: str) -> InputInfo:
    return InputInfo(path=Path(path), dataset=None, transfer_syntax=ts, has_pixel_data=True)


def decode_request(**options: Any) -> DecodeRequest:
    return DecodeRequest.model_validate({"op": "decode", "input": "/in/x.dcm", "options": options})


@pytest.fixture()
def dcmtk_bin(tmp_path: Path) -> ToolInfo:
    folder = tmp_path / "dcmtk" / "bin"
    folder.mkdir(parents=True)
    for name in ("dcmj2pnm", "dcmconv", "dcmdjpeg", "dcmdrle", "dcmdjpls"):
        exe = folder / name
        exe.write_text("#!/bin/sh\nexit 0\n")
        exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return ToolInfo(str(folder / "dcmj2pnm"), "3.6.7")


# -- dcmtk: golden argv, refusals ---------------------------------------------------------------------------
def test_dcmtk_decode_argv_per_syntax(dcmtk_bin: ToolInfo) -> None:
    folder = str(Path(dcmtk_bin.path).parent)
    cases = {
        NATIVE: [f"{folder}/dcmconv", "+te"],
        BIG: [f"{folder}/dcmconv", "+te"],
        RLE: [f"{folder}/dcmdrle", "+te"],
        JPEG_BASELINE: [f"{folder}/dcmdjpeg", "+cn", "+te"],
        JPEG_EXT: [f"{folder}/dcmdjpeg", "+cn", "+te"],
        JPEG_SV1: [f"{folder}/dcmdjpeg", "+cn", "+te"],
        JLS: [f"{folder}/dcmdjpls", "+te"],
    }
    for ts, head in cases.items():
        argv = build_decode_argv(info_for("/in/x.dcm", ts), "/tmp/w/native.dcm", dcmtk_bin)
        assert argv == [*head, "/in/x.dcm", "/tmp/w/native.dcm"], ts


def test_dcmtk_refuses_jpeg_2000_before_running() -> None:
    for ts in (J2K, "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.201"):
        with pytest.raises(HarnessError) as err:
            check_op_input(decode_request(), info_for("/in/x.dcm", ts))
        assert (err.value.code.value, err.value.field) == ("unsupported_transfer_syntax", "input")
    assert decode_tool(None) == "dcmconv" and decode_tool("1.2.840.10008.1.2.1.99") == "dcmconv"


def test_dcmtk_refusal_through_the_dispatcher_runs_nothing(tmp_path: Path) -> None:
    out = tmp_path / "never.npy"
    resp = run(
        {"op": "decode", "input": str(find("MR_small_jp2klossless.dcm")), "backend": "dcmtk", "output": str(out)}
    )
    assert not resp.ok and resp.error is not None
    assert (resp.error.code, resp.error.field) == ("unsupported_transfer_syntax", "input")
    assert not out.exists() and list(tmp_path.iterdir()) == []


# -- gdcm ---------------------------------------------------------------------------------------------------
def test_gdcm_decode_argv() -> None:
    tool = ToolInfo("/usr/bin/gdcmconv", "3.0.21")
    argv = gdcm_decode_argv(info_for("/in/x.dcm", J2K), "/tmp/w/native.dcm", tool)
    assert argv == ["/usr/bin/gdcmconv", "--raw", "-X", "-i", "/in/x.dcm", "-o", "/tmp/w/native.dcm"]


# -- live: the same values as python_ref, MD5s computed without the backend ----------------------------------
def missing(backend: str) -> str | None:
    avail = registry.get(backend).availability()
    return None if avail.available else f"{backend}: {avail.reason}"


def decode(backend: str, name: str, tmp_path: Path, **options: Any) -> tuple[dict[str, Any], np.ndarray]:
    out = tmp_path / f"{backend}-{name}-{len(options)}.npy"
    resp = run({"op": "decode", "input": str(find(name)), "output": str(out), "backend": backend, "options": options})
    assert resp.ok, resp.error
    assert resp.result is not None
    return resp.result, np.load(out, allow_pickle=False)


def mr_small_md5() -> str:
    """MR_small's stored values, read by pydicom from the native file (no decoder involved)."""
    return hashlib.md5(pydicom.dcmread(find("MR_small.dcm")).pixel_array.astype("<i2").tobytes()).hexdigest()


CLI_BACKENDS = ("dcmtk", "gdcm")


@pytest.mark.live
@pytest.mark.parametrize("backend", CLI_BACKENDS)
def test_lossless_forms_decode_to_the_native_values(backend: str, tmp_path: Path) -> None:
    if why := missing(backend):
        pytest.skip(why)
    expected = mr_small_md5()
    assert expected == "dc9943d2b303bf18ab512dfdd6df0559"
    for name in ("MR_small.dcm", "MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm"):
        result, array = decode(backend, name, tmp_path)
        assert result["md5"] == expected, (backend, name)
        assert array.shape == (64, 64) and array.dtype == np.dtype("<i2") and result["dtype"] == "int16"
        assert result["decoder"].startswith(backend)


@pytest.mark.live
@pytest.mark.parametrize("backend", CLI_BACKENDS)
def test_ybr_jpeg_kept_as_ybr_and_converted(backend: str, tmp_path: Path) -> None:
    if why := missing(backend):
        pytest.skip(why)
    ref, a = decode("python_ref", "SC_rgb_dcmtk_+eb+cy+s2.dcm", tmp_path)
    got, b = decode(backend, "SC_rgb_dcmtk_+eb+cy+s2.dcm", tmp_path)
    assert got["photometric"] == "YBR_FULL" and b.shape == (100, 100, 3) and np.array_equal(a, b)
    assert got["md5"] == ref["md5"] == "f7578291df4d2801c5f9b1eaa176d134"
    rgb, c = decode(backend, "SC_rgb_dcmtk_+eb+cy+s2.dcm", tmp_path, color_space="rgb")
    assert rgb["photometric"] == "RGB" and c.dtype == np.uint8 and rgb["dtype"] == "uint8"
    from pydicom.pixels.processing import convert_color_space

    independent = convert_color_space(b, "YBR_FULL", "RGB").astype(np.int16)
    assert int(np.abs(independent - c.astype(np.int16)).max()) <= 1


@pytest.mark.live
def test_gdcm_decodes_jpeg_2000_masked_as_the_header_says(tmp_path: Path) -> None:
    if why := missing("gdcm"):
        pytest.skip(why)
    ref, a = decode("python_ref", "693_J2KI.dcm", tmp_path)
    out = tmp_path / "g.npy"
    resp = run({"op": "decode", "input": str(find("693_J2KI.dcm")), "output": str(out), "backend": "gdcm"})
    assert resp.ok and resp.result is not None, resp.error
    assert resp.result["md5"] == ref["md5"] and np.array_equal(np.load(out), a)
    # gdcmconv writes Bits Stored 16 (the codestream's precision); the header says 14
    assert any("BitsStored 14 -> 16" in w for w in resp.warnings), resp.warnings


@pytest.mark.live
def test_dcmtk_and_gdcm_agree_on_12_bit_jpeg(tmp_path: Path) -> None:
    """Both use IJG 6b's 12-bit decoder; the reference (pylibjpeg) differs by at most 1 (registered)."""
    for backend in CLI_BACKENDS:
        if why := missing(backend):
            pytest.skip(why)
    got = {b: decode(b, "JPGExtended.dcm", tmp_path) for b in CLI_BACKENDS}
    assert got["dcmtk"][0]["md5"] == got["gdcm"][0]["md5"] == "812050a7fc53b5735f7740b60969cb6b"
    _, ref = decode("python_ref", "JPGExtended.dcm", tmp_path)
    assert int(np.abs(ref.astype(np.int32) - got["dcmtk"][1].astype(np.int32)).max()) == 1


# -- dicom_rs ----------------------------------------------------------------------------------------------
def test_dicom_rs_decode_argv(tmp_path: Path) -> None:
    from dcmharness.adapters.dicom_rs.decode import build_decode_argv as rs_argv

    exe = tmp_path / "dicom-transcode"
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    tool = ToolInfo(str(tmp_path / "dicom-toimage"), "0.10.1")
    argv = rs_argv(tool, info_for("/in/x.dcm", JLS), "/tmp/w/native.dcm")
    assert argv == [str(exe), "--ts", "1.2.840.10008.1.2.1", "/in/x.dcm", "-o", "/tmp/w/native.dcm"]


def test_dicom_rs_refusals() -> None:
    from dcmharness.adapters.dicom_rs.decode import check_decode_input

    def refusal(info: InputInfo, **options: Any) -> tuple[str, str | None]:
        with pytest.raises(HarnessError) as err:
            check_decode_input(decode_request(**options), info)
        return err.value.code.value, err.value.field

    assert refusal(info_for("/in/x.dcm", J2K)) == ("unsupported_transfer_syntax", "input")
    twelve = InputInfo(Path("/in/x.dcm"), None, JPEG_EXT, True, bits_stored=12)
    assert refusal(twelve) == ("unsupported_transfer_syntax", "input")
    ybr = InputInfo(Path("/in/x.dcm"), None, JPEG_BASELINE, True, samples_per_pixel=3, photometric="YBR_FULL_422")
    assert refusal(ybr) == ("unsupported_option", "options.color_space")
    check_decode_input(decode_request(color_space="rgb"), ybr)  # dicom-rs' own conversion: accepted
    check_decode_input(decode_request(), InputInfo(Path("/in/x.dcm"), None, JPEG_EXT, True, bits_stored=8))


@pytest.mark.live
def test_dicom_rs_lossless_forms(tmp_path: Path) -> None:
    if why := missing("dicom_rs"):
        pytest.skip(why)
    for name in ("MR_small.dcm", "MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_bigendian.dcm"):
        result, array = decode("dicom_rs", name, tmp_path)
        assert result["md5"] == mr_small_md5() and array.dtype == np.dtype("<i2"), name
        assert result["decoder"].startswith("dicom-rs")


# -- rust_render ---------------------------------------------------------------------------------------------
def test_rust_render_decode_argv(tmp_path: Path) -> None:
    from dcmharness.adapters.rust_render import build_decode_argv as rust_argv
    from dcmharness.backends.outputs import OutputPlan, OutputTarget

    plan = OutputPlan(targets=[OutputTarget(final=tmp_path / "o.npy", temp=tmp_path / ".o.tmp.npy")])
    request = decode_request(frame=2, color_space="rgb")
    argv = rust_argv(request, info_for("/in/x.dcm", JPEG_BASELINE), plan, ToolInfo("/opt/dicom-render", "0.1.0"))
    assert argv == [
        "/opt/dicom-render", "--op", "decode", "--frame", "2", "--color-space", "rgb", "--overwrite", "--",
        "/in/x.dcm", str(tmp_path / ".o.tmp.npy"),
    ]  # fmt: skip
    assert rust_argv(decode_request(), info_for("/in/x.dcm", NATIVE), plan, ToolInfo("/b", None))[3:7] == [
        "--frame", "all", "--color-space", "native",
    ]  # fmt: skip


def test_rust_render_result_is_checked_against_the_npy(tmp_path: Path) -> None:
    import json

    from dcmharness.adapters.runner import ToolError
    from dcmharness.adapters.rust_render import decode_result

    array = np.arange(6, dtype="<i2").reshape(2, 3)
    npy = tmp_path / "a.npy"
    np.save(npy, array)
    said = {
        "shape": [2, 3], "dtype": "int16", "md5": hashlib.md5(array.tobytes()).hexdigest(), "frames": [0],
        "photometric": "MONOCHROME2", "color_space": "native", "transfer_syntax": NATIVE, "decoder": "rust_render",
    }  # fmt: skip
    assert decode_result(json.dumps(said), npy, ["x"], None) == said
    for wrong in ({"md5": "0" * 32}, {"shape": [3, 2]}, {"dtype": "uint16"}):
        with pytest.raises(ToolError) as err:
            decode_result(json.dumps({**said, **wrong}), npy, ["x"], None)
        assert err.value.code.value == "backend_failed"


def test_rust_render_refuses_before_running() -> None:
    from dcmharness.adapters.rust_render import RustRenderAdapter

    with pytest.raises(HarnessError) as err:
        RustRenderAdapter().check_input(decode_request(), info_for("/in/x.dcm", "1.2.840.10008.1.2.4.100"))
    assert (err.value.code.value, err.value.field) == ("unsupported_transfer_syntax", "input")
    ict = InputInfo(Path("/in/x.dcm"), None, "1.2.840.10008.1.2.4.91", True, samples_per_pixel=3, photometric="YBR_ICT")
    with pytest.raises(HarnessError) as err:
        RustRenderAdapter().check_input(decode_request(color_space="rgb"), ict)
    assert (err.value.code.value, err.value.field) == ("unsupported_option", "options.color_space")


@pytest.mark.live
def test_rust_render_decodes_like_the_reference(tmp_path: Path) -> None:
    if why := missing("rust_render"):
        pytest.skip(why)
    for name in ("MR_small.dcm", "MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm"):
        result, array = decode("rust_render", name, tmp_path)
        assert result["md5"] == mr_small_md5() and array.dtype == np.dtype("<i2"), name
    frames, stack = decode("rust_render", "emri_small.dcm", tmp_path)
    _, ref = decode("python_ref", "emri_small.dcm", tmp_path)
    assert stack.shape == (10, 64, 64) and np.array_equal(stack, ref) and frames["frames"] == list(range(10))
    ybr, _ = decode("rust_render", "SC_rgb_dcmtk_+eb+cy+s2.dcm", tmp_path)
    assert ybr["md5"] == "f7578291df4d2801c5f9b1eaa176d134" and ybr["photometric"] == "YBR_FULL"
    rgb_ref, a = decode("python_ref", "SC_rgb_dcmtk_+eb+cy+s2.dcm", tmp_path, color_space="rgb")
    rgb, b = decode("rust_render", "SC_rgb_dcmtk_+eb+cy+s2.dcm", tmp_path, color_space="rgb")
    assert rgb["photometric"] == "RGB" and np.array_equal(a, b) and rgb["md5"] == rgb_ref["md5"]
    assert a.dtype == b.dtype == np.uint8 and rgb["dtype"] == rgb_ref["dtype"] == "uint8"


# -- orthanc ---------------------------------------------------------------------------------------------------
def test_orthanc_numpy_call_and_refusals() -> None:
    from dcmharness.adapters.orthanc.decode import check_decode_input, numpy_call

    call = numpy_call("ab/c", 3)
    assert call.url("http://127.0.0.1:8042") == "http://127.0.0.1:8042/instances/ab%2Fc/frames/3/numpy?rescale=0"

    def refusal(info: InputInfo, **options: Any) -> tuple[str, str | None]:
        with pytest.raises(HarnessError) as err:
            check_decode_input(decode_request(**options), info)
        return err.value.code.value, err.value.field

    path = Path("/in/x.dcm")
    assert refusal(info_for("/in/x.dcm", J2K)) == ("unsupported_transfer_syntax", "input")
    assert refusal(InputInfo(path, None, NATIVE, True, photometric="PALETTE COLOR")) == ("unsupported_option", "input")
    ybr_native = InputInfo(path, None, NATIVE, True, samples_per_pixel=3, bits_allocated=8, photometric="YBR_FULL")
    assert refusal(ybr_native) == ("unsupported_option", "input")
    rgb16 = InputInfo(path, None, RLE, True, samples_per_pixel=3, bits_allocated=16, photometric="RGB")
    assert refusal(rgb16) == ("unsupported_option", "input")
    assert refusal(InputInfo(path, None, NATIVE, True, bits_allocated=1)) == ("unsupported_option", "input")
    assert refusal(InputInfo(path, None, NATIVE, True, bits_allocated=32)) == ("unsupported_option", "input")
    ybr_jpeg = InputInfo(path, None, JPEG_BASELINE, True, samples_per_pixel=3, bits_allocated=8, photometric="YBR_FULL")
    assert refusal(ybr_jpeg) == ("unsupported_option", "options.color_space")
    check_decode_input(decode_request(color_space="rgb"), ybr_jpeg)
    check_decode_input(decode_request(), InputInfo(path, None, JLS, True, bits_allocated=16, photometric="MONOCHROME2"))


def test_orthanc_frame_shape_is_checked() -> None:
    import io

    from dcmharness.adapters.orthanc.decode import frame_values
    from dcmharness.adapters.runner import ToolError

    buf = io.BytesIO()
    np.save(buf, np.arange(6, dtype="<i2").reshape(2, 3, 1))
    info = InputInfo(Path("/in/x.dcm"), None, NATIVE, True, rows=2, columns=3)
    assert frame_values(buf.getvalue(), info, []).tolist() == [[0, 1, 2], [3, 4, 5]]
    wide = InputInfo(Path("/in/x.dcm"), None, NATIVE, True, rows=3, columns=2)
    with pytest.raises(ToolError):
        frame_values(buf.getvalue(), wide, [])


@pytest.mark.live
def test_orthanc_decodes_like_the_reference(tmp_path: Path) -> None:
    if why := missing("orthanc"):
        pytest.skip(why)
    try:
        for name in ("MR_small.dcm", "MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_bigendian.dcm"):
            result, array = decode("orthanc", name, tmp_path)
            assert result["md5"] == mr_small_md5() and array.dtype == np.dtype("<i2"), name
        _, stack = decode("orthanc", "emri_small.dcm", tmp_path)
        _, ref = decode("python_ref", "emri_small.dcm", tmp_path)
        assert stack.shape == (10, 64, 64) and np.array_equal(stack, ref)
        rgb_ref, a = decode("python_ref", "SC_rgb_dcmtk_+eb+cy+s2.dcm", tmp_path, color_space="rgb")
        rgb, b = decode("orthanc", "SC_rgb_dcmtk_+eb+cy+s2.dcm", tmp_path, color_space="rgb")
        assert rgb["md5"] == rgb_ref["md5"] and rgb["photometric"] == "RGB" and np.array_equal(a, b)
    finally:
        registry.get("orthanc").close()


# -- cornerstone -----------------------------------------------------------------------------------------------
def test_cornerstone_refusals_and_request_line() -> None:
    from dcmharness.adapters.cornerstone.decode import check_decode_input, decode_request_line

    path = Path("/in/x.dcm")

    def refusal(info: InputInfo, **options: Any) -> tuple[str, str | None]:
        with pytest.raises(HarnessError) as err:
            check_decode_input(decode_request(**options), info)
        return err.value.code.value, err.value.field

    assert refusal(InputInfo(path, None, NATIVE, True, photometric="PALETTE COLOR")) == ("unsupported_option", "input")
    assert refusal(InputInfo(path, None, NATIVE, True, bits_allocated=1)) == ("unsupported_option", "input")
    ybr422 = InputInfo(path, None, NATIVE, True, samples_per_pixel=3, bits_allocated=8, photometric="YBR_FULL_422")
    assert refusal(ybr422, color_space="rgb") == ("unsupported_option", "input")
    ybr_jpeg = InputInfo(path, None, JPEG_BASELINE, True, samples_per_pixel=3, bits_allocated=8, photometric="YBR_FULL")
    assert refusal(ybr_jpeg) == ("unsupported_option", "options.color_space")
    check_decode_input(decode_request(color_space="rgb"), ybr_jpeg)
    ict = InputInfo(path, None, "1.2.840.10008.1.2.4.91", True, samples_per_pixel=3, photometric="YBR_ICT")
    check_decode_input(decode_request(), ict)  # the loader and the reference both answer RGB
    assert decode_request_line(7, info_for("/in/x.dcm", NATIVE), 2) == {
        "id": 7, "op": "decode", "input": "/in/x.dcm", "frame": 2,
    }  # fmt: skip


def test_cornerstone_words_are_masked_and_sign_extended(tmp_path: Path) -> None:
    """A signed 12-bit frame the loader hands back in a Uint16Array, garbage in the top nibble."""
    import base64

    from dcmharness.adapters.cornerstone.decode import result_of, words_of
    from dcmharness.backends.outputs import OutputPlan, OutputTarget

    ds = pydicom.Dataset()
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, 3, 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 1
    info = InputInfo(
        Path("/in/x.dcm"),
        ds,
        NATIVE,
        True,
        rows=1,
        columns=3,
        bits_allocated=16,
        bits_stored=12,
        pixel_representation=1,
    )
    raw = np.array([0xAFFF, 0x0800, 0x07FF], dtype="<u2")
    answer = {"type": "Uint16Array", "values": base64.b64encode(raw.tobytes()).decode()}
    assert words_of(answer, info).tolist() == [[0xAFFF, 0x0800, 0x07FF]]
    plan = OutputPlan(targets=[OutputTarget(final=tmp_path / "o.npy", temp=tmp_path / "t.npy")])
    result = result_of([answer], decode_request(), info, plan, "5.14.0")
    assert np.load(tmp_path / "t.npy").tolist() == [[-1, -2048, 2047]]
    assert result["dtype"] == "int16" and result["shape"] == [1, 3]
    assert result["md5"] == hashlib.md5(np.array([[-1, -2048, 2047]], "<i2").tobytes()).hexdigest()
    with pytest.raises(HarnessError):
        words_of({"type": "Float32Array", "values": ""}, info)
    with pytest.raises(HarnessError):
        words_of({"type": "Uint16Array", "values": base64.b64encode(raw[:2].tobytes()).decode()}, info)


@pytest.mark.live
def test_cornerstone_decodes_like_the_reference(tmp_path: Path) -> None:
    if why := missing("cornerstone"):
        pytest.skip(why)
    try:
        for name in ("MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm"):
            result, array = decode("cornerstone", name, tmp_path)
            assert result["md5"] == mr_small_md5() and array.dtype == np.dtype("<i2"), name
        rgb_ref, a = decode("python_ref", "SC_rgb_dcmtk_+eb+cy+s2.dcm", tmp_path, color_space="rgb")
        rgb, b = decode("cornerstone", "SC_rgb_dcmtk_+eb+cy+s2.dcm", tmp_path, color_space="rgb")
        assert rgb["md5"] == rgb_ref["md5"] and np.array_equal(a, b)
    finally:
        registry.get("cornerstone").close()


def test_float_pixel_data_is_refused_by_the_copy_decoders() -> None:
    from dcmharness.adapters.dicom_rs.decode import check_decode_input as rs_check
    from dcmharness.adapters.gdcm.adapter import GdcmAdapter

    ds = pydicom.Dataset()
    ds.FloatPixelData = b"\0" * 16
    info = InputInfo(Path("/in/x.dcm"), ds, NATIVE, True)
    for check in (
        lambda: check_op_input(decode_request(), info),
        lambda: GdcmAdapter().check_input(decode_request(), info),
        lambda: rs_check(decode_request(), info),
    ):
        with pytest.raises(HarnessError) as err:
            check()
        assert (err.value.code.value, err.value.field) == ("unsupported_option", "input")
