"""``dcmharness conform``: statuses, metrics, the registry, report.json, executors and the exit status."""
# ruff: noqa: F811  (the fixtures imported from test_conform_fake are redefined as test arguments)

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from dcmharness.interface.cli import main as cli
from dcmharness.interface.conform.executor import Progress, map_ordered
from dcmharness.interface.conform.runner import ConformConfig, run_conformance
from dcmharness.interface.conform.status import STATUSES
from tests.test_conform_fake import (  # noqa: F401 (fixtures)
    FAKE,
    PROFILE_STATUS,
    REGISTRY_EXPLAINS_MINMAX,
    fake_backend,
    small_corpus,
)

PROFILES = list(PROFILE_STATUS)


def _run(out: Path, corpus: Path, registry: Path | None = None, **kw: Any) -> dict[str, Any]:
    kw.setdefault("profiles", PROFILES)
    config = ConformConfig(out=out, corpus=[corpus], backends=[FAKE], registry_path=registry, progress=False, **kw)
    report, _ = run_conformance(config)
    return report


def _empty_registry(tmp_path: Path) -> Path:
    p = tmp_path / "empty.toml"
    p.write_text("# nothing\n")
    return p


def _stable(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "duration_ms"} for r in records]


def test_statuses_per_profile_and_counts(fake_backend: str, small_corpus: Path, tmp_path: Path) -> None:
    report = _run(tmp_path / "out", small_corpus, _empty_registry(tmp_path))
    results = report["results"]
    # 2 files x 5 profiles x 1 backend, in file order then profile order
    assert [(r["file"], r["profile"]) for r in results] == [
        (f, p) for f in ("CT_small.dcm", "MR_small.dcm") for p in PROFILES
    ]
    assert {(r["profile"], r["status"]) for r in results} == set(PROFILE_STATUS.items())
    s = report["summary"]
    assert s["counts"] == {
        "match": 2,
        "within_tolerance": 2,
        "explained": 0,
        "mismatch": 2,
        "unsupported": 2,
        "error": 2,
        "reference_error": 0,
    }
    assert s["by_backend"] == {FAKE: s["counts"]}
    assert s["by_profile"]["minmax"]["mismatch"] == 2
    assert s["unexplained_mismatches"] == 2
    assert s["backends"] == [{"name": FAKE, "version": "fake 1.0", "kind": "in-process"}]
    assert s["reference"]["name"] == "python_ref"
    assert (s["files"], s["cases"], s["results"]) == (2, 10, 10)


