# ruff: noqa: F811  (the fixtures imported from test_conform_fake are redefined as test arguments)
"""The conformance run as a CI gate (issue 18): --baseline, dcmharness diff, --fail-on, --junit, --keep-all."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import xmlschema

from dcmharness.interface.cli import main as cli
from dcmharness.interface.conform import baseline as bl
from dcmharness.interface.conform import junit
from dcmharness.interface.conform.divergence import DEFAULT_REGISTRY
from dcmharness.interface.samples import find
from tests.test_conform_fake import (  # noqa: F401 (fixtures)
    FAKE,
    PROFILE_STATUS,
    REGISTRY_EXPLAINS_MINMAX,
    fake_backend,
    small_corpus,
)

JUNIT_XSD = Path(__file__).parent / "data" / "junit.xsd"
PROFILES = ",".join(PROFILE_STATUS)


def without_entry(registry_text: str, entry_id: str) -> str:
    """The registry without one ``[[divergence]]`` block (the one with ``id = "<entry_id>"``)."""
    blocks = re.split(r"(?m)^(?=\[\[divergence\]\])", registry_text)
    kept = [b for b in blocks if f'id = "{entry_id}"\n' not in b]
    assert len(kept) == len(blocks) - 1, f"{entry_id} is not in the registry"
    return "".join(kept)


def _conform(corpus: Path, out: Path, *extra: str, backends: str = FAKE, profiles: str = PROFILES) -> int:
    args = ["conform", "--corpus", str(corpus), "--backends", backends, "--quiet", "--out", str(out)]
    return cli.main([*args, "--profiles", profiles, *extra]) if profiles else cli.main([*args, *extra])


def _report(out: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((out / "report.json").read_text())
    return doc


def _rec(status: str, backend: str = "b", profile: str = "p", file: str = "/d/x.dcm", **kw: Any) -> dict[str, Any]:
    return {"input": file, "file": Path(file).name, "profile": profile, "backend": backend, "status": status, **kw}


# -- the classification (pure) ------------------------------------------------------------------------------
def test_every_category_and_transition() -> None:
    metrics = {"max_abs_diff": 1.0, "mean_abs_diff": 0.5, "psnr": 50.0}
    old = {
        "results": [
            _rec("match", profile="same"),
            _rec("match", profile="up"),
            _rec("mismatch", profile="down"),
            _rec("error", profile="side", error={"code": "backend_failed"}),
            _rec("error", profile="code", error={"code": "backend_failed"}),
            _rec("explained", profile="entry", divergence={"id": "a"}),
            _rec("within_tolerance", profile="metric", metrics=metrics),
            _rec("within_tolerance", profile="steady", metrics=metrics),
            _rec("match", profile="gone"),
        ]
    }
    new = {
        "results": [
            _rec("match", profile="same"),
            _rec("within_tolerance", profile="up"),
            _rec("explained", profile="down"),
            _rec("mismatch", profile="side"),
            _rec("error", profile="code", error={"code": "timeout"}),
            _rec("explained", profile="entry", divergence={"id": "b"}),
            _rec("within_tolerance", profile="metric", metrics={**metrics, "psnr": 48.5}),
            _rec("within_tolerance", profile="steady", metrics={**metrics, "mean_abs_diff": 0.55}),
            _rec("unsupported", profile="fresh"),
        ]
    }
    comp = bl.compare(old, new)
    got = {c.profile: (c.category, c.before, c.after, c.reasons) for c in comp.changes}
    assert got == {
        "same": ("unchanged", "match", "match", []),
        "up": ("worse", "match", "within_tolerance", ["status match -> within_tolerance"]),
        "down": ("better", "mismatch", "explained", ["status mismatch -> explained"]),
        "side": ("changed", "error", "mismatch", ["status error -> mismatch"]),
        "code": ("changed", "error", "error", ["error code backend_failed -> timeout"]),
        "entry": ("changed", "explained", "explained", ["registry entry a -> b"]),
        "metric": ("metrics", "within_tolerance", "within_tolerance", ["psnr 50.0 -> 48.5"]),
        "steady": ("unchanged", "within_tolerance", "within_tolerance", []),
        "fresh": ("new", None, "unsupported", []),
        "gone": ("vanished", "match", None, []),
    }
    assert comp.counts == {
        "unchanged": 2, "better": 1, "worse": 1, "changed": 3, "metrics": 1, "new": 1, "vanished": 1,
    }  # fmt: skip
    default = [c.profile for c in bl.failing(comp, bl.DEFAULT_FAIL_ON_BASELINE)]
    assert default == ["up", "side"]  # worse, and a mismatch that was not one
    assert [c.profile for c in bl.failing(comp, ("metrics", "vanished"))] == ["metric", "gone"]
    assert [c.profile for c in bl.failing(comp, ("error",))] == ["code"]
    assert bl.failing(comp, ("none",)) == []


def test_rank_order_of_the_statuses() -> None:
    order = ["match", "within_tolerance", "explained", "unsupported", "mismatch"]
    for worse_index, after in enumerate(order):
        for before in order[:worse_index]:
            assert bl.classify(_rec(before), _rec(after), bl.MetricTolerance())[0] == "worse", (before, after)
            assert bl.classify(_rec(after), _rec(before), bl.MetricTolerance())[0] == "better", (after, before)
    assert bl.classify(_rec("error"), _rec("reference_error"), bl.MetricTolerance())[0] == "changed"


def test_keys_are_file_names_unless_they_repeat() -> None:
    results = [
        _rec("match", file="/run1/series1/IM0001"),
        _rec("match", file="/run1/series2/IM0001"),
        _rec("match", file="/run1/series2/IM0002"),
    ]
    assert bl.result_keys(results) == ["series1/IM0001/p/b", "series2/IM0001/p/b", "IM0002/p/b"]
    # the same corpus under another folder (another machine) gives the same keys
    moved = [{**r, "input": r["input"].replace("/run1", "/home/ci/corpus")} for r in results]
    assert bl.result_keys(moved) == bl.result_keys(results)
    # records that differ only by their options (the transcode cross-decoding matrix)
    cross = [_rec("match", options={"encoder": e}) for e in ("dcmtk", "gdcm")]
    assert bl.result_keys(cross) == ['x.dcm/p {"encoder": "dcmtk"}/b', 'x.dcm/p {"encoder": "gdcm"}/b']


def test_metric_tolerance_and_fail_on_parsing() -> None:
    tol = bl.MetricTolerance.parse("max_abs_diff=2, psnr=0.5")
    assert (tol.max_abs_diff, tol.psnr, tol.mean_abs_diff) == (2.0, 0.5, 0.1)
    with pytest.raises(ValueError, match="unknown metric tolerance 'ssim=1'"):
        bl.MetricTolerance.parse("ssim=1")
    with pytest.raises(ValueError, match="finite number >= 0"):
        bl.MetricTolerance.parse("psnr=-1")
    assert bl.parse_fail_on(None, has_baseline=False) == ("mismatch",)
    assert bl.parse_fail_on(None, has_baseline=True) == ("new-mismatch", "new-error", "worse")
    assert bl.parse_fail_on("error,mismatch", has_baseline=False) == ("error", "mismatch")
    with pytest.raises(ValueError, match="--fail-on worse needs --baseline"):
        bl.parse_fail_on("worse", has_baseline=False)
    with pytest.raises(ValueError, match="unknown --fail-on value"):
        bl.parse_fail_on("sometimes", has_baseline=True)


# -- the gate end to end (the fake backend: match, within_tolerance, mismatch/explained, unsupported, error) --
def test_removing_a_registry_entry_reports_exactly_the_cases_that_got_worse(
    fake_backend: str, small_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    full = tmp_path / "full.toml"
    full.write_text(REGISTRY_EXPLAINS_MINMAX)
    fewer = tmp_path / "fewer.toml"
    fewer.write_text(without_entry(REGISTRY_EXPLAINS_MINMAX, "fake-minmax-plus-three"))
    assert _conform(small_corpus, tmp_path / "base", "--registry", str(full)) == 0
    base = _report(tmp_path / "base")
    explained = {
        f"{r['file']}/{r['profile']}/{r['backend']}"
        for r in base["results"]
        if (r["divergence"] or {}).get("id") == "fake-minmax-plus-three" and r["status"] == "explained"
    }
    assert explained == {"CT_small.dcm/minmax/fake", "MR_small.dcm/minmax/fake"}
    capsys.readouterr()

    args = ["--registry", str(fewer), "--baseline", str(tmp_path / "base" / "report.json")]
    assert _conform(small_corpus, tmp_path / "new", *args, "--junit", str(tmp_path / "junit.xml")) == 1
    out = capsys.readouterr().out
    assert "unchanged 8, worse 2" in out and "transitions: explained -> mismatch (2)" in out
    assert "fail-on new-mismatch,new-error,worse: 2 result(s) fail the run" in out
    block = _report(tmp_path / "new")["summary"]["baseline"]
    assert {c["key"] for c in block["changes"] if c["category"] == "worse"} == explained
    assert [c["category"] for c in block["changes"]] == ["worse", "worse"]  # nothing else moved
    assert block["counts"] == {
        "unchanged": 8, "better": 0, "worse": 2, "changed": 0, "metrics": 0, "new": 0, "vanished": 0,
    }  # fmt: skip
    assert all(c["divergence"] == {"before": "fake-minmax-plus-three", "after": None} for c in block["changes"])
    assert _report(tmp_path / "new")["summary"]["gate"] == {
        "fail_on": ["new-mismatch", "new-error", "worse"],
        "failing": 2,
        "baseline": str(tmp_path / "base" / "report.json"),
    }
    page = (tmp_path / "new" / "report.html").read_text()
    assert '<section id="baseline">' in page and "CT_small.dcm/minmax/fake" in page

    # the same comparison from the two reports
    assert cli.main(["diff", str(tmp_path / "base/report.json"), str(tmp_path / "new/report.json")]) == 1
    assert "unchanged 8, worse 2" in capsys.readouterr().out
    # the reverse direction: the two got better, which fails nothing by default
    assert cli.main(["diff", str(tmp_path / "new/report.json"), str(tmp_path / "base/report.json")]) == 0
    assert "unchanged 8, better 2" in capsys.readouterr().out
    assert cli.main(["diff", str(tmp_path / "new/report.json"), str(tmp_path / "base/report.json"),
                     "--fail-on", "better", "--html", str(tmp_path / "d.html")]) == 1  # fmt: skip
    assert "explained" in (tmp_path / "d.html").read_text()


def test_fail_on_chooses_what_fails(
    fake_backend: str, small_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reg = tmp_path / "full.toml"
    reg.write_text(REGISTRY_EXPLAINS_MINMAX)
    assert _conform(small_corpus, tmp_path / "a", "--registry", str(reg)) == 0
    assert _conform(small_corpus, tmp_path / "b", "--registry", str(reg), "--fail-on", "error") == 1  # inverse
    baseline = ["--baseline", str(tmp_path / "a" / "report.json")]
    assert _conform(small_corpus, tmp_path / "c", "--registry", str(reg), *baseline) == 0  # nothing changed
    assert _conform(small_corpus, tmp_path / "d", "--registry", str(reg), *baseline, "--fail-on", "error") == 1
    capsys.readouterr()
    assert _conform(small_corpus, tmp_path / "e", "--fail-on", "worse") == 2
    assert "--fail-on worse needs --baseline" in capsys.readouterr().err
    assert _conform(small_corpus, tmp_path / "f", "--baseline", str(tmp_path / "nope.json")) == 2
    (tmp_path / "bad.json").write_text("{}")
    assert _conform(small_corpus, tmp_path / "g", "--baseline", str(tmp_path / "bad.json")) == 2
    assert "not a report.json" in capsys.readouterr().err


def test_junit_xml_is_valid_and_says_what_failed(
    fake_backend: str, small_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One testcase per file x profile x backend; failures for mismatches and errors, skipped for unsupported."""
    empty = tmp_path / "empty.toml"
    empty.write_text("# nothing\n")
    path = tmp_path / "junit.xml"
    assert _conform(small_corpus, tmp_path / "o", "--registry", str(empty), "--junit", str(path)) == 1
    xmlschema.XMLSchema(str(JUNIT_XSD)).validate(str(path))
    root = ET.parse(path).getroot()
    (suite,) = root.findall("testsuite")
    assert {k: suite.get(k) for k in ("name", "tests", "failures", "errors", "skipped")} == {
        "name": "dcmharness.to_image.fake", "tests": "10", "failures": "4", "errors": "0", "skipped": "2",
    }  # fmt: skip
    cases = {c.get("name", ""): c for c in suite.findall("testcase")}
    assert sorted(cases) == sorted(f"{f}/{p}" for f in ("CT_small.dcm", "MR_small.dcm") for p in PROFILE_STATUS)
    mismatch = cases["CT_small.dcm/minmax"].find("failure")
    assert mismatch is not None and mismatch.get("type") == "mismatch"
    assert mismatch.get("message") == "unexplained difference from the reference: max_abs_diff 3.0"
    error = cases["MR_small.dcm/inverse"].find("failure")
    assert error is not None and error.get("type") == "error"
    assert error.get("message") == "backend_failed: fake crashed on purpose"
    skipped = cases["CT_small.dcm/none"].find("skipped")
    assert skipped is not None and skipped.get("message", "").startswith("unsupported: unsupported_option:")
    assert list(cases["CT_small.dcm/default"]) == []  # a match passes
    assert cases["CT_small.dcm/default"].get("classname") == "dcmharness.to_image.fake"


