"""dcmharness.interface.conform.ops_compare (normalisation and comparisons) and the ops conformance runner."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dcmharness.interface.conform.ops.compare_json import (
    Difference,
    compare_dicom_json,
    compare_histogram,
    compare_info,
    compare_stats,
    normalise_json,
)
from dcmharness.interface.conform.ops.runner import OpsConfig, matrix_summary, matrix_table, run_ops_conformance
from dcmharness.interface.conform.ops.verify import batch_uid_conflicts, cross_decode, pixel_difference, read_pixels


def test_normalisation_of_what_the_model_leaves_open() -> None:
    a = {
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^John^^^"}]},
        "00180050": {"vr": "DS", "Value": [2.0]},
        "00271041": {"vr": "FL", "Value": [-77.20406341552734]},
        "7FE00010": {"vr": "OW", "InlineBinary": "AAAA"},
        "00080000": {"vr": "UL", "Value": [100]},
        "00080005": {"vr": "CS", "Value": ["ISO_IR 100"]},
        "00080080": {"vr": "LO", "Value": ["Clinic "]},
        "00081030": {"vr": "LO"},
    }
    b = {
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^John"}]},
        "00180050": {"vr": "DS", "Value": ["2"]},
        "00271041": {"vr": "FL", "Value": [-77.2040634]},
        "7FE00010": {"vr": "OW", "BulkDataURI": "http://x/bulk"},
        "00080005": {"vr": "CS", "Value": ["ISO_IR 192"]},
        "00080080": {"vr": "LO", "Value": ["Clinic"]},
        "00081030": {"vr": "LO", "Value": []},
    }
    assert compare_dicom_json(a, b) == []
    assert normalise_json(a)["00100010"] == {"vr": "PN", "Value": [{"Alphabetic": "Doe^John"}]}
    assert "00080000" not in normalise_json(a) and "00080005" not in normalise_json(a)


def test_differences_are_named() -> None:
    a = {
        "00100020": {"vr": "LO", "Value": ["A"]},
        "00100030": {"vr": "DA", "Value": ["20000101"]},
        "00280010": {"vr": "US", "Value": [512]},
        "00081115": {"vr": "SQ", "Value": [{"00081150": {"vr": "UI", "Value": ["1.2"]}}]},
    }
    b = {
        "00100020": {"vr": "LO", "Value": ["B"]},
        "00280010": {"vr": "SS", "Value": [512]},
        "00081115": {"vr": "SQ", "Value": [{"00081150": {"vr": "UI", "Value": ["1.3"]}}]},
        "00200010": {"vr": "SH", "Value": ["7"]},
    }
    assert compare_dicom_json(a, b) == [
        Difference("00081115[0].00081150", "value", ["1.2"], ["1.3"]),
        Difference("00100020", "value", ["A"], ["B"]),
        Difference("00100030", "missing", {"vr": "DA", "Value": ["20000101"]}, None),
        Difference("00200010", "extra", None, {"vr": "SH", "Value": ["7"]}),
        Difference("00280010", "vr", "US", "SS"),
    ]


def test_inline_bulk_compared_when_both_sides_inline_it() -> None:
    a = {"00091010": {"vr": "OB", "InlineBinary": "AAE="}}
    assert compare_dicom_json(a, {"00091010": {"vr": "OB", "InlineBinary": "AAI="}})[0].kind == "value"
    assert compare_dicom_json(a, {"00091010": {"vr": "UN", "InlineBinary": "AAI="}}) == []  # private guessed as UN


def test_compare_stats_and_histogram() -> None:
    frame = {
        "frame": 0,
        "count": 4,
        "zero_count": 1,
        "unique": 4,
        "min": 0.0,
        "max": 3.0,
        "mean": 1.5,
        "std": 1.118,
        "percentiles": {"50": 1.5},
    }
    close = {**frame, "mean": 1.5 + 1e-13}
    far = {**frame, "mean": 1.6, "percentiles": {"50": 1.0}}
    assert compare_stats({"frames": [frame]}, {"frames": [close]}) == []
    assert [d.path for d in compare_stats({"frames": [frame]}, {"frames": [far]})] == [
        "frames[0].mean",
        "frames[0].percentiles.50",
    ]
    h = {"frame": 0, "range": [0.0, 4.0], "bins": 2, "counts": [2, 3], "below": 0, "above": 0}
    assert compare_histogram({"frames": [h]}, {"frames": [h]}) == []
    diffs = compare_histogram({"frames": [h]}, {"frames": [{**h, "counts": [2, 4]}]})
    assert diffs == [Difference("frames[0].counts[1]", "value", [3], [4])]


def test_compare_info_numbers_as_numbers() -> None:
    assert compare_info({"rows": 512, "pixel_spacing": [0.5, 0.5]}, {"rows": 512.0, "pixel_spacing": [0.5, 0.5]}) == []
    assert compare_info({"modality": "CT"}, {"modality": "MR"}) == [Difference("modality", "value", "CT", "MR")]


def test_pixel_difference_and_batch_conflicts() -> None:
    a = np.array([[1, 2], [3, 4]], dtype=np.uint16)
    assert pixel_difference(a, a.copy()) == {"identical": True, "max_abs_diff": 0.0}
    assert pixel_difference(a, a + 3)["max_abs_diff"] == 3.0
    assert pixel_difference(a, a + 3, peak=255.0)["psnr_db"] == pytest.approx(20 * math.log10(255 / 3), abs=1e-3)
    assert pixel_difference(a, a[:1])["max_abs_diff"] is None
    assert batch_uid_conflicts([{"1.2": "2.25.1"}, {"1.2": "2.25.1", "1.3": "2.25.2"}]) == []
    assert batch_uid_conflicts([{"1.2": "2.25.1"}, {"1.2": "2.25.9"}]) == ["1.2: 2.25.1 and 2.25.9"]


def test_matrix_summary_and_table() -> None:
    matrix = {
        "a.dcm": {
            "rle_lossless": {
                "python_ref": {"python_ref": "identical", "gdcm": "differs (max 3)", "dcmtk": "cannot: no decoder"}
            }
        }
    }
    s = matrix_summary(matrix)
    assert (s["cells"], s["identical"], s["cannot"]) == (3, 1, 1)
    assert s["differs"] == ["a.dcm rle_lossless: python_ref -> gdcm: differs (max 3)"]
    assert "rle_lossless | python_ref | 0/1 identical (1 cannot) | 0/1 identical | 1/1 identical" in matrix_table(
        matrix
    )


@pytest.mark.live
def test_cross_decode_of_a_python_ref_encoding(mr_small: Path, tmp_path: Path) -> None:
    from dcmharness.interface.api import run

    out = tmp_path / "jls.dcm"
    assert run(
        {
            "op": "transcode",
            "input": str(mr_small),
            "output": str(out),
            "options": {"transfer_syntax": "jpeg_ls_lossless"},
        }
    ).ok
    decoders = ["python_ref"] + [d for d, t in (("dcmtk", "dcmdjpls"), ("gdcm", "gdcmconv")) if shutil.which(t)]
    matrix = cross_decode({"python_ref": str(out)}, read_pixels(mr_small), decoders)
    assert matrix == {"python_ref": {d: "identical" for d in decoders}}


@pytest.mark.live
@pytest.mark.slow
def test_ops_conformance_transcode_report(ct_small: Path, tmp_path: Path) -> None:
    report = run_ops_conformance(
        OpsConfig(op="transcode", out=tmp_path, corpus=[ct_small], targets=["rle_lossless", "jpeg_2000_lossless"])
    )
    s = report["summary"]
    assert s["op"] == "transcode" and s["files"] == 1 and s["unexplained_mismatches"] == 0
    assert {r["profile"] for r in report["results"]} == {
        "transcode:rle_lossless",
        "transcode:jpeg_2000_lossless",
        "cross_decode:rle_lossless",
        "cross_decode:jpeg_2000_lossless",
    }
    ref = [r for r in report["results"] if r["backend"] == "python_ref" and r["profile"].startswith("transcode")]
    assert [r["status"] for r in ref] == ["match", "match"]
    cell = [
        r for r in report["results"] if r["profile"] == "cross_decode:rle_lossless" and r["backend"] == "python_ref"
    ]
    assert {r["options"]["encoder"] for r in cell} >= {"python_ref"} and {r["status"] for r in cell} == {"match"}
    assert report["matrix"]["CT_small.dcm"]["rle_lossless"]["python_ref"]["python_ref"] == "identical"
    assert json.loads((tmp_path / "report.json").read_text())["summary"]["counts"]["match"] >= 2


@pytest.mark.live
def test_ops_conformance_dump_and_anonymize(ct_small: Path, tmp_path: Path) -> None:
    dump = run_ops_conformance(OpsConfig(op="dump", out=tmp_path / "d", corpus=[ct_small]))
    assert dump["summary"]["unexplained_mismatches"] == 0
    if shutil.which("dcm2json"):
        assert [(r["backend"], r["status"]) for r in dump["results"] if r["backend"] == "dcmtk"] == [("dcmtk", "match")]
    anon = run_ops_conformance(OpsConfig(op="anonymize", out=tmp_path / "a", corpus=[ct_small]))
    statuses = {(r["backend"], r["profile"]): r["status"] for r in anon["results"]}
    assert statuses[("python_ref", "anonymize")] == "match"
    assert statuses[("python_ref", "anonymize_batch")] == "match"
    if shutil.which("gdcmanon"):
        assert statuses[("gdcm", "anonymize")] == "explained"  # gdcmanon-ps315-2008-table
        assert statuses[("gdcm", "anonymize_batch")] == "unsupported"  # no keyed UID remapping
    assert anon["summary"]["unexplained_mismatches"] == 0


@pytest.mark.parametrize("op", ["dump", "stats", "transcode", "anonymize"])
def test_default_corpora_exist(op: str) -> None:
    from dcmharness.interface.conform.ops.anonymize import ANON_FILES
    from dcmharness.interface.conform.ops.results import DUMP_FILES, STATS_FILES
    from dcmharness.interface.conform.ops.runner import default_corpus
    from dcmharness.interface.conform.ops.transcode import TRANSCODE_FILES

    names = {"dump": DUMP_FILES, "stats": STATS_FILES, "transcode": TRANSCODE_FILES, "anonymize": ANON_FILES}[op]
    files = default_corpus(op)
    assert [p.name for p in files[: len(names)]] == list(names)
    if op == "dump":  # pydicom's character-set files are part of the dump corpus
        assert {"chrX1.dcm", "chrH31.dcm", "chrJapMulti.dcm"} <= {p.name for p in files}


def test_cli_main_exit_codes(ct_small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from dcmharness.interface.conform.ops.runner import cli_main

    args = argparse.Namespace(
        op="stats",
        out=tmp_path,
        corpus=[ct_small],
        backends=None,
        reference=None,
        limit=None,
        registry=None,
        timeout=None,
        quiet=True,
    )
    assert cli_main(args) == 0
    assert "op stats: reference python_ref" in capsys.readouterr().out
    assert json.loads((tmp_path / "report.json").read_text())["summary"]["files"] == 1
    assert cli_main(argparse.Namespace(op="stats", out=None)) == 2
    bad = argparse.Namespace(**{**vars(args), "backends": ["nope"]})
    assert cli_main(bad) == 2


def test_dcmharness_conform_op_reaches_the_ops_run(ct_small: Path, tmp_path: Path, capsys) -> None:
    from dcmharness.interface.cli.conform import OPS as CLI_OPS
    from dcmharness.interface.cli.main import main
    from dcmharness.interface.conform.ops.runner import OPS

    assert CLI_OPS == OPS  # the CLI offers exactly the ops the runner compares
    out = tmp_path / "hist"
    code = main(["conform", "--op", "histogram", "--corpus", str(ct_small), "--backends", "python_ref",
                 "--quiet", "--out", str(out)])
    assert code == 0
    summary = json.loads((out / "report.json").read_text())["summary"]
    assert summary["files"] == 1 and summary["profiles"] == ["histogram"]
    assert "op histogram: reference python_ref" in capsys.readouterr().out
    assert main(["conform", "--op", "histogram"]) == 2  # --out is still required


def test_ops_report_html_shows_counts_findings_and_the_matrix(tmp_path: Path) -> None:
    from dcmharness.interface.conform.ops import html as ops_html
    from dcmharness.interface.conform.report_html import COLOURS

    def rec(profile: str, backend: str, status: str, **kw: Any) -> dict[str, Any]:
        return {"input": "/x/CT_small.dcm", "file": "CT_small.dcm", "profile": profile, "backend": backend,
                "status": status, "metrics": {"details": kw.get("details", [])}, "divergence": kw.get("divergence"),
                "error": kw.get("error")}

    results = [
        rec("transcode:rle_lossless", "python_ref", "match"),
        rec("transcode:rle_lossless", "dcmtk", "match"),
        rec("transcode:rle_lossless", "orthanc", "unsupported",
            error={"code": "unsupported_option", "message": "no RLE encoder", "field": "options.transfer_syntax"}),
        rec("dump", "dcmtk", "explained", divergence={"id": "x-entry", "cause": "a cause", "source": "a source"}),
        rec("dump", "python_ref", "match"),
    ]
    summary = {
        "op": "transcode", "unexplained_mismatches": 0, "files": 1, "results": 5, "duration_s": 1.5,
        "started_at": "2026-11-29T00:00:00+00:00",
        "reference": {"name": "python_ref", "version": "ref 1"},
        "backends": [{"name": "python_ref", "version": "ref 1"}, {"name": "dcmtk", "version": "3.6.7"},
                     {"name": "orthanc", "version": "1.10.1"}],
        "counts": {"match": 3, "explained": 1, "unsupported": 1},
        "registry": {"used": {"x-entry": 1}},
    }
    matrix = {"CT_small.dcm": {"rle_lossless": {
        "dcmtk": {"python_ref": "identical", "gdcm": "differs (max 3)"},
        "python_ref": {"python_ref": "identical", "gdcm": "cannot: no decoder"},
    }}}
    page = ops_html.build_html({"summary": summary, "results": results, "matrix": matrix})
    assert "conform --op transcode: 0 unexplained mismatches" in page
    assert "match: 3" in page and "unsupported: 1" in page
    # the profiles x backends cell of orthanc is grey (unsupported), dcmtk's dump cell blue (explained)
    assert f'background:{COLOURS["unsupported"]}">unsupported 1<' in page
    assert f'background:{COLOURS["explained"]}">explained 1<' in page
    # findings: the explained one first, with its cause and source; the refusal with its message and field
    assert page.index("x-entry: a cause [a source]") < page.index("unsupported_option: no RLE encoder")
    assert "(options.transfer_syntax)" in page
    # the matrix: per (target, encoder) and decoder
    assert "0/1 identical (1 differs)" in page and "0/1 identical (1 cannot)" in page
    assert page.count("1/1 identical") == 2
    assert "<script" not in page  # self-contained, static
    ops_html.write({"summary": summary, "results": results, "matrix": matrix}, tmp_path / "report.html")
    assert (tmp_path / "report.html").read_text() == page
