"""The dicom-rs adapter: golden argv tests (no tool needed), refusals, and live tests wherever
``dicom-toimage`` is on PATH (skipped with the reason elsewhere)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset

from dcmharness.adapters.base import ToolInfo, check_capabilities
from dcmharness.adapters.dicom_rs.render import DicomRsAdapter, build_to_image_argv, capability_table, tool_output
from dcmharness.backends.outputs import OutputPlan, OutputTarget
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import ToImageRequest
from dcmharness.interface import registry
from dcmharness.interface.api import run

TOOL = ToolInfo("/usr/local/bin/dicom-toimage", "0.9.0")
IN = "/data/ct.dcm"
TEMP = "/out/.ct.dcmharness-1-ab.tmp.png"
CAPS = capability_table(TOOL.version)["to_image"]


def info(*, colour: bool = False, overlays: list[int] | None = None, path: str = IN) -> InputInfo:
    ds = Dataset()
    ds.PhotometricInterpretation = "RGB" if colour else "MONOCHROME2"
    ds.SamplesPerPixel = 3 if colour else 1
    return InputInfo(
        path=Path(path), dataset=ds, transfer_syntax="1.2.840.10008.1.2.1", has_pixel_data=True, rows=4,
        columns=4, samples_per_pixel=3 if colour else 1, bits_allocated=16, bits_stored=12,
        photometric=str(ds.PhotometricInterpretation), overlay_planes=overlays or [],
    )  # fmt: skip


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


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"window_center": 40, "window_width": 400}, "options.window_center"),
        ({"window_preset": "lung"}, "options.window_center"),
        ({"voi": "minmax"}, "options.voi"),
        ({"voi": "window", "voi_index": 1}, "options.voi"),
        ({"voi_function": "sigmoid"}, "options.voi_function"),
        ({"modality_lut": False}, "options.modality_lut"),
        ({"presentation": "inverse"}, "options.presentation"),
        ({"overlays": False}, "options.overlays"),
        ({"overlay_value": 3}, "options.overlay_value"),
        ({"quality": 80}, "options.quality"),
        ({"png_compression": 9}, "options.png_compression"),
    ],
)
def test_every_rendering_option_is_unsupported(options: dict[str, Any], field: str) -> None:
    with pytest.raises(HarnessError) as exc:
        check_capabilities(request(options).options, CAPS, "dicom_rs")
    assert exc.value.code == ErrorCode.UNSUPPORTED_OPTION
    assert exc.value.field == field


def test_defaults_format_and_depth_pass() -> None:
    check_capabilities(request({"bit_depth": 16, "format": "tiff", "frame": 3}).options, CAPS, "dicom_rs")


def test_all_frames_refused_and_overlay_warning() -> None:
    adapter = DicomRsAdapter()
    with pytest.raises(HarnessError) as exc:
        adapter.check_input(request({"frame": "all"}), info())
    assert (exc.value.code, exc.value.field) == (ErrorCode.UNSUPPORTED_OPTION, "options.frame")
    warnings = adapter.check_input(request({}), info(overlays=[0]))
    assert warnings and "overlay" in warnings[0]


def test_colour_refuses_grayscale_options() -> None:
    with pytest.raises(HarnessError) as exc:
        DicomRsAdapter().check_input(request({"presentation": "inverse"}), info(colour=True))
    assert exc.value.code == ErrorCode.UNSUPPORTED_OPTION


# -- live -----------------------------------------------------------------------------------------------------
def _missing() -> str | None:
    avail = DicomRsAdapter().availability()
    return None if avail.available else f"dicom-toimage not available: {avail.reason}"


@pytest.mark.skipif(_missing() is not None, reason=str(_missing()))
def test_live_stored_window_agrees_with_python_ref(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ct_small: Path
) -> None:
    monkeypatch.setitem(registry.BACKENDS, "dicom_rs", "dcmharness.adapters.dicom_rs.render:DicomRsAdapter")
    out = {}
    for backend in ("python_ref", "dicom_rs"):
        resp = run({"op": "to_image", "backend": backend, "input": str(ct_small),
                    "output": str(tmp_path / f"{backend}.png")})  # fmt: skip
        assert resp.ok, resp.error
        out[backend] = np.asarray(Image.open(resp.outputs[0])).astype(np.int64)
    assert out["python_ref"].shape == out["dicom_rs"].shape
