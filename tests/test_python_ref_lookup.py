"""The grayscale stages run once per stored value (``lookup.py``) give the output of the stages run on
every pixel: every sample file, the windows, functions, bit depths, presentations and a palette."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from pydicom.dataset import Dataset

from dcmharness.backends.preflight import inspect
from dcmharness.backends.python_ref.lookup import value_table
from dcmharness.backends.python_ref.modality import is_monotone
from dcmharness.backends.python_ref.pipeline import render_frame
from dcmharness.contract.errors import HarnessError
from dcmharness.contract.options import ToImageOptions
from dcmharness.interface.samples import image_files

OPTION_SETS: list[dict[str, Any]] = [
    {},  # the file's own VOI LUT or window, else min-max; colour as it is
    {"bit_depth": 16},
    {"voi": "minmax"},
    {"window_center": 40, "window_width": 400, "voi_function": "sigmoid", "bit_depth": 16},
    {"window_center": 100.5, "window_width": 1, "voi_function": "linear_exact"},
    {"voi": "minmax", "presentation": "inverse", "colormap": "hot_iron"},
    {"modality_lut": False, "voi": "none", "bit_depth": 16},
]
#: At least this many renders compared (590 measured 2026-12-04 before the {"bit_depth": 16} set was added):
#: the sample files that render x the option sets, less the refusals (grayscale options on colour images).
COMPARED = 590


def test_value_table_of_a_small_frame() -> None:
    stored = np.array([[5, -2, 5, 5, 5], [7, -2, 0, 0, 0]], dtype=np.int32)  # 10 values in the range, 10 pixels
    full = value_table(stored)
    assert full is not None and full.present is None
    assert full.values.tolist() == list(range(-2, 8)) and full.values.dtype == np.int32
    assert full.expand(np.arange(100, 110, dtype=np.uint8)).tolist() == [
        [107, 100, 107, 107, 107],
        [109, 100, 102, 102, 102],
    ]
    found = value_table(stored, present_only=True)
    assert found is not None and found.present is not None
    assert found.values.tolist() == [-2, 0, 5, 7] and len(found.present) == 10
    assert found.expand(np.array([10, 20, 30, 40], dtype=np.uint8)).tolist() == [
        [30, 10, 30, 30, 30],
        [40, 10, 20, 20, 20],
    ]
    rgb = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]], dtype=np.uint8)
    assert found.expand(rgb)[1, 0].tolist() == [10, 11, 12]


def test_no_lookup_for_floats_or_a_range_wider_than_the_frame() -> None:
    assert value_table(np.array([[0.5, 1.0]])) is None
    assert value_table(np.array([[0, 70000]], dtype=np.int32)) is None  # 70001 values, 2 pixels
    assert value_table(np.zeros((0, 4), dtype=np.int32)) is None


def _lut_image(modality_lut: list[int]) -> Dataset:
    """A 4x4 16-bit MONOCHROME2 frame of stored values 0 and 2 only, with a Modality LUT over 0..2."""
    ds = Dataset()
    ds.Rows, ds.Columns, ds.SamplesPerPixel = 4, 4, 1
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    item = Dataset()
    item.LUTDescriptor = [len(modality_lut), 0, 16]
    item.LUTData = modality_lut
    ds.ModalityLUTSequence = [item]
    ds.PixelData = np.array([0, 2] * 8, dtype="<u2").tobytes()
    return ds


def test_min_max_through_a_modality_lut_sees_only_the_values_present() -> None:
    ds = _lut_image([0, 4000, 100])  # value 1 is absent: min-max must be 0..100, not 0..4000
    assert not is_monotone(ds, 0)
    options = ToImageOptions.model_validate({"voi": "minmax"})
    direct = render_frame(ds, 0, options, "1.2.840.10008.1.2.1", by_value=False)
    by_value = render_frame(ds, 0, options, "1.2.840.10008.1.2.1", by_value=True)
    assert direct.voi == by_value.voi == {"source": "minmax", "min": 0.0, "max": 100.0}
    assert by_value.image.tolist() == direct.image.tolist() == [[0, 255] * 2] * 4


def test_a_rescale_is_monotone_unless_not_finite() -> None:
    ds = _lut_image([0, 1, 2])
    del ds.ModalityLUTSequence
    assert is_monotone(ds, 0)
    ds.RescaleSlope, ds.RescaleIntercept = "-2.5", "100"
    assert is_monotone(ds, 0)
    ds.RescaleSlope = "inf"
    assert not is_monotone(ds, 0)
    assert is_monotone(ds, 0, enabled=False)


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
