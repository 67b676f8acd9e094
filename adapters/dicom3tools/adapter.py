"""The dicom3tools adapter: ``validate`` through ``dciodvfy -new <file>``.

Facts it relies on (Debian ``dicom3tools`` 1.00~20220618093127-2, checked by running it):

- ``dciodvfy -new FILE`` prints every message on standard error (grammar in ``parse.py``) and exits 1 when
  it printed an Error, 0 otherwise: both are a completed validation. ``-version`` prints
  ``dicom3tools Version: 1.00.snapshot.20220618093127`` (standard error).
- It aborts (SIGABRT, assertion ``bitsallocated <= bytesinword*8u`` in ``Proposal14EncodingRules``) on some
  files with unusual Bits Allocated, and prints ``Abort - File open for read failed`` for an unreadable
  path: the validator could not run (``backend_failed``).
- One file per process (a C++ program: no start-up cost worth batching).
"""

from __future__ import annotations

import re
from typing import Any

from dcmharness.adapters.base import Capability, ToolAdapter, ToolInfo
from dcmharness.adapters.dicom3tools.parse import parse_output
from dcmharness.adapters.runner import ToolError, ToolRun, describe_exit, run_tool
from dcmharness.backends.base import Outcome
from dcmharness.backends.findings import validate_result
from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import RequestBase
from dcmharness.contract.ops_models import ValidateRequest


def build_validate_argv(dciodvfy: str, input_path: str) -> list[str]:
    """The command line of one validation. Pure."""
    return [dciodvfy, "-new", input_path]


def parse_version(text: str) -> str | None:
    """``dicom3tools Version: 1.00.snapshot.20220618093127`` -> ``1.00.snapshot.20220618093127``. Pure."""
    m = re.search(r"dicom3tools Version:\s*(\S+)", text)
    return m.group(1) if m else None


def validation_failure(run: ToolRun) -> str | None:
    """Why a run is not a completed validation (signal, abort), None when it is. Pure."""
    text = run.stderr.decode("utf-8", "replace")
    if run.returncode < 0 or run.returncode > 1:
        return f"dciodvfy failed ({describe_exit(run.returncode)})"
    abort = next((line for line in text.splitlines() if line.startswith("Abort - ")), None)
    return abort


class Dicom3toolsAdapter(ToolAdapter):
    name = "dicom3tools"
    description = "dicom3tools (Debian dicom3tools): the IOD validator dciodvfy."
    tools = ("dciodvfy",)
    env_var = "DICOM3TOOLS_HOME"
    version_args = ("-version",)
    install_hint = "apt-get install dicom3tools"
    ops = ("validate",)

    def parse_version(self, run: ToolRun) -> str | None:
        return parse_version(run.stderr_text + "\n" + run.stdout_text)

    def capabilities_for(self, version: str | None) -> dict[str, dict[str, Capability]]:
        return {"validate": {"include_warnings": True}}

    def capabilities(self) -> dict[str, Any]:
        caps = super().capabilities()
        caps["validate"]["command"] = "dciodvfy -new <file>"
        return caps

    def build_argv(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan, tool: ToolInfo) -> list[str]:
        if not isinstance(request, ValidateRequest) or info is None:
            raise HarnessError(ErrorCode.UNSUPPORTED_OPTION, "dicom3tools implements validate only", "op")
        return build_validate_argv(tool.path, str(info.path))

    def execute(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan) -> Outcome:
        tool = self.tool()
        if tool is None:
            raise HarnessError(ErrorCode.BACKEND_UNAVAILABLE, "dicom3tools: dciodvfy not found", "backend")
        assert isinstance(request, ValidateRequest)
        argv = self.build_argv(request, info, plan, tool)
        run = run_tool(argv, timeout=request.timeout)
        why = validation_failure(run)
        if why:
            raise ToolError(ErrorCode.BACKEND_FAILED, why, argv, run.stderr_text)
        findings, iod = parse_output(run.stderr.decode("utf-8", "replace"))
        sop_class = str(info.dataset.get("SOPClassUID", "") or "").strip() or None if info is not None else None
        result = validate_result(
            findings,
            validator=f"dciodvfy {tool.version or '?'}",
            iod=iod,
            sop_class_uid=sop_class,
            include_warnings=request.options.include_warnings,
        )
        return Outcome(result=result, command=argv)
