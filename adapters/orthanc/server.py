"""The life cycle of the Orthanc server the harness runs for itself (one per process, one per run).

``OrthancServer.start()`` writes a configuration into a fresh temporary folder (storage and index there
too), starts ``Orthanc <config.json>`` on a free port of 127.0.0.1 and waits until ``GET /system``
answers. ``stop()`` ends it by PID: SIGTERM, then SIGKILL after a grace period, then removes the folder.
Every running server is also stopped at interpreter exit (``atexit``), on SIGTERM sent to the harness
(converted into a normal exit, so ``atexit`` runs) and on Ctrl-C (``KeyboardInterrupt`` unwinds to the
same exit path). When the server is started from the main thread the child also gets
``PR_SET_PDEATHSIG``: should the harness be killed outright (SIGKILL), the kernel sends Orthanc SIGTERM.

Orthanc 1.10 has no bind-address option: it listens on every interface. With
``"RemoteAccessAllowed": false`` it answers only requests from the loopback address, and nothing is
exposed to DICOM (``"DicomServerEnabled": false``).

Alternatively a server given by URL (``DCMHARNESS_ORTHANC_URL``, e.g. ``http://127.0.0.1:8042``) is used
as is; the harness then neither starts nor stops anything.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dcmharness.adapters.lifecycle import LiveSet
from dcmharness.contract.errors import ErrorCode, HarnessError

URL_ENV = "DCMHARNESS_ORTHANC_URL"
#: Where Debian (and most Linux packages) put the plugins, in the order searched.
PLUGIN_DIRS = ("/usr/share/orthanc/plugins", "/usr/lib/orthanc", "/usr/local/share/orthanc/plugins")
PLUGIN_NAMES = {"dicomweb": "libOrthancDicomWeb.so", "gdcm": "libOrthancGdcm.so"}
START_TIMEOUT = 30.0
STOP_GRACE = 10.0
_PR_SET_PDEATHSIG = 1


def find_plugins(dirs: Sequence[str] = PLUGIN_DIRS) -> dict[str, str]:
    """The plugin shared objects found, by short name (``dicomweb``, ``gdcm``); env ``ORTHANC_PLUGINS_DIR`` first."""
    search = [os.environ["ORTHANC_PLUGINS_DIR"], *dirs] if os.environ.get("ORTHANC_PLUGINS_DIR") else list(dirs)
    found: dict[str, str] = {}
    for short, lib in PLUGIN_NAMES.items():
        for folder in search:
            candidates = sorted(glob.glob(os.path.join(folder, lib + "*")), key=len)
            if candidates:
                found[short] = candidates[0]
                break
    return found


def server_config(port: int, folder: Path, plugins: Sequence[str]) -> dict[str, Any]:
    """The JSON configuration of a private, loopback-only server (a pure function)."""
    return {
        "Name": "dcmharness",
        "HttpPort": port,
        "RemoteAccessAllowed": False,  # 1.10 cannot bind to 127.0.0.1 only; this refuses non-loopback clients
        "AuthenticationEnabled": False,
        "DicomServerEnabled": False,
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "storage"),
        "StorageCompression": False,
        "MaximumStorageSize": 0,
        "HttpCompressionEnabled": False,
        "KeepAlive": True,
        "HttpTimeout": 60,
        "Plugins": list(plugins),
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False},
        "StableAge": 3600,
        "SaveJobs": False,
    }


def free_port() -> int:
    """A TCP port of 127.0.0.1 free right now (the server may still race for it: start() retries)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_json(url: str, timeout: float = 5.0) -> Any:
    """GET ``url`` and decode its JSON answer (raises ``OSError``/``ValueError`` on failure)."""
    with urllib.request.urlopen(urllib.request.Request(url, method="GET"), timeout=timeout) as resp:
        return json.loads(resp.read())


#: The server's address space, capped (MiB; ``DCMHARNESS_ORTHANC_MAX_MEMORY_MB``): an idle server maps about
#: 450 MB. Orthanc's DCMTK parser, reading an implicit-VR file declared explicit (9.7 KB, fuzz seed 77123
#: case 1737), grew the server to 1.24 GB resident; under the cap the allocation fails and Orthanc answers
#: the upload with an error instead.
DEFAULT_MAX_MEMORY_MB = 1536
MAX_MEMORY_ENV = "DCMHARNESS_ORTHANC_MAX_MEMORY_MB"


def max_memory_mb(environ: Mapping[str, str] | None = None) -> int:
    value = (environ if environ is not None else os.environ).get(MAX_MEMORY_ENV, "")
    return int(value) if value.strip().isdigit() and int(value) > 0 else DEFAULT_MAX_MEMORY_MB


def cap_memory(pid: int, mb: int | None = None) -> None:
    """RLIMIT_AS of the started server (``prlimit``: no ``preexec_fn``, which is unsafe in threads)."""
    limit = (mb if mb is not None else max_memory_mb()) * 1024 * 1024
    with contextlib.suppress(OSError, ValueError, AttributeError):
        resource.prlimit(pid, resource.RLIMIT_AS, (limit, limit))


def _set_pdeathsig() -> None:  # pragma: no cover - runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


