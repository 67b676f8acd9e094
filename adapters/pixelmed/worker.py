"""A long-lived PixelMed validator JVM (``PixelMedValidate``): a file path in, one answer line out.

Its stylesheets take seconds to compile, so the adapter keeps ONE such JVM per process for every
``validate`` request (started on the first, stopped by PID in the adapter's ``close()``, and killed with its
process group when the harness exits or a request times out).
"""

from __future__ import annotations

import atexit
import contextlib
import subprocess
import threading
import time
from collections.abc import Sequence

from dcmharness.adapters.pixelmed.launcher import batch_line, parse_answers
from dcmharness.adapters.runner import kill_group, read_line

#: Seconds the first answer may take beyond the request's timeout: the JVM starts and compiles the XSLT.
STARTUP_GRACE = 120.0


class ValidatorWorker:
    def __init__(self, argv: Sequence[str]) -> None:
        self.argv = list(argv)
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.buffer = b""
        self.jobs = 0
        self.lock = threading.Lock()
        atexit.register(self.close)  # never outlives the harness, even when nobody calls close()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def ask(self, path: str, timeout: float) -> tuple[bool, str]:
        """(ok, the validator's text | the error) for one file; TimeoutError / EOFError when the JVM fails."""
        with self.lock:
            assert self.proc.stdin is not None and self.proc.stdout is not None
            limit = timeout + (STARTUP_GRACE if self.jobs == 0 else 0.0)
            job = self.jobs
            self.jobs += 1
            self.proc.stdin.write((batch_line([path]) + "\n").encode("utf-8"))
            self.proc.stdin.flush()
            fd = self.proc.stdout.fileno()
            deadline = time.monotonic() + limit
            while True:
                line, self.buffer = read_line(fd, self.buffer, deadline)
                answers = parse_answers(line.decode("utf-8", "replace"))
                if job in answers:
                    ok, payload = answers[job]
                    return ok, payload[0] if payload else ""

    def close(self) -> None:
        with contextlib.suppress(Exception):
            kill_group(self.proc.pid)
            self.proc.wait(timeout=5)