def test_metrics_and_errors_of_each_result(fake_backend: str, small_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = _run(out, small_corpus, _empty_registry(tmp_path))
    by = {(r["file"], r["profile"]): r for r in report["results"]}
    m = by[("CT_small.dcm", "minmax")]["metrics"]
    assert m["max_abs_diff"] == 3.0 and m["shape_match"] and m["mode_match"]
    assert 0 < m["mean_abs_diff"] <= 3.0 and m["frac_diff_gt1"] > 0.5
    assert m["psnr"] is not None and m["psnr"] > 30
    assert by[("CT_small.dcm", "default")]["metrics"]["psnr"] is None  # identical: infinite PSNR
    assert by[("CT_small.dcm", "explicit_window")]["metrics"]["max_abs_diff"] == 1.0
    unsupported = by[("CT_small.dcm", "none")]
    assert unsupported["metrics"] is None
    assert unsupported["error"]["code"] == "unsupported_option" and unsupported["error"]["field"] == "options.voi"
    assert by[("MR_small.dcm", "inverse")]["error"]["code"] == "backend_failed"
    # outputs are relative to the report folder and exist
    r = by[("CT_small.dcm", "minmax")]
    assert (out / r["output"]).is_file() and (out / r["reference_output"]).is_file()
    assert r["options"] == {"voi": "minmax"}


def test_registry_explains_and_reports_unmatched(fake_backend: str, small_corpus: Path, tmp_path: Path) -> None:
    reg = tmp_path / "divergences.toml"
    reg.write_text(REGISTRY_EXPLAINS_MINMAX)
    report = _run(tmp_path / "out", small_corpus, reg)
    minmax = [r for r in report["results"] if r["profile"] == "minmax"]
    assert [r["status"] for r in minmax] == ["explained", "explained"]
    assert minmax[0]["divergence"]["id"] == "fake-minmax-plus-three"
    assert minmax[0]["divergence"]["source"] == "tests/test_conform_fake.py"
    s = report["summary"]
    assert s["unexplained_mismatches"] == 0
    assert s["registry"]["used"] == {"fake-minmax-plus-three": 2}
    assert s["registry"]["unmatched"] == ["fake-never-matches"]
    assert s["registry"]["not_run"] == ["other-backend-entry"]
    assert s["registry"]["full_run"] is False and s["registry"]["stale"] == []


def test_registry_names_the_cause_of_a_known_failure(fake_backend: str, small_corpus: Path, tmp_path: Path) -> None:
    reg = tmp_path / "divergences.toml"
    reg.write_text(
        REGISTRY_EXPLAINS_MINMAX
        + """
[[divergence]]
id = "fake-difference-never-names-a-failure"
backends = ["fake"]
options = { presentation = "inverse" }
any_difference = true
cause = "an entry about rendered pixels says nothing of a failure."
source = "tests/test_conform_fake.py"

[[divergence]]
id = "fake-crashes-on-inverse-ct"
backends = ["fake"]
options = { presentation = "inverse" }
dataset = { Modality = "CT" }
tool_fails = true
cause = "fake fails on purpose on inverse."
source = "tests/test_conform_fake.py"
"""
    )
    report = _run(tmp_path / "out", small_corpus, reg, html=False)
    inverse = {Path(r["input"]).name: r for r in report["results"] if r["profile"] == "inverse"}
    assert {r["status"] for r in inverse.values()} == {"error"}  # a known failure is still a failure
    assert inverse["CT_small.dcm"]["divergence"]["id"] == "fake-crashes-on-inverse-ct"
    assert inverse["MR_small.dcm"]["divergence"] is None  # the entry's dataset condition does not hold
    s = report["summary"]
    assert s["registry"]["used"]["fake-crashes-on-inverse-ct"] == 1
    assert "fake-difference-never-names-a-failure" in s["registry"]["unmatched"]
    assert s["counts"]["error"] == 2 and s["unexplained_mismatches"] == 0


def test_registry_effect_exceeded_stays_mismatch(fake_backend: str, small_corpus: Path, tmp_path: Path) -> None:
    reg = tmp_path / "divergences.toml"
    reg.write_text(REGISTRY_EXPLAINS_MINMAX.replace("max_abs_diff = 3", "max_abs_diff = 2"))
    report = _run(tmp_path / "out", small_corpus, reg, html=False)
    minmax = [r for r in report["results"] if r["profile"] == "minmax"]
    assert [r["status"] for r in minmax] == ["mismatch", "mismatch"]
    assert minmax[0]["exceeded"] == ["fake-minmax-plus-three"] and minmax[0]["divergence"] is None
    assert report["summary"]["registry"]["exceeded"] == {"fake-minmax-plus-three": 2}


def test_report_json_is_written_and_standard(fake_backend: str, small_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = _run(out, small_corpus, _empty_registry(tmp_path), html=False)
    on_disk = json.loads((out / "report.json").read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON {c}"))
    assert on_disk["summary"]["counts"] == report["summary"]["counts"]
    assert set(on_disk) == {"summary", "results", "references"}
    assert len(on_disk["references"]) == 10 and all(r["ok"] for r in on_disk["references"])
    assert set(on_disk["results"][0]) >= {
        "input",
        "profile",
        "options",
        "backend",
        "status",
        "metrics",
        "divergence",
        "error",
    }
    assert not (out / "report.html").exists()


def test_process_pool_gives_the_same_report_in_the_same_order(
    fake_backend: str, small_corpus: Path, tmp_path: Path
) -> None:
    reg = _empty_registry(tmp_path)
    serial = _run(tmp_path / "a", small_corpus, reg, html=False)
    pooled = _run(tmp_path / "b", small_corpus, reg, html=False, jobs=2)
    assert pooled["summary"]["executor"] == "process pool (2)"
    a = [{k: v for k, v in r.items() if k not in ("output", "reference_output")} for r in _stable(serial["results"])]
    b = [{k: v for k, v in r.items() if k not in ("output", "reference_output")} for r in _stable(pooled["results"])]
    assert a == b


def test_dask_local_cluster_gives_the_same_report(fake_backend: str, small_corpus: Path, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    reg = _empty_registry(tmp_path)
    serial = _run(tmp_path / "a", small_corpus, reg, html=False)
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        dasked = _run(tmp_path / "b", small_corpus, reg, html=False, scheduler=client)
    assert dasked["summary"]["executor"] == "dask (client)"
    assert [r["status"] for r in dasked["results"]] == [r["status"] for r in serial["results"]]
    assert [r["case"] for r in dasked["results"]] == [r["case"] for r in serial["results"]]


def test_dask_by_scheduler_address(tmp_path: Path) -> None:
    """``--scheduler ADDRESS`` connects to a running cluster (here a local one in worker processes)."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        results = map_ordered(abs, [-3, 2, -1], scheduler=c.scheduler_address)
    assert results == [3, 2, 1]


def test_cli_exit_status_is_the_ci_gate(
    fake_backend: str, small_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reg = tmp_path / "divergences.toml"
    base = [
        "conform",
        "--corpus",
        str(small_corpus),
        "--backends",
        FAKE,
        "--profiles",
        ",".join(PROFILES),
        "--quiet",
        "--no-html",
    ]
    assert cli.main([*base, "--registry", str(_empty_registry(tmp_path)), "--out", str(tmp_path / "a")]) == 1
    text = capsys.readouterr().out
    assert "unexplained mismatches: 2" in text and "fake: match 2, within_tolerance 2, mismatch 2" in text
    reg.write_text(REGISTRY_EXPLAINS_MINMAX)
    assert cli.main([*base, "--registry", str(reg), "--out", str(tmp_path / "b")]) == 0
    assert "unexplained mismatches: 0" in capsys.readouterr().out


def test_cli_refuses_unusable_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["conform", "--profiles", "nope", "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "unknown profile(s) nope" in capsys.readouterr().err
    assert cli.main(["conform", "--backends", "no_such_tool", "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "unknown backend 'no_such_tool'" in capsys.readouterr().err
    assert cli.main(["conform", "--quiet"]) == 2
    assert "--out DIR is required" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text('[[divergence]]\nid = "Bad Id"\n')
    assert cli.main(["conform", "--registry", str(bad), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "kebab-case" in capsys.readouterr().err


def test_list_profiles(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["conform", "--list-profiles"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("default ")
    assert "minmax           min-max" in text and '{"voi": "minmax"}' in text
    assert "PSNR >= 40 dB" in text  # the jpeg profile's tolerance


def test_unreadable_file_gets_default_profile_and_reference_error(fake_backend: str, tmp_path: Path) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    # a DICOM header claiming 0 rows: every backend gets the same preflight error
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import UID, ExplicitVRLittleEndian

    ds = pydicom.Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = UID("1.2.840.10008.5.1.4.1.1.7")
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = UID("1.2.3.4")
    ds.Modality, ds.Rows, ds.Columns, ds.BitsAllocated, ds.SamplesPerPixel = "OT", 0, 4, 8, 1
    ds.PixelData = b""
    ds.save_as(corpus / "zero_rows.dcm", enforce_file_format=True)
    (corpus / "notes.txt").write_text("not dicom")
    report = _run(tmp_path / "out", corpus, _empty_registry(tmp_path), html=False)
    assert [(r["file"], r["profile"], r["status"]) for r in report["results"]] == [
        ("zero_rows.dcm", "default", "reference_error")
    ]
    assert report["results"][0]["reference_error"]["code"] == "decode_failed"
    assert report["summary"]["reference_errors"] == 1
    assert any("notes.txt: not DICOM, skipped" in n for n in report["summary"]["notes"])


def test_only_the_reference_available_reports_its_renders(small_corpus: Path, tmp_path: Path) -> None:
    config = ConformConfig(out=tmp_path / "o", corpus=[small_corpus], backends=[], profiles=["default"], progress=False)
    from dcmharness.interface import registry

    # backends=[] means "none given": pretend the registry holds only the reference
    original = registry.BACKENDS.copy()
    registry.BACKENDS.clear()
    registry.BACKENDS["python_ref"] = original["python_ref"]
    try:
        report, _ = run_conformance(config)
    finally:
        registry.BACKENDS.update(original)
    assert report["results"] == [] and len(report["references"]) == 2
    assert report["summary"]["unexplained_mismatches"] == 0
    assert any("no backend to compare" in n for n in report["summary"]["notes"])


def test_progress_plain_lines_when_not_a_terminal() -> None:
    stream = io.StringIO()
    progress = Progress(3, stream, every_s=3600)
    for _ in range(3):
        progress.advance()
    progress.close()
    lines = stream.getvalue().splitlines()
    assert [line.split(" cases")[0] for line in lines] == ["conform: 1/3", "conform: 3/3"]


def test_progress_bar_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    progress = Progress(4, stream)
    progress.advance(2)
    assert stream.getvalue().startswith("\r[" + "#" * 15 + "." * 15 + "] conform: 2/4 cases (50%)")


def test_statuses_are_the_documented_seven() -> None:
    assert list(STATUSES) == [
        "match",
        "within_tolerance",
        "explained",
        "mismatch",
        "unsupported",
        "error",
        "reference_error",
    ]
    doc = (Path(__file__).resolve().parents[1] / "docs" / "report-schema.md").read_text()
    for status in STATUSES:
        assert f"`{status}`" in doc


def test_synthetic_folder_adds_each_case_own_options(fake_backend: str, tmp_path: Path) -> None:
    from dcmharness.interface import synth

    folder = tmp_path / "synth"
    made = synth.generate(folder, names=["mono1_presentation_identity", "linear_stored_window"])
    report = _run(tmp_path / "out", folder, _empty_registry(tmp_path), html=False, profiles=["default", "synthetic"])
    synthetic = [r for r in report["results"] if r["profile"] == "synthetic"]
    assert {r["file"]: r["options"] for r in synthetic} == {c.path.name: c.options for c in made}
    assert all(not r["input"].endswith((".npy", ".json")) for r in report["results"])


def test_default_corpus_notes_when_synthetic_generation_fails(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from dcmharness.interface import synth
    from dcmharness.interface.conform import runner as conform

    def broken(folder: Path, names: list[str] | None = None) -> list[Any]:
        raise RuntimeError("boom")

    monkeypatch.setattr(synth, "generate", broken)
    notes: list[str] = []
    files, own, default = conform.corpus_files(ConformConfig(out=tmp_path, limit=2), notes)
    assert len(files) == 2 and own == {} and default is False
    assert notes == ["synthetic cases skipped: interface.synth.generate failed: RuntimeError: boom"]


def test_batch_capable_backend_gets_one_batch_per_file(
    fake_backend: str, small_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dcmharness.interface import batch
    from dcmharness.interface.api import run
    from tests.test_conform_fake import FakeBackend

    calls: list[list[str]] = []

    def recording_run_batch(requests: list[dict[str, Any]], ctx: Any = None) -> list[Any]:
        calls.append([r["id"] for r in requests])
        return [run(r, ctx) for r in requests]

    monkeypatch.setattr(FakeBackend, "execute_batch", lambda self, jobs: [], raising=False)
    monkeypatch.setattr(batch, "run_batch", recording_run_batch)
    reg = _empty_registry(tmp_path)
    batched = _run(tmp_path / "a", small_corpus, reg, html=False)
    assert calls == [
        [f"0000-CT_small.dcm/{p}/fake" for p in PROFILES],
        [f"0001-MR_small.dcm/{p}/fake" for p in PROFILES],
    ]
    calls.clear()
    single = _run(tmp_path / "b", small_corpus, reg, html=False, batch=False)
    assert calls == []
    assert [r["status"] for r in batched["results"]] == [r["status"] for r in single["results"]]


def test_lossy_fidelity_rule() -> None:
    from dcmharness.interface.conform.case import CaseTask, as_faithful, classify, lossless_options

    assert lossless_options({"format": "jpeg", "quality": 90, "voi": "minmax"}) == {"voi": "minmax", "format": "png"}
    task = CaseTask(0, "c", "/x.dcm", "jpeg", {}, "python_ref", ("b",), "/tmp/c", min_psnr=40.0, fidelity_margin_db=3.0)
    # 4:2:2 vs 4:2:0: far from the reference's JPEG (28 dB) but closer to the truth than it (46.6 vs 28.2 dB)
    m = {
        "shape_match": True,
        "mode_match": True,
        "max_abs_diff": 76.0,
        "psnr": 28.3,
        "fidelity_psnr": 46.6,
        "reference_fidelity_psnr": 28.2,
    }
    assert as_faithful(task, m) and classify(task, "b", m, None)[0] == "within_tolerance"
    assert as_faithful(task, {**m, "fidelity_psnr": 25.3})  # 2.9 dB worse: within the margin
    assert not as_faithful(task, {**m, "fidelity_psnr": 25.1})
    assert classify(task, "b", {**m, "fidelity_psnr": 25.1}, None)[0] == "mismatch"
    assert as_faithful(task, {**m, "fidelity_psnr": None})  # identical to the truth
    assert not as_faithful(task, {**m, "reference_fidelity_psnr": None})  # only the reference is exact
    lossless_task = CaseTask(0, "c", "/x.dcm", "default", {}, "python_ref", ("b",), "/tmp/c")
    assert not as_faithful(lossless_task, m)


def test_backends_without_to_image_are_left_out(fake_backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from dcmharness.interface.conform.runner import resolve_backends
    from tests.test_conform_fake import FakeBackend

    notes: list[str] = []
    assert [n for n, _, _ in resolve_backends(ConformConfig(out=Path("."), backends=[FAKE]), notes)] == [FAKE]
    monkeypatch.setattr(FakeBackend, "ops", ("anonymize",))
    assert resolve_backends(ConformConfig(out=Path("."), backends=[FAKE]), notes) == []
    assert notes == ["backend fake skipped: it does not implement to_image"]


def test_pool_submits_the_costly_files_first_and_keeps_task_order() -> None:
    from dcmharness.interface.conform.executor import submission_order

    costs = [5.0, 50.0, 1.0, 50.0, 7.0]
    assert submission_order(5, lambda i: costs[i]) == [1, 3, 4, 0, 2]  # ties keep their order
    assert submission_order(3, None) == [0, 1, 2]
    # results come back in task order whatever the submission order
    assert map_ordered(_square, [3, 1, 2, 5], jobs=2, cost=lambda t: float(t)) == [9, 1, 4, 25]


def _square(x: int) -> int:
    return x * x