@dataclass
class OrthancServer:
    """One Orthanc process of ours (or, with ``external=True``, a server someone else runs)."""

    binary: str | None
    plugins: list[str] = field(default_factory=list)
    base_url: str = ""
    external: bool = False
    folder: Path | None = None
    pid: int | None = None
    version: str | None = None
    _proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def from_url(cls, url: str) -> OrthancServer:
        return cls(binary=None, base_url=url.rstrip("/"), external=True)

    # -- starting ---------------------------------------------------------------------------------
    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start (our own) or probe (external) the server; ``backend_unavailable`` when it does not answer."""
        if self.external:
            self._probe_external()
            return
        if self._proc is not None:
            return
        if not self.binary:
            raise HarnessError(ErrorCode.BACKEND_UNAVAILABLE, "Orthanc binary not found", "backend")
        last = ""
        for _attempt in range(3):  # the free port may be taken between free_port() and Orthanc's bind
            try:
                self._start_once(timeout)
                return
            except _StartFailed as exc:
                last = str(exc)
        raise HarnessError(ErrorCode.BACKEND_UNAVAILABLE, f"Orthanc did not start: {last}", "backend")

    def _start_once(self, timeout: float) -> None:
        folder = Path(tempfile.mkdtemp(prefix="dcmharness-orthanc-"))
        port = free_port()
        config = folder / "orthanc.json"
        config.write_text(json.dumps(server_config(port, folder, self.plugins), indent=2))
        log = open(folder / "orthanc.log", "wb")  # noqa: SIM115 - handed to the child, closed below
        main_thread = threading.current_thread() is threading.main_thread()
        assert self.binary is not None
        try:
            proc = subprocess.Popen(
                [self.binary, str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=str(folder),
                start_new_session=True,  # Ctrl-C in a terminal reaches the harness, which then stops it
                preexec_fn=_set_pdeathsig if main_thread else None,
            )
        except OSError as exc:
            log.close()
            shutil.rmtree(folder, ignore_errors=True)
            raise HarnessError(ErrorCode.BACKEND_UNAVAILABLE, f"cannot run {self.binary}: {exc}", "backend") from None
        finally:
            if not log.closed:
                log.close()
        cap_memory(proc.pid)
        self._proc, self.pid, self.folder = proc, proc.pid, folder
        self.base_url = f"http://127.0.0.1:{port}"
        _live.add(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = self.log_tail()
                self.stop()
                raise _StartFailed(f"exit status {proc.returncode}: {tail}")
            try:
                info = http_json(self.base_url + "/system", timeout=2)
                self.version = str(info.get("Version") or "") or None
                return
            except (OSError, ValueError):
                time.sleep(0.05)
        tail = self.log_tail()
        self.stop()
        raise _StartFailed(f"no answer on {self.base_url} within {timeout:g} s: {tail}")

    def _probe_external(self) -> None:
        try:
            info = http_json(self.base_url + "/system", timeout=5)
        except (OSError, ValueError) as exc:
            raise HarnessError(
                ErrorCode.BACKEND_UNAVAILABLE, f"Orthanc at {self.base_url} does not answer: {exc}", "backend"
            ) from None
        self.version = str(info.get("Version") or "") or None

    def log_tail(self, lines: int = 5) -> str:
        if self.folder is None:
            return ""
        try:
            text = (self.folder / "orthanc.log").read_text("utf-8", "replace")
        except OSError:
            return ""
        return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])

    def log_offset(self) -> int:
        """The current size of the server's log (external servers: 0)."""
        if self.folder is None:
            return 0
        try:
            return (self.folder / "orthanc.log").stat().st_size
        except OSError:
            return 0

    def log_since(self, offset: int, limit: int = 3000) -> str:
        """What the server logged after ``offset`` (its errors and warnings), trimmed to ``limit`` characters."""
        if self.folder is None:
            return ""
        try:
            with open(self.folder / "orthanc.log", "rb") as fh:
                fh.seek(offset)
                text = fh.read().decode("utf-8", "replace").strip()
        except OSError:
            return ""
        return text if len(text) <= limit else "..." + text[-limit:]

    def crash_report(self, wait: float = 2.0) -> str | None:
        """After a failed call: None if the server still runs, else its exit status and last log lines."""
        proc = self._proc
        if self.external or proc is None:
            return None
        try:
            code = proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            return None
        return f"exit status {code}: {self.log_tail(3)}"

    # -- stopping ---------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self, grace: float = STOP_GRACE) -> None:
        """SIGTERM, wait up to ``grace`` s, then SIGKILL; remove the temporary folder. Idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.wait(timeout=5)
            _live.discard(self)
        if self.folder is not None and not self.external:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


class _StartFailed(Exception):
    pass


# -- every server of this process, stopped at exit ------------------------------------------------------
#: every server this process started, stopped at exit (and on SIGTERM, which unwinds to it)
_live: LiveSet[OrthancServer] = LiveSet(lambda server: server.stop(grace=5.0))


def live_servers() -> list[OrthancServer]:
    return _live.items()


def stop_all() -> None:
    """Stop every server this process started (atexit; also called on SIGTERM)."""
    _live.stop_all()


def orthanc_pids(parent: int | None = None) -> list[int]:
    """PIDs of the live (not zombie) Orthanc processes started by the harness, read from /proc.

    A harness server is recognised by its configuration path (a ``dcmharness-orthanc-`` temporary folder);
    ``parent`` keeps only the children of that process.
    """
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        # stat: "pid (comm) state ppid ..." (comm may hold spaces: split after the last ')')
        comm = stat[stat.find("(") + 1 : stat.rfind(")")]
        fields = stat[stat.rfind(")") + 2 :].split()
        if comm != "Orthanc" or not fields or fields[0] == "Z":
            continue
        if not any(b"dcmharness-orthanc-" in arg for arg in cmdline):
            continue
        if parent is not None and int(fields[1]) != parent:
            continue
        pids.append(int(entry))
    return sorted(pids)


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].split()[:1] != ["Z"]
