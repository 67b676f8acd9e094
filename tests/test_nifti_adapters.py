"""The ``nifti`` backends: dcm2niix (argv, output picking), dicom2nifti and SimpleITK (the child worker), the
refusals before running, and live conversions of the synthetic series compared with python_ref."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from dcmharness.adapters.dcm2niix import build_argv, pick_output, tool_warnings
from dcmharness.adapters.pylib import build_argv as worker_argv
from dcmharness.adapters.pylib import parse_answer
from dcmharness.adapters.runner import ToolError, ToolRun
from dcmharness.interface import registry
from dcmharness.interface.api import run
from dcmharness.interface.conform.ops import compare_volumes as cv
from dcmharness.interface.synth.series import generate


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("series")
    generate(out)
    return out


def test_dcm2niix_argv_is_golden() -> None:
    assert build_argv("/usr/bin/dcm2niix", Path("/w/in"), Path("/w/out"), False, None, 1) == [
        "/usr/bin/dcm2niix",
        "-g",
        "i",
        "-b",
        "n",
        "-z",
        "n",
        "-f",
        "series",
        "-o",
        "/w/out",
        "/w/in",
    ]
    argv = build_argv("dcm2niix", Path("/w/in"), Path("/w/out"), True, "/usr/bin/prlimit", 2048)
    assert argv[:3] == ["/usr/bin/prlimit", "--as=2048", "--"] and argv[argv.index("-z") + 1] == "i"


def test_dcm2niix_output_and_extra_files() -> None:
    files = [Path("series.nii"), Path("series_Tilt_1.nii")]
    main, extra = pick_output(files, compressed=False)
    assert main == Path("series.nii") and extra == [Path("series_Tilt_1.nii")]
    assert pick_output([Path("series_Eq_1.nii")], compressed=False) == (None, [Path("series_Eq_1.nii")])
    out = "Chris Rorden's dcm2niiX\nWarning: Interslice distance varies in this volume\nConvert 11 DICOM"
    assert tool_warnings(out) == ["dcm2niix: Warning: Interslice distance varies in this volume"]


def test_worker_argv_and_answers() -> None:
    argv = worker_argv("/py", "dcmharness.adapters.simpleitk", "/w/in", "/w/out/series.nii", 99)
    assert argv == [
        "/py",
        "-m",
        "dcmharness.adapters.pylib_worker",
        "dcmharness.adapters.simpleitk",
        "/w/in",
        "/w/out/series.nii",
        "--memory",
        "99",
    ]
    ok = ToolRun(argv, 0, b'noise\n{"ok": true, "version": "2.5.7"}\n', b"", 0.1)
    assert parse_answer(ok) == {"ok": True, "version": "2.5.7"}
    with pytest.raises(ToolError, match=r"ended without an answer .killed by signal SIGSEGV"):
        parse_answer(ToolRun(argv, -11, b"", b"", 0.1))


def test_worker_memory_limit_fails_the_request_not_the_harness(tmp_path: Path, synthetic: Path) -> None:
    """A conversion under a too small address space answers ``failed`` (exit 4), the harness goes on."""
    import subprocess
    import sys

    pytest.importorskip("SimpleITK")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dcmharness.adapters.pylib_worker",
            "dcmharness.adapters.simpleitk",
            str(synthetic / "axial"),
            str(tmp_path / "x.nii"),
            "--memory",
            str(64 * 1024**2),
        ],
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode in (4, -11, -6, 1) and not (tmp_path / "x.nii").exists()


def _available(name: str) -> bool:
    return registry.get(name).availability().available


@pytest.mark.parametrize("backend", ["dicom2nifti"])
def test_dicom2nifti_refuses_gantry_tilt_before_running(synthetic: Path, tmp_path: Path, backend: str) -> None:
    if not _available(backend):
        pytest.skip(f"{backend} is not installed")
    resp = run(
        {"op": "nifti", "backend": backend, "input": str(synthetic / "gantry_tilt"), "output": str(tmp_path / "t.nii")}
    )
    assert resp.error is not None and (resp.error.code, resp.error.field) == ("unsupported_option", "input")
    assert resp.command is None and list(tmp_path.iterdir()) == []


@pytest.mark.live
@pytest.mark.parametrize("backend", ["dcm2niix", "dicom2nifti", "simpleitk"])
@pytest.mark.parametrize("case", ["axial", "oblique", "feet_first", "decubitus_left", "non_square"])
def test_live_converters_agree_with_python_ref(synthetic: Path, tmp_path: Path, backend: str, case: str) -> None:
    if not _available(backend):
        pytest.skip(f"{backend} is not available here")
    outputs: dict[str, Any] = {}
    for name in ("python_ref", backend):
        resp = run(
            {"op": "nifti", "backend": name, "input": str(synthetic / case), "output": str(tmp_path / f"{name}.nii")}
        )
        assert resp.ok, resp.error
        outputs[name] = cv.load_nifti(tmp_path / f"{name}.nii")
    found = cv.compare(outputs["python_ref"], outputs[backend])
    assert found["problems"]["geometry"] == [] and found["problems"]["voxels"] == []
    assert found["corner_mm"] < 0.01 and found["voxel_max_diff"] == 0.0


@pytest.mark.live
def test_live_dcm2niix_gantry_tilt_warns_about_its_extra_file(synthetic: Path, tmp_path: Path) -> None:
    if not _available("dcm2niix"):
        pytest.skip("dcm2niix is not installed")
    resp = run(
        {
            "op": "nifti",
            "backend": "dcm2niix",
            "input": str(synthetic / "gantry_tilt"),
            "output": str(tmp_path / "t.nii"),
        }
    )
    assert resp.ok and any("series_Tilt_1.nii" in w for w in resp.warnings)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json", "t.nii"]  # no staging folder left


@pytest.mark.live
def test_live_dicom2nifti_failure_is_structured(synthetic: Path, tmp_path: Path) -> None:
    if not _available("dicom2nifti"):
        pytest.skip("dicom2nifti is not installed")
    folder = tmp_path / "in"
    shutil.copytree(synthetic / "shuffled_order", folder)
    resp = run({"op": "nifti", "backend": "dicom2nifti", "input": str(folder), "output": str(tmp_path / "s.nii")})
    assert resp.error is not None and resp.error.code == "backend_failed"
    assert "RepetitionTime" in resp.error.message and not (tmp_path / "s.nii").exists()


def test_worker_timeout_kills_the_child_and_leaves_nothing(synthetic: Path, tmp_path: Path) -> None:
    if not _available("simpleitk"):
        pytest.skip("SimpleITK is not installed")
    out = tmp_path / "out"
    out.mkdir()
    resp = run(
        {
            "op": "nifti",
            "backend": "simpleitk",
            "input": str(synthetic / "axial"),
            "output": str(out / "a.nii"),
            "timeout": 0.05,
        }
    )
    assert resp.error is not None and resp.error.code == "timeout"
    assert list(out.iterdir()) == []  # no output, no staging folder


def test_volume_result_from_an_itk_geometry() -> None:
    from dcmharness.adapters.pylib import volume_result

    class _Series:  # what volume_result reads
        series_uid = "1.2.3"
        modality = "CT"

    answer = {
        "shape": [3, 4, 5],
        "dtype": "int16",
        "spacing": [0.8, 0.5, 2.0],
        "origin": [-10.0, -20.0, 30.0],
        "direction": [-1.0, 0, 0, 0, 1.0, 0, 0, 0, -1.0],
    }
    r = volume_result(answer, _Series())  # type: ignore[arg-type]
    assert r["affine_lps"] == [[-0.8, 0, 0, -10.0], [0, 0.5, 0, -20.0], [0, 0, -2.0, 30.0], [0, 0, 0, 1.0]]
    assert r["affine_ras"][0] == [0.8, 0, 0, 10.0] and r["series_uid"] == "1.2.3"
    assert worker_argv("/py", "m", "/i", "/o.npy", 1, "volume")[-2:] == ["--op", "volume"]


@pytest.mark.live
@pytest.mark.parametrize("case", ["axial", "feet_first", "non_square", "varying_rescale"])
def test_live_simpleitk_volume_agrees_with_python_ref(synthetic: Path, tmp_path: Path, case: str) -> None:
    if not _available("simpleitk"):
        pytest.skip("SimpleITK is not installed")
    import json

    import numpy as np

    arrays = {}
    for name in ("python_ref", "simpleitk"):
        resp = run(
            {"op": "volume", "backend": name, "input": str(synthetic / case), "output": str(tmp_path / f"{name}.npy")}
        )
        assert resp.ok, resp.error
        sidecar = json.loads((tmp_path / f"{name}.json").read_text())
        arrays[name] = cv.volume_from_array(np.load(tmp_path / f"{name}.npy"), np.asarray(sidecar["affine_lps"]))
    found = cv.compare(arrays["python_ref"], arrays["simpleitk"])
    assert found["corner_mm"] < 0.01 and found["voxel_max_diff"] == 0.0
