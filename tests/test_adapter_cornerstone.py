"""The cornerstone adapter without a browser: its refusals, the driver request, the read-back pixels, the
browser's command line and endpoint, and the npm pins."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest

from dcmharness.adapters.base import check_capabilities
from dcmharness.adapters.cornerstone.adapter import (
    CornerstoneAdapter,
    capability_table,
    core_version,
    driver_request,
    pixels_of,
)
from dcmharness.adapters.cornerstone.session import CHROMIUM_FLAGS, chromium_argv, driver_argv, endpoint_from
from dcmharness.backends.preflight import inspect
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.options import ToImageOptions

HERE = Path(__file__).resolve().parents[1] / "adapters" / "cornerstone"
CAPS = capability_table()["to_image"]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"voi": "minmax"}, "voi"),
        ({"voi": "window", "voi_index": 0}, "voi"),
        ({"voi_function": "sigmoid", "window_center": 1, "window_width": 2}, "voi_function"),
        ({"bit_depth": 16}, "bit_depth"),
        ({"format": "jpeg"}, "format"),
        ({"format": "tiff"}, "format"),
        ({"presentation": "inverse"}, "presentation"),
        ({"modality_lut": False}, "modality_lut"),
        ({"overlays": [0]}, "overlays"),
        ({"overlay_value": 100}, "overlay_value"),
        ({"colormap": "spring"}, "colormap"),
        ({"colormap": "1.2.840.10008.1.5.8"}, "colormap"),  # Winter: Cornerstone's Winter is another map
    ],
)
def test_refusals(options: dict[str, object], field: str) -> None:
    with pytest.raises(HarnessError) as err:
        check_capabilities(ToImageOptions.model_validate(options), CAPS, "cornerstone")
    assert (err.value.code, err.value.field) == (ErrorCode.UNSUPPORTED_OPTION, f"options.{field}")


@pytest.mark.parametrize(
    "options",
    [{}, {"window_center": 40, "window_width": 400}, {"window_preset": "lung", "voi_function": "linear"},
     {"overlays": False}, {"frame": "all"}, {"format": "png", "png_compression": 9}, {"colormap": "hot_iron"},
     {"colormap": "1.2.840.10008.1.5.4"}],
)  # fmt: skip
def test_accepted(options: dict[str, object]) -> None:
    check_capabilities(ToImageOptions.model_validate(options), CAPS, "cornerstone")


def test_driver_request(ct_small: Path) -> None:
    info = inspect(str(ct_small))
    opts = ToImageOptions.model_validate({"window_preset": "bone"})
    assert driver_request(7, opts, info, 2) == {
        "id": 7, "input": str(ct_small.resolve()), "frame": 2, "window": [400.0, 1800.0], "colormap": None
    }  # fmt: skip
    assert driver_request(8, ToImageOptions(), info, 0)["window"] is None
    assert driver_request(9, ToImageOptions(colormap="1.2.840.10008.1.5.3"), info, 0)["colormap"] == "hotMetalBlue"
    assert driver_request(9, ToImageOptions(colormap="pet_20_step"), info, 0)["colormap"] == "pet20Step"


def _answer(rgb: np.ndarray, color: bool = False) -> dict[str, object]:
    h, w = rgb.shape[:2]
    return {"width": w, "height": h, "color": color, "pixels": base64.b64encode(rgb.tobytes()).decode()}


def test_pixels_read_back() -> None:
    gray = np.arange(6, dtype=np.uint8).reshape(2, 3)
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    out = pixels_of(_answer(rgb))
    assert out.shape == (2, 3) and out.tolist() == [[0, 1, 2], [3, 4, 5]]
    rgb[0, 0] = (9, 1, 1)
    assert pixels_of(_answer(rgb)).shape == (2, 3, 3)
    assert pixels_of(_answer(np.zeros((2, 3, 3), np.uint8), color=True)).shape == (2, 3, 3)
    bad = _answer(rgb)
    bad["width"] = 4
    with pytest.raises(HarnessError) as err:
        pixels_of(bad)
    assert err.value.code == ErrorCode.BACKEND_FAILED


def test_browser_command_line_is_loopback_and_headless(tmp_path: Path) -> None:
    argv = chromium_argv("/usr/bin/chromium", tmp_path / "p")
    assert argv[0] == "/usr/bin/chromium" and argv[-1] == "about:blank"
    assert "--headless" in argv and "--remote-debugging-address=127.0.0.1" in argv
    assert "--remote-debugging-port=0" in argv and f"--user-data-dir={tmp_path / 'p'}" in argv
    assert set(CHROMIUM_FLAGS) <= set(argv)
    assert driver_argv("/usr/bin/node", "ws://x")[1].endswith("adapters/cornerstone/driver.mjs")


def test_endpoint_from_devtools_active_port() -> None:
    assert endpoint_from("36189\n/devtools/browser/3438ff8c\n") == "ws://127.0.0.1:36189/devtools/browser/3438ff8c"
    assert endpoint_from("36189\n") is None
    assert endpoint_from("x\n/devtools/browser/a") is None
    assert endpoint_from("1\n/elsewhere") is None


def test_packages_are_pinned() -> None:
    package = json.loads((HERE / "package.json").read_text())
    lock = json.loads((HERE / "package-lock.json").read_text())
    for name, version in package["dependencies"].items():
        assert version[0].isdigit(), f"{name} is not pinned: {version}"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
    assert "puppeteer" not in package["dependencies"]  # the one that downloads a browser


def test_version_is_the_installed_core(tmp_path: Path) -> None:
    (tmp_path / "@cornerstonejs" / "core").mkdir(parents=True)
    (tmp_path / "@cornerstonejs" / "core" / "package.json").write_text('{"version": "5.14.0"}')
    assert core_version(tmp_path) == "5.14.0"
    assert core_version(tmp_path / "nowhere") is None
    assert CornerstoneAdapter().capabilities_for(None) == capability_table()


@pytest.mark.parametrize(
    ("name", "options", "code", "field"),
    [
        ("SC_rgb_expb_16bit.dcm", {}, ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX, "input"),  # Explicit VR Big Endian
        ("liver_1frame.dcm", {}, ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX, "input"),  # 1-bit
        ("rtdose_1frame.dcm", {}, ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX, "input"),  # 32-bit
        ("MR-SIEMENS-DICOM-WithOverlays.dcm", {}, ErrorCode.UNSUPPORTED_OPTION, "options.overlays"),
        ("US1_UNCR.dcm", {"colormap": "pet"}, ErrorCode.UNSUPPORTED_OPTION, "options.colormap"),
        ("MR2_UNCR.dcm", {"colormap": "pet"}, ErrorCode.UNSUPPORTED_OPTION, "options.colormap"),  # slope 3.774114
    ],
)
def test_input_refusals(name: str, options: dict[str, object], code: ErrorCode, field: str) -> None:
    from dcmharness.adapters.cornerstone.adapter import refusals
    from dcmharness.interface.samples import find

    info = inspect(str(find(name)))
    with pytest.raises(HarnessError) as err:
        refusals(ToImageOptions.model_validate(options), info)
    assert (err.value.code, err.value.field) == (code, field)


def test_overlays_false_is_honoured_on_overlay_files() -> None:
    from dcmharness.adapters.cornerstone.adapter import refusals
    from dcmharness.interface.samples import find

    info = inspect(str(find("MR-SIEMENS-DICOM-WithOverlays.dcm")))
    refusals(ToImageOptions(overlays=False), info)  # no exception
    refusals(ToImageOptions(), inspect(str(find("CT_small.dcm"))))
    refusals(ToImageOptions(colormap="pet"), inspect(str(find("CT_small.dcm"))))  # slope 1, intercept -1024


def test_deflated_files_are_refused(tmp_path: Path) -> None:
    from dcmharness.adapters.cornerstone.adapter import refusals
    from dcmharness.interface.synth import generate

    case = generate(tmp_path, ["deflate_window"])[0]
    info = inspect(str(case.path))
    assert info.transfer_syntax == "1.2.840.10008.1.2.1.99"
    with pytest.raises(HarnessError) as err:
        refusals(ToImageOptions(), info)
    assert (err.value.code, err.value.field) == (ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX, "input")