def test_junit_schema_rejects_what_ci_readers_reject(tmp_path: Path) -> None:
    """The schema is not a formality: two results in one test case, a zoned timestamp, a failure without
    type are each refused."""
    schema = xmlschema.XMLSchema(str(JUNIT_XSD))
    report = {
        "summary": {"reference": {"name": "python_ref", "version": "1"}, "backends": [{"name": "b"}],
                    "profiles": ["p"], "started_at": "2026-12-04T10:00:00+00:00"},
        "results": [_rec("mismatch", metrics={"max_abs_diff": 9}, duration_ms=1500.0),
                    _rec("unsupported", profile="q", error={"code": "unsupported_option", "message": "bad \x01"})],
    }  # fmt: skip
    root = junit.build(report)
    good = tmp_path / "good.xml"
    junit.write(root, good)
    schema.validate(str(good))
    text = good.read_text()
    assert 'timestamp="2026-12-04T10:00:00"' in text and 'time="1.500"' in text
    assert "bad \\x01" in text  # a control character cannot be in XML: escaped
    for broken in (
        text.replace("<failure ", '<skipped /><failure ', 1),
        text.replace('timestamp="2026-12-04T10:00:00"', 'timestamp="2026-12-04T10:00:00+00:00"'),
        text.replace('type="mismatch" ', ""),
    ):
        assert not schema.is_valid(broken), broken[:200]


