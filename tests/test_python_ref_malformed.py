"""Malformed LUTs, palettes and windows in the input give a contract error (decode_failed), never a traceback."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from dcmharness.interface.api import run
from dcmharness.interface.synth import cases_color, cases_gray
from dcmharness.interface.synth.dataset import write


def _no_green_descriptor(ds: Dataset) -> None:
    del ds.GreenPaletteColorLookupTableDescriptor


def _empty_red_data(ds: Dataset) -> None:
    ds.RedPaletteColorLookupTableData = b""


def _short_red_descriptor(ds: Dataset) -> None:
    ds.RedPaletteColorLookupTableDescriptor = [256, 0]


def _bad_segment_type(ds: Dataset) -> None:
    ds.SegmentedRedPaletteColorLookupTableData = np.asarray([7, 2, 0, 0], "<u2").tobytes()


def _self_referencing_indirect(ds: Dataset) -> None:
    ds.SegmentedRedPaletteColorLookupTableData = np.asarray([0, 1, 5, 2, 5, 0, 0], "<u2").tobytes()


def _truncated_segment(ds: Dataset) -> None:
    ds.SegmentedRedPaletteColorLookupTableData = np.asarray([0, 9, 1, 2], "<u2").tobytes()


def _empty_voi_lut(ds: Dataset) -> None:
    ds.VOILUTSequence[0].LUTData = b""


def _voi_bits_zero(ds: Dataset) -> None:
    ds.VOILUTSequence[0].LUTDescriptor = [4096, 0, 0]


def _no_modality_lut_data(ds: Dataset) -> None:
    del ds.ModalityLUTSequence[0].LUTData


def _text_window_center(ds: Dataset) -> None:
    ds[0x00281050] = DataElement(0x00281050, "LO", "abc")


CASES: list[tuple[Callable[[], object], Callable[[Dataset], None]]] = [
    (cases_color.palette_16bit, _no_green_descriptor),
    (cases_color.palette_16bit, _empty_red_data),
    (cases_color.palette_16bit, _short_red_descriptor),
    (cases_color.palette_segmented, _bad_segment_type),
    (cases_color.palette_segmented, _self_referencing_indirect),
    (cases_color.palette_segmented, _truncated_segment),
    (cases_gray.voi_lut_claims16_holds12, _empty_voi_lut),
    (cases_gray.voi_lut_claims16_holds12, _voi_bits_zero),
    (cases_gray.modality_lut_none_range, _no_modality_lut_data),
    (cases_gray.linear_stored_window, _text_window_center),
]


@pytest.mark.parametrize(("builder", "damage"), CASES, ids=[d.__name__.strip("_") for _, d in CASES])
def test_malformed_input_is_decode_failed(
    tmp_path: Path, builder: Callable[[], object], damage: Callable[[Dataset], None]
) -> None:
    built = builder()
    ds: Dataset = built.ds  # type: ignore[attr-defined]
    damage(ds)
    path = tmp_path / "damaged.dcm"
    write(ds, path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        resp = run({"op": "to_image", "input": str(path), "output": str(tmp_path / "out.png")})
    assert not resp.ok
    assert resp.error is not None and resp.error.code == "decode_failed", resp.error
    assert not (tmp_path / "out.png").exists()


def test_stored_window_width_below_one_is_a_threshold(tmp_path: Path) -> None:
    built = cases_gray.linear_w1_threshold()
    built.ds.WindowCenter, built.ds.WindowWidth = 100, 0.5  # LINEAR needs w >= 1: read as w = 1
    path = tmp_path / "w05.dcm"
    write(built.ds, path)
    from dcmharness.backends.python_ref import render_array

    assert np.array_equal(render_array(str(path)), built.expected)
