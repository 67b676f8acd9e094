"""The browser session of the cornerstone backend: one headless Chromium and one driver per process.

``BrowserSession.start()`` makes a fresh temporary folder, starts Debian's Chromium headless on it
(``--remote-debugging-port=0``: the DevTools endpoint listens on 127.0.0.1, on a port Chromium picks and
writes into ``DevToolsActivePort``), then ``node driver.mjs <endpoint>``: the driver serves the bundled page
on 127.0.0.1 and renders in one page of that browser (adapters/cornerstone/driver.mjs). ``ask`` sends one
request line and waits for its answer line; the driver answers ``timeout`` itself and replaces the page
when a render outlives the request's timeout, and a driver that does not answer within the timeout plus a
grace period is stopped (the next request starts a new session). ``stop()`` ends both by PID (their
process groups: SIGTERM, then SIGKILL) and removes the folder; every live session is stopped at interpreter
exit (``atexit``), on SIGTERM (turned into ``SystemExit``) and on Ctrl-C (``KeyboardInterrupt`` unwinds to
the same exit), and the children get ``PR_SET_PDEATHSIG`` when started from the main thread.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from dcmharness.adapters.lifecycle import LiveSet
from dcmharness.contract.errors import ErrorCode, HarnessError

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "driver.mjs"
START_TIMEOUT = 30.0
ANSWER_GRACE = 10.0  # seconds past the request's timeout before the driver itself is given up
STOP_GRACE = 5.0
_PR_SET_PDEATHSIG = 1

#: Chromium's flags: headless, software only, no network of its own, a throw-away profile (appended).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)


def chromium_argv(binary: str, profile: Path, prlimit: str | None = None) -> list[str]:
    """The browser's command line (pure); behind ``prlimit --as=unlimited:`` when ``prlimit`` is given."""
    argv = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"]
    return [prlimit, "--as=unlimited:", "--", *argv] if prlimit else argv


def address_space_wrapper(limits: tuple[int, int], prlimit: str | None) -> str | None:
    """The ``prlimit`` Chromium must start behind under these RLIMIT_AS (soft, hard) limits, or None (pure).

    Chromium dies at start-up with SIGTRAP under any address-space limit tried (16 GiB: the fuzzer's worker
    limit; exit status -5): it reserves address space far beyond what it touches. Its memory is bounded by
    the preflight (absurd declared sizes never reach it) and, in the fuzzer, by the case's resident memory
    limit, which covers the browser's processes. A soft limit under an unlimited hard one is lifted for the
    browser alone; a finite hard limit cannot be lifted: ``backend_failed`` says so before starting.
    """
    soft, hard = limits
    if soft == resource.RLIM_INFINITY:
        return None
    if hard != resource.RLIM_INFINITY:
        raise HarnessError(
            ErrorCode.BACKEND_FAILED,
            f"cornerstone: chromium does not start under an address-space limit and this process's hard "
            f"RLIMIT_AS ({hard // (1024 * 1024)} MiB) cannot be lifted for it",
        )
    if prlimit is None:
        raise HarnessError(
            ErrorCode.BACKEND_FAILED,
            f"cornerstone: chromium does not start under an address-space limit (RLIMIT_AS "
            f"{soft // (1024 * 1024)} MiB) and prlimit (util-linux) is not on PATH to lift it",
        )
    return prlimit


def driver_argv(node: str, endpoint: str) -> list[str]:
    """The driver's command line (pure)."""
    return [node, str(DRIVER), endpoint]


def endpoint_from(active_port: str) -> str | None:
    """The browser's WebSocket endpoint from the text of ``DevToolsActivePort`` (port, then path)."""
    lines = active_port.strip().splitlines()
    if len(lines) < 2 or not lines[0].strip().isdigit() or not lines[1].startswith("/devtools/browser/"):
        return None
    return f"ws://127.0.0.1:{lines[0].strip()}{lines[1].strip()}"


def _set_pdeathsig() -> None:  # pragma: no cover - runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _stop_group(proc: subprocess.Popen[bytes] | None, grace: float) -> None:
    """SIGTERM the process group of ``proc`` (its own session), SIGKILL it after ``grace``, reap it."""
    if proc is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # the group: renderer and GPU processes too
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)


