"""dicom-rs' ``decode``: ``dicom-transcode --ts 1.2.840.10008.1.2.1`` decompresses the input with dicom-rs'
decoders (dicom-pixeldata 0.10.1 as ``make setup`` builds it) into a temp file, whose native Pixel Data the
shared unpacking reads (``backends/python_ref/ops_decode.decode_native_copy``): the values are dicom-rs'.

Facts (measured with that build on pydicom's test files):

- Decoded: native, RLE, JPEG baseline / lossless (jpeg-decoder), JPEG-LS lossless and near-lossless
  (charls). JPEG 2000 is not in the build ("Unsupported TransferSyntax `1.2.840.10008.1.2.4.90`", exit 253)
  and 12-bit JPEG Extended is not decoded ("JPEG decoding failure on frame 0 ... unsupported JPEG feature"):
  both refused before running (``unsupported_transfer_syntax``).
- jpeg-decoder converts YCbCr JPEG to RGB and dicom-transcode writes Photometric Interpretation RGB: the
  contract's ``color_space: "native"`` (YBR kept) cannot be honoured for a YBR JPEG input
  (``unsupported_option``, field ``options.color_space``); ``"rgb"`` is answered with dicom-rs' conversion.
"""

from __future__ import annotations

import os
import tempfile

from dcmharness.adapters.base import ToolAdapter, ToolInfo, sibling
from dcmharness.adapters.runner import ToolError, run_tool
from dcmharness.backends.base import Outcome, unsupported
from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.ops_models import DecodeRequest

EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"
#: JPEG 2000 (Part 1 and HTJ2K): no decoder in the build ``make setup`` installs.
NO_DECODER = frozenset(
    {
        "1.2.840.10008.1.2.4.90",
        "1.2.840.10008.1.2.4.91",
        "1.2.840.10008.1.2.4.92",
        "1.2.840.10008.1.2.4.93",
        "1.2.840.10008.1.2.4.201",
        "1.2.840.10008.1.2.4.202",
        "1.2.840.10008.1.2.4.203",
    }
)
JPEG_EXTENDED = "1.2.840.10008.1.2.4.51"
#: JPEG processes whose colour frames jpeg-decoder converts to RGB.
JPEG_DCT_AND_LOSSLESS = frozenset(
    {"1.2.840.10008.1.2.4.50", JPEG_EXTENDED, "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70"}
)


def check_decode_input(request: DecodeRequest, info: InputInfo | None) -> None:
    """The refusals of ``decode``, decided from the input's header before anything runs. Pure."""
    from dcmharness.backends.python_ref.ops_decode import refuse_float_pixel_data

    refuse_float_pixel_data(info, "dicom_rs")
    if info is None:
        return
    ts = info.transfer_syntax or ""
    if ts in NO_DECODER:
        raise HarnessError(
            ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX, f"dicom-rs (as installed) has no decoder for {ts}", "input"
        )
    if ts == JPEG_EXTENDED and info.bits_stored > 8:
        raise HarnessError(
            ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
            f"dicom-rs' jpeg-decoder does not decode 12-bit JPEG Extended ({info.bits_stored} bits stored)",
            "input",
        )
    if ts in JPEG_DCT_AND_LOSSLESS and info.photometric.startswith("YBR") and request.options.color_space == "native":
        raise unsupported(
            "color_space",
            f"dicom-rs converts {info.photometric} JPEG to RGB while decoding: the stored YCbCr values are not "
            'available (ask color_space "rgb")',
        )


def build_decode_argv(tool: ToolInfo, info: InputInfo, copy: str) -> list[str]:
    """``dicom-transcode --ts <explicit VR LE> <in> -o <copy>``. Pure apart from locating the sibling binary."""
    exe = sibling(tool, "dicom-transcode")
    return [exe, "--ts", EXPLICIT_VR_LE, os.path.abspath(str(info.path)), "-o", os.path.abspath(copy)]


def execute_decode(adapter: ToolAdapter, request: DecodeRequest, info: InputInfo, plan: OutputPlan) -> Outcome:
    from dcmharness.backends.python_ref.ops_decode import decode_native_copy

    tool = adapter.tool()
    if tool is None:
        raise HarnessError(ErrorCode.BACKEND_UNAVAILABLE, "dicom_rs: tool not found", "backend")
    with tempfile.TemporaryDirectory(prefix="dcmharness-dicom-rs-decode-") as folder:
        copy = os.path.join(folder, "native.dcm")
        argv = build_decode_argv(tool, info, copy)
        run = run_tool(argv, timeout=request.timeout)
        stderr = run.stderr_text or None
        if run.returncode != 0 or not os.path.isfile(copy):
            said = " ".join((run.stderr_text or "").split())[:300]
            raise ToolError(
                ErrorCode.BACKEND_FAILED, f"dicom-transcode failed (exit {run.returncode}): {said}", argv, stderr
            )
        outcome = decode_native_copy(copy, request, info, plan, f"dicom-rs {tool.version or '?'} dicom-transcode")
    outcome.command = argv
    outcome.stderr = stderr
    return outcome
