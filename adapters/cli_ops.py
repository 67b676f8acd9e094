"""Ops beyond ``to_image`` run through a toolkit's command-line tools that print DICOM JSON (``dump``,
``info``) and write DICOM files (``transcode``, ``anonymize``): the run path shared by dcm4che
(``adapters/dcm4che/ops.py``) and dicom-rs (``adapters/dicom_rs/ops.py``), which each describe their tools
as a ``Toolkit`` (names, capabilities, the pure argv mappings).

Neither toolkit is installable on the CI machine: everything that builds a command line or interprets a
tool's output is a pure function, golden-tested in ``tests/test_java_rust_ops.py``; the run path is tested
against stand-in scripts, and live tests run wherever the real tools are found. The tools are looked up
next to the backend's main binary (``dcm2jpg``, ``dicom-toimage``), else on PATH. ``info`` runs the dump
command and summarises its JSON with ``dcmharness.backends.python_ref.ops_dump.summarise``.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dcmharness.adapters.base import Capability, ToolAdapter, ToolInfo, sibling
from dcmharness.adapters.runner import ToolError, ToolRun, describe_exit, run_tool
from dcmharness.backends.base import Outcome, unsupported
from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import RequestBase
from dcmharness.contract.ops_models import (
    AnonymizeOptions,
    AnonymizeRequest,
    DumpOptions,
    DumpRequest,
    InfoRequest,
    TranscodeOptions,
    TranscodeRequest,
)

BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
ITEM_TAG = b"\xfe\xff\x00\xe0"  # (FFFE,E000) little endian


# -- pure output interpretation -----------------------------------------------------------------------------
def parse_json_stdout(data: bytes, tool: str) -> dict[str, Any]:
    """The JSON object a tool printed (a leading non-JSON line such as ``<file>: `` is skipped). Pure;
    ``ValueError`` with the reason when there is none."""
    text = data.decode("utf-8")
    start = text.find("{")
    if start < 0:
        raise ValueError(f"{tool} printed no JSON object")
    model, _end = json.JSONDecoder().raw_decode(text, start)
    if not isinstance(model, dict):
        raise ValueError(f"{tool} printed no JSON object")
    return model


def fragments_to_inline(value: dict[str, Any]) -> dict[str, Any]:
    """``{"vr", "DataFragment": [...]}`` (dcm4che) -> ``{"vr", "InlineBinary"}`` of the encapsulated value:
    each fragment as an item (tag, 32-bit length, bytes), no sequence delimiter. Pure."""
    out = bytearray()
    for frag in value.get("DataFragment") or []:
        data = base64.b64decode(frag["InlineBinary"]) if isinstance(frag, dict) and "InlineBinary" in frag else b""
        out += ITEM_TAG + len(data).to_bytes(4, "little") + data
    return {"vr": value.get("vr", "OB"), "InlineBinary": base64.b64encode(bytes(out)).decode("ascii")}


def _b64_len(text: str) -> int:
    return len(text.rstrip("=")) * 3 // 4


def _element(value: Any, omit_over: int | None) -> Any:
    if isinstance(value, dict) and "DataFragment" in value:
        value = fragments_to_inline(value)
    if (
        omit_over is not None
        and isinstance(value, dict)
        and value.get("vr") in BINARY_VRS
        and isinstance(value.get("InlineBinary"), str)
        and _b64_len(value["InlineBinary"]) > omit_over
    ):
        return {"vr": value["vr"]}
    if isinstance(value, dict) and isinstance(value.get("Value"), list) and value.get("vr") == "SQ":
        return {
            **value,
            "Value": [_dataset(item, omit_over) if isinstance(item, dict) else item for item in value["Value"]],
        }
    return value


def _dataset(model: dict[str, Any], omit_over: int | None) -> dict[str, Any]:
    return {tag: _element(value, omit_over) for tag, value in model.items()}


def normalise_model(model: dict[str, Any], options: DumpOptions) -> dict[str, Any]:
    """The tool's DICOM JSON shaped as the contract says: group 0002 only with ``include_meta``, encapsulated
    fragments as one InlineBinary, binary values over ``bulk_threshold`` bytes reduced to their vr when
    ``bulk_data`` is ``omit`` (recursively). Pure."""
    kept = {k: v for k, v in model.items() if options.include_meta or not k.upper().startswith("0002")}
    return _dataset(kept, options.bulk_threshold if options.bulk_data == "omit" else None)


def failed_line(stdout: str) -> str | None:
    """dcm2dcm / deidentify print ``Failed to ...: <message>`` on stdout and exit 0: that line, or None. Pure."""
    for line in stdout.splitlines():
        if line.strip().startswith("Failed"):
            return line.strip()
    return None


# -- the run path ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Toolkit:
    """What differs between the two backends' extra ops."""

    backend: str
    ops: tuple[str, ...]
    dump_tool: str
    transcode_tool: str
    anonymize_tool: str | None
    capabilities: Callable[[], dict[str, dict[str, Capability]]]
    dump_argv: Callable[[str, str], list[str]]
    transcode_argv: Callable[[str, str, str, TranscodeOptions, InputInfo], list[str]]
    anonymize_argv: Callable[[str, str, str, AnonymizeOptions], list[str]] | None = None
    #: stderr text of a failed run -> the message of an ``unsupported_transfer_syntax`` answer on ``input``
    unsupported_input: Mapping[str, str] = field(default_factory=dict)


