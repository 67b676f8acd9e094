"""``dcmharness run --jobs N``: answers in request order (or as they finish), one backend instance per worker
process for its life, closed at its end; a dead worker; Ctrl-C and SIGTERM stop every child."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dcmharness.backends.base import Availability, Backend, Outcome
from dcmharness.interface import registry
from dcmharness.interface.answers import answers
from dcmharness.interface.api import RunContext
from dcmharness.interface.pool import BATCH_CHUNK, chunks
from dcmharness.interface.samples import find
from tests.conftest import REPO, responses, run_cli

CT = find("CT_small.dcm")
MR = find("MR_small.dcm")
CLI = [sys.executable, "-m", "dcmharness"]
MARKERS = "DCMHARNESS_TEST_FAKE_MARKERS"


class FakeBackend(Backend):
    """Answers ``info`` with the process and instance that ran it; "slow*" inputs take 1.5 s, "die*" kill the
    process; ``close`` leaves a marker file per instance."""

    name = "fake"
    kind = "in-process"
    ops = ("info",)

    def __init__(self) -> None:
        self.calls = 0

    def availability(self) -> Availability:
        return Availability(True, "1")

    def execute(self, request: Any, info: Any, plan: Any) -> Outcome:
        self.calls += 1
        name = Path(request.input).name
        if name.startswith("slow"):
            time.sleep(1.5)
        if name.startswith("die"):
            os._exit(3)
        return Outcome(result={"pid": os.getpid(), "instance": id(self), "calls": self.calls})

    def close(self) -> None:
        Path(os.environ[MARKERS], f"closed-{os.getpid()}-{id(self)}").write_text(str(self.calls))


@pytest.fixture()
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    markers = tmp_path / "markers"
    markers.mkdir()
    monkeypatch.setenv(MARKERS, str(markers))
    monkeypatch.setitem(registry.BACKENDS, "fake", "tests.test_jobs:FakeBackend")
    return markers


def files(tmp_path: Path, names: list[str]) -> list[Path]:
    out = []
    for name in names:
        shutil.copy(CT, tmp_path / name)
        out.append(tmp_path / name)
    return out


def test_each_worker_keeps_one_backend_instance_for_its_life_and_closes_it(fake: Path, tmp_path: Path) -> None:
    inputs = files(tmp_path, [f"f{k}.dcm" for k in range(8)])
    requests = [{"id": k, "op": "info", "input": str(p), "backend": "fake"} for k, p in enumerate(inputs)]
    got = list(answers(requests, RunContext(), jobs=2))
    assert [r.id for r in got] == list(range(8))
    assert all(r.ok for r in got), [r.error for r in got]
    results = [r.result or {} for r in got]
    pids = {res["pid"] for res in results}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    for pid in pids:
        mine = sorted((res["calls"], res["instance"]) for res in results if res["pid"] == pid)
        assert len({instance for _, instance in mine}) == 1  # one instance per process, for every request
        assert [calls for calls, _ in mine] == list(range(1, len(mine) + 1))
    closed = sorted(p.name for p in fake.iterdir())
    assert closed == sorted(f"closed-{res['pid']}-{res['instance']}" for res in {r["pid"]: r for r in results}.values())


def test_ordered_by_default_and_as_they_finish_when_unordered(fake: Path, tmp_path: Path) -> None:
    slow, fast1, fast2 = files(tmp_path, ["slow.dcm", "fast1.dcm", "fast2.dcm"])
    requests = [{"id": p.stem, "op": "info", "input": str(p), "backend": "fake"} for p in (slow, fast1, fast2)]
    assert [r.id for r in answers(requests, RunContext(), jobs=2)] == ["slow", "fast1", "fast2"]
    assert [r.id for r in answers(requests, RunContext(), jobs=2, ordered=False)][-1] == "slow"


def test_a_worker_that_dies_answers_its_request_and_the_run_goes_on(fake: Path, tmp_path: Path) -> None:
    inputs = files(tmp_path, ["a.dcm", "die.dcm", "b.dcm", "c.dcm"])
    requests = [{"id": p.name, "op": "info", "input": str(p), "backend": "fake"} for p in inputs]
    got = {r.id: r for r in answers(requests, RunContext(), jobs=2)}
    assert list(got) == ["a.dcm", "die.dcm", "b.dcm", "c.dcm"]
    dead = got["die.dcm"].error
    assert dead is not None and dead.code == "internal_error" and "died (exit status 3)" in dead.message
    assert got["a.dcm"].ok and got["b.dcm"].ok and got["c.dcm"].ok


def test_requests_of_a_batching_backend_go_in_chunks() -> None:
    requests = [{"op": "to_image", "input": "x", "backend": "pixelmed"} for _ in range(BATCH_CHUNK + 2)]
    requests.append({"op": "info", "input": "y"})
    sizes = [len(c) for c in chunks(requests)]
    assert sizes == [BATCH_CHUNK, 2, 1]
    assert [index for chunk in chunks(requests) for index, _ in chunk] == list(range(BATCH_CHUNK + 3))


def _lines(tmp_path: Path) -> tuple[bytes, list[Any]]:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(CT, folder / "CT_small.dcm")
    shutil.copy(MR, folder / "MR_small.dcm")
    lines = [
        json.dumps({"id": "a", "op": "info", "input": str(MR)}),
        json.dumps({"id": "b", "op": "to_image", "input": str(folder), "output": str(tmp_path / "pngs")}),
        '{"id": "broken", ',
        json.dumps({"id": "c", "op": "stats", "input": str(CT)}),
    ]
    expected = ["a", "b/CT_small.dcm", "b/MR_small.dcm", "b", None, "c"]
    return ("\n".join(lines) + "\n").encode(), expected


def test_run_jobs_2_keeps_request_order(tmp_path: Path) -> None:
    stdin, expected = _lines(tmp_path)
    status, out, err = run_cli("run", "--jobs", "2", stdin=stdin, cwd=tmp_path)
    got = responses(out)
    assert [r["id"] for r in got] == expected, err
    assert status == 1  # the broken line
    assert [r["ok"] for r in got] == [True, True, True, True, False, True]
    assert got[3]["result"]["counts"] == {"ok": 2}
    assert got[4]["error"]["code"] == "invalid_json"
    assert got[5]["result"]["frames"][0]["count"] == 128 * 128
    assert sorted(p.name for p in (tmp_path / "pngs").iterdir()) == ["CT_small.png", "MR_small.png"]


def test_run_jobs_2_unordered_answers_everything_and_a_summary_after_its_files(tmp_path: Path) -> None:
    stdin, expected = _lines(tmp_path)
    status, out, err = run_cli("run", "--jobs", "2", "--unordered", stdin=stdin, cwd=tmp_path)
    ids = [r["id"] for r in responses(out)]
    assert sorted(ids, key=str) == sorted(expected, key=str), err
    assert ids.index("b") > max(ids.index("b/CT_small.dcm"), ids.index("b/MR_small.dcm"))
    assert status == 1


def test_run_jobs_2_with_an_array_answers_an_array(tmp_path: Path) -> None:
    requests = [{"id": k, "op": "info", "input": str(p)} for k, p in enumerate([CT, MR, CT])]
    status, out, _ = run_cli("run", "--jobs", "2", stdin=json.dumps(requests), cwd=tmp_path)
    got = json.loads(out)
    assert [r["id"] for r in got] == [0, 1, 2] and status == 0
    assert [r["result"]["rows"] for r in got] == [128, 64, 128]


def test_jobs_must_be_a_positive_number(tmp_path: Path) -> None:
    status, _, err = run_cli("run", "--jobs", "0", stdin="{}", cwd=tmp_path)
    assert status == 2 and "--jobs must be within 1..256" in err


# -- stopping --------------------------------------------------------------------------------------------------

HANGING_DCMJ2PNM = """#!/bin/sh
here=$(dirname "$0")
if [ "$1" = "--version" ]; then echo "$(basename "$0"): OFFIS DCMTK v3.6.7 2022-04-22"; exit 0; fi
echo $$ > "$here/pids/$$"
sleep 300
"""


def _stat(pid: int) -> list[str] | None:
    """State, ppid, ... of ``pid`` (/proc/<pid>/stat after the command name); None when there is no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"  # a zombie has ended (not yet reaped by a container's init)


