"""The dicom-rs adapter: ``to_image`` through ``dicom-toimage`` (DICOM-rs, 0.7 .. 0.10); ``dump`` and
``info`` through ``dicom-dump --format json``, ``transcode`` through ``dicom-transcode`` (found next to
``dicom-toimage``, else on PATH), delegated to ``adapters/cli_ops.py``, whose docstring lists their facts.

Facts it relies on (``dicom-toimage --help`` of 0.7 and 0.9, docs/toolkits.md):

- ``dicom-toimage [-o OUT] [-F N] [--8bit|--16bit] FILE``: ``-F`` is 0-based; the output format is chosen
  by OUT's extension (the ``image`` crate: .png, .jpg/.jpeg, .tif/.tiff, .pgm/.ppm/.pbm/.pam; no ``.pnm``).
- Without ``--8bit``/``--16bit`` the depth follows BitsStored, so one of them is always given.
- It has no window, VOI, modality, presentation, overlay, quality or zlib-level flags: any such option set
  to a non-default value is ``unsupported_option``. Its own VOI (VOI LUT, else first window, else
  min-max) is the contract's ``auto``; it draws no overlays (a warning says so when the file has some).
- One frame per call: ``frame: "all"`` is refused.

``build_to_image_argv`` (and ``build_argv`` for every op) is a pure function of (request, input header,
output plan, tool).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from dcmharness.adapters.base import Capability, ToolAdapter, ToolInfo
from dcmharness.adapters.cli_ops import build_ops_argv, check_ops_input, execute_op
from dcmharness.adapters.dicom_rs.ops import DICOM_RS
from dcmharness.adapters.runner import ToolError, ToolRun
from dcmharness.backends.base import Outcome, unsupported
from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import RequestBase, ToImageRequest
from dcmharness.contract.options import format_for

#: What the image crate infers from each extension (lower case, with the dot).
EXTENSION_FORMATS = {
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".pgm": "pnm",
    ".ppm": "pnm",
    ".pbm": "pnm",
    ".pam": "pnm",
}


def _frame(value: Any, options: Any) -> str | None:
    """single frames only (one -F per call)"""
    del options
    return None if value != "all" else 'dicom-toimage renders one frame per call: frame "all" is not supported'


def capability_table(version: str | None) -> dict[str, dict[str, Capability]]:
    """Output format and depth only; every other option keeps its default or is refused."""
    del version
    return {"to_image": {"format": True, "bit_depth": True}}


def tool_output(temp: Path, fmt: str, colour: bool) -> Path:
    """The path dicom-toimage writes: the temp file itself when its extension names ``fmt``, else the temp
    file plus an extension that does (moved onto the temp file afterwards)."""
    if EXTENSION_FORMATS.get(temp.suffix.lower()) == fmt:
        return temp
    ext = {"png": ".png", "jpeg": ".jpg", "tiff": ".tiff", "pnm": ".ppm" if colour else ".pgm"}[fmt]
    return temp.with_name(temp.name + ext)


def build_to_image_argv(request: ToImageRequest, info: InputInfo, plan: OutputPlan, tool: ToolInfo) -> list[str]:
    """The dicom-toimage command line (pure; absolute paths so that none starts with '-')."""
    opts = request.options
    fmt = format_for(request.output, opts)
    out = tool_output(Path(os.path.abspath(str(plan.targets[0].temp))), fmt, info.is_color)
    return [
        tool.path,
        "-F",
        str(int(opts.frame)),
        "--16bit" if opts.bit_depth == 16 else "--8bit",
        "-o",
        str(out),
        os.path.abspath(str(info.path)),
    ]


class DicomRsAdapter(ToolAdapter):
    name = "dicom_rs"
    description = (
        "DICOM-rs: dicom-toimage (one frame to PNG/JPEG/TIFF/PNM, its own VOI, no overlays), "
        "dicom-dump (JSON), dicom-transcode."
    )
    tools = ("dicom-toimage",)
    env_var = "DICOM_TOIMAGE"
    install_hint = "cargo install dicom-toimage dicom-dump dicom-transcode (needs the public crate registry)"
    ops = ("to_image", *DICOM_RS.ops)

    def capabilities_for(self, version: str | None) -> dict[str, dict[str, Capability]]:
        return {**capability_table(version), **DICOM_RS.capabilities()}

    def check_input(self, request: RequestBase, info: InputInfo | None) -> list[str]:
        if getattr(request, "op", "") in DICOM_RS.ops:
            return check_ops_input(DICOM_RS, request, info)
        if not isinstance(request, ToImageRequest) or info is None:
            return []
        opts = request.options
        reason = _frame(opts.frame, opts)
        if reason:
            raise unsupported("frame", reason)
        if info.is_color:
            from dcmharness.backends.python_ref.pipeline import check_color_options

            check_color_options(opts)
        warnings: list[str] = []
        if opts.overlays is True and info.overlay_planes:
            warnings.append("dicom-toimage does not burn in overlays; the file's overlay planes are not shown")
        return warnings

    def build_argv(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan, tool: ToolInfo) -> list[str]:
        if getattr(request, "op", "") in DICOM_RS.ops:
            out = str(plan.targets[0].temp) if plan.targets else None
            return build_ops_argv(DICOM_RS, request, info, out, tool)
        if not isinstance(request, ToImageRequest) or info is None:
            raise HarnessError(ErrorCode.UNSUPPORTED_OPTION, f"dicom_rs does not implement op {request.op!r}", "op")  # type: ignore[attr-defined]
        return build_to_image_argv(request, info, plan, tool)

    def interpret(self, run: ToolRun, plan: OutputPlan) -> None:
        if run.returncode != 0:
            text = run.stderr_text
            lowered = text.lower()
            code = ErrorCode.BACKEND_FAILED
            if "unsupported" in lowered and ("transfer syntax" in lowered or "transfersyntax" in lowered):
                code = ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX
            last = text.splitlines()[-1] if text else "no message"
            raise ToolError(code, f"dicom-toimage failed (exit {run.returncode}): {last}", run.argv, text)

    def collect(self, request: RequestBase, plan: OutputPlan, argv: list[str], run: ToolRun) -> None:
        """Move an output written under a format-naming extension onto the plan's temp file."""
        written = Path(argv[argv.index("-o") + 1])
        temp = Path(os.path.abspath(str(plan.targets[0].temp)))
        if written != temp and written.exists():
            os.replace(written, temp)

    def execute(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan) -> Outcome:
        if getattr(request, "op", "") in DICOM_RS.ops:
            return execute_op(DICOM_RS, self, request, info, plan)
        try:
            return super().execute(request, info, plan)
        finally:
            if isinstance(request, ToImageRequest) and info is not None and plan.targets:
                temp = Path(os.path.abspath(str(plan.targets[0].temp)))
                side = tool_output(temp, format_for(request.output, request.options), info.is_color)
                if side != temp:
                    with contextlib.suppress(OSError):
                        side.unlink()
