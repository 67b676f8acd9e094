"""Shared fixtures: sample files, a CLI runner, temp output folders."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dcmharness.interface.samples import find

REPO = Path(__file__).resolve().parents[1]


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
