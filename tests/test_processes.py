"""External tools under control: a hanging tool is killed at its timeout with its whole process group,
a tool missing at run time is ``backend_unavailable``, and no child process outlives a run.

The tool is a fake ``dcmj2pnm`` (a shell script) found by the real dcmtk adapter through ``DCMTK_HOME``;
it records its pid and the pid of a helper it forks, so the test can check both are gone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dcmharness.interface import registry
from dcmharness.interface.api import run
from dcmharness.interface.samples import find

MR = str(find("MR_small.dcm"))

FAKE = """#!/bin/sh
here=$(dirname "$0")
if [ "$1" = "--version" ]; then echo "$(basename "$0"): OFFIS DCMTK v3.6.7 2022-04-22"; exit 0; fi
echo $$ > "$here/tool.pid"
case "$(cat "$here/mode")" in
  hang) sleep 300 & echo $! > "$here/helper.pid"; sleep 300 ;;
  helper) sleep 300 & echo $! > "$here/helper.pid"; exit 0 ;;
esac
"""


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, already dead but not reaped by a container's init, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _pid(folder: Path, name: str, wait: float = 10) -> int:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        text = (folder / name).read_text().strip() if (folder / name).exists() else ""
        if text:
            return int(text)
        time.sleep(0.01)
    raise AssertionError(f"the fake tool never wrote {name}")


def _gone(pid: int, wait: float = 5) -> bool:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def fake_dcmtk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder with a fake dcmj2pnm, set as DCMTK_HOME, and a fresh dcmtk adapter in the registry."""
    if "dcmtk" not in registry.names():
        pytest.skip("the dcmtk adapter is not registered")
    home = tmp_path / "fake-dcmtk"
    home.mkdir()
    tool = home / "dcmj2pnm"
    tool.write_text(FAKE)
    tool.chmod(0o755)
    (home / "mode").write_text("hang")
    monkeypatch.setenv("DCMTK_HOME", str(home))
    module_name, _, cls_name = registry.BACKENDS["dcmtk"].partition(":")
    adapter = getattr(__import__(module_name, fromlist=[cls_name]), cls_name)()
    monkeypatch.setitem(registry._instances, "dcmtk", adapter)
    assert adapter.availability().available
    yield home
    for name in ("tool.pid", "helper.pid"):  # never leave a sleeper behind, whatever the test did
        if (home / name).exists() and (home / name).read_text().strip():
            pid = int((home / name).read_text())
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def _request(tmp: Path, timeout: float) -> dict[str, object]:
    return {"op": "to_image", "input": MR, "output": str(tmp / "o.png"), "backend": "dcmtk", "timeout": timeout}


def test_a_hanging_tool_is_killed_at_its_timeout_with_its_group(fake_dcmtk: Path, tmp_path: Path) -> None:
    started = time.monotonic()
    resp = run(_request(tmp_path, 1.0))
    elapsed = time.monotonic() - started
    assert resp.error is not None and resp.error.code == "timeout", resp.error
    assert 1.0 <= elapsed < 10
    assert resp.command and resp.command[0] == str(fake_dcmtk / "dcmj2pnm")
    assert _gone(_pid(fake_dcmtk, "tool.pid"))
    assert _gone(_pid(fake_dcmtk, "helper.pid"))  # the tool's own child, in its process group
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # temps discarded


def test_a_helper_left_running_by_a_finished_tool_is_killed(fake_dcmtk: Path, tmp_path: Path) -> None:
    (fake_dcmtk / "mode").write_text("helper")
    resp = run(_request(tmp_path, 30.0))
    assert resp.error is not None and resp.error.code == "backend_failed"  # exit 0 but no output
    assert _gone(_pid(fake_dcmtk, "helper.pid"))


def test_a_tool_missing_at_run_time_is_backend_unavailable(fake_dcmtk: Path, tmp_path: Path) -> None:
    (fake_dcmtk / "dcmj2pnm").unlink()  # found at start-up, gone when the request runs
    resp = run(_request(tmp_path, 5.0))
    assert resp.error is not None
    assert (resp.error.code, resp.ok) == ("backend_unavailable", False)
    assert "dcmj2pnm" in resp.error.message


def test_a_tool_no_longer_executable_is_backend_unavailable(fake_dcmtk: Path, tmp_path: Path) -> None:
    (fake_dcmtk / "dcmj2pnm").chmod(0o644)
    if os.access(fake_dcmtk / "dcmj2pnm", os.X_OK):
        pytest.skip("running as a user who may execute anything")
    resp = run(_request(tmp_path, 5.0))
    assert resp.error is not None and resp.error.code == "backend_unavailable"


def test_a_tool_absent_from_the_start_is_backend_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if "dcmtk" not in registry.names():
        pytest.skip("the dcmtk adapter is not registered")
    monkeypatch.setenv("DCMTK_HOME", str(tmp_path))  # an empty folder
    module_name, _, cls_name = registry.BACKENDS["dcmtk"].partition(":")
    monkeypatch.setitem(registry._instances, "dcmtk", getattr(__import__(module_name, fromlist=[cls_name]), cls_name)())
    resp = run(_request(tmp_path, 5.0))
    assert resp.error is not None and (resp.error.code, resp.error.field) == ("backend_unavailable", "backend")


def _cli(home: Path, tmp: Path, timeout: float) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DCMTK_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-m", "dcmharness", "run", "--timeout", str(timeout)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def test_no_child_outlives_a_command_line_run(fake_dcmtk: Path, tmp_path: Path) -> None:
    proc = _cli(fake_dcmtk, tmp_path, 1.0)
    request = {"op": "to_image", "input": MR, "output": str(tmp_path / "o.png"), "backend": "dcmtk"}
    out, err = proc.communicate(json.dumps(request).encode(), timeout=60)
    assert json.loads(out)["error"]["code"] == "timeout", err
    assert proc.returncode == 1
    assert not alive(_pid(fake_dcmtk, "tool.pid"))
    assert not alive(_pid(fake_dcmtk, "helper.pid"))


def test_terminating_a_run_kills_the_tool_it_is_waiting_for(fake_dcmtk: Path, tmp_path: Path) -> None:
    proc = _cli(fake_dcmtk, tmp_path, 120.0)
    request = {"op": "to_image", "input": MR, "output": str(tmp_path / "o.png"), "backend": "dcmtk"}
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(request).encode() + b"\n")
    proc.stdin.close()
    tool, helper = _pid(fake_dcmtk, "tool.pid"), _pid(fake_dcmtk, "helper.pid")
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    assert proc.returncode == 128 + signal.SIGTERM
    assert _gone(tool) and _gone(helper)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
