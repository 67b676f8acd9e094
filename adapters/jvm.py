"""The heap cap of every JVM the project starts (PixelMed's tool and batch launcher, dcm4che's scripts).

Without ``-Xmx`` a JVM may grow to a quarter of the machine's memory (6 GiB here): PixelMed allocates a
fragment's declared length before reading it, so a few bytes of damaged header took 2.1 GB (issue 18).
The cap follows the input's declared decoded size (``DCMHARNESS_JVM_MAX_HEAP_MB`` bounds it): enough for
the decoded frames and the 8-bit copies the tools make, and an ``OutOfMemoryError`` (a structured
``backend_failed``) instead of the machine's memory otherwise.

The JVMs started directly get the flag on their command line (``heap_flag``); those started by a tool's
own launcher script get it through ``JAVA_TOOL_OPTIONS`` (``heap_env``), which every HotSpot JVM reads.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

from dcmharness.backends.preflight import InputInfo

MIB = 1024 * 1024
#: The heap every JVM gets at least (start-up, the toolkit's classes, a small image).
MIN_HEAP_MB = 256
#: Heap per MiB of declared decoded pixels (the decoded frames, the tool's own copies, the 8-bit image).
HEAP_PER_DECODED_MB = 3
DEFAULT_MAX_HEAP_MB = 2048
MAX_HEAP_ENV = "DCMHARNESS_JVM_MAX_HEAP_MB"


def max_heap_mb(environ: Mapping[str, str] | None = None) -> int:
    """The largest heap any JVM gets: ``$DCMHARNESS_JVM_MAX_HEAP_MB`` (a positive integer) or 2048."""
    value = (environ if environ is not None else os.environ).get(MAX_HEAP_ENV, "")
    return int(value) if value.strip().isdigit() and int(value) > 0 else DEFAULT_MAX_HEAP_MB


def decoded_bytes(info: InputInfo | None) -> int:
    """The pixels the header declares, decoded (0 when unknown: no image attributes read)."""
    if info is None or info.rows <= 0 or info.columns <= 0:
        return 0
    sample = max(info.bits_allocated, 8) // 8
    return info.rows * info.columns * info.samples_per_pixel * sample * max(1, info.frames)


def heap_mb(decoded: int, cap: int | None = None) -> int:
    """The heap (MiB) for an input of ``decoded`` bytes: 256 + 3 per MiB, at most ``cap``."""
    limit = cap if cap is not None else max_heap_mb()
    return min(MIN_HEAP_MB + HEAP_PER_DECODED_MB * math.ceil(decoded / MIB), limit)


def heap_flag(decoded: int, cap: int | None = None) -> str:
    return f"-Xmx{heap_mb(decoded, cap)}m"


def heap_env(decoded: int, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a JVM started by a launcher script: ours, with the heap flag appended to
    ``JAVA_TOOL_OPTIONS`` (after the user's own options, so ours wins)."""
    env = dict(environ if environ is not None else os.environ)
    flag = heap_flag(decoded, max_heap_mb(env))
    env["JAVA_TOOL_OPTIONS"] = f"{env.get('JAVA_TOOL_OPTIONS', '')} {flag}".strip()
    return env
