"""Running an external tool: argv lists only (never a shell), a timeout, the process group killed on timeout.

Every child is started in a new session (its own process group), so a tool that forks helpers (a JVM,
a shell wrapper) is killed whole. Children still running when the harness exits are killed too.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from contract.errors import ErrorCode, HarnessError

DEFAULT_TIMEOUT = float(os.environ.get("DCMHARNESS_TIMEOUT", "60"))
STDERR_LIMIT = 4000

_live: set[int] = set()
_live_lock = threading.Lock()


@dataclass
class ToolRun:
    argv: list[str]
    returncode: int
    stdout: bytes
    stderr: bytes
    seconds: float

    @property
    def stderr_text(self) -> str:
        return trim(self.stderr.decode("utf-8", "replace"))

    @property
    def stdout_text(self) -> str:
        return self.stdout.decode("utf-8", "replace")


class ToolError(HarnessError):
    """A HarnessError that also carries the argv and stderr of the failed tool (copied into the response)."""

    def __init__(self, code: ErrorCode, message: str, argv: list[str], stderr: str | None) -> None:
        super().__init__(code, message)
        self.command = argv
        self.stderr = stderr


def trim(text: str, limit: int = STDERR_LIMIT) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit // 2] + "\n...\n" + text[-limit // 2 :]


def kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


@atexit.register
def _kill_leftovers() -> None:
    with _live_lock:
        for pid in list(_live):
            kill_group(pid)
        _live.clear()


def run_tool(
    argv: Sequence[str],
    *,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    stdin: bytes | None = None,
) -> ToolRun:
    """Run ``argv`` to completion; ``timeout`` / ``backend_unavailable`` as contract errors."""
    args = [str(a) for a in argv]
    limit = DEFAULT_TIMEOUT if timeout is None else timeout
    started = time.perf_counter()
    try:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise ToolError(ErrorCode.BACKEND_UNAVAILABLE, f"tool not found: {args[0]}", args, None) from None
    except PermissionError:
        raise ToolError(ErrorCode.BACKEND_UNAVAILABLE, f"tool not executable: {args[0]}", args, None) from None
    with _live_lock:
        _live.add(proc.pid)
    try:
        out, err = proc.communicate(input=stdin, timeout=limit)
    except subprocess.TimeoutExpired:
        kill_group(proc.pid)
        out, err = proc.communicate()
        raise ToolError(
            ErrorCode.TIMEOUT,
            f"{os.path.basename(args[0])} did not finish within {limit:g} s; its process group was killed",
            args,
            trim(err.decode("utf-8", "replace")),
        ) from None
    except BaseException:
        kill_group(proc.pid)
        proc.wait()
        raise
    finally:
        # the tool's own children (if any) die with its group once it has exited
        kill_group(proc.pid)
        with _live_lock:
            _live.discard(proc.pid)
    return ToolRun(args, proc.returncode, out, err, time.perf_counter() - started)


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"
