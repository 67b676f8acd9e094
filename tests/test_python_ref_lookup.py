"""The grayscale stages run once per distinct stored value (``lookup.py``) give the output of the stages run on
every pixel: every sample file, the windows, functions, bit depths, presentations and a palette."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

from dcmharness.backends.preflight import inspect
from dcmharness.backends.python_ref.lookup import distinct_values
from dcmharness.backends.python_ref.pipeline import render_frame
from dcmharness.contract.errors import HarnessError
from dcmharness.contract.options import ToImageOptions
from dcmharness.interface.samples import image_files

OPTION_SETS: list[dict[str, Any]] = [
    {},  # the file's own VOI LUT or window, else min-max
    {"voi": "minmax"},
    {"window_center": 40, "window_width": 400, "voi_function": "sigmoid", "bit_depth": 16},
    {"window_center": 100.5, "window_width": 1, "voi_function": "linear_exact"},
    {"voi": "minmax", "presentation": "inverse", "colormap": "hot_iron"},
    {"modality_lut": False, "voi": "none", "bit_depth": 16},
]
#: Renders compared (measured 2026-12-04): the sample files that render x the option sets, less the refusals
#: (grayscale options on colour images).
COMPARED = 590


def test_distinct_values_of_a_small_frame() -> None:
    stored = np.array([[5, -2, 5, 5, 5], [7, -2, 0, 0, 0]], dtype=np.int32)  # 10 values in the range, 10 pixels
    found = distinct_values(stored)
    assert found is not None
    assert found.values.tolist() == [-2, 0, 5, 7] and found.values.dtype == np.int32
    assert found.lowest == -2 and len(found.present) == 10
    table = np.array([10, 20, 30, 40], dtype=np.uint8)
    assert found.expand(table).tolist() == [[30, 10, 30, 30, 30], [40, 10, 20, 20, 20]]
    rgb = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]], dtype=np.uint8)
    assert found.expand(rgb)[1, 0].tolist() == [10, 11, 12]


def test_no_lookup_for_floats_or_a_range_wider_than_the_frame() -> None:
    assert distinct_values(np.array([[0.5, 1.0]])) is None
    assert distinct_values(np.array([[0, 70000]], dtype=np.int32)) is None  # 70001 values, 2 pixels
    assert distinct_values(np.zeros((0, 4), dtype=np.int32)) is None


def _render(info: Any, options: ToImageOptions, by_value: bool) -> tuple[Any, ...] | str:
    try:
        out = render_frame(info.dataset, 0, options, info.transfer_syntax, by_value=by_value)
    except HarnessError as exc:
        return exc.code.value
    return out.image, out.mode, out.voi, out.modality, out.inverted, out.overlays


@pytest.mark.slow
def test_lookup_renders_every_sample_file_as_the_stages_on_every_pixel() -> None:
    compared = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in image_files():
            try:
                info = inspect(str(path))
            except HarnessError:
                continue
            for raw in OPTION_SETS:
                options = ToImageOptions.model_validate(raw)
                direct = _render(info, options, by_value=False)
                by_value = _render(info, options, by_value=True)
                if isinstance(direct, str) or isinstance(by_value, str):
                    assert direct == by_value, (path.name, raw)
                    continue
                assert direct[0].dtype == by_value[0].dtype, (path.name, raw)
                assert np.array_equal(direct[0], by_value[0]), (path.name, raw)
                assert direct[1:] == by_value[1:], (path.name, raw)
                compared += 1
    assert compared >= COMPARED
