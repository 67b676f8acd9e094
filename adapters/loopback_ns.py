"""A server that cannot bind one address (dcmqrscp 3.6.7, Orthanc 1.10's DICOM and HTTP ports listen on every
interface) run so that nothing but the harness can reach it: in a network namespace of its own whose only
interface is its own loopback, reached through a relay the harness listens with on 127.0.0.1.

- ``python -m dcmharness.adapters.loopback_ns -- ARGV...`` (the child): ``unshare(CLONE_NEWNET)``, the new
  namespace's ``lo`` brought up (``SIOCSIFFLAGS``), ``PR_SET_PDEATHSIG`` (SIGTERM when the harness dies), then
  ``exec ARGV``. Whatever the server binds, "every interface" of that namespace is its loopback only: the host's
  ``/proc/net/tcp`` shows no socket of it at all.
- ``isolated_peer(argv, ...)`` (the harness): listens on ``127.0.0.1:port`` in the host's namespace and relays
  each connection to ``127.0.0.1:inner_port`` inside the child's namespace (a socket created by a thread that
  entered it with ``setns``). The server is stopped by its PID (SIGTERM, then SIGKILL of its process group) when
  the block ends, also on error and Ctrl-C; the relay with it.

Needs CAP_SYS_ADMIN (root, as the harness's CI runs) for ``unshare``; ``namespace_support()`` says whether it
works here, and the peers that need it are refused with that reason otherwise.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from dcmharness.backends.network import Peer, stop_process
from dcmharness.contract.errors import ErrorCode, HarnessError

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
PR_SET_PDEATHSIG = 1
BUFFER = 1 << 20


def _libc() -> Any:
    return ctypes.CDLL("libc.so.6", use_errno=True)


def loopback_up() -> None:
    """Bring the current namespace's ``lo`` up (a new network namespace starts with it down)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14s", b"lo", 0, b"\0" * 14)
        flags = struct.unpack("16sH", fcntl.ioctl(sock, SIOCGIFFLAGS, request)[:18])[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", flags | IFF_UP, b"\0" * 14))


def enter_new_namespace() -> None:
    """Move this process into a new network namespace with only its loopback, up."""
    libc = _libc()
    if libc.unshare(CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare(CLONE_NEWNET): {os.strerror(err)}")
    loopback_up()


_support: tuple[bool, str] | None = None


def namespace_support() -> tuple[bool, str]:
    """(True, "") when a child can get a network namespace of its own here; else (False, why). Cached."""
    global _support
    if _support is None:
        proc = subprocess.run(
            [sys.executable, "-m", "dcmharness.adapters.loopback_ns", "--check"],
            capture_output=True,
            timeout=30,
            check=False,
        )
        why = proc.stderr.decode("utf-8", "replace").strip()[-300:]
        _support = (proc.returncode == 0, why or f"exit status {proc.returncode}")
    return _support


def socket_in(pid: int) -> socket.socket:
    """A TCP socket created inside the network namespace of process ``pid`` (by a thread that entered it)."""
    made: list[socket.socket] = []
    errors: list[BaseException] = []

    def create() -> None:
        try:
            fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
            try:
                if _libc().setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns: {os.strerror(err)}")
            finally:
                os.close(fd)
            made.append(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        except BaseException as exc:  # handed to the caller
            errors.append(exc)

    thread = threading.Thread(target=create, name="dcmharness-netns", daemon=True)
    thread.start()
    thread.join()  # the thread ends in the other namespace: no other code of ours ever runs in it
    if errors:
        raise errors[0]
    return made[0]


def connect_inside(pid: int, port: int, timeout: float) -> socket.socket:
    sock = socket_in(pid)
    try:
        sock.settimeout(timeout)
        sock.connect(("127.0.0.1", port))
        sock.settimeout(None)
    except OSError:
        sock.close()
        raise
    return sock


def _pump(src: socket.socket, dst: socket.socket) -> None:
    """Copy ``src`` to ``dst`` until ``src`` ends, then half-close ``dst``."""
    try:
        while True:
            data = src.recv(BUFFER)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


class Relay:
    """Listens on ``host:port`` (host namespace) and relays each connection into ``pid``'s namespace."""

    def __init__(self, host: str, port: int, pid: int, inner_port: int) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self.listener.bind((host, port))
        except OSError as exc:
            self.listener.close()
            raise HarnessError(
                ErrorCode.BACKEND_UNAVAILABLE, f"cannot listen on {host}:{port}: {exc}", "port"
            ) from None
        self.listener.listen(16)
        self.port = int(self.listener.getsockname()[1])
        self.pid, self.inner_port = pid, inner_port
        self.open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="dcmharness-relay", daemon=True)

    def start(self, pid: int) -> None:
        self.pid = pid
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                outer, _ = self.listener.accept()
            except OSError:
                return
            try:
                inner = connect_inside(self.pid, self.inner_port, 10)
            except OSError:
                outer.close()  # the server is not there (any more): the client sees the connection end
                continue
            for sock in (outer, inner):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self.open.update((outer, inner))
            threading.Thread(target=self._serve, args=(outer, inner), daemon=True).start()

    def _serve(self, outer: socket.socket, inner: socket.socket) -> None:
        back = threading.Thread(target=_pump, args=(inner, outer), daemon=True)
        back.start()
        _pump(outer, inner)
        back.join()
        for sock in (outer, inner):
            sock.close()
        with self._lock:
            self.open.difference_update((outer, inner))

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        with self._lock:
            for sock in list(self.open):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self.open.clear()


def wait_inside(pid: int, port: int, deadline_s: float, alive: Any) -> bool:
    """True once ``127.0.0.1:port`` inside ``pid``'s namespace accepts a connection."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if not alive():
            return False
        try:
            connect_inside(pid, port, 0.5).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


@contextlib.contextmanager
def isolated_peer(
    argv: list[str],
    port: int,
    inner_port: int,
    aet: str,
    store_dir: str,
    extra_ports: dict[int, int] | None = None,
    start_s: float = 30.0,
    cwd: str | None = None,
    log: str | None = None,
) -> Iterator[tuple[Peer, dict[int, int]]]:
    """Run ``argv`` in its own network namespace until the block ends, listening (inside) on ``inner_port``,
    reached at ``127.0.0.1:port``. ``extra_ports``: more inner ports to relay (inner -> host port, 0 = free);
    yields the peer and inner -> host port of every relay; the server's output goes to the file ``log`` (else
    discarded: a pipe nobody reads would block it). ``backend_unavailable`` when namespaces are not
    available here or the server does not listen within ``start_s``."""
    ok, why = namespace_support()
    if not ok:
        raise HarnessError(
            ErrorCode.BACKEND_UNAVAILABLE,
            f"cannot give the server a network namespace of its own (needs CAP_SYS_ADMIN): {why}",
            "backend",
        )
    relays = [Relay("127.0.0.1", port, 0, inner_port)]
    try:
        relays += [Relay("127.0.0.1", host_port, 0, inner) for inner, host_port in (extra_ports or {}).items()]
    except BaseException:
        for relay in relays:
            relay.close()
        raise
    main_thread = threading.current_thread() is threading.main_thread()
    wrapper = [sys.executable, "-m", "dcmharness.adapters.loopback_ns"]
    wrapper += ["--pdeathsig"] if main_thread else []
    sink = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - handed to the child, closed below
    try:
        proc = subprocess.Popen(
            [*wrapper, "--", *argv],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
            start_new_session=True,
            cwd=cwd,
        )
    except OSError as exc:
        for relay in relays:
            relay.close()
        raise HarnessError(ErrorCode.BACKEND_UNAVAILABLE, f"cannot run {argv[0]}: {exc}", "backend") from None
    finally:
        if not isinstance(sink, int):
            sink.close()
    try:
        if not wait_inside(proc.pid, inner_port, start_s, alive=lambda: proc.poll() is None):
            stop_process(proc)
            err = _tail(log)
            raise HarnessError(
                ErrorCode.BACKEND_UNAVAILABLE,
                f"{os.path.basename(argv[0])} did not listen within {start_s:g} s: {err.strip()}",
                "backend",
            )
        for relay in relays:
            relay.start(proc.pid)
        ports = {relay.inner_port: relay.port for relay in relays}
        yield Peer("127.0.0.1", relays[0].port, aet, proc.pid, store_dir), ports
    finally:
        for relay in relays:
            relay.close()
        stop_process(proc)


def _tail(log: str | None, limit: int = 2000) -> str:
    if not log:
        return ""
    try:
        with open(log, "rb") as fh:
            return fh.read().decode("utf-8", "replace")[-limit:]
    except OSError:
        return ""


def main(argv: list[str]) -> int:
    if argv[:1] == ["--check"]:
        try:
            enter_new_namespace()
        except OSError as exc:
            print(exc, file=sys.stderr)
            return 1
        return 0
    if argv[:1] == ["--pdeathsig"]:
        with contextlib.suppress(Exception):
            _libc().prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        argv = argv[1:]
    if argv[:1] != ["--"] or len(argv) < 2:
        print("usage: python -m dcmharness.adapters.loopback_ns [--check | [--pdeathsig] -- ARGV...]", file=sys.stderr)
        return 2
    try:
        enter_new_namespace()
    except OSError as exc:
        print(f"loopback_ns: {exc}", file=sys.stderr)
        return 1
    os.execvp(argv[1], argv[1:])
    return 1  # pragma: no cover - exec does not return


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
