"""Installed, the project occupies one import name: ``dcmharness``.

The wheel is built from the checkout (``pip wheel``, as a user or a package index would) and installed
into a fresh virtual environment: its site-packages gains ``dcmharness`` and its dist-info and nothing else,
the data files travel with it, and the console script runs from a folder outside the checkout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
        check=True, env=_env(), timeout=600, capture_output=True,
    )
    (built,) = out.glob("dcmharness-*.whl")
    return built


def test_the_wheel_holds_one_top_level_package_and_its_data(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"dcmharness", wheel.name.split("-py3")[0] + ".dist-info"}
    for data in (
        "dcmharness/contract/schema/request.schema.json",
        "dcmharness/contract/schema/response.schema.json",
        "dcmharness/interface/conform/divergences.toml",
        "dcmharness/interface/conform/static/conform_report.js",
        "dcmharness/interface/server/static/page.js",
        "dcmharness/adapters/pixelmed/PixelMedBatch.java",
    ):
        assert data in names, data
    top_level = zipfile.ZipFile(wheel).read(wheel.name.split("-py3")[0] + ".dist-info/top_level.txt").decode()
    assert top_level.split() == ["dcmharness"]


def test_installed_into_a_fresh_venv(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            check=True, capture_output=True, text=True, timeout=60,
        ).stdout.strip()
    )
    before = set(os.listdir(site))
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
        check=True, env=_env(), timeout=300, capture_output=True,
    )
    gained = set(os.listdir(site)) - before
    assert gained == {"dcmharness", wheel.name.split("-py3")[0] + ".dist-info"}
    assert (venv / "bin" / "dcmharness").exists()

    # the dependencies: this environment's site-packages, after the fresh one (the wheel's copy wins)
    (site / "zz_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    probe = subprocess.run(
        [str(python), "-c", (
            "import importlib.util, json, dcmharness, dcmharness.interface.api as api;"
            "print(json.dumps([dcmharness.__file__, api.__file__,"
            " [importlib.util.find_spec(n) is not None for n in ('contract', 'adapters', 'backends', 'interface')]]))"
        )],
        cwd=outside, env=_env(), capture_output=True, text=True, timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    init, api_file, top_levels = json.loads(probe.stdout)
    assert Path(init).parent == site / "dcmharness" and Path(api_file).is_relative_to(site / "dcmharness")
    assert top_levels == [False, False, False, False]

    backends = subprocess.run(
        [str(venv / "bin" / "dcmharness"), "backends"], cwd=outside, env=_env(), capture_output=True, text=True,
        timeout=300,
    )
    assert backends.returncode == 0, backends.stderr
    first = backends.stdout.splitlines()[0].split()
    assert first[:2] == ["python_ref", "available"]

    import pydicom.data

    ct = pydicom.data.get_testdata_file("CT_small.dcm")
    run = subprocess.run(
        [str(venv / "bin" / "dcmharness"), "run"], input=json.dumps({"op": "info", "input": ct}), cwd=outside,
        env=_env(), capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr
    response = json.loads(run.stdout)
    assert response["ok"] is True and response["result"]["rows"] == 128 and response["result"]["columns"] == 128
