"""The settings of one run and the paths of its requests: where relative paths resolve, and the ``--root`` confinement.

Every preparer (``prepare.py``) resolves a request's ``input`` and ``output`` through ``resolve_path`` and
``confine``: a path that escapes ``--root`` (symlinks and ``..`` resolved) is ``path_outside_root``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import RequestBase


@dataclass
class RunContext:
    """Settings of a whole run (not of one request)."""

    root: Path | None = None  # confine every input/output path to this folder
    cwd: Path | None = None  # where default outputs go (default: the process's cwd)
    default_timeout: float | None = None


Preparer = Callable[[RequestBase, RunContext], tuple[InputInfo | None, OutputPlan]]


def default_output_name(input_path: str, ext: str) -> str:
    """``<input file name without .dcm>`` + ext (the documented default output name)."""
    name = Path(input_path).name
    if name.lower().endswith(".dcm"):
        name = name[: -len(".dcm")]
    return (name or "output") + ext


def confine(path: Path, root: Path | None, field: str) -> Path:
    """The path itself, after checking it resolves (symlinks and .. included) inside ``root``."""
    if root is None:
        return path
    real_root = root.resolve()
    real = path.resolve()
    if real != real_root and real_root not in real.parents:
        raise HarnessError(ErrorCode.PATH_OUTSIDE_ROOT, f"{field} {str(path)!r} is outside --root {root}", field)
    return path


def resolve_path(value: str, ctx: RunContext, field: str = "input") -> Path:
    """``value`` as a path (relative ones under --root, else the cwd); ``invalid_request`` if unusable."""
    if "\x00" in value:
        raise HarnessError(ErrorCode.INVALID_REQUEST, f"{field} contains a NUL character", field)
    try:
        os.fsencode(value)
    except UnicodeEncodeError:
        raise HarnessError(ErrorCode.INVALID_REQUEST, f"{field} is not encodable as a file name", field) from None
    p = Path(value)
    if not p.is_absolute():
        base = ctx.root if ctx.root is not None else (ctx.cwd or Path.cwd())
        p = base / p
    return p


def same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and os.path.samefile(a, b)
    except OSError:
        return False