def _children(pid: int) -> list[int]:
    pids = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]
    return [child for child in pids if (_stat(child) or ["", ""])[1] == str(pid)]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return "?"


def _wait_for(predicate: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize(
    ("how", "status"),
    [("ctrl-c", 130), ("sigint-to-the-parent", 130), ("sigterm-to-the-parent", 128 + signal.SIGTERM)],
)
def test_stopping_a_jobs_run_stops_every_child(tmp_path: Path, how: str, status: int) -> None:
    home = tmp_path / "dcmtk"
    (home / "pids").mkdir(parents=True)
    (home / "dcmj2pnm").write_text(HANGING_DCMJ2PNM)
    (home / "dcmj2pnm").chmod(0o755)
    folder = tmp_path / "in"
    folder.mkdir()
    for k in range(4):
        shutil.copy(MR, folder / f"mr{k}.dcm")
    argv = [*CLI, "run", "--jobs", "2", "--op", "to_image", "--backend", "dcmtk", "--input", str(folder)]
    proc = subprocess.Popen(
        [*argv, "--output", str(tmp_path / "out")],
        env={**os.environ, "DCMTK_HOME": str(home)},
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own group, as a terminal's foreground job
    )
    try:
        assert _wait_for(lambda: len(list((home / "pids").iterdir())) == 2, 60), "two tools never ran"
        tools = [int(p.name) for p in (home / "pids").iterdir()]
        workers = _children(proc.pid)
        assert len(workers) == 2
        if how == "ctrl-c":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT if how == "sigint-to-the-parent" else signal.SIGTERM)
        proc.wait(30)
        assert proc.returncode == status, proc.stderr.read() if proc.stderr else ""
        assert _wait_for(lambda: not any(_alive(pid) for pid in tools + workers), 10), [
            (pid, _cmdline(pid)) for pid in tools + workers if _alive(pid)
        ]
        assert len(list((home / "pids").iterdir())) == 2  # no request started after the stop
        leftovers = [p.name for p in (tmp_path / "out").rglob("*")] if (tmp_path / "out").exists() else []
        assert leftovers == []  # no temp file, no partial output
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        for p in (home / "pids").iterdir():
            if _alive(int(p.name)):
                os.kill(int(p.name), signal.SIGKILL)


