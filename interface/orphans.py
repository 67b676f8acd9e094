"""Worker processes end with their parent.

A pool worker (``conform --jobs``, ``run --jobs``) whose parent dies, killed or crashed, must not live on:
it may be blocked writing to a pipe nobody reads, holding a private Orthanc server, a JVM or a Node worker.
``exit_with_parent`` starts a thread that watches the parent; when it is gone, the thread closes the backends
this process started (servers and tools stopped by PID) and ends the process. A thread, not a signal: the
main thread may be blocked in a system call that a signal handler cannot interrupt for good.
"""

from __future__ import annotations

import os
import threading
import time


def exit_with_parent(poll_s: float = 0.5) -> None:
    """Watch the current parent from a daemon thread; close every backend and exit when it is gone."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        close_and_exit()

    threading.Thread(target=watch, name="dcmharness-parent-watch", daemon=True).start()


def close_and_exit(status: int = 1) -> None:
    """Stop this process's servers and tool processes, then end it at once (no cleanup that could block)."""
    try:
        from dcmharness.adapters.runner import kill_live_tools
        from dcmharness.interface import registry

        registry.close_all()
        kill_live_tools()
    finally:
        os._exit(status)