# -- keep-all ------------------------------------------------------------------------------------------------
def test_only_the_renders_of_cases_needing_attention_stay(
    fake_backend: str, small_corpus: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.toml"
    empty.write_text("# nothing\n")
    assert _conform(small_corpus, tmp_path / "lean", "--registry", str(empty), "--no-html") == 1
    kept = sorted(str(p.relative_to(tmp_path / "lean" / "cases")) for p in (tmp_path / "lean/cases").rglob("*.png"))
    # minmax (mismatch) and inverse (error: no render of fake's) need attention: their references stay
    assert kept == [
        "0000-CT_small.dcm/inverse/reference.png",
        "0000-CT_small.dcm/minmax/fake.png",
        "0000-CT_small.dcm/minmax/reference.png",
        "0001-MR_small.dcm/inverse/reference.png",
        "0001-MR_small.dcm/minmax/fake.png",
        "0001-MR_small.dcm/minmax/reference.png",
    ]
    report = _report(tmp_path / "lean")
    assert report["summary"]["renders"] == {"policy": "attention", "kept": 6, "removed": 10}
    by = {(r["file"], r["profile"]): r for r in report["results"]}
    assert by[("CT_small.dcm", "default")]["output"] is None
    assert by[("CT_small.dcm", "default")]["reference_output"] is None
    assert by[("CT_small.dcm", "minmax")]["output"] == "cases/0000-CT_small.dcm/minmax/fake.png"
    assert _conform(small_corpus, tmp_path / "all", "--registry", str(empty), "--no-html", "--keep-all") == 1
    assert len(list((tmp_path / "all/cases").rglob("*.png"))) == 16  # 10 references + 3 renders of fake per file
    assert _report(tmp_path / "all")["summary"]["renders"] == {"policy": "all", "kept": 16, "removed": 0}


# -- the real registry: remove an entry dcmtk needs, get exactly its cases back as worse ---------------------
@pytest.mark.live
def test_real_registry_entry_removed_makes_exactly_its_dcmtk_cases_worse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dcmharness.interface import registry

    if not registry.get("dcmtk").availability().available:
        pytest.skip("dcmtk not available")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("JPGExtended.dcm", "SC_ybr_full_uncompressed.dcm", "CT_small.dcm"):
        (corpus / name).symlink_to(find(name))
    fewer = tmp_path / "fewer.toml"
    fewer.write_text(without_entry(DEFAULT_REGISTRY.read_text(), "dcmtk-lossy-jpeg-idct"))
    assert _conform(corpus, tmp_path / "base", "--no-html", backends="dcmtk", profiles="") == 0
    base = _report(tmp_path / "base")
    assert base["summary"]["registry"]["used"]["dcmtk-lossy-jpeg-idct"] == 3
    explained = {
        f"{r['file']}/{r['profile']}/dcmtk"
        for r in base["results"]
        if (r["divergence"] or {}).get("id") == "dcmtk-lossy-jpeg-idct"
    }
    baseline = ["--baseline", str(tmp_path / "base" / "report.json")]
    assert _conform(corpus, tmp_path / "new", "--no-html", "--registry", str(fewer), *baseline,
                    backends="dcmtk", profiles="") == 1  # fmt: skip
    block = _report(tmp_path / "new")["summary"]["baseline"]
    assert {c["key"] for c in block["changes"] if c["category"] == "worse"} == explained
    assert {c["key"] for c in block["changes"]} == explained
    assert block["transitions"] == {"explained -> mismatch": 3}


def test_ops_runs_keep_only_the_outputs_needing_attention(tmp_path: Path) -> None:
    from dcmharness.interface.conform.ops.runner import prune_outputs

    def output(name: str) -> str:
        (tmp_path / name).write_text(name)
        return str(tmp_path / name)

    calm = [_rec("match", backend="dcmtk", output=output("a-dcmtk.json"))]
    calm_refs = [{"case": "a", "output": output("a-ref.json")}]
    assert prune_outputs(calm, calm_refs) == 2
    assert calm[0]["output"] is None and calm_refs[0]["output"] is None
    busy = [
        _rec("match", backend="dcmtk", output=output("b-dcmtk.json")),
        _rec("mismatch", backend="gdcm", output=output("b-gdcm.json")),
    ]
    busy_refs = [{"case": "b", "output": output("b-ref.json")}]
    assert prune_outputs(busy, busy_refs) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b-gdcm.json", "b-ref.json"]
    assert busy[1]["output"] == str(tmp_path / "b-gdcm.json") and busy_refs[0]["output"] is not None
