"""dcm4che's ``modify``: ``json2dcm -i <input> -j <changes.json> -o <output>``, which loads the input and
merges the attributes of a DICOM JSON document into it (dcm4che has no dcmodify: ``dcm2dcm`` only
transcodes, ``deidentify -s`` belongs to the de-identification profile). Pure mappings, golden-tested
(``tests/test_modify.py``); dcm4che is not installable here, so nothing of it ran on this machine.

Facts from dcm4che's source (``dcm4che-tool/dcm4che-tool-json2dcm/src/main/java/org/dcm4che3/tool/json2dcm/
Json2Dcm.java``, blob of commit 09f25234434b45970e6fd2b620f03b113311593a, and its README.md):

- ``main``: ``-i`` is read first (``parse``: the data set and ``fmi = dis.getFileMetaInformation()``), then
  ``-j`` is merged into the same ``Attributes`` by ``JSONReader.readDataset`` (``mergeJSON``): an attribute
  of the document replaces the input's or is added, with the VR the document gives (so a private
  attribute keeps the requested VR). ``modify`` and ``insert`` both map to it.
- Nothing in the merge removes an attribute: ``erase`` is refused. A sequence in the document is read as
  a new sequence, replacing the input's whole sequence: nested paths are refused.
- ``writeTo`` keeps the input's File Meta Information (replaced only for another ``-t`` transfer syntax):
  a changed SOP Instance UID would leave Media Storage SOP Instance UID stale, so setting SOP Instance UID
  is refused, and so is ``regenerate_uids`` (no UID generation).
- Values follow PS3.18 F.2.3: PN as ``{"Alphabetic": ...}``, IS, DS and the binary numbers as JSON
  numbers, the other VRs as strings; an empty value is the attribute with its ``vr`` only.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dcmharness.adapters.runner import ToolError, describe_exit, run_tool
from dcmharness.backends.base import Outcome, unsupported
from dcmharness.backends.modify import Change, invalidity_warnings, modify_result, resolve
from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo
from dcmharness.backends.python_ref.ops_transcode import written_transfer_syntax
from dcmharness.contract.errors import ErrorCode
from dcmharness.contract.ops_models import ModifyRequest

SOP_INSTANCE_UID = 0x00080018
INTEGER_VRS = frozenset({"IS", "US", "SS", "UL", "SL", "UV", "SV"})
DECIMAL_VRS = frozenset({"DS", "FL", "FD"})


def modify_capabilities() -> dict[str, Any]:
    return {"modify": True, "insert": True, "erase": False, "regenerate_uids": False}


def check_modify(changes: Sequence[Change]) -> None:
    """``unsupported_option`` for what json2dcm's merge cannot do (see the module docstring). Pure."""
    for change in changes:
        where = change.field.removeprefix("options.")
        if change.action == "erase":
            raise unsupported(where, "json2dcm merges attributes into the input and cannot remove one")
        if change.nested:
            raise unsupported(f"{where}.path", "json2dcm would replace the whole sequence, not one attribute in it")
        if change.tag == SOP_INSTANCE_UID:
            raise unsupported(
                f"{where}.path", "json2dcm keeps the input's File Meta Information (Media Storage SOP Instance UID)"
            )


def json_value(vr: str, values: list[str]) -> list[Any]:
    """The ``Value`` array of PS3.18 F.2.3 for values in DICOM string form. Pure."""
    if vr == "PN":
        return [{"Alphabetic": v} for v in values]
    if vr in INTEGER_VRS:
        return [int(v) for v in values]
    if vr in DECIMAL_VRS:
        return [float(v) for v in values]
    return list(values)


def modify_document(changes: Sequence[Change]) -> dict[str, Any]:
    """The DICOM JSON document json2dcm merges (changes checked by ``check_modify``). Pure."""
    doc: dict[str, Any] = {}
    for change in changes:
        assert change.vr is not None
        entry: dict[str, Any] = {"vr": change.vr}
        values = change.values()
        if values:
            entry["Value"] = json_value(change.vr, values)
        doc[f"{change.tag:08X}"] = entry
    return doc


def modify_json_text(changes: Sequence[Change]) -> str:
    return json.dumps(modify_document(changes), indent=1, allow_nan=False)


def modify_argv(tool: str, src: str, document: str, out: str) -> list[str]:
    """``json2dcm -i <input> -j <document> -o <output>``. Pure."""
    return [tool, "-i", src, "-j", document, "-o", out]


def execute_modify(exe: str, request: ModifyRequest, info: InputInfo, plan: OutputPlan, env: Any) -> Outcome:
    """Write the document next to the output's temp file, run json2dcm, check it wrote DICOM, remove the
    document; the result and warnings as every backend gives them (``backends/modify.py``)."""
    changes = resolve(request.options, info.dataset)
    check_modify(changes)
    temp = Path(plan.targets[0].temp)
    document = temp.with_name(temp.name + ".json")
    document.write_text(modify_json_text(changes), encoding="utf-8")
    argv = modify_argv(exe, os.path.abspath(info.path), os.path.abspath(document), os.path.abspath(temp))
    try:
        run = run_tool(argv, timeout=request.timeout, env=env)
    finally:
        with contextlib.suppress(OSError):
            document.unlink()
    stderr = run.stderr_text or None
    if run.returncode != 0 or written_transfer_syntax(temp) is None:
        last = (stderr or "no message").splitlines()[-1]
        raise ToolError(
            ErrorCode.BACKEND_FAILED, f"json2dcm failed ({describe_exit(run.returncode)}): {last}", argv, stderr
        )
    result = modify_result(request.options, info.path, temp)
    return Outcome(result=result, warnings=invalidity_warnings(info.path, temp), command=argv, stderr=stderr)
