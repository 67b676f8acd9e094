"""Running an external tool: argv lists only (never a shell), a timeout, the process group killed on timeout.

Every child is started in a new session (its own process group), so a tool that forks helpers (a JVM,
a shell wrapper) is killed whole. Children still running when the harness exits are killed too.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO

from dcmharness.contract.errors import ErrorCode, HarnessError

DEFAULT_TIMEOUT = float(os.environ.get("DCMHARNESS_TIMEOUT", "60"))
STDERR_LIMIT = 4000
PIPE_GRACE = 5.0  # seconds to finish reading the pipes once the tool is gone

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
    except OSError as exc:  # exec failed otherwise: a symlink loop, a half-written binary (ENOEXEC), ...
        raise ToolError(
            ErrorCode.BACKEND_UNAVAILABLE, f"tool cannot be started: {args[0]}: {exc.strerror or exc}", args, None
        ) from None
    with _live_lock:
        _live.add(proc.pid)
    pumps = _Pumps(proc, stdin)
    # The deadline is a timer that kills the group; the wait itself blocks in waitpid, so a finished tool is
    # seen at once (Popen.wait(timeout) polls with sleeps of up to 50 ms: ~15 ms lost on every short run).
    timed_out = threading.Event()

    def on_deadline() -> None:
        timed_out.set()
        kill_group(proc.pid)

    deadline = threading.Timer(limit, on_deadline)
    deadline.daemon = True
    deadline.start()
    try:
        proc.wait()  # the tool itself, not its pipes: a helper it left running may hold them
    except BaseException:
        kill_group(proc.pid)
        proc.wait()
        raise
    finally:
        deadline.cancel()
        # the tool's own children (if any) die with its group once it has exited
        kill_group(proc.pid)
        with _live_lock:
            _live.discard(proc.pid)
    if timed_out.is_set() and proc.returncode == -signal.SIGKILL:  # not a tool that ended as the deadline passed
        _out, err = pumps.join()
        raise ToolError(
            ErrorCode.TIMEOUT,
            f"{os.path.basename(args[0])} did not finish within {limit:g} s; its process group was killed",
            args,
            trim(err.decode("utf-8", "replace")),
        )
    out, err = pumps.join()
    return ToolRun(args, proc.returncode, out, err, time.perf_counter() - started)


class _Pumps:
    """Feed stdin and drain stdout/stderr in threads, so waiting is on the process, not on its pipes."""

    def __init__(self, proc: subprocess.Popen[bytes], stdin: bytes | None) -> None:
        self._chunks: dict[str, bytes] = {"out": b"", "err": b""}
        self._threads = [
            threading.Thread(target=self._drain, args=("out", proc.stdout), daemon=True),
            threading.Thread(target=self._drain, args=("err", proc.stderr), daemon=True),
        ]
        if proc.stdin is not None:
            self._threads.append(threading.Thread(target=self._feed, args=(proc.stdin, stdin or b""), daemon=True))
        for t in self._threads:
            t.start()

    def _drain(self, key: str, stream: IO[bytes] | None) -> None:
        if stream is None:
            return
        with stream:
            self._chunks[key] = stream.read()

    @staticmethod
    def _feed(stream: IO[bytes], data: bytes) -> None:
        with contextlib.suppress(BrokenPipeError, OSError), stream:
            stream.write(data)

    def join(self) -> tuple[bytes, bytes]:
        """What the tool wrote (call once its process group is gone, so the pipes are closed). A process that
        left the group (setsid) and still holds a pipe cannot hang the harness: waiting is bounded."""
        for t in self._threads:
            t.join(timeout=PIPE_GRACE)
        return self._chunks["out"], self._chunks["err"]


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


def kill_live_tools() -> None:
    """Kill the group of every tool this process still runs: for a process that ends without ``atexit``
    (a forked worker ends by ``os._exit``), e.g. one stopped between starting a tool and waiting for it."""
    _kill_leftovers()


def read_line(fd: int, buffer: bytes, deadline: float, limit: int | None = None) -> tuple[bytes, bytes]:
    """The next line (without its newline) of a worker's output ``fd``, and what was read after it.

    ``buffer`` holds what earlier calls read past their line. ``TimeoutError`` once ``time.monotonic()``
    passes ``deadline``, ``EOFError`` when the worker closed its output, ``ValueError`` when more than
    ``limit`` bytes arrive without a newline."""
    while b"\n" not in buffer:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise EOFError
            buffer += chunk
            if limit is not None and len(buffer) > limit and b"\n" not in buffer:
                raise ValueError(f"more than {limit} bytes without a newline")
    line, _, rest = buffer.partition(b"\n")
    return line, rest
