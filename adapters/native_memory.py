"""The address-space cap of a native tool that has no memory bound of its own (DICOM-rs's dicom-toimage,
dicom-dump and dicom-transcode): ``prlimit --as=BYTES --`` in front of its argv.

DICOM-rs reserves an element's declared length before reading its value: a damaged length in a small
file (fuzz seed 4101, cases 31, 44, 141, 179: 1.07 to 1.80 GB declared in 5 to 10 KB files) took
dicom-toimage to 1.0-1.7 GB resident before it failed. Under the cap the reservation fails at once and
the tool says so itself ("Could not reserve memory for data value (1073741856 bytes)", exit status 255):
a structured ``backend_failed``, in a few milliseconds and a few MB.

The cap follows the input: a fixed base (the tool, its libraries, a small image), three times the file
(read whole, plus copies) and four times the declared decoded pixels (the frame, its conversions, the
output image), at most ``DCMHARNESS_NATIVE_MAX_MEMORY_MB`` (4096).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

MIB = 1024 * 1024
BASE_MB = 512
PER_FILE_MB = 3
PER_DECODED_MB = 4
DEFAULT_MAX_MB = 4096
MAX_ENV = "DCMHARNESS_NATIVE_MAX_MEMORY_MB"


def max_mb(environ: Mapping[str, str] | None = None) -> int:
    """The largest cap: ``$DCMHARNESS_NATIVE_MAX_MEMORY_MB`` (a positive integer) or 4096."""
    value = (environ if environ is not None else os.environ).get(MAX_ENV, "")
    return int(value) if value.strip().isdigit() and int(value) > 0 else DEFAULT_MAX_MB


def address_space_mb(file_bytes: int, decoded: int, cap: int | None = None) -> int:
    """The cap (MiB) for a file of ``file_bytes`` declaring ``decoded`` bytes of pixels (pure)."""
    limit = cap if cap is not None else max_mb()
    wanted = BASE_MB + PER_FILE_MB * math.ceil(file_bytes / MIB) + PER_DECODED_MB * math.ceil(decoded / MIB)
    return min(wanted, limit)


def capped_argv(argv: Sequence[str], limit_mb: int, prlimit: str | None) -> list[str]:
    """``argv`` behind ``prlimit --as`` (pure); unchanged without ``prlimit`` (util-linux), so that a machine
    without it still runs the tool (the fuzzer's limit still covers it)."""
    if not prlimit:
        return list(argv)
    return [prlimit, f"--as={limit_mb * MIB}", "--", *argv]
