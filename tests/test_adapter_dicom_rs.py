"""The dicom-rs adapter: golden argv tests (no tool needed), refusals, discovery, and live tests wherever
``dicom-toimage`` is found (``make setup`` installs 0.10.1 into ``.tools/dicom-rs``; skipped with the reason
elsewhere)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset

from dcmharness.adapters import runner
from dcmharness.adapters.base import ToolInfo, check_capabilities
from dcmharness.adapters.dicom_rs import render
from dcmharness.adapters.dicom_rs.ops import no_file_meta
from dcmharness.adapters.dicom_rs.render import (
    PINNED_VERSION,
    DicomRsAdapter,
    as_grayscale,
    build_to_image_argv,
    capability_table,
    overlay_colour,
    tool_message,
    tool_output,
)
from dcmharness.backends.outputs import OutputPlan, OutputTarget
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import ToImageRequest
from dcmharness.interface.api import run

TOOL = ToolInfo("/usr/local/bin/dicom-toimage", "0.10.1")
OLD = ToolInfo("/usr/local/bin/dicom-toimage", "0.9.0")
IN = "/data/ct.dcm"
TEMP = "/out/.ct.dcmharness-1-ab.tmp.png"
CAPS = capability_table(TOOL.version)["to_image"]


def info(*, colour: bool = False, overlays: list[int] | None = None, path: str = IN, **fields: Any) -> InputInfo:
    ds = Dataset()
    ds.PhotometricInterpretation = fields.pop("photometric", "RGB" if colour else "MONOCHROME2")
    ds.SamplesPerPixel = 3 if colour else 1
    base: dict[str, Any] = dict(
        path=Path(path), dataset=ds, transfer_syntax="1.2.840.10008.1.2.1", has_pixel_data=True, rows=4,
        columns=4, samples_per_pixel=3 if colour else 1, bits_allocated=16, bits_stored=12,
        photometric=str(ds.PhotometricInterpretation), overlay_planes=overlays or [],
    )  # fmt: skip
    return InputInfo(**{**base, **fields})


def plan(temp: str = TEMP) -> OutputPlan:
    return OutputPlan(targets=[OutputTarget(final=Path("/out/ct.png"), temp=Path(temp), frame=0)])


def request(options: dict[str, Any], output: str | None = "/out/ct.png") -> ToImageRequest:
    return ToImageRequest.model_validate({"op": "to_image", "input": IN, "output": output, "options": options})


def argv(options: dict[str, Any], output: str | None = "/out/ct.png", temp: str = TEMP) -> list[str]:
    return build_to_image_argv(request(options, output), info(), plan(temp), TOOL)


def test_default_request_full_argv() -> None:
    assert argv({}) == [TOOL.path, "-F", "0", "--8bit", "-o", TEMP, IN]


def test_frame_is_zero_based_and_depth_always_given() -> None:
    assert argv({"frame": 7, "bit_depth": 16}) == [TOOL.path, "-F", "7", "--16bit", "-o", TEMP, IN]


@pytest.mark.parametrize(
    ("output", "temp", "options", "written"),
    [
        ("/out/ct.jpg", "/out/.t.tmp.jpg", {}, "/out/.t.tmp.jpg"),
        ("/out/ct.tiff", "/out/.t.tmp.tiff", {}, "/out/.t.tmp.tiff"),
        ("/out/ct.pgm", "/out/.t.tmp.pgm", {}, "/out/.t.tmp.pgm"),
        # the image crate does not know .pnm, nor an extension the format option overrides
        ("/out/ct.pnm", "/out/.t.tmp.pnm", {}, "/out/.t.tmp.pnm.pgm"),
        ("/out/ct.out", "/out/.t.tmp.out", {"format": "png"}, "/out/.t.tmp.out.png"),
        ("/out/ct.png", "/out/.t.tmp.png", {"format": "jpeg"}, "/out/.t.tmp.png.jpg"),
    ],
)
def test_format_follows_the_written_extension(output: str, temp: str, options: dict[str, Any], written: str) -> None:
    args = argv(options, output=output, temp=temp)
    assert args[args.index("-o") + 1] == written


def test_colour_pnm_is_ppm() -> None:
    assert tool_output(Path("/o/x.tmp.pnm"), "pnm", True) == Path("/o/x.tmp.pnm.ppm")


def test_leading_dash_paths_are_absolute() -> None:
    args = build_to_image_argv(request({}), info(path="/d/-x.dcm"), plan(temp="/o/-t.png"), TOOL)
    assert args[-3:] == ["-o", "/o/-t.png", "/d/-x.dcm"]


# -- overlays (0.10: --overlays, --overlay-color) -------------------------------------------------------------
def test_overlays_drawn_in_the_requested_gray() -> None:
    req = request({"overlay_value": 128})
    args = build_to_image_argv(req, info(overlays=[0, 1]), plan(), TOOL)
    assert args == [TOOL.path, "-F", "0", "--8bit", "--overlays", "--overlay-color", "808080", "-o", TEMP, IN]


def test_overlays_default_white_and_none_without_planes_or_when_off() -> None:
    assert build_to_image_argv(request({}), info(overlays=[0]), plan(), TOOL)[4:7] == [
        "--overlays", "--overlay-color", "ffffff",
    ]  # fmt: skip
    assert "--overlays" not in build_to_image_argv(request({}), info(), plan(), TOOL)
    assert "--overlays" not in build_to_image_argv(request({"overlays": False}), info(overlays=[0]), plan(), TOOL)
    # 0.9 has no --overlays flag
    assert "--overlays" not in build_to_image_argv(request({}), info(overlays=[0]), plan(), OLD)


@pytest.mark.parametrize(
    ("options", "hex_colour"),
    [({}, "ffffff"), ({"overlay_value": 0}, "000000"), ({"overlay_value": 17}, "111111"),
     ({"overlay_value": 257 * 3, "bit_depth": 16}, "030303"), ({"overlay_value": "#A0b1C2"}, "a0b1c2")],
)  # fmt: skip
def test_overlay_colour_hex(options: dict[str, Any], hex_colour: str) -> None:
    assert overlay_colour(request(options).options) == hex_colour


# -- capabilities -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"window_center": 40, "window_width": 400}, "options.window_center"),
        ({"window_preset": "lung"}, "options.window_center"),
        ({"voi": "none"}, "options.voi"),
        ({"voi": "window", "voi_index": 1}, "options.voi_index"),
        ({"voi_function": "sigmoid"}, "options.voi_function"),
        ({"modality_lut": False}, "options.modality_lut"),
        ({"presentation": "inverse"}, "options.presentation"),
        ({"presentation": "identity"}, "options.presentation"),
        ({"overlays": [0]}, "options.overlays"),
        ({"overlay_value": 1000, "bit_depth": 16, "format": "png"}, "options.overlay_value"),
        ({"quality": 80}, "options.quality"),
        ({"png_compression": 9}, "options.png_compression"),
    ],
)
def test_options_the_tool_has_no_flag_for_are_unsupported(options: dict[str, Any], field: str) -> None:
    with pytest.raises(HarnessError) as exc:
        check_capabilities(request(options).options, CAPS, "dicom_rs")
    assert exc.value.code == ErrorCode.UNSUPPORTED_OPTION
    assert exc.value.field == field


def test_what_the_table_accepts() -> None:
    for options in ({"bit_depth": 16, "format": "tiff", "frame": 3}, {"voi": "window", "voi_index": 0},
                    {"voi": "lut"}, {"voi": "minmax"}, {"overlays": False}, {"overlay_value": 255},
                    {"overlay_value": 257 * 200, "bit_depth": 16}):  # fmt: skip
        check_capabilities(request(options).options, CAPS, "dicom_rs")


def test_overlays_need_version_0_10() -> None:
    old = capability_table("0.9.0")["to_image"]
    assert "overlays" not in old and "overlay_value" not in old
    with pytest.raises(HarnessError) as exc:
        check_capabilities(request({"overlays": False}).options, old, "dicom_rs")
    assert exc.value.field == "options.overlays"


# -- refusals decided from the input ------------------------------------------------------------------------------
def refusal(options: dict[str, Any], **fields: Any) -> tuple[ErrorCode, str | None]:
    with pytest.raises(HarnessError) as exc:
        DicomRsAdapter().check_input(request(options), info(**fields))
    return exc.value.code, exc.value.field


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"transfer_syntax": "1.2.840.10008.1.2.4.90"}, ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX),
        ({"transfer_syntax": "1.2.840.10008.1.2.4.80"}, ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX),
        ({"transfer_syntax": "1.2.840.10008.1.2.4.201"}, ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX),
        ({"transfer_syntax": "1.2.840.10008.1.2.4.51", "bits_stored": 12}, ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX),
        ({"bits_allocated": 32, "bits_stored": 32}, ErrorCode.UNSUPPORTED_OPTION),
        ({"bits_allocated": 1, "bits_stored": 1, "rows": 3, "columns": 5}, ErrorCode.UNSUPPORTED_OPTION),
        ({"photometric": "YBR_FULL_422", "colour": True}, ErrorCode.UNSUPPORTED_OPTION),
    ],
)
def test_inputs_it_cannot_decode_are_refused_before_it_runs(fields: dict[str, Any], code: ErrorCode) -> None:
    assert refusal({}, **fields) == (code, "input")


def test_inputs_it_decodes_pass() -> None:
    adapter = DicomRsAdapter()
    for fields in ({"transfer_syntax": "1.2.840.10008.1.2.4.51", "bits_stored": 8, "bits_allocated": 8},
                   {"transfer_syntax": "1.2.840.10008.1.2.4.70", "bits_stored": 16},
                   {"transfer_syntax": "1.2.840.10008.1.2.5"},
                   {"bits_allocated": 1, "bits_stored": 1, "rows": 4, "columns": 6},
                   {"photometric": "YBR_FULL_422", "colour": True, "transfer_syntax": "1.2.840.10008.1.2.4.50",
                    "bits_allocated": 8, "bits_stored": 8}):  # fmt: skip
        assert adapter.check_input(request({}), info(**fields)) == []


@pytest.mark.parametrize(
    ("options", "fields", "refused"),
    [
        ({"voi": "window"}, {"n_windows": 1}, False),
        ({"voi": "window"}, {"n_windows": 1, "n_voi_luts": 1}, True),  # the tool would take the LUT
        ({"voi": "window"}, {}, True),
        ({"voi": "lut"}, {"n_voi_luts": 2}, False),
        ({"voi": "lut"}, {"n_windows": 1}, True),
        ({"voi": "minmax"}, {}, False),
        ({"voi": "minmax"}, {"n_windows": 1}, True),
    ],
)
def test_voi_honoured_only_where_the_tool_picks_it_itself(
    options: dict[str, Any], fields: dict[str, Any], refused: bool
) -> None:
    adapter = DicomRsAdapter()
    if refused:
        assert refusal(options, **fields) == (ErrorCode.UNSUPPORTED_OPTION, "options.voi")
    else:
        assert adapter.check_input(request(options), info(**fields)) == []


def test_gray_overlays_refused_where_grayscale_cannot_be_restored() -> None:
    assert refusal({"bit_depth": 16}, overlays=[0]) == (ErrorCode.UNSUPPORTED_OPTION, "options.bit_depth")
    adapter = DicomRsAdapter()
    assert adapter.check_input(request({"bit_depth": 16, "overlays": False}), info(overlays=[0])) == []
    assert adapter.check_input(request({"bit_depth": 16}), info()) == []


def test_jpeg_output_refused_for_its_fixed_quality() -> None:
    assert refusal({"format": "jpeg"}) == (ErrorCode.UNSUPPORTED_OPTION, "options.format")
    with pytest.raises(HarnessError) as exc:
        DicomRsAdapter().check_input(request({}, output="/out/ct.jpg"), info())
    assert exc.value.field == "options.format"


def test_overlays_before_0_10_warned_not_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DicomRsAdapter, "tool", lambda self: OLD)
    warnings = DicomRsAdapter().check_input(request({}), info(overlays=[0]))
    assert warnings == ["dicom-toimage 0.9.0 cannot draw overlays (0.10 can); they are not shown"]
    assert DicomRsAdapter().check_input(request({"overlays": False}), info(overlays=[0])) == []


def test_all_frames_refused() -> None:
    assert refusal({"frame": "all"}) == (ErrorCode.UNSUPPORTED_OPTION, "options.frame")


def test_colour_refuses_grayscale_options() -> None:
    with pytest.raises(HarnessError) as exc:
        DicomRsAdapter().check_input(request({"voi": "minmax"}), info(colour=True))
    assert (exc.value.code, exc.value.field) == (ErrorCode.UNSUPPORTED_OPTION, "options.voi")


def test_file_without_meta_is_refused_for_every_op(tmp_path: Path) -> None:
    bare, with_meta, short = tmp_path / "bare.dcm", tmp_path / "meta.dcm", tmp_path / "short.dcm"
    bare.write_bytes(b"\x08\x00\x16\x00" + bytes(200))
    with_meta.write_bytes(bytes(128) + b"DICM" + bytes(64))
    short.write_bytes(b"DICM\x02\x00")
    assert (no_file_meta(bare), no_file_meta(with_meta), no_file_meta(short)) == (True, False, False)
    assert no_file_meta(tmp_path / "absent.dcm") is False
    with pytest.raises(HarnessError) as exc:
        DicomRsAdapter().check_input(request({}), info(path=str(bare)))
    assert (exc.value.code, exc.value.field) == (ErrorCode.UNSUPPORTED_OPTION, "input")


# -- discovery, messages, output ------------------------------------------------------------------------------------
def test_project_local_install_comes_before_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    local, on_path = tmp_path / "local", tmp_path / "path"
    for folder in (local, on_path):
        folder.mkdir()
        exe = folder / "dicom-toimage"
        exe.write_text("#!/bin/sh\necho dicom-toimage 0.10.1\n")
        exe.chmod(0o755)
    monkeypatch.delenv("DICOM_TOIMAGE", raising=False)
    monkeypatch.setenv("PATH", str(on_path))
    monkeypatch.setattr(render, "LOCAL_BIN", local)
    assert DicomRsAdapter().find() == str(local / "dicom-toimage")
    monkeypatch.setattr(render, "LOCAL_BIN", tmp_path / "none")
    assert DicomRsAdapter().find() == str(on_path / "dicom-toimage")
    monkeypatch.setenv("DICOM_TOIMAGE", str(on_path))
    monkeypatch.setattr(render, "LOCAL_BIN", local)
    assert DicomRsAdapter().find() == str(on_path / "dicom-toimage")


def test_error_message_read_from_stdout_without_colours() -> None:
    stdout = (
        b"\x1b[2m2026-12-04T14:20:38Z\x1b[0m \x1b[31mERROR\x1b[0m failed to decode pixel data\n\n"
        b"Caused by these errors (recent errors listed first):\n  1: Could not decode pixel data\n"
        b"  3: unsupported JPEG feature: SamplePrecision(12)\n"
    )
    run = runner.ToolRun(["dicom-toimage"], 254, stdout, b"", 0.1)
    assert tool_message(run) == "3: unsupported JPEG feature: SamplePrecision(12)"
    with pytest.raises(HarnessError) as exc:
        DicomRsAdapter().interpret(run, plan())
    assert exc.value.code == ErrorCode.BACKEND_FAILED
    assert exc.value.message.endswith("SamplePrecision(12)")
    assert tool_message(runner.ToolRun(["x"], 1, b"", b"only stderr\n", 0.1)) == "only stderr"


def test_equal_channel_rgb_stored_as_grayscale(tmp_path: Path) -> None:
    gray = np.arange(48, dtype=np.uint8).reshape(6, 8)
    path = tmp_path / "o.png"
    Image.fromarray(np.stack([gray] * 3, axis=-1)).save(path)
    as_grayscale(path)
    with Image.open(path) as img:
        assert img.mode == "L" and np.array_equal(np.asarray(img), gray)
    colour = np.stack([gray, gray, gray + 1], axis=-1)
    Image.fromarray(colour).save(path)
    as_grayscale(path)
    with Image.open(path) as img:
        assert img.mode == "RGB" and np.array_equal(np.asarray(img), colour)


# -- live -----------------------------------------------------------------------------------------------------
def _missing() -> str | None:
    avail = DicomRsAdapter().availability()
    return None if avail.available else f"dicom-toimage not available: {avail.reason}"


live = pytest.mark.skipif(_missing() is not None, reason=str(_missing()))


def render_both(tmp_path: Path, path: Path | str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    folder = tmp_path / str(len(list(tmp_path.iterdir())))
    folder.mkdir()
    for backend in ("python_ref", "dicom_rs"):
        resp = run({"op": "to_image", "backend": backend, "input": str(path), "options": options or {},
                    "output": str(folder / f"{backend}.png")})  # fmt: skip
        assert resp.ok, resp.error
        with Image.open(resp.outputs[0]) as img:
            out[backend] = (img.mode, np.asarray(img).astype(np.int64))
    return out


@pytest.mark.live
@live
def test_live_pinned_version() -> None:
    assert DicomRsAdapter().availability().version == PINNED_VERSION


@pytest.mark.live
@live
def test_live_stored_window_agrees_with_python_ref(tmp_path: Path) -> None:
    from pydicom.data import get_testdata_file

    out = render_both(tmp_path, str(get_testdata_file("MR_small.dcm")), {"voi": "window", "voi_index": 0})
    (ref_mode, ref), (mode, got) = out["python_ref"], out["dicom_rs"]
    assert (ref_mode, mode, got.shape) == ("L", "L", (64, 64))
    assert np.abs(got - ref).max() <= 1


@pytest.mark.live
@live
def test_live_overlays_burnt_in_and_restored_to_grayscale(tmp_path: Path) -> None:
    from pydicom.data import get_testdata_file

    path = str(get_testdata_file("MR-SIEMENS-DICOM-WithOverlays.dcm"))
    (ref_mode, ref), (mode, got) = render_both(tmp_path, path).values()
    assert (ref_mode, mode) == ("L", "L")
    assert np.abs(got - ref).max() <= 1
    (_, ref_off), (_, got_off) = render_both(tmp_path, path, {"overlays": False}).values()
    assert np.abs(got_off - ref_off).max() <= 1
    drawn = got != got_off
    assert drawn.sum() > 100 and (got[drawn] == 255).all()


@pytest.mark.live
@live
def test_live_undecodable_input_refused_before_the_tool_runs(tmp_path: Path) -> None:
    from pydicom.data import get_testdata_file

    resp = run({"op": "to_image", "backend": "dicom_rs", "input": str(get_testdata_file("JPEG2000.dcm")),
                "output": str(tmp_path / "x.png")})  # fmt: skip
    assert resp.error is not None and resp.error.code == "unsupported_transfer_syntax"
    assert resp.command is None and not (tmp_path / "x.png").exists()


@pytest.mark.live
@live
def test_live_tool_failure_names_the_tool_message(tmp_path: Path) -> None:
    from pydicom.data import get_testdata_file

    resp = run({"op": "to_image", "backend": "dicom_rs", "input": str(get_testdata_file("SC_rgb_jpeg.dcm")),
                "output": str(tmp_path / "x.png")})  # fmt: skip
    assert resp.error is not None and resp.error.code == "backend_failed"
    # under its address-space cap (adapters/native_memory.py) it stops at the reservation; uncapped it took
    # 1.2 GB and then said "failed to fill whole buffer"
    assert "Could not reserve memory for data value (1230128452 bytes)" in resp.error.message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.live
@live
def test_live_registered_ybr_full_green_sign(tmp_path: Path) -> None:
    """The registry entry dicom-rs-ybr-full-green-sign: Y,Cb,Cr 149,44,22 at row 20, column 0."""
    from pydicom.data import get_testdata_file

    (_, ref), (_, got) = render_both(tmp_path, str(get_testdata_file("SC_ybr_full_uncompressed.dcm"))).values()
    assert ref[20, 0].tolist() == [0, 254, 0]
    assert got[20, 0].tolist() == [0, 196, 0]


# -- live: the other ops ---------------------------------------------------------------------------------------
@pytest.mark.live
@live
def test_live_dump_drops_encapsulated_pixel_data(tmp_path: Path) -> None:
    """The registry entry dicom-rs-json-omits-encapsulated-pixel-data."""
    import json

    from pydicom.data import get_testdata_file

    out = tmp_path / "d.json"
    resp = run({"op": "dump", "backend": "dicom_rs", "input": str(get_testdata_file("JPEG2000.dcm")),
                "output": str(out)})  # fmt: skip
    assert resp.ok, resp.error
    model = json.loads(out.read_text())
    assert "7FE00010" not in model and model["00280010"]["Value"] == [1024]


@pytest.mark.live
@live
def test_live_file_without_meta_refused_for_dump(tmp_path: Path) -> None:
    from pydicom.data import get_testdata_file

    resp = run({"op": "dump", "backend": "dicom_rs", "input": str(get_testdata_file("OT-PAL-8-face.dcm")),
                "output": str(tmp_path / "d.json")})  # fmt: skip
    assert resp.error is not None and (resp.error.code, resp.error.field) == ("unsupported_option", "input")
    assert resp.command is None


@pytest.mark.live
@live
def test_live_jpegls_colour_components_scrambled(tmp_path: Path) -> None:
    """The registry entry dicom-rs-jpegls-colour-components-scrambled: black RGB pixels come back green."""
    import pydicom
    from pydicom.data import get_testdata_file

    src = str(get_testdata_file("US1_UNCR.dcm"))
    out = tmp_path / "x.dcm"
    resp = run({"op": "transcode", "backend": "dicom_rs", "input": src, "output": str(out),
                "options": {"transfer_syntax": "jpeg_ls_lossless"}})  # fmt: skip
    assert resp.ok, resp.error
    assert pydicom.dcmread(src).pixel_array[100, 100].tolist() == [0, 0, 0]
    assert pydicom.dcmread(out).pixel_array[100, 100].tolist() == [0, 84, 0]
