"""The CI gate: the full conformance run (every available backend, every profile, the real and synthetic
files) and the runs of the other ops end with 0 unexplained mismatches.

These are the runs `make run` shows (`dcmharness conform --jobs 2 --out out/conform`); here they run
without the HTML page (tested on its own in tests/test_report_html.py). The set-up installs dcmtk,
Orthanc, PixelMed and GDCM and builds rust_render, so CI compares all of them; elsewhere the run covers
whatever is available and says which backends it left out.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dcmharness.interface import registry

pytestmark = [pytest.mark.slow, pytest.mark.live]

#: Backends `make setup` installs: the gate must compare them when it runs in CI.
INSTALLED_BY_SETUP = ("dcmtk", "orthanc", "pixelmed", "rust_render")


def _available(names: tuple[str, ...]) -> list[str]:
    return [n for n in names if registry.get(n).availability().available]


def _conform(out: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    cmd = [sys.executable, "-m", "dcmharness", "conform", "--quiet", "--no-html", "--out", str(out), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=2400, check=False)
    report_path = out / "report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    return proc.returncode, report, proc.stdout + proc.stderr


def test_full_to_image_conformance_has_no_unexplained_mismatch(tmp_path: Path) -> None:
    code, report, output = _conform(tmp_path / "to_image", "--jobs", "2")
    assert report, output
    s = report["summary"]
    mismatches = [
        (r["input"], r["profile"], r["backend"], r["metrics"]) for r in report["results"] if r["status"] == "mismatch"
    ]
    assert s["unexplained_mismatches"] == 0 and not mismatches, mismatches[:10]
    assert code == 0, output
    compared = {b["name"] for b in s["backends"]}
    assert set(_available(INSTALLED_BY_SETUP)) <= compared
    assert s["files"] >= 200 and s["registry"]["full_run"]
    for backend in compared:  # every backend really rendered and agreed on a good share of the cases
        counts = s["by_backend"][backend]
        assert counts["match"] + counts["within_tolerance"] >= 300, (backend, counts)


@pytest.mark.parametrize(
    "op", ["dump", "info", "stats", "histogram", "transcode", "anonymize", "nifti", "volume", "modify"]
)
def test_ops_conformance_has_no_unexplained_mismatch(op: str, tmp_path: Path) -> None:
    code, report, output = _conform(tmp_path / op, "--op", op)
    assert report, output
    s = report["summary"]
    mismatches = [(r["input"], r["profile"], r["backend"]) for r in report["results"] if r["status"] == "mismatch"]
    assert s["unexplained_mismatches"] == 0 and not mismatches, mismatches[:10]
    assert code == 0, output
    others = {b["name"] for b in s["backends"]} - {"python_ref"}
    assert others, f"op {op}: no external backend was compared ({output})"
    agreed = sum(s["by_backend"][b].get("match", 0) + s["by_backend"][b].get("within_tolerance", 0) for b in others)
    assert agreed > 0, s["by_backend"]
    if op == "transcode":  # the cross-decoding matrix over the lossless targets
        assert report["matrix"], "no cross-decoding matrix"
