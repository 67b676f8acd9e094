"""``modify`` (issue 15): the contract, the resolution of paths, VRs and values before anything runs, python_ref's
result on real sample files, the argv / body of every toolkit (golden), the conformance comparison, and live runs of
dcmtk, gdcm and Orthanc against python_ref (``live``; skipped, saying why, where the tool is absent)."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest

from dcmharness.adapters.base import check_capabilities
from dcmharness.adapters.dcm4che import modify as dcm4che_modify
from dcmharness.adapters.dcmtk import modify as dcmtk_modify
from dcmharness.adapters.gdcm import adapter as gdcm
from dcmharness.adapters.orthanc import modify as orthanc_modify
from dcmharness.backends.base import Outcome
from dcmharness.backends.modify import Change, check_value, parse_path, resolve
from dcmharness.contract.errors import HarnessError
from dcmharness.contract.ops_models import ModifyOptions, ModifyRequest
from dcmharness.contract.validation import parse_request
from dcmharness.interface.api import run
from dcmharness.interface.conform.ops import modify as conform_modify
from dcmharness.interface.samples import find

RTPLAN_REF = "ReferencedStructureSetSequence[0].ReferencedSOPInstanceUID"
RTPLAN_REF_TAGS = "(300C,0060)[0].(0008,1155)"


def _run(tmp_path: Path, name: str, options: dict[str, Any], backend: str = "python_ref", out: str = "o.dcm") -> Any:
    return run(
        {
            "op": "modify",
            "input": str(find(name)),
            "output": str(tmp_path / out),
            "backend": backend,
            "overwrite": True,
            "options": options,
        }
    )


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _error(response: Any) -> tuple[str, str | None]:
    assert not response.ok, response
    return response.error.code, response.error.field


# -- contract -----------------------------------------------------------------------------------------------
def test_contract_parses_paths_and_rejects_bad_ones() -> None:
    request = parse_request(
        {
            "op": "modify",
            "input": "a.dcm",
            "options": {"insert": [{"path": RTPLAN_REF_TAGS, "value": "1.2"}], "erase": ["PatientID"]},
        }
    )
    assert isinstance(request, ModifyRequest)
    assert request.options.insert[0].path == RTPLAN_REF_TAGS
    assert request.options.erase == ["PatientID"]
    for options, field in (
        ({"erase": ["Patient.ID"]}, "options.erase[0]"),
        ({"insert": [{"path": "PatientName", "value": 7}]}, "options.insert[0].value"),
        ({"insert": [{"path": "PatientName", "value": "x", "vr": "OB"}]}, "options.insert[0].vr"),
        ({"modify": [{"path": "PatientName", "value": "x", "extra": 1}]}, "options.modify[0].extra"),
        ({"regenerate_uids": ["study", "study"]}, "options.regenerate_uids"),
        ({"regenerate_uids": ["patient"]}, "options.regenerate_uids[0]"),
    ):
        with pytest.raises(HarnessError) as info:
            parse_request({"op": "modify", "input": "a.dcm", "options": options})
        assert info.value.code == "invalid_request"
        assert info.value.field == field, options


def test_parse_path_by_keyword_and_by_tag_agree() -> None:
    by_keyword = parse_path(RTPLAN_REF, "f")
    assert by_keyword == parse_path(RTPLAN_REF_TAGS, "f") == parse_path("300C0060[0].00081155", "f")
    assert [(s.tag, s.index) for s in by_keyword] == [(0x300C0060, 0), (0x00081155, None)]
    change = Change("modify", "options.modify[0]", by_keyword, "UI", "1.2")
    assert change.dcmtk_path() == "(300C,0060)[0].(0008,1155)"


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("NoSuchKeyword", "not a keyword"),
        ("ReferencedStructureSetSequence.ReferencedSOPInstanceUID", "needs an item index"),
        ("PatientName[0]", "names an item"),
        ("(0002,0010)", "File Meta Information"),
        ("(0010,0000)", "group length"),
    ],
)
def test_parse_path_refusals(path: str, words: str) -> None:
    with pytest.raises(HarnessError) as info:
        parse_path(path, "options.erase[0]")
    assert info.value.field == "options.erase[0]"
    assert words in info.value.message


@pytest.mark.parametrize(
    ("vr", "value", "why"),
    [
        ("DA", "20231345", "calendar"),
        ("DA", "2023/1/1", "YYYYMMDD"),
        ("UI", "1.2.3a", "numeric"),
        ("UI", "1." + "2" * 70, "64"),
        ("US", "70000", "[0, 65535]"),
        ("SS", "1.5", "integer"),
        ("IS", "12x", "IS"),
        ("DS", "abc", "DS"),
        ("CS", "lower", "upper-case"),
        ("SH", "x" * 17, "at most 16"),
        ("AS", "12Y", "age"),
        ("TM", "256000", "TM"),
        ("FD", "nan", "NaN"),
        ("LO", "a\nb", "control"),
    ],
)
def test_check_value_refuses(vr: str, value: str, why: str) -> None:
    reason = check_value(vr, value)
    assert reason is not None and why in reason


@pytest.mark.parametrize(
    ("vr", "value"),
    [("DA", "20240229"), ("UI", "2.25.1"), ("US", "65535"), ("DS", "-1.5e3"), ("CS", "ORIGINAL\\PRIMARY"),
     ("LT", "line\r\nwith \\ backslash"), ("PN", "Doe^John"), ("TM", "235959.123456"), ("IS", ""), ("SL", "-5")],
)  # fmt: skip
def test_check_value_accepts(vr: str, value: str) -> None:
    assert check_value(vr, value) is None


# -- refusals through the dispatcher (before anything runs) ----------------------------------------------------
@pytest.mark.parametrize(
    ("options", "field", "words"),
    [
        ({}, "options", "nothing to do"),
        ({"modify": [{"path": "StudyComments", "value": "x"}]}, "options.modify[0].path", "not in the file"),
        ({"erase": ["StudyComments"]}, "options.erase[0]", "not in the file"),
        ({"insert": [{"path": "StudyDate", "value": "20231345"}]}, "options.insert[0].value", "calendar"),
        ({"insert": [{"path": "Rows", "value": "70000"}]}, "options.insert[0].value", "65535"),
        ({"insert": [{"path": "Rows", "value": "7", "vr": "SS"}]}, "options.insert[0].vr", "US"),
        ({"insert": [{"path": "(0011,0010)", "value": "ACME"}, {"path": "(0011,1001)", "value": "1"}]},
         "options.insert[1].vr", "explicit vr"),
        ({"insert": [{"path": "(0013,1001)", "value": "1", "vr": "LO"}]}, "options.insert[0].path", "private creator"),
        ({"erase": ["PatientID"], "modify": [{"path": "PatientID", "value": "x"}]}, "options.modify[0].path",
         "appear once"),
        ({"modify": [{"path": "ReferencedStudySequence[0].ReferencedSOPInstanceUID", "value": "1.2"}]},
         "options.modify[0].path", "absent"),
        ({"insert": [{"path": "ReferencedImageSequence[0].ReferencedSOPInstanceUID", "value": "1.2"}]},
         "options.insert[0].path", "absent"),
        ({"insert": [{"path": "PixelData", "value": "1"}]}, "options.insert[0]", "cannot be given as text"),
    ],
)  # fmt: skip
def test_refusals_name_the_field(tmp_path: Path, options: dict[str, Any], field: str, words: str) -> None:
    response = _run(tmp_path, "CT_small.dcm", options)
    assert _error(response) == ("invalid_request", field)
    assert words in response.error.message
    assert not (tmp_path / "o.dcm").exists()


def test_never_overwrites_and_never_modifies_the_input(tmp_path: Path) -> None:
    source = tmp_path / "in.dcm"
    shutil.copyfile(find("CT_small.dcm"), source)
    before = _digest(source)
    options = {"modify": [{"path": "PatientName", "value": "X"}]}
    same = run({"op": "modify", "input": str(source), "output": str(source), "overwrite": True, "options": options})
    assert _error(same) == ("invalid_request", "output")
    (tmp_path / "o.dcm").write_bytes(b"keep")
    exists = run({"op": "modify", "input": str(source), "output": str(tmp_path / "o.dcm"), "options": options})
    assert _error(exists) == ("output_exists", "output")
    assert (tmp_path / "o.dcm").read_bytes() == b"keep"
    assert _digest(source) == before


# -- python_ref ------------------------------------------------------------------------------------------------
def test_python_ref_set_insert_erase(tmp_path: Path) -> None:
    source = find("CT_small.dcm")
    before = _digest(source)
    response = _run(
        tmp_path,
        "CT_small.dcm",
        {
            "modify": [{"path": "PatientName", "value": "Doe^John"}],
            "insert": [{"path": "ImageComments", "value": "ACME TRIALS"},
                       {"path": "ImageType", "value": "DERIVED\\SECONDARY"},
                       {"path": "(0028,0106)", "value": "5", "vr": "US"}],
            "erase": ["PatientID"],
        },
    )  # fmt: skip
    assert response.ok, response.error
    out = pydicom.dcmread(tmp_path / "o.dcm")
    assert str(out.PatientName) == "Doe^John"
    assert out.ImageComments == "ACME TRIALS"
    assert list(out.ImageType) == ["DERIVED", "SECONDARY"]
    assert out[0x00280106].VR == "US" and out.SmallestImagePixelValue == 5
    assert "PatientID" not in out
    assert out.SOPInstanceUID == "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"
    assert out.PixelData == pydicom.dcmread(source).PixelData
    assert response.result == {
        "erased": 1,
        "modified": 1,
        "inserted": 3,
        "uids": {},
        "sop_instance_uid": "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322",
        "media_storage_sop_instance_uid": "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322",
    }
    assert response.warnings == ["the modified file is invalid: missing_type2 PatientID (00100020)"]
    assert _digest(source) == before


def test_python_ref_warns_when_an_inserted_attribute_brings_a_module(tmp_path: Path) -> None:
    """Clinical Trial Sponsor Name makes the Clinical Trial Subject module present: its Type 1 attributes are due."""
    response = _run(tmp_path, "CT_small.dcm", {"insert": [{"path": "ClinicalTrialSponsorName", "value": "ACME"}]})
    assert response.ok
    assert "the modified file is invalid: missing_type1 ClinicalTrialProtocolID (00120020)" in response.warnings


def test_python_ref_warns_on_type1(tmp_path: Path) -> None:
    erased = _run(tmp_path, "CT_small.dcm", {"erase": ["Modality"]})
    assert erased.ok and erased.warnings == ["the modified file is invalid: missing_type1 Modality (00080060)"]
    emptied = _run(tmp_path, "CT_small.dcm", {"modify": [{"path": "SeriesInstanceUID", "value": ""}]}, out="e.dcm")
    assert emptied.ok
    assert emptied.warnings == ["the modified file is invalid: empty_type1 SeriesInstanceUID (0020000E)"]
    assert pydicom.dcmread(tmp_path / "e.dcm").SeriesInstanceUID == ""


def test_python_ref_nested_by_keyword_and_by_tag(tmp_path: Path) -> None:
    a = _run(tmp_path, "rtplan.dcm", {"modify": [{"path": RTPLAN_REF, "value": "1.2.3.4"}]}, out="a.dcm")
    b = _run(tmp_path, "rtplan.dcm", {"modify": [{"path": RTPLAN_REF_TAGS, "value": "1.2.3.4"}]}, out="b.dcm")
    assert a.ok and b.ok and a.warnings == []
    ds_a, ds_b = pydicom.dcmread(tmp_path / "a.dcm"), pydicom.dcmread(tmp_path / "b.dcm")
    assert ds_a.ReferencedStructureSetSequence[0].ReferencedSOPInstanceUID == "1.2.3.4"
    assert conform_modify.compare_datasets(ds_a, ds_b) == []
    original = pydicom.dcmread(find("rtplan.dcm"))
    assert conform_modify.compare_datasets(ds_a, original) == [
        "300C0060[0].00081155: '1.2.3.4', reference '1.2.333.444.55.6.7777.88888'"
    ]


def test_python_ref_regenerates_uids_and_keeps_meta_consistent(tmp_path: Path) -> None:
    source = pydicom.dcmread(find("MR_small.dcm"))
    response = _run(tmp_path, "MR_small.dcm", {"regenerate_uids": ["study", "series", "instance"]})
    assert response.ok
    out = pydicom.dcmread(tmp_path / "o.dcm")
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        assert out[keyword].value != source[keyword].value
        assert out[keyword].value.startswith("2.25.")
        assert response.result["uids"][keyword] == {"old": source[keyword].value, "new": out[keyword].value}
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
    assert conform_modify.uid_problems(source, out) == []
    assert conform_modify.uid_problems(source, source) == [
        "StudyInstanceUID not regenerated",
        "SeriesInstanceUID not regenerated",
        "SOPInstanceUID not regenerated",
    ]


def test_python_ref_set_sop_instance_uid_moves_the_meta(tmp_path: Path) -> None:
    response = _run(tmp_path, "CT_small.dcm", {"modify": [{"path": "SOPInstanceUID", "value": "1.2.826.0.1.99"}]})
    assert response.ok
    out = pydicom.dcmread(tmp_path / "o.dcm")
    assert out.SOPInstanceUID == out.file_meta.MediaStorageSOPInstanceUID == "1.2.826.0.1.99"


def test_python_ref_private_with_explicit_vr(tmp_path: Path) -> None:
    options = {
        "insert": [{"path": "(0011,0010)", "value": "ACME"}, {"path": "(0011,1001)", "value": "42\\7", "vr": "US"}]
    }
    response = _run(tmp_path, "CT_small.dcm", options)
    assert response.ok, response.error
    out = pydicom.dcmread(tmp_path / "o.dcm")
    assert out[0x00110010].VR == "LO" and out[0x00110010].value == "ACME"
    assert out[0x00111001].VR == "US" and list(out[0x00111001].value) == [42, 7]


# -- golden argv / bodies ---------------------------------------------------------------------------------------
def _changes(name: str, **options: Any) -> list[Change]:
    return resolve(ModifyOptions(**options), pydicom.dcmread(find(name), stop_before_pixels=True))


def test_dcmtk_golden_argv() -> None:
    changes = _changes(
        "rtplan.dcm",
        erase=["PatientBirthDate"],
        modify=[{"path": RTPLAN_REF, "value": "1.2.3.4"}],
        insert=[{"path": "StudyDescription", "value": "A=B"}, {"path": "ImageType", "value": "DERIVED\\SECONDARY"}],
    )
    argv = dcmtk_modify.build_modify_argv(changes, ["instance", "study"], "/usr/bin/dcmodify", "/t/x.dcm")
    assert argv == [
        "/usr/bin/dcmodify", "-nb",
        "-e", "(0010,0030)",
        "-m", "(300C,0060)[0].(0008,1155)=1.2.3.4",
        "-i", "(0008,1030)=A=B",
        "-i", "(0008,0008)=DERIVED\\SECONDARY",
        "-gst", "-gin", "/t/x.dcm",
    ]  # fmt: skip
    assert dcmtk_modify.build_modify_argv(changes[:1], [], "dcmodify", "x.dcm") == [
        "dcmodify", "-nb", "-e", "(0010,0030)", "x.dcm"
    ]  # fmt: skip


def test_dcmtk_refuses_private_elements_it_would_write_as_un() -> None:
    from dcmharness.backends.preflight import inspect

    info = inspect(str(find("CT_small.dcm")), need_pixels=False)
    new = _changes("CT_small.dcm", insert=[{"path": "(0011,0010)", "value": "A"}, {"path": "(0011,1001)", "value": "1",
                                                                                   "vr": "LO"}])  # fmt: skip
    with pytest.raises(HarnessError) as err:
        dcmtk_modify.check_modify(new, info)
    assert (err.value.code, err.value.field) == ("unsupported_option", "options.insert[1].vr")
    dcmtk_modify.check_modify(new[:1], info)  # a private creator is LO: fine


def test_gdcm_golden_argv_and_refusals() -> None:
    changes = _changes(
        "CT_small.dcm",
        erase=["PatientID"],
        modify=[{"path": "PatientName", "value": "Doe^John"}, {"path": "ReferringPhysicianName", "value": ""}],
        insert=[{"path": "ImageType", "value": "DERIVED\\SECONDARY"}],
    )
    gdcm.check_modify(changes)
    assert gdcm.build_modify_argv(changes, "/usr/bin/gdcmanon", "/in.dcm", "/out.dcm") == [
        "/usr/bin/gdcmanon", "--dumb",
        "--remove", "0010,0020",
        "--replace", "0010,0010=Doe^John",
        "--empty", "0008,0090",
        "--replace", "0008,0008=DERIVED\\SECONDARY",
        "-i", "/in.dcm", "-o", "/out.dcm",
    ]  # fmt: skip
    with pytest.raises(HarnessError) as err:
        gdcm.check_modify(_changes("rtplan.dcm", modify=[{"path": RTPLAN_REF, "value": "1.2"}]))
    assert (err.value.code, err.value.field) == ("unsupported_option", "options.modify[0].path")
    with pytest.raises(HarnessError) as err:
        check_capabilities(ModifyOptions(regenerate_uids=["instance"]), gdcm.capability_table()["modify"], "gdcm")
    assert err.value.field == "options.regenerate_uids"


def test_orthanc_golden_body_and_refusals() -> None:
    from dcmharness.backends.preflight import inspect

    changes = _changes(
        "rtplan.dcm",
        erase=["PatientBirthDate"],
        modify=[{"path": RTPLAN_REF, "value": "1.2.3.4"}],
        insert=[{"path": "StudyDescription", "value": ""}],
    )
    body = orthanc_modify.modify_body(changes, ["study", "instance"], lambda: "2.25.7")
    assert body == {
        "Force": True,
        "Replace": {"(300C,0060)[0].(0008,1155)": "1.2.3.4", "(0008,1030)": "", "(0020,000D)": "2.25.7"},
        "Remove": ["(0010,0030)"],
        "Keep": ["SeriesInstanceUID"],
    }
    set_sop = _changes("rtplan.dcm", modify=[{"path": "SOPInstanceUID", "value": "1.2.3"}])
    assert orthanc_modify.modify_body(set_sop, [], lambda: "unused")["Keep"] == [
        "StudyInstanceUID",
        "SeriesInstanceUID",
    ]
    info = inspect(str(find("rtplan.dcm")), need_pixels=False)
    with pytest.raises(HarnessError) as err:
        orthanc_modify.check_modify(_changes("rtplan.dcm", erase=["PatientID"]), info)
    assert (err.value.code, err.value.field) == ("unsupported_option", "options.erase[0]")


def test_dcm4che_golden_document_argv_and_refusals() -> None:
    changes = _changes(
        "CT_small.dcm",
        modify=[{"path": "PatientName", "value": "Doe^John"}, {"path": "SliceThickness", "value": "1.25"}],
        insert=[{"path": "ImageType", "value": "DERIVED\\SECONDARY"}, {"path": "StudyDescription", "value": ""},
                {"path": "(0028,0106)", "value": "5", "vr": "US"}],
    )  # fmt: skip
    dcm4che_modify.check_modify(changes)
    assert dcm4che_modify.modify_document(changes) == {
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^John"}]},
        "00180050": {"vr": "DS", "Value": [1.25]},
        "00080008": {"vr": "CS", "Value": ["DERIVED", "SECONDARY"]},
        "00081030": {"vr": "LO"},
        "00280106": {"vr": "US", "Value": [5]},
    }
    assert dcm4che_modify.modify_argv("/opt/dcm4che/bin/json2dcm", "/in.dcm", "/c.json", "/out.dcm") == [
        "/opt/dcm4che/bin/json2dcm", "-i", "/in.dcm", "-j", "/c.json", "-o", "/out.dcm"
    ]  # fmt: skip
    for refused, field in (
        (_changes("CT_small.dcm", erase=["PatientID"]), "options.erase[0]"),
        (_changes("rtplan.dcm", modify=[{"path": RTPLAN_REF, "value": "1.2"}]), "options.modify[0].path"),
        (_changes("CT_small.dcm", modify=[{"path": "SOPInstanceUID", "value": "1.2"}]), "options.modify[0].path"),
    ):
        with pytest.raises(HarnessError) as err:
            dcm4che_modify.check_modify(refused)
        assert (err.value.code, err.value.field) == ("unsupported_option", field)


# -- the conformance comparison ------------------------------------------------------------------------------------
def test_same_value_normalises_padding_and_numbers() -> None:
    assert conform_modify.same_value("DS", "1.50", "1.5")
    assert conform_modify.same_value("LO", "ABC ", "ABC")
    assert conform_modify.same_value("CS", ["A", "B"], ["A", "B"])
    assert not conform_modify.same_value("CS", ["A", "B"], ["A"])
    assert not conform_modify.same_value("OB", b"\x00\x01", b"\x00\x02")
    assert conform_modify.same_value("LO", None, "")


def test_cases_for_the_samples() -> None:
    ct = pydicom.dcmread(find("CT_small.dcm"), stop_before_pixels=True)
    names = [name for name, _ in conform_modify.cases_for(ct)]
    assert names == ["set", "insert", "values", "empty", "erase", "nested", "uids", "private", "private_existing"]
    rtplan = pydicom.dcmread(find("rtplan.dcm"), stop_before_pixels=True)
    nested = dict(conform_modify.cases_for(rtplan))["nested"]
    assert nested == {
        "modify": [{"path": "(300A,0010)[0].(300A,0014)", "value": "DCMHARNESS"}]
    }  # Dose Reference Structure Type


# -- live ------------------------------------------------------------------------------------------------------------
def _live(backend: str) -> None:
    from dcmharness.interface import registry

    avail = registry.get(backend).availability()
    if not avail.available:
        pytest.skip(f"{backend} not available here: {avail.reason}")


@pytest.fixture(scope="module")
def orthanc_live() -> Iterator[None]:
    from dcmharness.interface import registry

    if not os.path.exists("/usr/sbin/Orthanc") and not os.environ.get("DCMHARNESS_ORTHANC_URL"):
        pytest.skip("/usr/sbin/Orthanc is missing (apt-get install orthanc orthanc-dicomweb orthanc-gdcm)")
    from dcmharness.adapters.orthanc.server import orthanc_pids

    _live("orthanc")
    yield
    registry.get("orthanc").close()
    assert orthanc_pids(parent=os.getpid()) == [], "an Orthanc started by this test process is still running"


LIVE_OPTIONS: dict[str, Any] = {
    "modify": [{"path": "PatientName", "value": "Doe^John"}],
    "insert": [{"path": "ClinicalTrialSponsorName", "value": "ACME"}],
    "erase": ["PatientBirthDate"],
}


def _against_reference(tmp_path: Path, name: str, backend: str, options: dict[str, Any]) -> Outcome:
    ref = _run(tmp_path, name, options, out="ref.dcm")
    got = _run(tmp_path, name, options, backend=backend, out=f"{backend}.dcm")
    assert ref.ok and got.ok, (ref.error, got.error)
    levels = options.get("regenerate_uids", ())
    problems = conform_modify.compare_outputs(find(name), got.outputs[0], ref.outputs[0], levels)
    assert problems == []
    assert got.warnings == ref.warnings
    assert "the modified file is invalid: missing_type2 PatientBirthDate (00100030)" in ref.warnings
    return Outcome(result=got.result or {})


@pytest.mark.live
def test_live_dcmtk(tmp_path: Path) -> None:
    _live("dcmtk")
    options = {**LIVE_OPTIONS, "modify": [*LIVE_OPTIONS["modify"], {"path": RTPLAN_REF_TAGS, "value": "1.2.3.4"}]}
    outcome = _against_reference(
        tmp_path, "rtplan.dcm", "dcmtk", {**options, "regenerate_uids": ["series", "instance"]}
    )
    assert set(outcome.result["uids"]) == {"SeriesInstanceUID", "SOPInstanceUID"}
    assert outcome.result["sop_instance_uid"] == outcome.result["media_storage_sop_instance_uid"]


@pytest.mark.live
def test_live_gdcm(tmp_path: Path) -> None:
    _live("gdcm")
    _against_reference(tmp_path, "rtplan.dcm", "gdcm", LIVE_OPTIONS)
    refused = _run(tmp_path, "rtplan.dcm", {"modify": [{"path": RTPLAN_REF, "value": "1.2"}]}, backend="gdcm")
    assert _error(refused) == ("unsupported_option", "options.modify[0].path")


@pytest.mark.live
def test_live_orthanc(tmp_path: Path, orthanc_live: None) -> None:
    options = {**LIVE_OPTIONS, "modify": [*LIVE_OPTIONS["modify"], {"path": RTPLAN_REF, "value": "1.2.3.4"}]}
    outcome = _against_reference(
        tmp_path, "rtplan.dcm", "orthanc", {**options, "regenerate_uids": ["study", "instance"]}
    )
    assert set(outcome.result["uids"]) == {"StudyInstanceUID", "SOPInstanceUID"}
    refused = _run(tmp_path, "rtplan.dcm", {"erase": ["PatientID"]}, backend="orthanc")
    assert _error(refused) == ("unsupported_option", "options.erase[0]")


def test_python_ref_writes_a_bare_data_set_as_a_part10_file(tmp_path: Path) -> None:
    """rtstruct.dcm has no File Meta Information; the output gets one, as dcmodify, gdcmanon and Orthanc write."""
    response = _run(tmp_path, "rtstruct.dcm", {"modify": [{"path": "PatientName", "value": "Doe^John"}]})
    assert response.ok, response.error
    out = pydicom.dcmread(tmp_path / "o.dcm")
    assert out.preamble is not None
    assert out.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2"
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
    assert out.file_meta.MediaStorageSOPClassUID == "1.2.840.10008.5.1.4.1.1.481.3"


def test_meta_problems_catch_a_stale_media_storage_uid(tmp_path: Path) -> None:
    response = _run(tmp_path, "CT_small.dcm", {"modify": [{"path": "PatientName", "value": "X"}]})
    assert response.ok
    good = pydicom.dcmread(tmp_path / "o.dcm")
    assert conform_modify.meta_problems(good, good) == []
    stale = pydicom.dcmread(tmp_path / "o.dcm")
    stale.SOPInstanceUID = "1.2.3"
    assert conform_modify.meta_problems(stale, good) == ["MediaStorageSOPInstanceUID differs from SOPInstanceUID"]
    stale.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    assert conform_modify.meta_problems(stale, good)[1] == (
        "Transfer Syntax UID 1.2.840.10008.1.2, reference 1.2.840.10008.1.2.1"
    )


def test_change_values_split_at_backslash_except_single_valued_vrs() -> None:
    steps = parse_path("ImageComments", "f")
    assert Change("insert", "f", steps, "LT", "a\\b").values() == ["a\\b"]
    assert Change("insert", "f", steps, "CS", "A\\B").values() == ["A", "B"]
    assert Change("insert", "f", steps, "CS", "").values() == []
