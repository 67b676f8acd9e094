"""Shared fixtures: sample files, a CLI runner, temp output folders."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dcmharness.interface.samples import find

REPO = Path(__file__).resolve().parents[1]

# A run started in the background of a shell without job control (`cmd &` in a script, `nohup ... &`) inherits
# SIGINT ignored, and so would every process the tests start (an ignored signal stays ignored across exec):
# the Ctrl-C tests would then send SIGINT to processes that cannot get it. A handler instead of SIG_IGN is
# reset to the default at exec, so the processes under test get Ctrl-C as from a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def ct_small() -> Path:
    return find("CT_small.dcm")


@pytest.fixture(scope="session")
def mr_small() -> Path:
    return find("MR_small.dcm")


def run_cli(
    *args: str, stdin: bytes | str | None = None, cwd: Path | None = None, timeout: float = 120
) -> tuple[int, str, str]:
    """Run ``dcmharness`` as a subprocess (the real console entry point) and return (status, stdout, stderr)."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    proc = subprocess.run(
        [sys.executable, "-m", "dcmharness", *args], input=data, capture_output=True, cwd=cwd or REPO, timeout=timeout
    )
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def responses(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


@pytest.fixture()
def cli() -> Any:
    return run_cli
