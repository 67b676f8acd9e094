"""Long-lived JSON Lines worker processes: one request line in, one answer line out, each with a timeout
(shared by the adapters of tools run as workers; first user: the dcmjs backend's Node worker).

A worker is started once (its first line on stdout is ``{"ready": true, ...}``), asked many times, killed
(its whole process group) when a request times out, when it dies or when it answers garbage; the next
request then gets a fresh one. Its stderr is read by a thread into a short tail, so the worker can never
block on a full pipe and a failure can quote its last lines. A ``WorkerPool`` lends one idle worker per
concurrent caller (``--jobs`` threads or processes each get their own) and stops every worker by PID on
``close()``, at exit, and whenever a request is interrupted (Ctrl-C).
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import json
import os
import subprocess
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from dcmharness.adapters.runner import kill_group, read_line

#: Lines of a worker's stderr kept for error messages.
STDERR_TAIL = 40
#: Longest answer line accepted (bytes); a worker printing more is broken.
ANSWER_LIMIT = 1 << 20


class WorkerGone(Exception):
    """The worker exited, closed its stdout or printed something that is not an answer."""


class JsonLinesWorker:
    """One worker process (started in its own session, so its group can be killed whole)."""

    def __init__(self, argv: Sequence[str], *, cwd: str | None, env: Mapping[str, str] | None, startup: float) -> None:
        self.argv = list(argv)
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            start_new_session=True,
        )
        self.owner = os.getpid()  # a forked child must not use (or kill) its parent's workers
        self._buffer = b""
        self._tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL)
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()
        try:
            self.hello = self._read_line(startup)
            if not self.hello.get("ready"):
                raise WorkerGone(f"no ready line: {self.hello!r}")
        except BaseException:
            self.close()
            raise

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stderr_tail(self) -> str:
        return "\n".join(self._tail)

    def _read_stderr(self) -> None:
        stream = self.proc.stderr
        if stream is None:
            return
        with contextlib.suppress(OSError, ValueError), stream:
            for raw in stream:
                self._tail.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def _read_line(self, timeout: float) -> dict[str, Any]:
        """The next JSON object line on stdout; ``TimeoutError`` past ``timeout`` s, ``WorkerGone`` at EOF."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while True:
            try:
                line, self._buffer = read_line(fd, self._buffer, deadline, ANSWER_LIMIT)
            except EOFError:
                raise WorkerGone("the worker closed its output (it exited)") from None
            except ValueError:
                raise WorkerGone("the worker printed an over-long line") from None
            try:
                answer = json.loads(line)
            except ValueError:
                raise WorkerGone(f"the worker printed a line that is not JSON: {line[:200]!r}") from None
            if isinstance(answer, dict):
                return answer
            raise WorkerGone(f"the worker printed a non-object line: {line[:200]!r}")

    def ask(self, request: Mapping[str, Any], timeout: float) -> dict[str, Any]:
        """Send one request, return its answer (matched by ``id``)."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(request).encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise WorkerGone(f"the worker does not read its input ({exc})") from None
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read_line(max(0.0, deadline - time.monotonic()))
            if answer.get("id") == request.get("id"):
                return answer

    def returncode(self) -> int | None:
        return self.proc.poll()

    def close(self) -> None:
        """Kill the worker's process group by PID and reap it (idempotent)."""
        if self.owner != os.getpid():
            return
        kill_group(self.proc.pid)
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=5)
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(Exception):
                if stream is not None:
                    stream.close()
        self._drain.join(timeout=1)


_pools: weakref.WeakSet[WorkerPool] = weakref.WeakSet()


@atexit.register
def _close_pools() -> None:
    for pool in list(_pools):
        pool.close()


class WorkerPool:
    """Idle workers lent to one caller at a time; new ones started on demand."""

    def __init__(self, argv: Sequence[str], *, cwd: str | None = None, env: Mapping[str, str] | None = None,
                 startup: float = 30.0) -> None:  # fmt: skip
        self.argv = list(argv)
        self.cwd = cwd
        self.env = env
        self.startup = startup
        self._idle: list[JsonLinesWorker] = []
        self._all: list[JsonLinesWorker] = []
        self._lock = threading.Lock()
        self.started = 0  # workers started in this process (tests read it)
        _pools.add(self)

    def _mine(self) -> None:
        """Forget workers inherited through fork (they belong to the parent; callers hold the lock)."""
        pid = os.getpid()
        if any(w.owner != pid for w in self._all):
            self._all = [w for w in self._all if w.owner == pid]
            self._idle = [w for w in self._idle if w.owner == pid]

    def take(self) -> JsonLinesWorker:
        with self._lock:
            self._mine()
            while self._idle:
                worker = self._idle.pop()
                if worker.returncode() is None:
                    return worker
                self._all.remove(worker)
                worker.close()
        worker = JsonLinesWorker(self.argv, cwd=self.cwd, env=self.env, startup=self.startup)
        with self._lock:
            self._all.append(worker)
            self.started += 1
        return worker

    def give_back(self, worker: JsonLinesWorker) -> None:
        with self._lock:
            self._idle.append(worker)

    def discard(self, worker: JsonLinesWorker) -> None:
        worker.close()
        with self._lock, contextlib.suppress(ValueError):
            self._all.remove(worker)

    def pids(self) -> list[int]:
        with self._lock:
            return [w.pid for w in self._all if w.owner == os.getpid()]

    def close(self) -> None:
        with self._lock:
            workers, self._all, self._idle = self._all, [], []
        for worker in workers:
            worker.close()
