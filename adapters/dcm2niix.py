"""dcm2niix (Chris Rorden's DICOM to NIfTI converter; Debian package ``dcm2niix``) as a ``nifti`` backend.

The run path is ``adapters/series_run.py``: dcm2niix converts a staging folder of symlinks to the chosen
series' files into a private output folder. Facts (v1.0.20220720, Debian 12), measured with the commands in
``docs/nifti.md``:

- ``-b n``: no BIDS sidecar (the harness writes its own for every backend); ``-z n`` / ``-z i`` (internal
  miniz gzip, no dependence on a ``pigz`` binary) by the output's name; ``-f series -o DIR``.
- ``-g i``: ignore (and never write) the user's defaults file ``~/.dcm2nii.ini``; HOME is also the private
  folder, so a user's settings cannot change a result.
- Beside ``series.nii`` it may write ``series_Tilt_1.nii`` (a gantry-tilt corrected, resampled copy: "Gantry
  Tilt Correction is new: please validate conversions") or ``series_Eq_1.nii`` (an equidistant copy when the
  spacing varies): the uncorrected ``series.nii`` is the output; the extra files are reported as warnings.
- It stores rows bottom-up (pixdim[0] = -1), qform = sform, code 1; with a per-slice Rescale Intercept it
  writes float32 ("Saving as 32-bit float (slope, intercept or bits allocated varies)"), otherwise the
  stored values with scl_inter = the intercept.
- Under an address-space limit it dies with SIGSEGV when an allocation fails (a failed request, reported).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from dcmharness.adapters.base import Capability, ToolAdapter, ToolInfo
from dcmharness.adapters.runner import ToolError, run_tool
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
from dcmharness.backends.base import Outcome
from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import RequestBase

OUTPUT_NAME = "series"


def build_argv(
    binary: str, staging: Path, out_dir: Path, compressed: bool, prlimit: str | None, memory: int
) -> list[str]:
    """The command line converting the staged series into ``out_dir/series.nii[.gz]``. Pure."""
    argv = [binary, "-g", "i", "-b", "n", "-z", "i" if compressed else "n", "-f", OUTPUT_NAME]
    argv += ["-o", str(out_dir), str(staging)]
    return [prlimit, f"--as={memory}", "--", *argv] if prlimit else argv


def tool_warnings(stdout: str) -> list[str]:
    """dcm2niix's "Warning: ..." lines (it prints them on stdout)."""
    return [f"dcm2niix: {line.strip()}" for line in stdout.splitlines() if line.strip().startswith("Warning")]


def pick_output(files: list[Path], compressed: bool) -> tuple[Path | None, list[Path]]:
    """The converted series (``series.nii[.gz]``) and the extra files dcm2niix wrote beside it. Pure."""
    wanted = OUTPUT_NAME + (".nii.gz" if compressed else ".nii")
    main = next((f for f in files if f.name == wanted), None)
    return main, [f for f in files if f is not main]


class Dcm2niixAdapter(ToolAdapter):
    name = "dcm2niix"
    description = "dcm2niix: DICOM series to NIfTI-1 (the neuroimaging community's converter)."
    tools = ("dcm2niix",)
    env_var = "DCM2NIIX_HOME"
    install_hint = "apt-get install dcm2niix"
    ops = ("nifti",)

    def capabilities_for(self, version: str | None) -> dict[str, dict[str, Capability]]:
        return {"nifti": dict(NIFTI_CAPABILITIES)}

    def execute(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan) -> Outcome:
        tool = self.tool()
        if tool is None:
            raise HarnessError(ErrorCode.BACKEND_UNAVAILABLE, "dcm2niix: tool not found", "backend")
        return convert(tool, request, info, plan)


def convert(tool: ToolInfo, request: RequestBase, info: Any, plan: OutputPlan) -> Outcome:
    series = series_of(info)
    compressed = str(plan.targets[0].final).lower().endswith(".gz")
    with workspace(series, plan.targets[0].temp) as ws:
        argv = build_argv(tool.path, ws.staging, ws.output, compressed, shutil.which("prlimit"), memory_limit(series))
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(ws.root), "LC_ALL": "C"}
        run = run_tool(argv, timeout=request.timeout, env=env)
        if run.returncode != 0:
            lines = (run.stdout_text + "\n" + run.stderr_text).strip().splitlines()
            raise ToolError(
                ErrorCode.BACKEND_FAILED,
                f"dcm2niix failed ({_exit(run.returncode)}): {lines[-1] if lines else 'no message'}",
                argv,
                run.stderr_text or run.stdout_text[-2000:],
            )
        main, extra = pick_output(nifti_outputs(ws.output), compressed)
        if main is None:
            raise ToolError(
                ErrorCode.BACKEND_FAILED,
                "dcm2niix wrote no series.nii: " + (", ".join(p.name for p in extra) or "nothing"),
                argv,
                run.stdout_text[-2000:],
            )
        warnings = tool_warnings(run.stdout_text) + [
            f"dcm2niix also wrote {p.name} (not kept: the output is the uncorrected series)" for p in extra
        ]
        take_output(main, plan, argv, run)
    result = finish(request, info, plan, "dcm2niix", list(series.warnings) + warnings)
    return outcome(result, list(series.warnings) + warnings, argv, run)


def _exit(returncode: int) -> str:
    from dcmharness.adapters.runner import describe_exit

    return describe_exit(returncode)
