"""A parent killed outright (SIGKILL: no handler runs) leaves none of its pool workers, servers or tools.

``conform --jobs 2`` on Orthanc (each worker starts a private Orthanc) and ``run --jobs 2`` on dcmtk are
started, their process tree is recorded once the workers are busy, the parent is killed with SIGKILL, and
every recorded process must be gone within a few seconds (``interface/orphans.py``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dcmharness.interface import registry
from dcmharness.interface.samples import find

pytestmark = pytest.mark.live


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def descendants(pid: int) -> set[int]:
    tree, found, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def kill_parent_and_wait(
    proc: subprocess.Popen[bytes], wanted: str, settle_s: float = 60.0, at_least: int = 1
) -> tuple[set[int], set[int]]:
    """Wait until a descendant named ``wanted`` runs among at least ``at_least`` descendants (the pool's workers
    start one after the other), SIGKILL the parent, then the descendants still alive after 10 s (none
    expected) and all that were recorded."""
    deadline = time.monotonic() + settle_s
    tree: set[int] = set()
    while time.monotonic() < deadline and proc.poll() is None:
        tree = descendants(proc.pid)
        if any(comm(p) == wanted for p in tree) and len(tree) >= at_least:
            break
        time.sleep(0.2)
    assert any(comm(p) == wanted for p in tree), f"no {wanted} started under {proc.pid}"
    time.sleep(1.0)
    tree = descendants(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    end = time.monotonic() + 10
    while time.monotonic() < end and any(alive(p) for p in tree):
        time.sleep(0.2)
    return {p for p in tree if alive(p)}, tree


def test_conform_workers_and_their_orthanc_end_with_a_killed_parent(tmp_path: Path) -> None:
    if not registry.get("orthanc").availability().available:
        pytest.skip("orthanc is not installed")
    argv = [
        sys.executable,
        "-m",
        "dcmharness",
        "conform",
        "--backends",
        "orthanc",
        "--jobs",
        "2",
        "--quiet",
        "--no-html",
        "--out",
        str(tmp_path / "c"),
    ]
    scratch = tmp_path / "tmp"  # a SIGKILLed run cannot remove its Orthanc's folder: it goes in the test's own
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env)
    try:
        left, tree = kill_parent_and_wait(proc, "Orthanc", at_least=3)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(tree) >= 3  # two workers and at least one Orthanc
    assert left == set(), {p: comm(p) for p in left}


def test_run_jobs_workers_end_with_a_killed_parent(tmp_path: Path) -> None:
    if not registry.get("dcmtk").availability().available:
        pytest.skip("dcmtk is not installed")
    src = tmp_path / "in"
    src.mkdir()
    data = find("CT_small.dcm").read_bytes()
    for i in range(400):
        (src / f"{i:03d}.dcm").write_bytes(data)
    argv = [
        sys.executable,
        "-m",
        "dcmharness",
        "run",
        "--jobs",
        "2",
        "--op",
        "to_image",
        "--backend",
        "dcmtk",
        "--input",
        str(src),
        "--output",
        str(tmp_path / "out"),
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        left, tree = kill_parent_and_wait(proc, "dcmj2pnm")
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(tree) >= 2
    assert left == set(), {p: comm(p) for p in left}
