"""The adapter framework (adapters/runner.py, adapters/base.py) with fake tools: no real toolkit needed.

The runner alone (timeouts kill the whole process group, grandchildren included; a missing tool is
``backend_unavailable``), then whole requests through ``dcmharness.interface.api.run`` with a fake ``dcmj2pnm``
found through ``DCMTK_HOME``: a crash is ``backend_failed`` with the tool's stderr, exit 0 without an
output (or with garbage) is ``backend_failed``, a timeout is ``timeout``, and an option the capability
table refuses is ``unsupported_option`` before the tool ever runs.
"""

from __future__ import annotations

import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from dcmharness.adapters.base import ToolAdapter, ToolInfo, first_version, version_tuple
from dcmharness.adapters.dcmtk.render import DcmtkAdapter
from dcmharness.adapters.runner import STDERR_LIMIT, ToolError, run_tool, trim
from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import RequestBase, Response, ToImageRequest
from dcmharness.interface import registry
from dcmharness.interface.api import RunContext, run

FAKE_DCMJ2PNM = r"""#!/bin/bash
if [ "$1" = "--version" ]; then echo '$dcmtk: dcmj2pnm v3.6.7 2022-04-22 $'; exit 0; fi
echo "$@" >> "$FAKE_DIR/runs"
out="${@: -1}"
case "$FAKE_MODE" in
  ok) cp "$FAKE_DIR/good.png" "$out" ;;
  crash) echo "F: boom: the decoder fell over" >&2; kill -SEGV $$ ;;
  fail) echo "W: first line" >&2; echo "F: cannot select frame 99, invalid frame number" >&2; exit 1 ;;
  noout) echo "W: wrote nothing" >&2; exit 0 ;;
  garbage) echo "not an image" > "$out" ;;
  truncated) head -c -20 "$FAKE_DIR/good.png" > "$out" ;;
  hang) sleep 300 & echo $! > "$FAKE_DIR/grandchild"; wait ;;
esac
"""


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def wait_dead(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


# -- the runner --------------------------------------------------------------------------------------------------
def test_timeout_kills_the_process_group_including_grandchildren(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    started = time.monotonic()
    with pytest.raises(ToolError) as exc:
        run_tool(["bash", "-c", f"sleep 300 & echo $! > {pidfile}; echo started >&2; wait"], timeout=1)
    assert time.monotonic() - started < 10
    assert exc.value.code == ErrorCode.TIMEOUT
    assert "within 1 s" in exc.value.message
    assert exc.value.command[0] == "bash"
    grandchild = int(pidfile.read_text())
    assert wait_dead(grandchild), f"grandchild {grandchild} survived the timeout"


def test_a_finished_tool_leaves_no_children_behind(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    result = run_tool(["bash", "-c", f"sleep 300 & echo $! > {pidfile}; exit 0"], timeout=10)
    assert result.returncode == 0
    assert wait_dead(int(pidfile.read_text()))


def test_missing_tool_is_backend_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ToolError) as exc:
        run_tool([str(tmp_path / "no-such-tool")], timeout=5)
    assert exc.value.code == ErrorCode.BACKEND_UNAVAILABLE


def test_non_executable_tool_is_backend_unavailable(tmp_path: Path) -> None:
    tool = tmp_path / "tool"
    tool.write_text("#!/bin/sh\n")
    with pytest.raises(ToolError) as exc:
        run_tool([str(tool)], timeout=5)
    assert exc.value.code == ErrorCode.BACKEND_UNAVAILABLE


def test_exit_status_stdout_and_stderr_are_captured() -> None:
    result = run_tool(["bash", "-c", "echo out; echo err >&2; exit 3"], timeout=10)
    assert (result.returncode, result.stdout_text, result.stderr_text) == (3, "out\n", "err")


def test_stderr_is_trimmed_keeping_both_ends() -> None:
    text = "A" * STDERR_LIMIT + "B" * STDERR_LIMIT
    short = trim(text)
    assert len(short) == STDERR_LIMIT + len("\n...\n")
    assert short.startswith("A") and short.endswith("B")


@pytest.mark.parametrize(
    ("text", "version", "parts"),
    [
        ("$dcmtk: dcmj2pnm v3.6.7 2022-04-22 $", "3.6.7", (3, 6, 7)),
        ("dcm2img v3.7.0", "3.7.0", (3, 7, 0)),
        ("no version here", None, (0,)),
    ],
)
def test_version_parsing(text: str, version: str | None, parts: tuple[int, ...]) -> None:
    assert first_version(text) == version
    assert version_tuple(first_version(text)) == parts


# -- discovery ------------------------------------------------------------------------------------------------
class BareAdapter(ToolAdapter):
    name = "bare"
    tools = ("bare-tool",)
    env_var = "BARE_TOOL_HOME"

    def build_argv(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan, tool: ToolInfo) -> list[str]:
        return [tool.path]


@pytest.mark.parametrize("where", ["binary", "folder", "bin"])
def test_env_var_names_the_binary_or_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    folder = tmp_path / "bin" if where == "bin" else tmp_path
    folder.mkdir(exist_ok=True)
    tool = executable(folder / "bare-tool", "#!/bin/sh\necho 'bare-tool 2.4.1'\n")
    monkeypatch.setenv("BARE_TOOL_HOME", str(tool if where == "binary" else tmp_path))
    avail = BareAdapter().availability()
    assert (avail.available, avail.version, avail.location) == (True, "2.4.1", str(tool))


def test_env_var_without_the_tool_is_unavailable_not_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BARE_TOOL_HOME", str(tmp_path))
    avail = BareAdapter().availability()
    assert not avail.available
    assert avail.reason == "bare-tool not found on $BARE_TOOL_HOME or PATH"


def test_an_op_outside_the_capability_table_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    executable(tmp_path / "bare-tool", "#!/bin/sh\necho 'bare-tool 2.4.1'\n")
    monkeypatch.setenv("BARE_TOOL_HOME", str(tmp_path))
    request = ToImageRequest.model_validate({"op": "to_image", "input": "x.dcm"})
    with pytest.raises(HarnessError) as exc:
        BareAdapter().check(request, None)  # its capability table is empty: no op at all
    assert (exc.value.code, exc.value.field) == (ErrorCode.UNSUPPORTED_OPTION, "op")


# -- whole requests through a fake dcmj2pnm ------------------------------------------------------------------------
@pytest.fixture()
def fake_dcmtk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "dcmtk"
    home.mkdir()
    executable(home / "dcmj2pnm", FAKE_DCMJ2PNM)
    Image.fromarray(np.arange(128 * 128, dtype=np.uint32).reshape(128, 128).astype(np.uint8)).save(home / "good.png")
    monkeypatch.setenv("DCMTK_HOME", str(home))
    monkeypatch.setenv("FAKE_DIR", str(home))
    monkeypatch.setitem(registry._instances, "dcmtk", DcmtkAdapter())  # a fresh discovery, of the fake
    yield home


def run_with(adapter: ToolAdapter, monkeypatch: pytest.MonkeyPatch, req: dict[str, Any], name: str) -> Response:
    monkeypatch.setitem(registry.BACKENDS, name, "unused:Unused")
    monkeypatch.setitem(registry._instances, name, adapter)
    return run(req)


def render(ct_small: Path, out: Path, mode: str, monkeypatch: pytest.MonkeyPatch, **extra: Any) -> Response:
    monkeypatch.setenv("FAKE_MODE", mode)
    ctx = extra.pop("ctx", None)
    req = {"op": "to_image", "input": str(ct_small), "output": str(out), "backend": "dcmtk", **extra}
    return run(req, ctx)


def runs(home: Path) -> list[str]:
    f = home / "runs"
    return f.read_text().splitlines() if f.exists() else []


def no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if "dcmharness" in p.name]


def test_fake_tool_success(fake_dcmtk: Path, ct_small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "ct.png"
    resp = render(ct_small, out, "ok", monkeypatch)
    assert resp.ok, resp.error
    assert resp.backend_version == "3.6.7"
    assert resp.outputs == [str(out)] and out.exists()
    assert resp.result == {"width": 128, "height": 128, "mode": "L", "frames": [0], "frame": 0}
    assert resp.command is not None and resp.command[0] == str(fake_dcmtk / "dcmj2pnm")
    assert no_temp_files(tmp_path)


def test_crash_is_backend_failed_with_stderr(
    fake_dcmtk: Path, ct_small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "ct.png"
    resp = render(ct_small, out, "crash", monkeypatch)
    assert resp.error is not None and resp.error.code == "backend_failed"
    assert "killed by signal SIGSEGV" in resp.error.message
    assert resp.stderr == "F: boom: the decoder fell over"
    assert resp.command is not None and resp.command[-2] == str(ct_small)
    assert not out.exists() and no_temp_files(tmp_path)


def test_failure_exit_names_the_last_stderr_line(
    fake_dcmtk: Path, ct_small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    resp = render(ct_small, tmp_path / "ct.png", "fail", monkeypatch)
    assert resp.error is not None and resp.error.code == "backend_failed"
    assert resp.error.message == "dcmj2pnm failed (exit status 1): F: cannot select frame 99, invalid frame number"
    assert resp.stderr is not None and resp.stderr.startswith("W: first line")


@pytest.mark.parametrize(
    ("mode", "words"),
    [("noout", "wrote no output"), ("garbage", "undecodable image"), ("truncated", "undecodable image")],
)
def test_exit_zero_without_a_real_image_is_backend_failed(
    fake_dcmtk: Path, ct_small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, words: str
) -> None:
    out = tmp_path / "ct.png"
    resp = render(ct_small, out, mode, monkeypatch)
    assert resp.error is not None and resp.error.code == "backend_failed"
    assert words in resp.error.message
    assert not out.exists() and no_temp_files(tmp_path)


@pytest.mark.parametrize("how", ["request", "run context"])
def test_timeout_kills_the_tool_and_returns_timeout(
    fake_dcmtk: Path, ct_small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    out = tmp_path / "ct.png"
    extra: dict[str, Any] = {"timeout": 1} if how == "request" else {"ctx": RunContext(default_timeout=1)}
    started = time.monotonic()
    resp = render(ct_small, out, "hang", monkeypatch, **extra)
    assert time.monotonic() - started < 20
    assert resp.error is not None and resp.error.code == "timeout"
    assert "within 1 s" in resp.error.message
    assert wait_dead(int((fake_dcmtk / "grandchild").read_text()))
    assert not out.exists() and no_temp_files(tmp_path)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"png_compression": 9}, "options.png_compression"),
        ({"window_center": 40, "window_width": 400, "voi_function": "linear_exact"}, "options.voi_function"),
        ({"format": "tiff", "bit_depth": 16}, "options.bit_depth"),
    ],
)
def test_capability_refusal_happens_before_running(
    fake_dcmtk: Path, ct_small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: dict[str, Any],
    field: str,
) -> None:  # fmt: skip
    resp = render(ct_small, tmp_path / "ct.png", "ok", monkeypatch, options=options)
    assert resp.error is not None
    assert (resp.error.code, resp.error.field) == ("unsupported_option", field)
    assert runs(fake_dcmtk) == []  # only --version was ever run
    assert resp.command is None


def test_missing_tool_is_backend_unavailable_response(
    ct_small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DCMTK_HOME", str(tmp_path))
    monkeypatch.setitem(registry._instances, "dcmtk", DcmtkAdapter())
    resp = run({"op": "to_image", "input": str(ct_small), "output": str(tmp_path / "x.png"), "backend": "dcmtk"})
    assert resp.error is not None
    assert (resp.error.code, resp.error.field) == ("backend_unavailable", "backend")
    assert "DCMTK_HOME" in resp.error.message


def test_concurrent_first_use_discovers_once(fake_dcmtk: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    adapter = DcmtkAdapter()
    with ThreadPoolExecutor(8) as pool:
        found = list(pool.map(lambda _: adapter.tool(), range(16)))
    assert all(f == ToolInfo(str(fake_dcmtk / "dcmj2pnm"), "3.6.7") for f in found)