@pytest.mark.live
def test_orthanc_over_jobs_2_starts_one_server_per_worker_and_stops_them(tmp_path: Path) -> None:
    if not registry.get("orthanc").availability().available:
        pytest.skip("Orthanc is not installed here (apt-packages.txt)")
    folder = tmp_path / "in"
    folder.mkdir()
    for k in range(6):
        shutil.copy(CT if k % 2 else MR, folder / f"f{k}.dcm")
    proc = subprocess.Popen(
        [*CLI, "run", "--op", "info", "--backend", "orthanc", "--input", str(folder), "--jobs", "2"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    servers: set[int] = set()
    while proc.poll() is None:
        for worker in _children(proc.pid):
            servers |= {pid for pid in _children(worker) if "orthanc.json" in _cmdline(pid)}  # not `--version`
        time.sleep(0.02)
    out, err = proc.communicate()
    got = responses(out.decode())
    assert got[-1]["result"]["counts"] == {"ok": 6}, err
    assert [r["result"]["rows"] for r in got[:-1]] == [64, 128, 64, 128, 64, 128]
    assert 1 <= len(servers) <= 2  # one server per worker process, not one per request
    assert _wait_for(lambda: not any(_alive(pid) for pid in servers), 10)


def _read_line(proc: subprocess.Popen[bytes], seconds: float = 60) -> dict[str, Any]:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], seconds)
    assert ready, "no answer before the next request was sent"
    return dict(json.loads(proc.stdout.readline()))


def test_without_jobs_each_line_is_answered_before_the_next_is_read(tmp_path: Path) -> None:
    """A client that waits for each answer before it sends its next request (broken lines and folders too)."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(CT, folder / "CT_small.dcm")
    # unbuffered: a buffered readline could take both answers of the folder at once and leave select()
    # waiting on an empty pipe for the second (the answers arrive together when the machine is slow)
    proc = subprocess.Popen([*CLI, "run"], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    assert proc.stdin is not None
    try:
        proc.stdin.write(json.dumps({"id": 1, "op": "info", "input": str(MR)}).encode() + b"\n")
        proc.stdin.flush()
        assert _read_line(proc)["id"] == 1
        proc.stdin.write(b'{"id": 2, "op": \n')
        proc.stdin.flush()
        assert _read_line(proc)["error"]["code"] == "invalid_json"
        proc.stdin.write(json.dumps({"id": 3, "op": "info", "input": str(folder)}).encode() + b"\n")
        proc.stdin.flush()
        assert [_read_line(proc)["id"], _read_line(proc)["id"]] == ["3/CT_small.dcm", 3]
    finally:
        proc.stdin.close()
        proc.wait(60)
    assert proc.returncode == 1
