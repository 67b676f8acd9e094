"""The protocol of the project's PixelMed launcher (``adapters/pixelmed/PixelMedBatch.java``).

Input, on stdin: one job per line, the positional arguments of ConsumerFormatImageMaker separated by TAB;
inside a field ``\\`` is a backslash, ``\\t`` a tab and ``\\n`` a newline. Output, on stdout: one line per
job, in order: ``PMB<TAB>OK<TAB><job><TAB><file>...`` or ``PMB<TAB>ERR<TAB><job><TAB><exception>``; any
other line (PixelMed's logging goes to stderr anyway) is ignored. All functions here are pure.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

BATCH_CLASS = "PixelMedBatch"
#: Where adapters/pixelmed/build.sh puts the compiled launcher (git-ignored).
BATCH_CLASSES = Path(__file__).resolve().parent / "build"
#: Prefix of the launcher's answer lines.
ANSWER = "PMB"
JVM_FLAGS = ("-Djava.awt.headless=true",)


def batch_argv(java: str, jar: str, classes: str, heap: str) -> list[str]:
    """The launcher's command line; ``heap`` is its ``-Xmx`` flag (``adapters/jvm.py``)."""
    return [java, *JVM_FLAGS, heap, "-cp", f"{jar}{os.pathsep}{classes}", BATCH_CLASS]


def escape_field(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def unescape_field(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"t": "\t", "n": "\n"}.get(m.group(1), m.group(1)), value)


def batch_line(args: Sequence[str]) -> str:
    """One job of the launcher's input: the arguments, TAB-separated and escaped."""
    return "\t".join(escape_field(a) for a in args)


def parse_answers(stdout: str) -> dict[int, tuple[bool, list[str]]]:
    """The launcher's answer lines: job number -> (ok, files written | [error message])."""
    answers: dict[int, tuple[bool, list[str]]] = {}
    for line in stdout.splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or parts[0] != ANSWER or parts[1] not in ("OK", "ERR") or not parts[2].isdigit():
            continue
        answers[int(parts[2])] = (parts[1] == "OK", [unescape_field(p) for p in parts[3:]])
    return answers
