"""The run path shared by the ``nifti`` converters (``dcm2niix``, ``dicom2nifti``, ``simpleitk``).

The harness has already chosen the series and checked its geometry (``backends.series``): a converter is
given a private staging folder holding symlinks to exactly the series' files (so a folder with several
series, hidden or non-DICOM files means the same thing to every converter), writes into a private output
folder, and its NIfTI file is moved onto the plan's temporary path. The result is read back from the file
(``backends.nifti_file.describe``), the same way for every backend, and the sidecar written by the harness.

Every converter runs in a child process (``adapters.runner.run_tool``: argv list, timeout, process group
killed) under an address-space limit (``prlimit --as``; Python libraries set RLIMIT_AS themselves, see
``adapters/pylib_worker.py``) derived from the volume's size, so a runaway allocation fails the request,
not the machine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dcmharness.adapters.base import Capability
from dcmharness.adapters.runner import ToolError, ToolRun
from dcmharness.backends.base import Outcome
from dcmharness.backends.nifti_file import nifti_result, write_sidecar
from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.series import Series, SeriesInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import RequestBase
from dcmharness.contract.series_models import NiftiRequest

#: Options every converter honours through the harness: the series is chosen and listed by the harness,
#: and the sidecar is written by it.
NIFTI_CAPABILITIES: dict[str, Capability] = {"series_uid": True, "recursive": True, "sidecar": True}
#: The address space a converter may use: this much, plus ``BYTES_PER_VOXEL`` per voxel of the series.
BASE_MEMORY = 1024**3
BYTES_PER_VOXEL = 32


def memory_limit(series: Series) -> int:
    """Bytes of address space for converting ``series`` (float64 copies and the tool's own buffers)."""
    k, j, i = series.shape
    return BASE_MEMORY + BYTES_PER_VOXEL * k * j * i


def series_of(info: Any) -> Series:
    if not isinstance(info, SeriesInfo) or info.series is None:
        raise HarnessError(ErrorCode.INTERNAL_ERROR, "the dispatcher gave no series description")
    return info.series


@dataclass
class Workspace:
    """A private staging folder (symlinks to the series' files) and output folder for one conversion."""

    root: Path
    staging: Path
    output: Path
    files: list[Path] = field(default_factory=list)


@contextlib.contextmanager
def workspace(series: Series, near: Path) -> Iterator[Workspace]:
    """Stage the series' files (each a symlink, named by its position in volume order) next to ``near``'s
    folder (same file system as the output), removed afterwards whatever happens."""
    root = Path(tempfile.mkdtemp(prefix=".dcmharness-series-", dir=near.parent))
    try:
        staging, output = root / "in", root / "out"
        staging.mkdir()
        output.mkdir()
        ws = Workspace(root, staging, output)
        for index, path in enumerate(series.paths):
            link = staging / f"{index:05d}.dcm"
            os.symlink(path.resolve(), link)
            ws.files.append(link)
        yield ws
    finally:
        shutil.rmtree(root, ignore_errors=True)


def nifti_outputs(folder: Path) -> list[Path]:
    """The NIfTI files a converter wrote (sorted by name)."""
    return sorted(p for p in folder.iterdir() if p.name.endswith((".nii", ".nii.gz")))


def take_output(written: Path, plan: OutputPlan, argv: list[str], run: ToolRun | None) -> None:
    """Move the converter's file onto the plan's temporary path (``backend_failed`` when it is empty)."""
    target = plan.targets[0]
    if not written.exists() or written.stat().st_size == 0:
        raise ToolError(
            ErrorCode.BACKEND_FAILED,
            f"{os.path.basename(argv[0])} wrote no NIfTI file",
            argv,
            run.stderr_text if run else None,
        )
    gz_wanted = str(target.final).lower().endswith(".gz")
    gz_written = written.name.endswith(".gz")
    if gz_wanted != gz_written:
        raise ToolError(
            ErrorCode.BACKEND_FAILED,
            f"{written.name}: compression differs from the requested {target.final.name}",
            argv,
            run.stderr_text if run else None,
        )
    os.replace(written, target.temp)


def finish(request: RequestBase, info: Any, plan: OutputPlan, backend: str, warnings: list[str]) -> dict[str, Any]:
    """The result read back from the written file, and the sidecar when asked."""
    assert isinstance(request, NiftiRequest)
    series = series_of(info)
    result = nifti_result(plan.targets[0].temp, series)
    if request.options.sidecar:
        write_sidecar(plan.targets[1].temp, result, series, backend, warnings)
    return result


def outcome(result: dict[str, Any], warnings: list[str], argv: list[str], run: ToolRun) -> Outcome:
    return Outcome(result=result, warnings=warnings, command=argv, stderr=run.stderr_text or None)
