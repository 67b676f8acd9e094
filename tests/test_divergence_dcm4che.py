"""The dcm4che entries of the divergence registry (issue 20): for each difference measured live with
dcm2jpg 5.35.0, the matcher picks the entry that names its cause, and nothing else borrows it (the
little-endian and full-range twins, a larger difference than the entry allows).

The synthetic cases are matched with the dataset their builder writes (``interface.synth``), the sample
files with their own header.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pydicom
import pytest

from dcmharness.interface.conform import divergence as dv
from dcmharness.interface.samples import find
from dcmharness.interface.synth import cases_codec, cases_color, cases_gray

BIG_ENDIAN = "1.2.840.10008.1.2.2"
BUILDERS = {b.__name__: b for b in (*cases_codec.CASES, *cases_color.CASES, *cases_gray.CASES)}


@pytest.fixture(scope="module")
def entries() -> list[dv.Divergence]:
    return dv.load()


def sample_case(name: str, profile: str = "default", **options: Any) -> dv.Case:
    path = find(name)
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    return dv.Case("dcm4che", profile, str(path), options, ds, str(ds.file_meta.TransferSyntaxUID))


def synthetic_case(name: str, profile: str = "synthetic", **options: Any) -> dv.Case:
    built = BUILDERS[name]()
    ts = BIG_ENDIAN if built.big_endian else str(built.ds.file_meta.TransferSyntaxUID)
    opts = {**built.options, **options} if profile == "synthetic" else options
    return dv.Case("dcm4che", profile, f"/tmp/synth/{name}.dcm", opts, built.ds, ts)


def explained_by(entries: list[dv.Divergence], case: dv.Case, max_abs_diff: float) -> str | None:
    found = dv.find_explanation(entries, case, max_abs_diff, shape_and_mode_match=True).entry
    return found.id if found else None


# (case, measured max abs difference in issue 20, entry expected to explain it)
MEASURED = [
    (lambda: sample_case("SC_rgb_small_odd_big_endian.dcm"), 158, "dcm4che-odd-length-big-endian-ow-last-byte"),
    (lambda: sample_case("SC_ybr_full_422_uncompressed.dcm"), 14, "dcm4che-ybr-full-422-partial-coefficients"),
    (lambda: synthetic_case("ybr_full_422_native"), 19, "dcm4che-ybr-full-422-partial-coefficients"),
    (lambda: synthetic_case("ybr_full_422_native", "default"), 19, "dcm4che-ybr-full-422-partial-coefficients"),
    (lambda: synthetic_case("high_bit_not_top", "default"), 223, "dcm4che-high-bit-ignored"),
    (lambda: synthetic_case("high_bit_not_top", "explicit_window", window_center=512, window_width=256), 255,
     "dcm4che-high-bit-ignored"),
    (lambda: synthetic_case("voi_lut_8bit_packed_big_endian", "default"), 249,
     "dcm4che-voi-lut-8bit-packed-big-endian-unswapped"),
    (lambda: synthetic_case("voi_lut_8bit_packed_big_endian", "jpeg", format="jpeg", quality=90), 253,
     "dcm4che-voi-lut-8bit-packed-big-endian-unswapped"),
    (lambda: synthetic_case("linear_half_borders"), 28, "dcm4che-integer-window-ramp-narrow"),
    (lambda: synthetic_case("linear_w1_threshold"), 255, "dcm4che-w1-threshold-one-value-late"),
]  # fmt: skip


@pytest.mark.parametrize(("make", "measured", "entry"), MEASURED)
def test_each_measured_difference_has_its_entry(
    entries: list[dv.Divergence], make: Any, measured: float, entry: str
) -> None:
    assert explained_by(entries, make(), measured) == entry


@pytest.mark.parametrize(
    ("make", "measured"),
    [
        (lambda: sample_case("SC_rgb_small_odd.dcm"), 158),  # little endian: no swap, nothing to explain
        (lambda: synthetic_case("voi_lut_8bit_packed_ow", "default"), 249),  # the same LUT in a little-endian file
        (lambda: sample_case("SC_ybr_full_uncompressed.dcm"), 14),  # YBR_FULL (not 4:2:2) converts right
        (lambda: sample_case("US1_J2KR.dcm"), 14),  # compressed: the decoder converts to RGB
        (lambda: synthetic_case("ybr_full_422_native"), 24),  # beyond PARTIAL vs FULL
        (lambda: synthetic_case("linear_half_borders"), 29),  # more than the ramp explains
        (lambda: synthetic_case("linear_half_borders", "explicit_window", window_center=10, window_width=5), 28),
        (lambda: synthetic_case("linear_stored_window"), 28),  # another file
    ],
)
def test_twins_and_larger_differences_stay_unexplained(
    entries: list[dv.Divergence], make: Any, measured: float
) -> None:
    case = make()
    found = explained_by(entries, case, measured)
    assert found is None or not found.startswith("dcm4che-"), (case.input, found)


def test_the_damaged_jpeg_failure_is_named(entries: list[dv.Divergence]) -> None:
    failure = dv.find_failure(entries, sample_case("SC_rgb_jpeg.dcm"))
    assert failure is not None and failure.id == "dcm4che-jpeg-premature-end"
    assert dv.find_failure(entries, sample_case("SC_rgb_jpeg_dcmtk.dcm")) is None
    assert explained_by(entries, sample_case("SC_rgb_jpeg.dcm"), 1) is None  # names a failure, explains no pixels


def test_entries_concern_dcm4che_only(entries: list[dv.Divergence]) -> None:
    ours = [e for e in entries if e.id.startswith("dcm4che-")]
    assert len(ours) == 7
    assert all(e.backends == ("dcm4che",) and "issue 20" in e.source for e in ours)
    dcmtk = replace(sample_case("SC_rgb_small_odd_big_endian.dcm"), backend="dcmtk")
    assert explained_by(entries, dcmtk, 158) is None
