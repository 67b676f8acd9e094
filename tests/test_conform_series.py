"""``conform --op nifti / volume``: the canonical-orientation comparison (pure) and a small run."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from dcmharness.interface.conform import divergence
from dcmharness.interface.conform.ops import compare_volumes as cv
from dcmharness.interface.conform.ops.core import OpsConfig
from dcmharness.interface.conform.ops.runner import run_ops_conformance
from dcmharness.interface.synth.series import generate

LPS = np.array([[0.8, 0, 0, -10], [0, 0.5, 0, -20], [0, 0, 2, 30], [0, 0, 0, 1]], dtype=np.float64)


def _volume(kji: np.ndarray, affine_lps: np.ndarray = LPS) -> cv.Volume:
    return cv.volume_from_array(kji, affine_lps)


def test_rows_stored_bottom_up_compare_equal() -> None:
    """dcm2niix's storage (rows flipped, the affine's y column negated) is the same image."""
    data = np.arange(2 * 3 * 4, dtype=np.int16).reshape(2, 3, 4)  # (slice, row, column)
    flipped_affine = LPS.copy()
    flipped_affine[:3, 1] *= -1
    flipped_affine[:3, 3] += LPS[:3, 1] * 2  # the first stored row is the last DICOM row
    flipped = _volume(data[:, ::-1, :], flipped_affine)
    found = cv.compare(_volume(data), flipped)
    assert found["voxel_max_diff"] == 0.0 and found["corner_mm"] == pytest.approx(0.0, abs=1e-12)
    assert all(not p for p in found["problems"].values())


def test_geometry_and_voxel_differences_are_measured() -> None:
    data = np.zeros((2, 3, 4), dtype=np.int16)
    moved = LPS.copy()
    moved[:3, 3] += (0.0, 0.0, 1.5)
    other = data.copy()
    other[1, 2, 3] = 7
    found = cv.compare(_volume(data), _volume(other, moved))
    assert found["corner_mm"] == pytest.approx(1.5)
    assert found["voxel_max_diff"] == 7.0 and found["voxel_mean_diff"] == pytest.approx(7 / 24)
    assert found["problems"]["geometry"] == ["corner voxels 1.5 mm apart"]


def test_different_dimensions_are_a_geometry_problem() -> None:
    found = cv.compare(_volume(np.zeros((2, 3, 4))), _volume(np.zeros((3, 3, 4))))
    assert found["problems"]["geometry"] == ["dimensions [4, 3, 2] vs [4, 3, 3] (canonical order)"]


def test_nifti_registry_entries_name_their_profiles() -> None:
    entries = [e for e in divergence.load() if e.profiles and any(p.startswith("nifti") for p in e.profiles)]
    assert {e.id for e in entries} >= {"dcm2niix-float32-when-rescale-varies", "simpleitk-gantry-tilt-no-shear"}
    assert all(set(e.backends) <= {"dcm2niix", "dicom2nifti", "simpleitk"} for e in entries)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("series")
    generate(root)
    out = root / "conform"
    config = OpsConfig(
        op="nifti",
        out=out,
        corpus=[root / "axial", root / "two_series", root / "missing_slice"],
        backends=["simpleitk"],
    )
    report = run_ops_conformance(config)
    return {"report": report, "out": out}


def test_small_run_records_every_aspect_and_refusal(small_run: dict[str, Any]) -> None:
    report = small_run["report"]
    by = {(r["case"].split("-", 1)[1], r["profile"], r["backend"]): r["status"] for r in report["results"]}
    assert by[("axial", "nifti:expected", "python_ref")] == "match"
    assert by[("missing_slice", "nifti:refusal", "python_ref")] == "match"
    assert by[("two_series", "nifti:refusal", "python_ref")] == "match"
    if ("axial", "nifti:geometry", "simpleitk") in by:  # SimpleITK installed
        for aspect in ("geometry", "voxels", "dtype", "header"):
            assert by[("axial", f"nifti:{aspect}", "simpleitk")] == "match"
        assert by[("two_series/two_series_b", "nifti:voxels", "simpleitk")] == "match"
    assert report["summary"]["unexplained_mismatches"] == 0


def test_small_run_html_shows_middle_slices(small_run: dict[str, Any]) -> None:
    page = (small_run["out"] / "report.html").read_text()
    assert "Middle slices" in page and page.count('src="data:image/png;base64,') >= 6
    data = json.loads((small_run["out"] / "report.json").read_text())
    axial = next(s for s in data["slices"] if s["case"].endswith("axial"))
    assert [r["backend"] for r in axial["rows"]][:2] == ["python_ref", "expected"]
    assert axial["rows"][1]["diffs"][0]["max"] == 0.0
