"""What dcm2jpg (dcm4che 5.x) cannot render, decided from the input's header before any JVM starts.

Every refusal is a pure function of the header (and, for transfer syntaxes, of whether the installed
distribution carries its OpenCV codecs, see ``install.py``). The causes are in dcm4che's source
(github.com/dcm4che/dcm4che; the files and commits read are listed in ``README.md``, "What dcm2jpg cannot
read"), and were measured live in issue 20 with dcm4che 5.35.0:

- ``DicomImageReader.setMetadata`` reads every BitsAllocated > 8 as 16-bit samples
  (``dataType = bitsAllocated <= 8 ? TYPE_BYTE : TYPE_USHORT``) and every BitsAllocated <= 8 as one byte
  per sample, so 32-bit and 1-bit data cannot be read (32-bit: ``StoredValue.Unsigned(32)`` masks with
  ``(1 << 32) - 1`` = 0 in Java; 1-bit: a raster of w*h bytes read from a frame of w*h/8 bytes);
- colour keeps its sample depth (``createColorModel(bitsStored, ...)``): 16-bit RGB is written unscaled as
  a 16-bit PNG/TIFF and the JDK's JPEG writer refuses it; RLE 16-bit RGB fails in ``RLEImageReader``
  (``readRLEHeader(2)`` for a 16-bit destination, 6 segments in the file);
- without a reader for the transfer syntax, ``setMetadata`` throws "Unsupported Transfer Syntax";
- a window lying wholly outside the stored value range leaves ``LookupTableFactory.combineModalityVOILUT``
  (5.3x: the ramp is clipped to the stored range) with a table of 0 or fewer entries: "-947"
  (NegativeArraySizeException) or "Index -1 out of bounds for length 0" (``window_table_size``).
"""

from __future__ import annotations

import math
import struct
from typing import Any

from dcmharness.backends.base import unsupported
from dcmharness.contract.errors import ErrorCode, HarnessError

UNCOMPRESSED = frozenset(
    {
        "1.2.840.10008.1.2",  # Implicit VR Little Endian
        "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
        "1.2.840.10008.1.2.2",  # Explicit VR Big Endian
        "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian (DicomInputStream inflates it)
    }
)
RLE = "1.2.840.10008.1.2.5"  # dcm4che-imageio-rle: pure Java
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
JPEG_EXTENDED = "1.2.840.10008.1.2.4.51"
#: The JDK's own JPEG reader (com.sun.imageio.plugins.jpeg) decodes 8-bit JPEG: baseline always, extended
#: when the samples have 8 bits ("Unsupported JPEG data precision 12" otherwise).
WITHOUT_OPENCV = UNCOMPRESSED | {RLE, JPEG_BASELINE, JPEG_EXTENDED}
#: The readers of dcm4che-imageio-opencv (org.dcm4che3.opencv.Native*ImageReader, IJG / CharLS / OpenJPEG
#: through libopencv_java of the binary distribution).
OPENCV_ONLY = frozenset(
    {
        "1.2.840.10008.1.2.4.57",  # JPEG lossless
        "1.2.840.10008.1.2.4.70",  # JPEG lossless, first-order prediction
        "1.2.840.10008.1.2.4.80",  # JPEG-LS lossless
        "1.2.840.10008.1.2.4.81",  # JPEG-LS near-lossless
        "1.2.840.10008.1.2.4.90",  # JPEG 2000 lossless
        "1.2.840.10008.1.2.4.91",  # JPEG 2000
    }
)


def decodable(opencv: bool) -> frozenset[str]:
    """The transfer syntaxes dcm2jpg can read, with or without the OpenCV codecs."""
    return WITHOUT_OPENCV | OPENCV_ONLY if opencv else WITHOUT_OPENCV


def transfer_syntax_refusal(transfer_syntax: str | None, bits_stored: int, opencv: bool) -> HarnessError | None:
    """``unsupported_transfer_syntax`` for what the installed dcm2jpg has no reader for, else None."""
    ts = transfer_syntax or ""
    if ts not in decodable(opencv):
        where = "" if opencv else " (no OpenCV codecs installed: lib/dcm4che-imageio-opencv-*.jar, lib/<os-arch>/)"
        message = f"dcm2jpg cannot decode transfer syntax {ts or 'none'}{where}"
        return HarnessError(ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX, message, "input")
    if ts == JPEG_EXTENDED and bits_stored > 8 and not opencv:
        return HarnessError(
            ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
            f"dcm2jpg without its OpenCV codecs reads JPEG with the JDK's reader, which has no {bits_stored}-bit "
            "JPEG ('Unsupported JPEG data precision')",
            "input",
        )
    return None


def sample_format_refusal(bits_allocated: int, samples_per_pixel: int) -> HarnessError | None:
    """``unsupported_option`` (field ``input``) for the sample layouts dcm2jpg cannot render, else None."""
    if bits_allocated == 1:
        why = (
            "dcm2jpg reads 1-bit Pixel Data as one byte per pixel (a frame of w*h/8 bytes read as w*h): "
            "it fails (EOFException) or renders the next frames' bits"
        )
    elif bits_allocated > 16:
        why = (
            f"dcm2jpg reads BitsAllocated {bits_allocated} as 16-bit samples (DicomImageReader: TYPE_USHORT for "
            "anything above 8 bits); 32-bit data renders as noise or fails"
        )
    elif bits_allocated == 16 and samples_per_pixel > 1:
        why = (
            "dcm2jpg keeps 16-bit colour samples unscaled: it writes them as a 16-bit PNG/TIFF, cannot encode "
            "them as JPEG ('Illegal band size') and fails on RLE ('Number of RLE Segments does not match')"
        )
    else:
        return None
    return HarnessError(ErrorCode.UNSUPPORTED_OPTION, why, "input")