class BrowserSession:
    """One Chromium and its driver, both ours, both on 127.0.0.1."""

    def __init__(self, chromium: str, node: str) -> None:
        self.chromium = chromium
        self.node = node
        self.folder: Path | None = None
        self.browser: subprocess.Popen[bytes] | None = None
        self.driver: subprocess.Popen[bytes] | None = None
        self.origin: str | None = None
        self.started_s: float | None = None
        self._buffer = b""

    @property
    def running(self) -> bool:
        return (
            self.browser is not None
            and self.browser.poll() is None
            and self.driver is not None
            and self.driver.poll() is None
        )

    def start(self, timeout: float = START_TIMEOUT) -> None:
        t0 = time.monotonic()
        self.folder = Path(tempfile.mkdtemp(prefix="dcmharness-cornerstone-"))
        profile = self.folder / "profile"
        deathsig = _set_pdeathsig if threading.current_thread() is threading.main_thread() else None
        _live.add(self)
        try:
            wrapper = address_space_wrapper(resource.getrlimit(resource.RLIMIT_AS), shutil.which("prlimit"))
            with open(self.folder / "chromium.log", "wb") as log:
                self.browser = subprocess.Popen(
                    chromium_argv(self.chromium, profile, wrapper),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                    preexec_fn=deathsig,  # noqa: PLW1509 - only prctl, from the main thread
                )
            endpoint = self._wait_endpoint(profile / "DevToolsActivePort", t0 + timeout)
            with open(self.folder / "driver.log", "wb") as log:
                self.driver = subprocess.Popen(
                    driver_argv(self.node, endpoint),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,  # a file: the driver can never block on it
                    start_new_session=True,
                    preexec_fn=deathsig,  # noqa: PLW1509
                )
            ready = self._read_line(t0 + timeout - time.monotonic())
            self.origin = str(ready.get("origin"))
            self.started_s = time.monotonic() - t0
        except HarnessError:
            self.stop()
            raise
        except (TimeoutError, EOFError, OSError, ValueError) as exc:
            tail = self.log_tail()
            self.stop()
            raise HarnessError(
                ErrorCode.BACKEND_FAILED, f"cornerstone: the browser session did not start ({exc!r}){tail}"
            ) from None

    def _wait_endpoint(self, active_port: Path, deadline: float) -> str:
        while time.monotonic() < deadline:
            if self.browser is not None and self.browser.poll() is not None:
                raise OSError(f"chromium exited with status {self.browser.returncode}")
            with contextlib.suppress(OSError):
                endpoint = endpoint_from(active_port.read_text())
                if endpoint:
                    return endpoint
            time.sleep(0.05)
        raise TimeoutError("chromium wrote no DevToolsActivePort")

    def _read_line(self, timeout: float) -> dict[str, Any]:
        assert self.driver is not None and self.driver.stdout is not None
        fd = self.driver.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from the driver")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    raise EOFError("the driver exited")
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def ask(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send one request (its ``timeout_ms`` set from ``timeout``) and read its answer."""
        assert self.driver is not None and self.driver.stdin is not None
        line = json.dumps({**request, "timeout_ms": int(timeout * 1000)})
        try:
            self.driver.stdin.write(line.encode() + b"\n")
            self.driver.stdin.flush()
            return self._read_line(timeout + ANSWER_GRACE)
        except TimeoutError:
            self.stop()
            raise HarnessError(ErrorCode.TIMEOUT, f"cornerstone: no answer within {timeout:g} s") from None
        except (EOFError, OSError, ValueError) as exc:
            tail = self.log_tail()
            self.stop()
            raise HarnessError(ErrorCode.BACKEND_FAILED, f"cornerstone: the driver failed ({exc}){tail}") from None

    def log_tail(self, lines: int = 5) -> str:
        if self.folder is None:
            return ""
        text = ""
        with contextlib.suppress(OSError):
            text = (self.folder / "driver.log").read_text(errors="replace")
        tail = [t for t in text.strip().splitlines() if t.strip()][-lines:]
        return (": " + " | ".join(tail)) if tail else ""

    def stop(self, grace: float = STOP_GRACE) -> None:
        driver, browser, self.driver, self.browser = self.driver, self.browser, None, None
        if driver is not None and driver.stdin is not None:
            with contextlib.suppress(OSError):
                driver.stdin.close()
        _stop_group(driver, grace)
        _stop_group(browser, grace)
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
        self._buffer = b""
        _live.discard(self)


#: every browser session this process started, stopped at exit (and on SIGTERM and Ctrl-C, which unwind to it)
_live: LiveSet[BrowserSession] = LiveSet(lambda session: session.stop(grace=2.0))


def live_sessions() -> list[BrowserSession]:
    return _live.items()


def stop_all() -> None:
    """Stop every session this process started (atexit; also reached on SIGTERM and Ctrl-C)."""
    _live.stop_all()