def build_ops_argv(
    kit: Toolkit, request: RequestBase, info: InputInfo | None, out: str | None, tool: ToolInfo
) -> list[str]:
    """The argv of one extra op; ``out`` is the plan's temp file (None for dump and info, which print to
    stdout). Pure apart from locating the sibling binary."""
    if info is None:
        raise HarnessError(ErrorCode.INTERNAL_ERROR, "no input description")
    src = os.path.abspath(str(info.path))
    if isinstance(request, DumpRequest | InfoRequest):
        exe = sibling(tool, kit.dump_tool)
        return kit.dump_argv(exe, src)
    target = os.path.abspath(out or "")
    if isinstance(request, TranscodeRequest):
        return kit.transcode_argv(sibling(tool, kit.transcode_tool), src, target, request.options, info)
    if isinstance(request, AnonymizeRequest) and kit.anonymize_tool and kit.anonymize_argv:
        return kit.anonymize_argv(sibling(tool, kit.anonymize_tool), src, target, request.options)
    raise HarnessError(
        ErrorCode.UNSUPPORTED_OPTION, f"{kit.backend} does not implement op {getattr(request, 'op', '?')!r}", "op"
    )


def plan_temp(plan: OutputPlan) -> str | None:
    return os.path.abspath(str(plan.targets[0].temp)) if plan.targets else None


def check_ops_input(kit: Toolkit, request: RequestBase, info: InputInfo | None) -> list[str]:
    """Refusals that depend on the input, before anything runs (the argv mapping's own refusals included)."""
    if info is None:
        return []
    if (
        isinstance(request, TranscodeRequest)
        and request.options.transfer_syntax == "jpeg_baseline"
        and info.bits_stored > 8
    ):
        raise unsupported("transfer_syntax", f"JPEG baseline is 8-bit; the input has {info.bits_stored} bits stored")
    build_ops_argv(kit, request, info, "-", ToolInfo(kit.dump_tool, None))
    return []


def _fail(argv: list[str], run: ToolRun, message: str, code: ErrorCode = ErrorCode.BACKEND_FAILED) -> ToolError:
    return ToolError(code, f"{os.path.basename(argv[0])}: {message}", argv, run.stderr_text or None)


def _check_exit(kit: Toolkit, argv: list[str], run: ToolRun) -> None:
    if run.returncode == 0:
        return
    text = run.stderr_text
    for marker, message in kit.unsupported_input.items():
        if marker in text:
            error = _fail(argv, run, message, ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX)
            error.field = "input"
            raise error
    last = text.splitlines()[-1] if text else "no message"
    raise _fail(argv, run, f"failed ({describe_exit(run.returncode)}): {last}")


def _dump_model(argv: list[str], run: ToolRun) -> dict[str, Any]:
    try:
        return parse_json_stdout(run.stdout, os.path.basename(argv[0]))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _fail(argv, run, f"wrote no valid DICOM JSON: {exc}") from None


def execute_op(
    kit: Toolkit, adapter: ToolAdapter, request: RequestBase, info: InputInfo | None, plan: OutputPlan
) -> Outcome:
    """Run one extra op: argv, the shared runner (timeout, process group), output checks, result."""
    from dcmharness.backends.python_ref.ops_dump import summarise
    from dcmharness.backends.python_ref.ops_transcode import transcode_result, written_transfer_syntax

    tool = adapter.tool()
    if tool is None:
        raise HarnessError(ErrorCode.BACKEND_UNAVAILABLE, f"{kit.backend}: tool not found", "backend")
    assert info is not None
    argv = build_ops_argv(kit, request, info, plan_temp(plan), tool)
    run = run_tool(adapter.run_argv(argv, info), timeout=request.timeout, env=adapter.tool_env(info))
    _check_exit(kit, argv, run)
    stderr = run.stderr_text or None
    if isinstance(request, InfoRequest):
        model = normalise_model(_dump_model(argv, run), DumpOptions(bulk_data="omit", bulk_threshold=0))
        result = summarise(model, info.transfer_syntax, request.options.include_private)
        return Outcome(result=result, command=argv, stderr=stderr)
    temp = Path(plan.targets[0].temp)
    if isinstance(request, DumpRequest):
        model = normalise_model(_dump_model(argv, run), request.options)
        text = json.dumps(model, indent=1, ensure_ascii=False, allow_nan=False)
        temp.write_text(text + "\n", encoding="utf-8")
        result = {
            "attributes": len(model),
            "transfer_syntax": info.transfer_syntax,
            "bulk_data": request.options.bulk_data,
        }
        return Outcome(result=result, command=argv, stderr=stderr)
    failure = failed_line(run.stdout_text)
    if failure is not None:
        raise _fail(argv, run, failure)
    written = written_transfer_syntax(temp) if temp.exists() and temp.stat().st_size else None
    if written is None:
        raise _fail(argv, run, "wrote no DICOM file")
    if isinstance(request, TranscodeRequest):
        if written != request.options.uid:
            raise _fail(argv, run, f"wrote transfer syntax {written}, not {request.options.uid}")
        return Outcome(result=transcode_result(request.options, info, temp), command=argv, stderr=stderr)
    result = {"profile": "basic", "table": "dcm4che DeIdentifier built-in (PS3.15 E.1)"}
    return Outcome(result=result, command=argv, stderr=stderr)
