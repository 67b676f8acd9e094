"""dcmtk's ``modify``: ``dcmodify -nb`` on a copy of the input written to the plan's temp file (never on the
input itself), then committed by the dispatcher.

The contract's vocabulary is dcmodify's, so the mapping is direct (dcmtk 3.6.7): ``erase`` -> ``-e path``,
``modify`` -> ``-m path=value``, ``insert`` -> ``-i path=value``, ``regenerate_uids`` -> ``-gst``, ``-gse``,
``-gin``; paths in dcmtk's syntax (``(0008,1115)[0].(0020,000E)``), in the contract's order (erase, modify,
insert). dcmodify updates the File Meta Information's Media Storage SOP Instance UID when the SOP Instance
UID changes (unless ``-nmu``). A bare data set (no File Meta Information) is written as a Part 10 file (its
default ``+F``), as python_ref writes it.

Refused: a private data element (not a private creator) that the file does not hold with an explicit VR:
dcmodify takes no VR and writes an element its private dictionary does not know as UN, reading the value
as hex bytes (measured: ``-i "(0011,1001)=42"`` wrote UN ``42 00``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence

from dcmharness.adapters.base import Capability
from dcmharness.adapters.runner import ToolError, run_tool
from dcmharness.backends.base import Outcome, unsupported
from dcmharness.backends.modify import Change, invalidity_warnings, modify_result, resolve
from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.ops_models import ModifyRequest

#: ``regenerate_uids`` level -> dcmodify switch.
UID_SWITCHES = {"study": "-gst", "series": "-gse", "instance": "-gin"}
ACTION_SWITCHES = {"erase": "-e", "modify": "-m", "insert": "-i"}


def modify_capabilities() -> dict[str, Capability]:
    return {"modify": True, "insert": True, "erase": True, "regenerate_uids": True}


def check_modify(changes: list[Change], info: InputInfo) -> None:
    """``unsupported_option`` for what dcmodify cannot write as asked (see the module docstring)."""
    implicit = info.transfer_syntax == "1.2.840.10008.1.2"
    for change in changes:
        element = change.tag & 0xFFFF
        if change.action != "erase" and change.private and element >= 0x1000 and (not change.exists or implicit):
            raise unsupported(
                change.field.removeprefix("options.") + ".vr",
                "dcmodify takes no VR: a private attribute its dictionary does not know is written as UN "
                "(the value read as hex bytes)",
            )


def build_modify_argv(changes: list[Change], levels: Sequence[str], exe: str, target: str) -> list[str]:
    """``dcmodify -nb -e/-m/-i ... [-gst] [-gse] [-gin] <target>`` (the target is the copy). Pure."""
    argv = [exe, "-nb"]
    for change in changes:
        path = change.dcmtk_path()
        argv += [ACTION_SWITCHES[change.action], path if change.action == "erase" else f"{path}={change.value}"]
    argv += [UID_SWITCHES[level] for level in ("study", "series", "instance") if level in levels]
    return [*argv, target]


def execute_modify(exe: str, request: ModifyRequest, info: InputInfo | None, plan: OutputPlan) -> Outcome:
    if info is None:
        raise HarnessError(ErrorCode.INTERNAL_ERROR, "no input description")
    changes = resolve(request.options, info.dataset)
    check_modify(changes, info)
    temp = plan.targets[0].temp
    shutil.copyfile(info.path, temp)
    levels = list(request.options.regenerate_uids)
    argv = build_modify_argv(changes, levels, exe, os.path.abspath(temp))
    run = run_tool(argv, timeout=request.timeout)
    stderr = run.stderr_text or None
    if run.returncode != 0 or (stderr and "E: " in stderr):
        last = (stderr or "no message").splitlines()[-1]
        raise ToolError(ErrorCode.BACKEND_FAILED, f"dcmodify failed (exit {run.returncode}): {last}", argv, stderr)
    result = modify_result(request.options, info.path, temp)
    return Outcome(result=result, warnings=invalidity_warnings(info.path, temp), command=argv, stderr=stderr)
