"""A ``nifti`` backend that is a Python library (dicom2nifti, SimpleITK) run in a child process.

The library is found by its distribution's metadata (``importlib.metadata``: never imported here); each
conversion is ``python -m dcmharness.adapters.pylib_worker MODULE STAGING OUTPUT --memory BYTES`` through
``adapters.runner.run_tool`` (timeout, process group killed), in the staging workspace of
``adapters/series_run.py``. The child's JSON answer becomes the result, a refusal (exit 3) ``backend_failed``
with the library's reason, and its stderr the response's.
"""

from __future__ import annotations

import json
import os
import sys
from importlib import metadata
from typing import Any

import numpy as np

from dcmharness.adapters.base import Capability, check_capabilities
from dcmharness.adapters.runner import ToolError, ToolRun, describe_exit, run_tool
from dcmharness.adapters.series_run import (
    NIFTI_CAPABILITIES,
    finish,
    memory_limit,
    nifti_outputs,
    outcome,
    series_of,
    take_output,
    workspace,
)
from dcmharness.backends.base import Availability, Backend, Outcome
from dcmharness.backends.geometry import LPS_TO_RAS
from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo
from dcmharness.backends.series import Series
from dcmharness.contract.errors import ErrorCode
from dcmharness.contract.models import RequestBase

WORKER = "dcmharness.adapters.pylib_worker"


def build_argv(python: str, module: str, staging: str, output: str, memory: int, op: str = "nifti") -> list[str]:
    """The worker's command line. Pure."""
    argv = [python, "-m", WORKER, module, staging, output, "--memory", str(memory)]
    return [*argv, "--op", op] if op != "nifti" else argv


def volume_result(answer: dict[str, Any], series: Series) -> dict[str, Any]:
    """The ``volume`` result from an ITK image's geometry (direction row-major, its columns the axes). Pure."""
    direction = np.asarray(answer["direction"], dtype=np.float64).reshape(3, 3)
    spacing = np.asarray(answer["spacing"], dtype=np.float64)
    lps = np.eye(4)
    lps[:3, :3] = direction * spacing
    lps[:3, 3] = answer["origin"]
    return {
        "shape": list(answer["shape"]),
        "dtype": answer["dtype"],
        "spacing": spacing.tolist(),
        "origin": list(answer["origin"]),
        "direction": direction.tolist(),
        "affine_lps": lps.round(9).tolist(),
        "affine_ras": (LPS_TO_RAS @ lps).round(9).tolist(),
        "series_uid": series.series_uid,
        "modality": series.modality,
    }


def parse_answer(run: ToolRun) -> dict[str, Any]:
    """The worker's last stdout line as JSON (``backend_failed`` when it died without answering)."""
    lines = [ln for ln in run.stdout_text.splitlines() if ln.startswith("{")]
    if not lines:
        raise ToolError(
            ErrorCode.BACKEND_FAILED,
            f"the converter's process ended without an answer ({describe_exit(run.returncode)})",
            run.argv,
            run.stderr_text,
        )
    try:
        answer = json.loads(lines[-1])
    except json.JSONDecodeError:
        raise ToolError(
            ErrorCode.BACKEND_FAILED, "the converter's answer is not JSON", run.argv, run.stderr_text
        ) from None
    if not isinstance(answer, dict):
        raise ToolError(ErrorCode.BACKEND_FAILED, "the converter's answer is not an object", run.argv, None)
    return answer


class PythonLibraryBackend(Backend):
    """Base of the adapters over a converter library: ``distribution`` (PyPI name), ``module`` (the adapter
    module with ``convert``), ``library_warnings`` (stderr lines worth reporting)."""

    kind = "external"
    distribution = ""
    module = ""
    ops: tuple[str, ...] = ("nifti",)

    def availability(self) -> Availability:
        try:
            version = metadata.version(self.distribution)
        except metadata.PackageNotFoundError:
            return Availability(False, None, f"the Python package {self.distribution} is not installed (pip)")
        return Availability(True, version, location=f"python package {self.distribution} (child process)")

    def capabilities_for(self) -> dict[str, dict[str, Capability]]:
        series_options: dict[str, Capability] = {"series_uid": True, "recursive": True}
        return {"nifti": dict(NIFTI_CAPABILITIES), "volume": series_options}

    def capabilities(self) -> dict[str, Any]:
        return {op: dict.fromkeys(caps, "any") for op, caps in self.capabilities_for().items()}

    def check(self, request: RequestBase, info: InputInfo | None) -> list[str]:
        warnings = super().check(request, info)
        options = getattr(request, "options", None)
        if options is not None:
            check_capabilities(options, self.capabilities_for()[request.op], self.name)  # type: ignore[attr-defined]
        return warnings + self.check_input(request, info)

    def check_input(self, request: RequestBase, info: InputInfo | None) -> list[str]:
        """Refusals decided from the series before anything runs."""
        return []

    def library_warnings(self, stderr: str) -> list[str]:
        return []

    def execute(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan) -> Outcome:
        series = series_of(info)
        op = str(getattr(request, "op", "nifti"))
        with workspace(series, plan.targets[0].temp) as ws:
            compressed = str(plan.targets[0].final).lower().endswith(".gz")
            name = "series.npy" if op == "volume" else "series.nii.gz" if compressed else "series.nii"
            written = ws.output / name
            argv = build_argv(sys.executable, self.module, str(ws.staging), str(written), memory_limit(series), op)
            run = run_tool(argv, timeout=request.timeout, env=_child_env(), cwd=str(ws.root))
            answer = parse_answer(run)
            if not answer.get("ok"):
                kind = "refused the series" if answer.get("kind") == "refused" else "failed"
                raise ToolError(
                    ErrorCode.BACKEND_FAILED, f"{self.name} {kind}: {answer.get('error')}", argv, run.stderr_text
                )
            if op == "volume":
                if not written.is_file() or written.stat().st_size == 0:
                    raise ToolError(ErrorCode.BACKEND_FAILED, f"{self.name} wrote no array", argv, run.stderr_text)
                os.replace(written, plan.targets[0].temp)
            else:
                files = nifti_outputs(ws.output)
                take_output(files[0] if files else written, plan, argv, run)
        warnings = list(series.warnings) + self.library_warnings(run.stderr_text)
        if op == "volume":
            result = volume_result(answer, series)
            sidecar = {**result, "backend": self.name, "warnings": warnings}
            plan.targets[1].temp.write_text(json.dumps(sidecar, indent=1) + "\n", encoding="utf-8")
            return outcome({**result, "slices": len(series.geometry.planes)}, warnings, argv, run)
        result = finish(request, info, plan, self.name, warnings)
        return outcome(result, warnings, argv, run)


def _child_env() -> dict[str, str]:
    """The child's environment: the harness's (PYTHONPATH finds this package), single-threaded BLAS/ITK."""
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": "1", "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS": "1"})
    return env
