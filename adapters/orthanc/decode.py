"""Orthanc's ``decode``: ``GET /instances/{id}/frames/{n}/numpy?rescale=0`` (Orthanc >= 1.10.0), one call per
frame, on the private server that also renders (the DICOMweb and GDCM plugins loaded).

Facts measured on Orthanc 1.10.1 (Debian 12) with pydicom's test files:

- ``rescale=0`` answers the decoded frame as a numpy array of shape (rows, cols, channels) in the type of
  Orthanc's image (uint8, uint16, int16): masked and sign-extended stored values, MONOCHROME1 not inverted,
  identical to the reference on native, RLE, JPEG lossless, JPEG-LS and RGB JPEG files.
- It decodes with Orthanc's built-in DCMTK decoder only: JPEG 2000 answers HTTP 500 "Not implemented yet;
  The built-in DCMTK decoder cannot decode some DICOM instance whose transfer syntax is: 1.2.840.10008.1.2.4.91"
  although the GDCM plugin is loaded; refused before running (``unsupported_transfer_syntax``).
- "Not implemented yet" (HTTP 500) also for PALETTE COLOR, uncompressed YBR_FULL / YBR_FULL_422, colour
  data with more than 8 bits allocated and 32-bit grayscale (rtdose_1frame.dcm): refused
  (``unsupported_option``, field ``input``). 1-bit data comes back as 0/255 (liver_1frame.dcm): refused too.
- YCbCr JPEG is converted to RGB by the decoder: ``color_space: "native"`` is refused for it (field
  ``options.color_space``); ``"rgb"`` is answered with Orthanc's (IJG's) conversion.
"""

from __future__ import annotations

import io
import urllib.parse
from typing import Any

from dcmharness.adapters.orthanc.client import HttpCall, http
from dcmharness.adapters.runner import ToolError
from dcmharness.backends.base import unsupported
from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo, check_frame
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.ops_models import DecodeRequest

#: JPEG 2000 Part 1 and 2, HTJ2K: not decoded by the built-in decoder the /numpy route uses.
J2K = frozenset(
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
JPEG = frozenset(
    {"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70"}
)
NATIVE = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"})


def check_decode_input(request: DecodeRequest, info: InputInfo) -> None:
    """The refusals of ``decode`` on Orthanc, from the input's header (pure)."""
    ts = info.transfer_syntax or ""
    if ts in J2K:
        raise HarnessError(
            ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
            f"orthanc's /numpy route decodes with the built-in DCMTK decoder, which has no JPEG 2000 ({ts})",
            "input",
        )
    ds = info.dataset
    if ds is not None and "PixelData" not in ds and any(k in ds for k in ("FloatPixelData", "DoubleFloatPixelData")):
        raise HarnessError(
            ErrorCode.UNSUPPORTED_OPTION, "orthanc does not decode Float / Double Float Pixel Data", "input"
        )
    photometric = info.photometric.upper()
    reason = None
    if photometric == "PALETTE COLOR":
        reason = "orthanc's /numpy answers 'Not implemented yet' for PALETTE COLOR (the indices are not served)"
    elif photometric.startswith("YBR") and ts in NATIVE:
        reason = f"orthanc's /numpy answers 'Not implemented yet' for uncompressed {photometric}"
    elif info.samples_per_pixel > 1 and info.bits_allocated > 8:
        reason = f"orthanc's /numpy answers 'Not implemented yet' for {info.bits_allocated}-bit colour"
    elif info.bits_allocated > 16:
        reason = f"orthanc's /numpy answers 'Not implemented yet' for {info.bits_allocated} bits allocated"
    elif info.bits_allocated == 1:
        reason = "orthanc's /numpy answers 1-bit data as 0/255, not the stored values"
    if reason:
        raise HarnessError(ErrorCode.UNSUPPORTED_OPTION, reason, "input")
    if ts in JPEG and photometric.startswith("YBR") and request.options.color_space == "native":
        raise unsupported(
            "color_space",
            f"orthanc converts {photometric} JPEG to RGB while decoding: the stored YCbCr values are not served "
            '(ask color_space "rgb")',
        )


def numpy_call(instance_id: str, frame: int) -> HttpCall:
    """``GET /instances/{id}/frames/{frame}/numpy?rescale=0`` (0-based frame). Pure."""
    return HttpCall(
        "GET", f"/instances/{urllib.parse.quote(instance_id, safe='')}/frames/{frame}/numpy", (("rescale", "0"),)
    )


def frame_values(body: bytes, info: InputInfo, commands: list[str]) -> Any:
    """One frame's array from the answer: (rows, cols, 1) becomes (rows, cols); shape checked."""
    import numpy as np

    try:
        array = np.load(io.BytesIO(body), allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise ToolError(
            ErrorCode.BACKEND_FAILED, f"orthanc's /numpy answer is not a .npy: {exc}", commands, None
        ) from None
    expected = (info.rows, info.columns, info.samples_per_pixel)
    if array.shape != expected:
        raise ToolError(
            ErrorCode.BACKEND_FAILED, f"orthanc answered shape {array.shape}, expected {expected}", commands, None
        )
    return array[..., 0] if info.samples_per_pixel == 1 else array


def run_decode(
    request: DecodeRequest,
    info: InputInfo,
    plan: OutputPlan,
    base: str,
    instance_id: str,
    timeout: float,
    commands: list[str],
) -> dict[str, Any]:
    """Fetch every asked frame, stack them (frames first when several), write the .npy; python_ref's result."""
    import numpy as np

    from dcmharness.backends.python_ref.ops_decode import output_dtype, write_decoded

    frames = check_frame(info, request.options.frame)
    out = []
    for frame in frames:
        call = numpy_call(instance_id, frame)
        commands.append(call.describe(base))
        body, _ = http(call, base, None, timeout, commands)
        out.append(frame_values(body, info, commands))
    stacked = out[0] if len(out) == 1 else np.stack(out)
    dtype = output_dtype(info.bits_allocated, info.pixel_representation == 1)
    array = np.ascontiguousarray(stacked.astype(dtype))
    if not np.array_equal(array.astype(np.int64), stacked.astype(np.int64)):
        raise ToolError(
            ErrorCode.BACKEND_FAILED,
            f"orthanc's {stacked.dtype} values do not fit the contract's {dtype}",
            commands,
            None,
        )
    photometric = info.photometric.upper()
    if info.samples_per_pixel == 3 and (photometric.startswith("YBR") or request.options.color_space == "rgb"):
        photometric = "RGB"
    decoder = "orthanc /instances/{id}/frames/{n}/numpy?rescale=0 (built-in DCMTK decoder)"
    return write_decoded(array, photometric, frames, request, info, plan, decoder).result
