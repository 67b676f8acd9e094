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
from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode
from dcmharness.contract.models import RequestBase

WORKER = "dcmharness.adapters.pylib_worker"


def build_argv(python: str, module: str, staging: str, output: str, memory: int) -> list[str]:
    """The worker's command line. Pure."""
    return [python, "-m", WORKER, module, staging, output, "--memory", str(memory)]


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
    ops = ("nifti",)

    def availability(self) -> Availability:
        try:
            version = metadata.version(self.distribution)
        except metadata.PackageNotFoundError:
            return Availability(False, None, f"the Python package {self.distribution} is not installed (pip)")
        return Availability(True, version, location=f"python package {self.distribution} (child process)")

    def capabilities_for(self) -> dict[str, dict[str, Capability]]:
        return {"nifti": dict(NIFTI_CAPABILITIES)}

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
        with workspace(series, plan.targets[0].temp) as ws:
            compressed = str(plan.targets[0].final).lower().endswith(".gz")
            written = ws.output / ("series.nii.gz" if compressed else "series.nii")
            argv = build_argv(sys.executable, self.module, str(ws.staging), str(written), memory_limit(series))
            run = run_tool(argv, timeout=request.timeout, env=_child_env(), cwd=str(ws.root))
            answer = parse_answer(run)
            if not answer.get("ok"):
                kind = "refused the series" if answer.get("kind") == "refused" else "failed"
                raise ToolError(
                    ErrorCode.BACKEND_FAILED, f"{self.name} {kind}: {answer.get('error')}", argv, run.stderr_text
                )
            files = nifti_outputs(ws.output)
            take_output(files[0] if files else written, plan, argv, run)
        warnings = list(series.warnings) + self.library_warnings(run.stderr_text)
        result = finish(request, info, plan, self.name, warnings)
        return outcome(result, warnings, argv, run)


def _child_env() -> dict[str, str]:
    """The child's environment: the harness's (PYTHONPATH finds this package), single-threaded BLAS/ITK."""
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": "1", "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS": "1"})
    return env
