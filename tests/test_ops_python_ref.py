"""The ops beyond to_image on the reference backend: contract, dispatcher preparation, and each op's numbers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_charset_files

from dcmharness.backends.python_ref.ops_anonymize import (
    RESOLVED,
    method_codes,
    profile_table,
    remap_uid,
    shift_date,
    shift_datetime,
)
from dcmharness.backends.python_ref.ops_dump import summarise
from dcmharness.backends.python_ref.ops_stats import frame_histogram, frame_stats, histogram_range, percentile_key
from dcmharness.contract.catalog import OPS
from dcmharness.contract.ops_models import AnonymizeOptions, TranscodeOptions
from dcmharness.contract.validation import parse_request
from dcmharness.interface.api import run
from dcmharness.interface.conform.ops.verify import read_pixels, verify_anonymize, verify_transcode
from dcmharness.interface.samples import find


# -- contract ----------------------------------------------------------------------------------------
def test_catalog_lists_the_new_ops() -> None:
    assert {"dump", "info", "stats", "histogram", "transcode", "anonymize"} <= set(OPS)
    assert OPS["info"].writes_output is False and OPS["transcode"].writes_output is True


@pytest.mark.parametrize(
    ("options", "field", "words"),
    [
        ({"transfer_syntax": "rle_lossless", "quality": 80}, "options.quality", "jpeg_baseline only"),
        ({"transfer_syntax": "jpeg_2000_lossless", "compression_ratio": 5.0}, "options.compression_ratio", "jpeg_2000"),
        ({"transfer_syntax": "jpeg_ls_lossless", "near_lossless": 3}, "options.near_lossless", "near_lossless"),
        ({"transfer_syntax": "mpeg2"}, "options.transfer_syntax", ""),
    ],
)
def test_transcode_option_conflicts_are_invalid_requests(options: dict[str, object], field: str, words: str) -> None:
    resp = run({"op": "transcode", "input": "x.dcm", "options": options})
    assert resp.error is not None and resp.error.code == "invalid_request"
    assert resp.error.field == field and words in resp.error.message


def test_histogram_range_must_increase_and_percentiles_stay_in_0_100() -> None:
    resp = run({"op": "histogram", "input": "x.dcm", "options": {"range": [5, 5]}})
    assert resp.error is not None and (resp.error.code, resp.error.field) == ("invalid_request", "options.range")
    resp = run({"op": "stats", "input": "x.dcm", "options": {"percentiles": [50, 101]}})
    assert resp.error is not None and resp.error.field == "options.percentiles"


def test_transcode_options_know_their_uid_and_losslessness() -> None:
    opts = TranscodeOptions(transfer_syntax="jpeg_ls_lossless")
    assert (opts.uid, opts.lossless) == ("1.2.840.10008.1.2.4.80", True)
    assert TranscodeOptions(transfer_syntax="jpeg_2000").lossless is False
    assert parse_request({"op": "transcode", "input": "a"}).options.transfer_syntax == "explicit_vr_little_endian"  # type: ignore[attr-defined]


# -- dispatcher preparation ----------------------------------------------------------------------
def test_info_and_stats_write_nothing_and_refuse_an_output(ct_small: Path, tmp_path: Path) -> None:
    resp = run({"op": "info", "input": str(ct_small), "output": str(tmp_path / "x.json")})
    assert resp.error is not None and (resp.error.code, resp.error.field) == ("invalid_request", "output")
    assert list(tmp_path.iterdir()) == []


def test_an_output_that_is_the_input_is_refused(ct_small: Path, tmp_path: Path) -> None:
    copy = tmp_path / "ct.dcm"
    copy.write_bytes(ct_small.read_bytes())
    resp = run({"op": "anonymize", "input": str(copy), "output": str(copy), "overwrite": True})
    assert resp.error is not None and (resp.error.code, resp.error.field) == ("invalid_request", "output")
    assert copy.read_bytes() == ct_small.read_bytes()


def test_default_output_names(ct_small: Path, tmp_path: Path) -> None:
    from dcmharness.interface.api import RunContext

    ctx = RunContext(cwd=tmp_path)
    assert run({"op": "dump", "input": str(ct_small)}, ctx).outputs == [str(tmp_path / "CT_small.json")]
    resp = run({"op": "transcode", "input": str(ct_small), "options": {"transfer_syntax": "rle_lossless"}}, ctx)
    assert resp.outputs == [str(tmp_path / "CT_small.rle_lossless.dcm")]
    assert run({"op": "anonymize", "input": str(ct_small)}, ctx).outputs == [str(tmp_path / "CT_small.anon.dcm")]


def test_stats_frame_out_of_range_uses_the_shared_code(ct_small: Path) -> None:
    resp = run({"op": "stats", "input": str(ct_small), "options": {"frame": 1}})
    assert resp.error is not None and (resp.error.code, resp.error.field) == ("frame_out_of_range", "options.frame")


def test_dump_and_info_need_no_pixel_data(tmp_path: Path) -> None:
    path = find("rtplan.dcm")
    assert "PixelData" not in pydicom.dcmread(path)
    info = run({"op": "info", "input": str(path)})
    assert info.ok and info.result is not None
    assert info.result["has_pixel_data"] is False and info.result["frames"] is None
    assert info.result["modality"] == "RTPLAN"
    stats = run({"op": "stats", "input": str(path)})
    assert stats.error is not None and stats.error.code == "no_pixel_data"


# -- stats / histogram (hand-computed) ---------------------------------------------------------------
def test_frame_stats_hand_computed() -> None:
    values = np.array([[0, 1], [2, 3]], dtype=np.int16)
    got = frame_stats(values, [0.0, 25.0, 50.0, 100.0])
    assert got["count"] == 4 and got["zero_count"] == 1 and got["unique"] == 4
    assert (got["min"], got["max"], got["mean"]) == (0.0, 3.0, 1.5)
    assert got["std"] == pytest.approx(math.sqrt(1.25), rel=1e-15)  # population: mean of (1.5^2, .5^2, .5^2, 1.5^2)
    # type 7: rank p/100 * (n - 1) -> 25 % at rank 0.75 -> 0.75; 50 % at rank 1.5 -> 1.5
    assert got["percentiles"] == {"0": 0.0, "25": 0.75, "50": 1.5, "100": 3.0}


def test_percentile_keys() -> None:
    assert [percentile_key(p) for p in (1.0, 2.5, 50.0, 99.9)] == ["1", "2.5", "50", "99.9"]


def test_frame_histogram_bin_formula() -> None:
    values = np.array([0, 1, 2, 3, 4, 5, -1], dtype=np.int32)
    got = frame_histogram(values, 2, [0.0, 4.0])
    # floor(x * 2 / 4): 0,1 -> bin 0; 2,3 -> bin 1; 4 == hi -> last bin; 5 above; -1 below
    assert got == {"range": [0.0, 4.0], "bins": 2, "counts": [2, 3], "below": 1, "above": 1}


def test_histogram_default_range_is_min_max_or_widened() -> None:
    assert histogram_range(np.array([3.0, 7.0]), None) == (3.0, 7.0)
    assert histogram_range(np.array([5.0, 5.0]), None) == (4.5, 5.5)


def test_ct_stats_modality_is_stored_plus_intercept(ct_small: Path) -> None:
    stored = run({"op": "stats", "input": str(ct_small), "options": {"values": "stored", "percentiles": [50]}})
    modality = run({"op": "stats", "input": str(ct_small), "options": {"percentiles": [50]}})
    assert stored.ok and modality.ok and stored.result and modality.result
    s, m = stored.result["frames"][0], modality.result["frames"][0]
    assert modality.result["modality_lut"] == "rescale"  # slope 1, intercept -1024
    assert (s["min"], s["max"], s["count"]) == (128.0, 2191.0, 128 * 128)
    assert (m["min"], m["max"]) == (128.0 - 1024, 2191.0 - 1024)
    assert m["mean"] == pytest.approx(s["mean"] - 1024, abs=1e-9)
    assert m["std"] == pytest.approx(s["std"], rel=1e-12)
    assert m["percentiles"]["50"] == s["percentiles"]["50"] - 1024


def test_histogram_counts_add_up_per_frame() -> None:
    path = find("emri_small.dcm")
    resp = run({"op": "histogram", "input": str(path), "options": {"bins": 16, "values": "stored"}})
    assert resp.ok and resp.result is not None
    frames = resp.result["frames"]
    assert [f["frame"] for f in frames] == list(range(10))
    ds = pydicom.dcmread(path)
    assert all(sum(f["counts"]) == ds.Rows * ds.Columns and f["below"] == f["above"] == 0 for f in frames)


# -- dump / info ---------------------------------------------------------------------------------------
def test_dump_writes_the_dicom_json_model(ct_small: Path, tmp_path: Path) -> None:
    out = tmp_path / "ct.json"
    resp = run({"op": "dump", "input": str(ct_small), "output": str(out)})
    assert resp.ok and resp.outputs == [str(out)]
    model = json.loads(out.read_text(encoding="utf-8"))
    assert model["00100010"] == {"vr": "PN", "Value": [{"Alphabetic": "CompressedSamples^CT1"}]}
    assert model["00280010"] == {"vr": "US", "Value": [128]}
    assert model["7FE00010"] == {"vr": "OW"}  # bulk data omitted: the vr only
    assert resp.result == {"attributes": len(model), "transfer_syntax": "1.2.840.10008.1.2.1", "bulk_data": "omit"}


def test_dump_inline_bulk_data_round_trips(ct_small: Path, tmp_path: Path) -> None:
    import base64

    out = tmp_path / "ct.json"
    assert run({"op": "dump", "input": str(ct_small), "output": str(out), "options": {"bulk_data": "inline"}}).ok
    model = json.loads(out.read_text(encoding="utf-8"))
    assert base64.b64decode(model["7FE00010"]["InlineBinary"]) == pydicom.dcmread(ct_small).PixelData


@pytest.mark.parametrize(
    ("name", "alphabetic", "ideographic"),
    [("chrX1.dcm", "Wang^XiaoDong", "王^小東"), ("chrH31.dcm", "Yamada^Tarou", "山田^太郎")],
)
def test_dump_decodes_character_sets(name: str, alphabetic: str, ideographic: str, tmp_path: Path) -> None:
    out = tmp_path / "c.json"
    assert run({"op": "dump", "input": get_charset_files(name)[0], "output": str(out)}).ok
    pn = json.loads(out.read_text(encoding="utf-8"))["00100010"]["Value"][0]
    assert (pn["Alphabetic"], pn["Ideographic"]) == (alphabetic, ideographic)


def test_info_summary_of_ct(ct_small: Path) -> None:
    resp = run({"op": "info", "input": str(ct_small)})
    assert resp.ok and resp.result is not None
    r = resp.result
    assert (r["modality"], r["rows"], r["columns"], r["frames"], r["bits_stored"]) == ("CT", 128, 128, 1, 16)
    assert (r["rescale_slope"], r["rescale_intercept"], r["pixel_representation"]) == (1.0, -1024.0, 1)
    assert r["pixel_spacing"] == [0.661468, 0.661468]
    assert r["patient_name"] == "CompressedSamples^CT1" and r["transfer_syntax"] == "1.2.840.10008.1.2.1"


def test_summarise_ignores_group_lengths_and_private_unless_asked() -> None:
    model = {
        "00080000": {"vr": "UL", "Value": [4]},
        "00080060": {"vr": "CS", "Value": ["MR"]},
        "00090010": {"vr": "LO", "Value": ["X"]},
        "00020010": {"vr": "UI", "Value": ["1.2.840.10008.1.2"]},
    }
    assert summarise(model, None)["number_of_attributes"] == 1
    assert summarise(model, None, include_private=True)["number_of_attributes"] == 2
    assert summarise(model, None)["transfer_syntax"] == "1.2.840.10008.1.2"


# -- transcode ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "target",
    [
        "implicit_vr_little_endian",
        "explicit_vr_little_endian",
        "deflated_explicit_vr_little_endian",
        "rle_lossless",
        "jpeg_2000_lossless",
        "jpeg_ls_lossless",
    ],
)
def test_transcode_lossless_is_bit_identical(target: str, tmp_path: Path) -> None:
    src = find("MR_small.dcm")
    out = tmp_path / f"{target}.dcm"
    resp = run({"op": "transcode", "input": str(src), "output": str(out), "options": {"transfer_syntax": target}})
    if resp.error is not None and resp.error.code == "unsupported_option":
        pytest.skip(f"no encoder here: {resp.error.message}")
    assert resp.ok and resp.result is not None and resp.result["lossless"] is True
    uid = TranscodeOptions(transfer_syntax=target).uid  # type: ignore[arg-type]
    check = verify_transcode(src, out, uid, True)
    assert check["problems"] == [] and check["pixels"] == {"identical": True, "max_abs_diff": 0.0}
    assert pydicom.dcmread(out).SOPInstanceUID == pydicom.dcmread(src).SOPInstanceUID


def test_transcode_from_compressed_input(tmp_path: Path) -> None:
    src = find("MR_small_RLE.dcm")
    out = tmp_path / "x.dcm"
    resp = run(
        {"op": "transcode", "input": str(src), "output": str(out), "options": {"transfer_syntax": "jpeg_2000_lossless"}}
    )
    assert resp.ok
    assert np.array_equal(read_pixels(out), read_pixels(find("MR_small.dcm")))


def test_transcode_refuses_what_pydicom_cannot_encode(ct_small: Path, tmp_path: Path) -> None:
    resp = run(
        {
            "op": "transcode",
            "input": str(ct_small),
            "output": str(tmp_path / "x.dcm"),
            "options": {"transfer_syntax": "jpeg_lossless_sv1"},
        }
    )
    assert resp.error is not None and (resp.error.code, resp.error.field) == (
        "unsupported_option",
        "options.transfer_syntax",
    )
    assert list(tmp_path.iterdir()) == []


def test_transcode_lossy_j2k_gets_a_new_instance_uid(ct_small: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.dcm"
    resp = run(
        {
            "op": "transcode",
            "input": str(ct_small),
            "output": str(out),
            "options": {"transfer_syntax": "jpeg_2000", "compression_ratio": 5.0},
        }
    )
    assert resp.ok and resp.result is not None and resp.result["lossless"] is False
    ds = pydicom.dcmread(out)
    assert ds.SOPInstanceUID != pydicom.dcmread(ct_small).SOPInstanceUID
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.91"


# -- anonymize ------------------------------------------------------------------------------------------
def test_profile_table_comes_from_the_standard_package() -> None:
    table = profile_table()
    assert "PS3.15 Table E.1-1" in table.source and "dicomanonymizer" in table.source
    assert len(table.actions) > 600
    assert table.action(0x00100010) == "Z"  # Patient's Name
    assert table.action(0x00100020) in ("Z", "Z/D")  # Patient ID: Z/D in the 2026c edition, Z before
    assert table.action(0x0020000D) == "U"  # Study Instance UID
    assert table.action(0x60023000) == "X"  # Overlay Data, repeating group 60xx
    assert table.action(0x00280010) is None  # Rows: kept
    assert set(RESOLVED) >= set(table.actions.values())


def test_uid_remapping_is_keyed_and_well_formed() -> None:
    a = remap_uid("1.2.3", b"k")
    assert a == remap_uid("1.2.3 ", b"k") and a != remap_uid("1.2.3", b"other") and a != remap_uid("1.2.4", b"k")
    assert a.startswith("2.25.") and a[5:].isdigit() and int(a[5:]) < 2**128 and len(a) <= 64


def test_date_shifting() -> None:
    assert shift_date("20040119", -10) == "20040109"
    assert shift_date("20240301", -1) == "20240229"  # leap year
    assert shift_date("garbage", 3) == ""
    assert shift_datetime("20040119072730.000000+0100", 1) == "20040120072730.000000+0100"


def test_method_codes_follow_the_options() -> None:
    assert [c for c, _ in method_codes(AnonymizeOptions())] == ["113100"]
    opts = AnonymizeOptions(retain_uids=True, date_shift_days=5, remove_private_tags=False)
    assert [c for c, _ in method_codes(opts)] == ["113100", "113110", "113107", "113111"]


def test_anonymize_ct(ct_small: Path, tmp_path: Path) -> None:
    before = ct_small.read_bytes()
    out = tmp_path / "a.dcm"
    resp = run({"op": "anonymize", "input": str(ct_small), "output": str(out), "options": {"uid_secret": "k"}})
    assert resp.ok and resp.result is not None
    assert ct_small.read_bytes() == before  # input untouched
    ds, orig = pydicom.dcmread(out), pydicom.dcmread(ct_small)
    assert ds.PatientName == "" and ds.PatientID.startswith("ANON-") and ds.PatientIdentityRemoved == "YES"
    assert ds.StudyInstanceUID == remap_uid(orig.StudyInstanceUID, b"k")
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID == remap_uid(orig.SOPInstanceUID, b"k")
    assert not [e for e in ds if e.tag.is_private] and resp.result["private_removed"] == 179
    assert ds.PixelData == orig.PixelData
    assert verify_anonymize(ct_small, out, {"uid_secret": "k"})["problems"] == []


def test_anonymize_options(ct_small: Path, tmp_path: Path) -> None:
    out = tmp_path / "a.dcm"
    opts = {"retain_uids": True, "date_shift_days": -10, "remove_private_tags": False, "patient_id": "P1"}
    assert run({"op": "anonymize", "input": str(ct_small), "output": str(out), "options": opts}).ok
    ds, orig = pydicom.dcmread(out), pydicom.dcmread(ct_small)
    assert ds.SOPInstanceUID == orig.SOPInstanceUID and ds.StudyDate == "20040109" and ds.PatientID == "P1"
    assert [e.tag for e in ds if e.tag.is_private] and ds.LongitudinalTemporalInformationModified == "MODIFIED"


def test_verify_anonymize_catches_what_remains(ct_small: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.dcm"
    ds = pydicom.dcmread(ct_small)
    ds.save_as(bad)  # nothing anonymized
    problems = verify_anonymize(ct_small, bad)["problems"]
    assert "00100010: attribute the profile empties (Z) has a value" in problems
    assert any("private attribute remains" in p for p in problems)
    assert any(p.startswith("00080018: UID not remapped") for p in problems)


def test_swap_bytes_per_word() -> None:
    from dcmharness.backends.python_ref.ops_transcode import swap_bytes

    assert swap_bytes(b"\x01\x02\x03\x04\x05", 2) == b"\x02\x01\x04\x03\x05"
    assert swap_bytes(b"\x01\x02\x03\x04", 4) == b"\x04\x03\x02\x01"


@pytest.mark.parametrize("name", ["MR_small_bigendian.dcm", "ExplVR_BigEnd.dcm"])
@pytest.mark.parametrize("target", ["explicit_vr_little_endian", "rle_lossless"])
def test_transcode_big_endian_and_colour_by_plane_inputs(name: str, target: str, tmp_path: Path) -> None:
    src, out = find(name), tmp_path / "x.dcm"
    resp = run({"op": "transcode", "input": str(src), "output": str(out), "options": {"transfer_syntax": target}})
    assert resp.ok, resp.error
    uid = TranscodeOptions(transfer_syntax=target).uid  # type: ignore[arg-type]
    assert verify_transcode(src, out, uid, True)["problems"] == []


def test_ct_percentiles_follow_the_type_7_formula(ct_small: Path) -> None:
    """The documented formula, computed by hand (sorted values, rank p/100 * (n - 1)), against the op."""
    values = sorted(int(v) - 1024 for v in pydicom.dcmread(ct_small).pixel_array.ravel())
    n = len(values)

    def type7(p: float) -> float:
        rank = p / 100 * (n - 1)
        lo = math.floor(rank)
        hi = min(lo + 1, n - 1)
        return values[lo] + (rank - lo) * (values[hi] - values[lo])

    resp = run({"op": "stats", "input": str(ct_small), "options": {"percentiles": [0.5, 10, 33.3, 50, 99.9]}})
    assert resp.ok and resp.result is not None
    got = resp.result["frames"][0]["percentiles"]
    for p in (0.5, 10, 33.3, 50, 99.9):
        assert got[percentile_key(p)] == pytest.approx(type7(p), abs=1e-9)
    assert resp.result["frames"][0]["unique"] == len(set(values))
    assert resp.result["frames"][0]["zero_count"] == values.count(0)


def test_date_shift_keeps_times_and_shifts_datetimes(ct_small: Path, tmp_path: Path) -> None:
    out = tmp_path / "a.dcm"
    assert run({"op": "anonymize", "input": str(ct_small), "output": str(out), "options": {"date_shift_days": 1}}).ok
    ds, orig = pydicom.dcmread(out), pydicom.dcmread(ct_small)
    assert (orig.StudyDate, ds.StudyDate) == ("20040119", "20040120")
    assert ds.StudyTime == orig.StudyTime  # Z without the option; kept with a whole-day shift
    assert verify_anonymize(ct_small, out, {"date_shift_days": 1})["problems"] == []


@pytest.mark.parametrize("op", ["transcode", "anonymize"])
def test_group_lengths_are_dropped_from_rewritten_files(op: str, tmp_path: Path) -> None:
    src, out = find("ExplVR_BigEnd.dcm"), tmp_path / "x.dcm"
    assert pydicom.dcmread(src)[0x00080000].value > 0  # the input has group lengths
    assert run({"op": op, "input": str(src), "output": str(out)}).ok
    assert [e.tag for e in pydicom.dcmread(out) if e.tag.element == 0] == []


def test_stats_read_a_big_endian_modality_lut_in_the_files_byte_order(tmp_path: Path) -> None:
    """A Modality LUT's OW data in an Explicit VR Big Endian file: the same modality values as its little-endian
    twin (stats used to read the words little-endian whatever the file)."""
    import copy

    from dcmharness.interface import registry
    from dcmharness.interface.synth.cases_gray import modality_lut_desc0_signed
    from dcmharness.interface.synth.dataset import write

    little = modality_lut_desc0_signed().ds
    big = copy.deepcopy(little)
    big.PixelData = np.frombuffer(little.PixelData, dtype="<i2").astype(">i2").tobytes()
    item = big.ModalityLUTSequence[0]
    item.LUTData = np.frombuffer(little.ModalityLUTSequence[0].LUTData, dtype="<u2").astype(">u2").tobytes()
    write(little, tmp_path / "le.dcm")
    write(big, tmp_path / "be.dcm", big_endian=True)
    backends = ["python_ref"] + [b for b in ("rust_render",) if registry.get(b).availability().available]
    answers = {}
    for name in ("le", "be"):
        for backend in backends:
            resp = run({"op": "stats", "backend": backend, "input": str(tmp_path / f"{name}.dcm")})
            assert resp.ok and resp.result is not None, resp.error
            answers[(name, backend)] = resp.result["frames"][0]
    first = answers[("le", "python_ref")]
    # the ramp -32768..32767 through entries i >> 4: modality values 0..4095
    assert (first["min"], first["max"]) == (0.0, 4095.0)
    assert all(a == first for a in answers.values()), answers
