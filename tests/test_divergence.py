"""The divergence registry: parsing, validation, matching, and the repository's own registry file."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from dcmharness.interface.conform import divergence as dv
from dcmharness.interface.conform.profiles import PROFILES

ENTRY = """
[[divergence]]
id = "tool-mono1"
backends = ["tool"]
profiles = ["default", "inverse"]
dataset = { PhotometricInterpretation = ["MONOCHROME1", "MONOCHROME2"], BitsStored = 12 }
options = { voi = "auto" }
files = ["RG*"]
max_abs_diff = 2
cause = "because."
source = "PS3.3 C.7.6.3.1.2"
"""


def _ds(**attrs: object) -> Dataset:
    ds = Dataset()
    for k, v in attrs.items():
        setattr(ds, k, v)
    return ds


def _case(**kw: object) -> dv.Case:
    base: dict[str, object] = {
        "backend": "tool",
        "profile": "default",
        "input": "/x/RG1_UNCI.dcm",
        "options": {},
        "dataset": _ds(PhotometricInterpretation="MONOCHROME1", BitsStored=12),
        "transfer_syntax": "1.2.840.10008.1.2.1",
    }
    base.update(kw)
    return dv.Case(**base)  # type: ignore[arg-type]


def test_parse_entry_fields() -> None:
    (e,) = dv.parse(ENTRY)
    assert e.id == "tool-mono1" and e.backends == ("tool",) and e.profiles == ("default", "inverse")
    assert e.dataset == {"PhotometricInterpretation": ("MONOCHROME1", "MONOCHROME2"), "BitsStored": (12,)}
    assert e.options == {"voi": "auto"} and e.files == ("RG*",)
    assert e.max_abs_diff == 2.0 and e.any_difference is False
    assert e.as_dict()["max_abs_diff"] == 2.0 and "any_difference" not in e.as_dict()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[divergence]]\nid = "A b"', "kebab-case"),
        ('[[divergence]]\nid = "a"\nbackends=["x"]\ncause="c"\nsource="s"', "exactly one effect"),
        (
            '[[divergence]]\nid = "a"\nbackends=["x"]\ncause="c"\nsource="s"\nmax_abs_diff=1\nany_difference=true',
            "exactly one effect",
        ),
        (
            '[[divergence]]\nid = "a"\nbackends=["x"]\ncause="c"\nsource="s"\nany_difference=true\ntool_fails=true',
            "exactly one effect",
        ),
        ('[[divergence]]\nid = "a"\nbackends=["x"]\ncause="c"\nsource="s"\ntool_fails="yes"', "tool_fails must be"),
        ('[[divergence]]\nid = "a"\nbackends=["x"]\ncause="c"\nsource="s"\nmax_abs_diff=-1', ">= 0"),
        ('[[divergence]]\nid = "a"\nbackends=[]\ncause="c"\nsource="s"\nmax_abs_diff=1', "non-empty list"),
        ('[[divergence]]\nid = "a"\ncause="c"\nsource="s"\nmax_abs_diff=1', "backends is required"),
        ('[[divergence]]\nid = "a"\nbackends=["x"]\ncause=""\nsource="s"\nmax_abs_diff=1', "cause must be"),
        ('[[divergence]]\nid = "a"\nbackends=["x"]\ncause="c"\nsource="s"\nmax_abs_diff=1\nwhen="x"', "unknown field"),
        (
            '[[divergence]]\nid = "a"\nbackends=["x"]\ncause="c"\nsource="s"\nmax_abs_diff=1\n'
            '[[divergence]]\nid = "a"\nbackends=["x"]\ncause="c"\nsource="s"\nmax_abs_diff=1',
            "duplicate",
        ),
        ("divergence = 3", "[[divergence]]"),
        ("[[divergence]\n", "not valid TOML"),
        ('[[other]]\nid="a"', "unknown top-level"),
    ],
)
def test_malformed_registry_is_refused(text: str, message: str) -> None:
    with pytest.raises(dv.RegistryError, match=message.replace("[", r"\[").replace("]", r"\]")):
        dv.parse(text)


def test_conditions_all_hold() -> None:
    (e,) = dv.parse(ENTRY)
    assert dv.conditions_hold(e, _case())


@pytest.mark.parametrize(
    "change",
    [
        {"backend": "other"},
        {"profile": "minmax"},
        {"input": "/x/CT_small.dcm"},
        {"options": {"voi": "minmax"}},
        {"dataset": _ds(PhotometricInterpretation="RGB", BitsStored=12)},
        {"dataset": _ds(PhotometricInterpretation="MONOCHROME1", BitsStored=16)},
        {"dataset": _ds(PhotometricInterpretation="MONOCHROME1")},  # BitsStored absent
        {"dataset": None},
    ],
)
def test_any_failing_condition_prevents_the_match(change: dict[str, object]) -> None:
    (e,) = dv.parse(ENTRY)
    assert not dv.conditions_hold(e, _case(**change))


def test_options_compare_with_the_contract_defaults() -> None:
    # voi = "auto" is the default: a request that leaves voi out still matches
    assert dv.options_match({"voi": "auto"}, {})
    assert dv.options_match({"modality_lut": True}, {"window_center": 40.0, "window_width": 400.0})
    assert not dv.options_match({"modality_lut": True}, {"modality_lut": False})
    assert dv.options_match({"window_center": 40}, {"window_center": 40.0, "window_width": 400.0})
    assert not dv.options_match({"voi_function": "sigmoid"}, {})  # null never matches


def test_values_equal_is_numeric_then_textual() -> None:
    assert dv.values_equal("1", 1) and dv.values_equal(12, "12.0") and dv.values_equal("CT", " CT ")
    assert not dv.values_equal("CT", "MR") and not dv.values_equal(True, 1) and dv.values_equal(True, True)


def test_dataset_present_absent_multivalue_and_transfer_syntax() -> None:
    ds = _ds(ImageType=["ORIGINAL", "PRIMARY", "AXIAL"], Modality="CT")
    assert dv.dataset_matches({"ImageType": ("AXIAL",)}, ds, None)
    assert dv.dataset_matches({"Modality": (dv.PRESENT,)}, ds, None)
    assert not dv.dataset_matches({"RescaleSlope": (dv.PRESENT,)}, ds, None)
    assert dv.dataset_matches({"RescaleSlope": (dv.ABSENT,)}, ds, None)
    assert not dv.dataset_matches({"Modality": (dv.ABSENT,)}, ds, None)
    jpeg = "1.2.840.10008.1.2.4.50"
    assert dv.dataset_matches({"TransferSyntaxUID": (jpeg, "1.2.840.10008.1.2.4.51")}, ds, jpeg)
    assert not dv.dataset_matches({"TransferSyntaxUID": (jpeg,)}, ds, "1.2.840.10008.1.2.1")


def test_file_globs_on_name_or_path() -> None:
    assert dv.files_match(["RG*"], "/a/b/RG1_UNCI.dcm")
    assert not dv.files_match(["rg*"], "/a/b/RG1_UNCI.dcm")  # case-sensitive
    assert dv.files_match(["*/synthetic/*.dcm"], "/out/synthetic/mono1_default.dcm")


def test_effect_bounds_and_any_difference() -> None:
    (e,) = dv.parse(ENTRY)
    assert dv.effect_covers(e, 2.0, True) and not dv.effect_covers(e, 3.0, True)
    assert not dv.effect_covers(e, 0.0, False)  # a shape/mode difference needs any_difference
    anything = dv.parse(ENTRY.replace("max_abs_diff = 2", "any_difference = true"))[0]
    assert dv.effect_covers(anything, float("inf"), False)


def test_tool_fails_names_failures_and_explains_no_difference() -> None:
    (fails,) = dv.parse(ENTRY.replace("max_abs_diff = 2", "tool_fails = true"))
    assert fails.tool_fails and fails.as_dict()["tool_fails"] is True and "max_abs_diff" not in fails.as_dict()
    assert not dv.effect_covers(fails, 0.5, True) and not dv.effect_covers(fails, float("inf"), False)
    (anything,) = dv.parse(ENTRY.replace("max_abs_diff = 2", "any_difference = true"))
    case = _case()
    assert dv.conditions_hold(fails, case) and dv.conditions_hold(anything, case)
    assert dv.find_failure([anything, fails], case) is fails  # a pixel entry is never a failure's cause
    assert dv.find_failure([anything], case) is None
    assert dv.find_explanation([fails], case, 5.0, True).entry is None


def test_find_explanation_skips_exceeded_entries() -> None:
    tight, loose = dv.parse(
        ENTRY.replace('id = "tool-mono1"', 'id = "tight"').replace("max_abs_diff = 2", "max_abs_diff = 1")
        + ENTRY.replace('id = "tool-mono1"', 'id = "loose"').replace("max_abs_diff = 2", "max_abs_diff = 5")
    )
    found = dv.find_explanation([tight, loose], _case(), 4.0, True)
    assert found.entry is loose and found.exceeded == ("tight",)
    none = dv.find_explanation([tight, loose], _case(), 6.0, True)
    assert none.entry is None and none.exceeded == ("tight", "loose")


def test_stale_entries_only_for_backends_and_profiles_that_ran() -> None:
    entries = dv.parse(ENTRY + ENTRY.replace("tool-mono1", "other-one").replace('["tool"]', '["other"]'))
    assert dv.stale_entries(entries, set(), ["tool"], list(PROFILES)) == ["tool-mono1"]
    assert dv.stale_entries(entries, {"tool-mono1"}, ["tool", "other"], list(PROFILES)) == ["other-one"]
    # an entry about another op (profiles = ["anonymize"]) or profiles not run is never stale here
    assert dv.stale_entries(entries, set(), ["tool", "other"], ["minmax"]) == []


def test_the_repository_registry_is_valid_and_consistent() -> None:
    """Every engineer appends to interface/conform/divergences.toml: it must always load (ids unique, fields valid)."""
    entries = dv.load()
    assert len({e.id for e in entries}) == len(entries)
    assert all(e.backends and e.cause and e.source for e in entries)


def test_missing_registry_file_is_empty(tmp_path: Path) -> None:
    assert dv.load(tmp_path / "none.toml") == []
