"""Live: dcmjs-imaging in its Node worker (after ``make setup``), through the harness.

The registry's facts are checked here against the pixels: LINEAR truncates (never above the standard's rounding,
at most one level below), LINEAR_EXACT lacks the +0.5 offset (exactly ``trunc((x-c)/w*255)`` clipped),
overlays are not drawn; and the worker's life cycle: one worker for many requests, killed and replaced on a
timeout, stopped by PID at the end.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from PIL import Image

from dcmharness.interface import registry
from dcmharness.interface.api import run
from dcmharness.interface.samples import find

pytestmark = [pytest.mark.live]


@pytest.fixture(scope="module")
def backend() -> Any:
    b = registry.get("dcmjs")
    avail = b.availability()
    if not avail.available:
        pytest.skip(f"dcmjs not available: {avail.reason}")
    return b


def render(backend: Any, name: str, out: Path, **options: Any) -> tuple[np.ndarray, dict[str, Any]]:
    resp = run({"op": "to_image", "backend": "dcmjs", "input": str(find(name)), "output": str(out),
                "options": options})  # fmt: skip
    assert resp.ok and resp.result is not None, resp
    return np.asarray(Image.open(out)).astype(np.int64), resp.result


def modality(name: str) -> np.ndarray:
    ds = pydicom.dcmread(find(name))
    return ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)


def standard_linear(x: np.ndarray, c: float, w: float) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1 with the contract's rounding (independent of every backend)."""
    y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255
    y = np.where(x <= c - 0.5 - (w - 1) / 2, 0, np.where(x > c - 0.5 + (w - 1) / 2, 255, y))
    return np.clip(np.floor(y + 0.5), 0, 255).astype(np.int64)


def test_linear_window_truncates_one_level_at_most(backend: Any, tmp_path: Path) -> None:
    got, result = render(backend, "693_UNCR.dcm", tmp_path / "ct.png", window_center=40, window_width=400)
    assert got.shape == (512, 512) and result["mode"] == "L"
    diff = got - standard_linear(modality("693_UNCR.dcm"), 40, 400)
    assert diff.max() == 0 and diff.min() == -1
    assert 20_000 < int((diff == -1).sum()) < 60_000  # 32,432 when the registry entry was written
    assert result["dcmjs"]["window"] == [40, 400] and result["dcmjs"]["voi_function"] == "LINEAR"


def test_linear_exact_lacks_the_half_offset(backend: Any, tmp_path: Path) -> None:
    got, _ = render(backend, "693_UNCR.dcm", tmp_path / "le.png", window_center=40, window_width=400,
                    voi_function="linear_exact")  # fmt: skip
    x = modality("693_UNCR.dcm")
    assert np.array_equal(got, np.clip(np.trunc((x - 40) / 400 * 255), 0, 255).astype(np.int64))
    assert got[x <= 40].max() == 0  # the standard gives 128 at the centre


def test_overlays_are_not_drawn(backend: Any, tmp_path: Path) -> None:
    shown, _ = render(backend, "MR-SIEMENS-DICOM-WithOverlays.dcm", tmp_path / "a.png", overlays=True)
    hidden, _ = render(backend, "MR-SIEMENS-DICOM-WithOverlays.dcm", tmp_path / "b.png", overlays=False)
    assert np.array_equal(shown, hidden)


def test_every_frame_and_pnm(backend: Any, tmp_path: Path) -> None:
    resp = run({"op": "to_image", "backend": "dcmjs", "input": str(find("emri_small.dcm")),
                "output": str(tmp_path / "e.pgm"), "options": {"frame": "all"}})  # fmt: skip
    assert resp.ok, resp
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [f"e_{k:04d}.pgm" for k in range(10)]
    assert (tmp_path / "e_0003.pgm").read_bytes().startswith(b"P5\n64 64\n255\n")


def test_a_timeout_replaces_the_worker(backend: Any, tmp_path: Path) -> None:
    render(backend, "CT_small.dcm", tmp_path / "warm.png")
    before = backend.pool("node").pids()
    resp = run({"op": "to_image", "backend": "dcmjs", "input": str(find("RG1_UNCR.dcm")),
                "output": str(tmp_path / "slow.png"), "timeout": 0.01})  # fmt: skip
    assert not resp.ok and resp.error is not None and resp.error.code == "timeout"
    assert not (tmp_path / "slow.png").exists() and list(tmp_path.glob(".slow*")) == []
    render(backend, "CT_small.dcm", tmp_path / "after.png")
    after = backend.pool("node").pids()
    gone = set(before) - set(after)
    assert len(gone) == 1 and all(not os.path.exists(f"/proc/{p}") for p in gone)


def test_close_stops_the_workers(backend: Any, tmp_path: Path) -> None:
    render(backend, "CT_small.dcm", tmp_path / "c.png")
    pids = backend.pool("node").pids()
    assert pids
    backend.close()
    assert all(not os.path.exists(f"/proc/{p}") for p in pids)


# -- no worker outlives a command-line run ----------------------------------------------------------------
def worker_children(parent: int) -> list[int]:
    """PIDs of the dcmjs workers (node ... worker.mjs) whose parent is ``parent``."""
    from dcmharness.adapters.dcmjs.adapter import WORKER

    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == parent and str(WORKER).encode() in cmdline:
            found.append(int(stat.parent.name))
    return found


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def cli_run(tmp_path: Path, names: list[str]) -> tuple[subprocess.Popen[bytes], list[int]]:
    """A ``dcmharness run`` process fed dcmjs requests, and the workers it started (seen while it ran)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "dcmharness", "run"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None
    for k, name in enumerate(names):
        line = {"op": "to_image", "backend": "dcmjs", "input": str(find(name)), "output": str(tmp_path / f"{k}.png")}
        proc.stdin.write(json.dumps(line).encode() + b"\n")
    proc.stdin.close()
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while not workers and proc.poll() is None and time.monotonic() < deadline:
        workers = worker_children(proc.pid)
        time.sleep(0.005)
    return proc, workers


def test_no_worker_outlives_a_command_line_run(backend: Any, tmp_path: Path) -> None:
    proc, workers = cli_run(tmp_path, ["CT_small.dcm", "MR_small.dcm", "693_UNCR.dcm"])
    assert proc.stdout is not None
    out = proc.stdout.read()
    proc.wait(120)
    assert proc.returncode == 0 and [json.loads(x)["ok"] for x in out.splitlines()] == [True, True, True]
    assert len(workers) == 1
    deadline = time.monotonic() + 5
    while running(workers[0]) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not running(workers[0])


def test_terminating_a_run_stops_its_worker(backend: Any, tmp_path: Path) -> None:
    proc, workers = cli_run(tmp_path, ["RG1_UNCR.dcm", "RG3_UNCR.dcm", "RG1_UNCI.dcm"])
    assert workers, "the run started no worker"
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    assert proc.returncode == 128 + signal.SIGTERM
    deadline = time.monotonic() + 5
    while running(workers[0]) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not running(workers[0])
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
