"""The processes a backend starts for a whole run (a private Orthanc, a headless Chromium): a set of the live
ones per kind, stopped at exit, and SIGTERM turned into a normal unwinding so that ``finally`` blocks,
``registry.close_all`` and these atexit stops run on it too.
"""

from __future__ import annotations

import atexit
import contextlib
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Generic, TypeVar

T = TypeVar("T")

_signal_lock = threading.Lock()
_signal_installed = False


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds normally: finally blocks, registry.close_all, atexit


def install_sigterm() -> None:
    """Turn SIGTERM into SystemExit, when nobody else handles it and we are on the main thread."""
    global _signal_installed
    if threading.current_thread() is not threading.main_thread():
        return
    with _signal_lock:
        if _signal_installed:
            return
        with contextlib.suppress(ValueError, OSError):
            if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
                signal.signal(signal.SIGTERM, _on_sigterm)
        _signal_installed = True


class LiveSet(Generic[T]):
    """The live processes of one kind in this process, each stopped by ``stop`` at exit."""

    def __init__(self, stop: Callable[[T], None]) -> None:
        self._items: list[T] = []
        self._lock = threading.Lock()
        self._stop = stop
        atexit.register(self.stop_all)

    def add(self, item: T) -> None:
        with self._lock:
            if item not in self._items:
                self._items.append(item)
        install_sigterm()

    def discard(self, item: T) -> None:
        with self._lock:
            if item in self._items:
                self._items.remove(item)

    def items(self) -> list[T]:
        with self._lock:
            return list(self._items)

    def stop_all(self) -> None:
        """Stop every live one (atexit; also reached on SIGTERM and Ctrl-C)."""
        for item in self.items():
            with contextlib.suppress(Exception):
                self._stop(item)
