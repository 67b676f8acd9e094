"""Issue 2's acceptance check: an explicit window on CT_small equals PS3.3 C.11.2.1.2.1 LINEAR applied to the
rescaled values, rounded half up (floor(y + 0.5))."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from tests.conftest import responses, run_cli

# (row, col): (stored value, HU, expected 8-bit level) for window c=40, w=400, worked by hand:
#   borders: x <= c-0.5-(w-1)/2 = -160 -> 0 ; x > c-0.5+(w-1)/2 = 239 -> 255
#   else y = ((x - 39.5)/399 + 0.5) * 255
HAND = {
    (0, 0): (175, -849.0, 0),  # below the window
    (64, 64): (1928, 904.0, 255),  # above the window
    (10, 100): (1227, 203.0, 232),  # (163.5/399 + 0.5)*255 = 231.99 -> 232
    (100, 20): (1043, 19.0, 114),  # (-20.5/399 + 0.5)*255 = 114.40 -> 114
    (60, 90): (999, -25.0, 86),  # (-64.5/399 + 0.5)*255 = 86.28 -> 86
}


def linear_8bit(hu: np.ndarray, c: float, w: float) -> np.ndarray:
    """The standard's LINEAR function written out again, independently of the renderer."""
    y = ((hu - (c - 0.5)) / (w - 1) + 0.5) * 255
    y = np.where(hu <= c - 0.5 - (w - 1) / 2, 0, np.where(hu > c - 0.5 + (w - 1) / 2, 255, y))
    return np.floor(y + 0.5).astype(np.uint8)


def test_stdin_request_writes_linear_window_png(tmp_path: Path, ct_small: Path) -> None:
    request = {
        "op": "to_image",
        "input": str(ct_small),
        "output": "ct.png",
        "options": {"window_center": 40, "window_width": 400},
    }
    status, out, err = run_cli("run", stdin=json.dumps(request), cwd=tmp_path)
    assert status == 0, err
    (resp,) = responses(out)
    assert resp["ok"] is True
    assert resp["outputs"] == [str(tmp_path / "ct.png")]
    assert resp["result"]["voi"] == {"source": "explicit", "center": 40.0, "width": 400.0, "function": "linear"}
    img = Image.open(tmp_path / "ct.png")
    assert img.mode == "L" and img.size == (128, 128)
    pixels = np.asarray(img)
    ds = pydicom.dcmread(ct_small)
    stored = ds.pixel_array
    for (r, c), (sv, hu, level) in HAND.items():
        assert stored[r, c] == sv
        assert float(stored[r, c]) * float(ds.RescaleSlope) + float(ds.RescaleIntercept) == hu
        assert pixels[r, c] == level, (r, c)
    expected = linear_8bit(stored.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept), 40, 400)
    assert np.abs(pixels.astype(int) - expected.astype(int)).max() == 0


@pytest.mark.parametrize(("preset", "center", "width"), [("lung", -600, 1500), ("bone", 400, 1800), ("brain", 40, 80)])
def test_window_preset_equals_explicit_window(ct_small: Path, preset: str, center: int, width: int) -> None:
    import dcmharness

    a = dcmharness.render(str(ct_small), window_preset=preset)
    b = dcmharness.render(str(ct_small), window_center=center, window_width=width)
    assert np.array_equal(a, b)
    ds = pydicom.dcmread(ct_small)
    hu = ds.pixel_array.astype(np.float64) + float(ds.RescaleIntercept)
    assert np.array_equal(a, linear_8bit(hu, center, width))


def test_python_api_returns_array_without_writing(
    tmp_path: Path, ct_small: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dcmharness

    monkeypatch.chdir(tmp_path)
    arr = dcmharness.render(str(ct_small), window_center=40, window_width=400)
    assert arr.dtype == np.uint8 and arr.shape == (128, 128)
    assert arr[10, 100] == 232
    assert list(tmp_path.iterdir()) == []