def _items(value: Any) -> list[Any]:
    try:
        return list(value or [])
    except TypeError:
        return []


def functional_group_voi(ds: Any) -> bool:
    """Whether a Shared or Per-frame Functional Group carries a Frame VOI LUT window or VOI LUT."""
    for keyword in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        for group in _items(ds.get(keyword)):
            for voi in _items(group.get("FrameVOILUTSequence")):
                if voi.get("WindowWidth") is not None or voi.get("VOILUTSequence"):
                    return True
    return False


def voi_refusal(source: str, requested: str, ds: Any) -> HarnessError | None:
    """``unsupported_option`` on ``voi`` for the VOI dcm2jpg cannot be asked for on this file, else None.

    ``source`` is the contract's choice for the file (``header.resolve_voi``), ``requested`` the request's
    ``voi`` option. dcm2jpg applies a functional group's Frame VOI LUT window whenever no explicit window is
    given (``DicomImageReader.applyLUTs``: ``setVOI(selectFctGroup(..., FrameVOILUTSequence))``), and never
    auto-windows after a Modality LUT Sequence (``LookupTableFactory.autoWindowing`` returns false when
    ``modalityLUT != null``; the LUT's whole output range is shown instead, the contract's ``none``)."""
    if requested in ("minmax", "none") and functional_group_voi(ds):
        what = "min-max auto-window" if requested == "minmax" else "--noauto (full range)"
        return unsupported("voi", f"dcm2jpg applies the window of the file's functional groups, never {what}")
    if source == "minmax" and ds.get("ModalityLUTSequence") and not functional_group_voi(ds):
        return unsupported(
            "voi",
            "dcm2jpg does not auto-window after a Modality LUT Sequence: it shows the LUT's whole output range "
            '(ask for "voi": "none")',
        )
    return None


#: LookupTableFactory.applyModalityLUT: X-Ray Angiographic (and Bi-plane) / Radiofluoroscopic Image Storage
XA_XRF = frozenset({"1.2.840.10008.5.1.4.1.1.12.1", "1.2.840.10008.5.1.4.1.1.12.2", "1.2.840.10008.5.1.4.1.1.12.3"})
LOG_DISP = frozenset({"LOG", "DISP"})


def _f32(x: float) -> float:
    """``x`` rounded to a Java float (IEEE single precision)."""
    return float(struct.unpack("f", struct.pack("f", x))[0])


def _java_round(x: float) -> int:
    """Java's ``Math.round(float)``: floor(x + 1/2)."""
    return math.floor(x + 0.5)


def stored_range(bits_stored: int, signed: bool) -> tuple[int, int]:
    """``StoredValue.minValue()`` / ``maxValue()`` of dcm4che for BitsStored <= 16."""
    return (-(1 << (bits_stored - 1)), (1 << (bits_stored - 1)) - 1) if signed else (0, (1 << bits_stored) - 1)


def window_table_size(center: float, width: float, slope: float, intercept: float, lo: int, hi: int) -> int:
    """The number of entries of dcm2jpg's window table, as ``LookupTableFactory.combineModalityVOILUT`` of
    dcm4che 5.3x computes it in float (a ramp of max(2, round(w/|m|)) entries from round((c - w/2 - b)/|m|),
    clipped to the stored range [lo, hi]); 0 or less makes dcm2jpg fail.

    The arithmetic (as ported verbatim by org.miaixz.bus.image.nimble.LookupTableFactory) reproduces what
    dcm2jpg 5.35.0 did in issue 20: the failure "-947" on a signed 12-bit file with the stored window
    3000/10, the step one value late at w = 1 and the 28 levels on a w = 5 window at slope 0.5."""
    c, w, m, b = _f32(center), _f32(width), _f32(slope), _f32(intercept)
    big_m = abs(m)
    size = max(2, _java_round(_f32(w / big_m)))
    offset = _java_round(_f32(_f32(_f32(c - _f32(w / 2)) - b) / big_m))
    min_index, max_index = lo - offset, hi - offset
    size_1 = size - 1
    if min_index > 0:
        size -= min_index
    if max_index < size_1:
        size -= size_1 - max_index
    return size


def window_refusal(
    center: float, width: float, ds: Any, bits_stored: int, signed: bool, option: str
) -> HarnessError | None:
    """``unsupported_option`` on ``option`` for a window dcm2jpg fails on (its table would be empty), else None.

    Only for files whose rescale dcm2jpg takes from the top level (no Modality LUT Sequence, no functional
    groups, which it reads per frame) and BitsStored 1..16."""
    if ds.get("ModalityLUTSequence") or ds.get("PerFrameFunctionalGroupsSequence") or not 0 < bits_stored <= 16:
        return None
    try:
        slope = float(ds.get("RescaleSlope", 1) or 1)
        intercept = float(ds.get("RescaleIntercept", 0) or 0)
    except (TypeError, ValueError):
        return None
    if str(ds.get("SOPClassUID", "")) in XA_XRF and str(ds.get("PixelIntensityRelationship", "")).strip() in LOG_DISP:
        slope, intercept = 1.0, 0.0  # LookupTableFactory.applyModalityLUT: no rescale for XA/XRF LOG/DISP
    lo, hi = stored_range(bits_stored, signed)
    size = window_table_size(center, width, slope, intercept, lo, hi)
    if size > 0:
        return None
    return unsupported(
        option,
        f"dcm2jpg fails on the window {center:g}/{width:g}: it lies wholly outside the stored values {lo}..{hi} "
        f"(rescale {slope:g}, {intercept:g}) and its lookup table would have {size} entries",
    )
