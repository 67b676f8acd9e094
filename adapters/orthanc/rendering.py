"""What the Orthanc adapter asks of the DICOMweb plugin's WADO-RS ``/rendered`` route for ``to_image``, and
what it refuses before asking: pure functions of the request and the input's header (golden-tested).

Per request: upload the file (``POST /instances``), fetch each frame from
``/dicom-web/studies/{study}/series/{series}/instances/{sop}/frames/{n}/rendered`` (``n`` 1-based) with
``Accept: image/png`` or ``image/jpeg``, then delete the instance (Orthanc derives the instance ID from the
UIDs and does not replace a stored instance on re-upload, so one left behind would be served again).
The server is ours (``dcmharness.adapters.orthanc.server``), started once per process, or one given by URL.

Facts it relies on, checked against Orthanc 1.10.1 + DICOMweb plugin 1.7 (Debian 12; the live tests
re-check them):

- Routes. The core ``/instances/{id}/frames/{n}/rendered`` (0-based) defaults to the first stored window
  (a fixed range without one) and its ``window-center``/``window-width`` compute
  ``floor(((x-c)/w+0.5)*255)``: LINEAR_EXACT truncated, one level below the contract's LINEAR on most
  pixels. So the DICOMweb route is used. Its renderer answers min-max when no ``window`` is given
  (plugin 1.7, with or without other parameters; the plugin's source forwards a request without any
  parameter to the core route, with the core's defaults, so every request here carries ``window=`` or at
  least ``quality=``, which PNG output ignores, to pin the plugin's own renderer whatever its version).
- ``window=c,w,linear`` and ``window=c,w,sigmoid`` are PS3.3 C.11.2.1.2.1 / C.11.2.1.3.1 in float,
  rounded to nearest: identical to python_ref on the sample files.
- ``window=c,w,linear-exact`` omits the +0.5 of C.11.2.1.3.2 (``(x-c)/w*255``: the image 127.5 levels
  darker, the lower half black; WadoRsRetrieveRendered.cpp, ``exactYOffset``). LINEAR_EXACT is therefore
  sent as the LINEAR window with centre ``c + 0.5`` and width ``w + 1``, which is the same function
  exactly: ``((x-(c+0.5-0.5))/(w+1-1)+0.5)*255`` with the same bounds ``c -/+ w/2``.
- ``voi: "none"`` (the theoretical range ``[lo, hi]``) is sent as the LINEAR_EXACT window
  ``c = (lo+hi)/2``, ``w = hi-lo``, i.e. the LINEAR window ``(lo+hi+1)/2, hi-lo+1``: the same ramp.
- Without ``window`` it uses the frame's min-max through Rescale Slope/Intercept (the contract's
  ``voi: "minmax"``); by its source the ramp is reversed when the slope is negative (refused then; no
  sample file has one).
- It applies only the top-level Rescale Slope/Intercept: a Modality LUT Sequence or a rescale in the
  functional groups of an enhanced multi-frame file is ignored (refused). It never applies a VOI LUT
  Sequence, a stored window (passed explicitly here, from the header), a Presentation LUT Shape, or
  overlays; it inverts MONOCHROME1 once. Output is 8-bit PNG or JPEG only.
"""

from __future__ import annotations

import contextlib
import urllib.parse
from dataclasses import dataclass
from typing import Any

from dcmharness.adapters.base import Capability
from dcmharness.adapters.orthanc.client import HttpCall, uid_of
from dcmharness.backends.base import unsupported
from dcmharness.backends.preflight import InputInfo, check_frame
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import ToImageRequest
from dcmharness.contract.options import ToImageOptions, format_for

MIME = {"png": "image/png", "jpeg": "image/jpeg"}
DEFAULT_QUALITY = 90
#: Window function names of the ``window`` query parameter.
ORTHANC_FUNCTIONS = {"linear": "linear", "sigmoid": "sigmoid", "linear_exact": "linear-exact"}


def capability_table(version: str | None) -> dict[str, dict[str, Capability]]:
    """What the DICOMweb ``/rendered`` route honours (input-dependent refusals are in ``refusals``)."""
    del version  # nothing differs between the plugin releases this adapter knows
    return {
        "to_image": {
            "format": (None, "png", "jpeg"),  # the extension-implied format is checked in refusals()
            "bit_depth": (8,),
            "quality": True,
            "png_compression": False,
            "window_center": True,
            "window_width": True,
            "voi_function": True,
            "voi": ("auto", "window", "minmax", "none"),
            "voi_index": True,
            "modality_lut": (True,),
            "presentation": True,  # refused in refusals() unless it means what Orthanc does (invert MONOCHROME1)
            "overlays": True,  # refused in refusals() when the file has a plane that would be burned in
            "overlay_value": False,
        }
    }


# -- pure request building -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Window:
    center: float
    width: float
    function: str  # the contract's name: linear / linear_exact / sigmoid


@dataclass(frozen=True)
class VoiPlan:
    """What the query asks for: a window, or (``window`` None) the route's min-max."""

    window: Window | None
    source: str  # explicit / window / minmax / none (for the response's result)
    index: int | None = None


def number(x: float) -> str:
    """A float as Orthanc's parser (boost::lexical_cast<float>) reads it: integers without a fraction."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))


def window_parameter(window: Window) -> str:
    """``c,w,function`` for the ``window`` query parameter; LINEAR_EXACT sent as the equal LINEAR window."""
    if window.function == "linear_exact":
        return f"{number(window.center + 0.5)},{number(window.width + 1)},linear"
    return f"{number(window.center)},{number(window.width)},{ORTHANC_FUNCTIONS[window.function]}"


def stored_values(value: Any) -> list[float]:
    """A (multi-valued) decimal attribute as floats, unparsable values skipped."""
    if value is None or value == "":
        return []
    items = list(value) if not isinstance(value, str | int | float) and hasattr(value, "__iter__") else [value]
    out = []
    for v in items:
        with contextlib.suppress(TypeError, ValueError):
            out.append(float(v))
    return out


def function_of(value: Any) -> str:
    """The contract's name for a VOI LUT Function (0028,1056) value; LINEAR when absent or unknown."""
    if value is not None and not isinstance(value, str) and hasattr(value, "__getitem__"):
        value = value[0] if len(value) else None
    v = str(value or "").strip().upper()
    return {"LINEAR_EXACT": "linear_exact", "SIGMOID": "sigmoid"}.get(v, "linear")


def stored_windows(ds: Any, frame: int) -> tuple[list[float], list[float], str]:
    """The stored (centres, widths, function) of a 0-based frame: the VOI LUT module at the top level, else
    the Frame VOI LUT Sequence of the per-frame, then the shared functional groups (as python_ref reads them)."""
    centers, widths = stored_values(ds.get("WindowCenter")), stored_values(ds.get("WindowWidth"))
    if centers and widths:
        return centers, widths, function_of(ds.get("VOILUTFunction"))
    for seq_name, index in (("PerFrameFunctionalGroupsSequence", frame), ("SharedFunctionalGroupsSequence", 0)):
        seq = ds.get(seq_name)
        if not seq or index >= len(seq):
            continue
        fvoi = seq[index].get("FrameVOILUTSequence")
        if fvoi:
            item = fvoi[0]
            c, w = stored_values(item.get("WindowCenter")), stored_values(item.get("WindowWidth"))
            if c and w:
                return c, w, function_of(item.get("VOILUTFunction"))
    return [], [], function_of(ds.get("VOILUTFunction"))


def plan_voi(options: ToImageOptions, ds: Any, frame: int = 0) -> VoiPlan:
    """The VOI transform of SEMANTICS.md section 3 for one frame, as Orthanc can be asked for it.

    Orthanc never reads a stored window itself (its plugin stretches min-max): the contract's stored
    window (``voi`` auto or window, also a functional group's Frame VOI LUT) is passed as an explicit one.
    """
    explicit = options.explicit_window()
    if explicit is not None:
        return VoiPlan(Window(explicit[0], explicit[1], options.voi_function or "linear"), "explicit")
    source = options.voi
    centers, widths, stored_function = stored_windows(ds, frame)
    if source == "auto":
        if ds.get("VOILUTSequence"):
            raise unsupported("voi", "orthanc cannot apply a VOI LUT Sequence (voi auto selects the file's VOI LUT)")
        source = "window" if centers and widths else "minmax"
    if source == "window":
        index = options.voi_index or 0
        n = min(len(centers), len(widths))
        if index >= n:
            raise HarnessError(
                ErrorCode.INVALID_REQUEST,
                f"stored window {index} requested but the file has {n} window(s)",
                "options.voi_index" if options.voi_index is not None else "options.voi",
            )
        c, w = centers[index], widths[index]
        fn = options.voi_function or stored_function
        if fn == "linear" and w < 1:
            w = 1.0
        if w <= 0:
            raise HarnessError(ErrorCode.DECODE_FAILED, f"the file's window width {w} is not > 0", "input")
        return VoiPlan(Window(c, w, fn), "window", index)
    if source == "minmax":
        return VoiPlan(None, "minmax")
    if source == "none":
        lo, hi = theoretical_range(ds)
        return VoiPlan(Window((lo + hi) / 2, hi - lo, "linear_exact"), "none")
    raise unsupported("voi", f"orthanc cannot honour voi={source!r}")


def theoretical_range(ds: Any) -> tuple[float, float]:
    """``voi: "none"``: the stored range (Bits Stored, Pixel Representation) through the top-level rescale.

    ``(x-lo)/(hi-lo)*ymax`` on ``[lo, hi]`` is exactly LINEAR_EXACT with ``c = (lo+hi)/2``, ``w = hi-lo``
    (C.11.2.1.3.2), which Orthanc is asked for as its equal LINEAR window (see ``window_parameter``).
    Files with a Modality LUT Sequence or a functional-group rescale are refused before this is used.
    """
    bits = int(_float(ds.get("BitsStored", ds.get("BitsAllocated", 8)), 8))
    signed = int(_float(ds.get("PixelRepresentation"), 0)) == 1
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    slope, intercept = top_level_rescale(ds)
    a, b = lo * slope + intercept, hi * slope + intercept
    return min(a, b), max(a, b)


def rendered_call(uids: tuple[str, str, str], frame: int, fmt: str, quality: int | None, voi: VoiPlan) -> HttpCall:
    """The WADO-RS Retrieve Rendered call for one 0-based ``frame`` (always customized, see the module doc)."""
    study, series, sop = (urllib.parse.quote(u, safe="") for u in uids)
    path = f"/dicom-web/studies/{study}/series/{series}/instances/{sop}/frames/{frame + 1}/rendered"
    query: list[tuple[str, str]] = []
    if voi.window is not None:
        query.append(("window", window_parameter(voi.window)))
    if fmt == "jpeg" or voi.window is None:
        query.append(("quality", str(quality if quality is not None else DEFAULT_QUALITY)))
    return HttpCall("GET", path, tuple(query), (("Accept", MIME[fmt]),))


def _float(value: Any, default: float) -> float:
    try:
        return default if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return default


def top_level_rescale(ds: Any) -> tuple[float, float]:
    """The Rescale Slope/Intercept Orthanc applies: the top-level ones (identity when absent)."""
    return _float(ds.get("RescaleSlope"), 1.0), _float(ds.get("RescaleIntercept"), 0.0)


def functional_group_rescale_ignored(ds: Any) -> bool:
    """True when a functional group's Pixel Value Transformation (which the contract applies, per frame
    before the top level) differs from the top-level rescale Orthanc applies."""
    top = top_level_rescale(ds)
    for seq_name in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        for group in ds.get(seq_name) or []:
            for item in (group.get("PixelValueTransformationSequence") or [])[:1]:
                if (_float(item.get("RescaleSlope"), 1.0), _float(item.get("RescaleIntercept"), 0.0)) != top:
                    return True
    return False


#: Colour encodings neither of Orthanc's decoders (built-in DCMTK, GDCM plugin) turns into RGB for the renderer.
UNDECODABLE_COLOUR = {
    "YBR_RCT": "the GDCM plugin answers 'Unsupported output photometric interpretation'",
    "YBR_ICT": "the GDCM plugin answers 'Unsupported output photometric interpretation'",
}


def layout_refusal(info: InputInfo) -> str | None:
    """Pixel layouts Orthanc 1.10 + GDCM 1.5 decode wrongly or crash on (found on the synthetic cases)."""
    ds = info.dataset
    high_bit = _float(ds.get("HighBit"), info.bits_stored - 1)
    if info.bits_allocated > 1 and high_bit != info.bits_stored - 1:
        return f"High Bit {high_bit:g} is not Bits Stored - 1 ({info.bits_stored - 1}); Orthanc ignores High Bit"
    if info.bits_allocated == 1 and info.frames > 1 and (info.rows * info.columns) % 8:
        return "1-bit frames that do not end on a byte boundary (Orthanc answers 'Parameter out of range')"
    if info.photometric.upper() == "PALETTE COLOR":
        if "SegmentedRedPaletteColorLookupTableData" in ds:
            return "segmented Palette Color LUTs abort the server (a GDCM plugin assertion)"
        descriptor = ds.get("RedPaletteColorLookupTableDescriptor")
        if descriptor is not None and len(descriptor) > 1 and int(descriptor[1]) != 0:
            return "a Palette Color LUT whose first mapped value is not 0 aborts the server (a GDCM plugin assertion)"
    return None


def presentation_refusal(presentation: str, photometric: str, shape: Any) -> str | None:
    """Orthanc inverts exactly the MONOCHROME1 images; the request must want exactly those inverted."""
    mono1 = photometric.strip().upper() == "MONOCHROME1"
    inverse_shape = str(shape or "").strip().upper() == "INVERSE"
    wanted = {"auto": mono1 or inverse_shape, "identity": False, "inverse": True}[presentation]
    if wanted == mono1:
        return None
    if presentation == "auto":
        return "orthanc ignores Presentation LUT Shape INVERSE (it inverts MONOCHROME1 images only)"
    if presentation == "identity":
        return "orthanc always inverts MONOCHROME1 images"
    return "orthanc inverts MONOCHROME1 images only"


def refusals(request: ToImageRequest, info: InputInfo) -> None:
    """The input-dependent ``unsupported_option`` checks (raise on the first)."""
    opts = request.options
    ds = info.dataset
    if info.bits_allocated > 16:
        raise HarnessError(
            ErrorCode.UNSUPPORTED_OPTION,
            f"orthanc cannot render {info.bits_allocated}-bit pixel data (its renderer has 8- and 16-bit grayscale "
            "only; the GDCM plugin even aborts the server on some 32-bit files)",
            "input",
        )
    missing = [k for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID") if not uid_of(ds, k)]
    if missing:
        raise HarnessError(
            ErrorCode.UNSUPPORTED_OPTION,
            f"orthanc stores only files with Study/Series/SOP Instance UIDs; this one lacks {', '.join(missing)}",
            "input",
        )
    fmt = format_for(request.output, opts)
    if fmt not in MIME:
        raise unsupported("format", f"orthanc renders png or jpeg only, not {fmt}")
    layout = layout_refusal(info)
    if layout:
        raise HarnessError(ErrorCode.UNSUPPORTED_OPTION, f"orthanc cannot render this file: {layout}", "input")
    if info.is_color:
        from dcmharness.backends.python_ref.pipeline import check_color_options

        check_color_options(opts)
        photometric = info.photometric.upper()
        if info.bits_allocated > 8:
            raise HarnessError(
                ErrorCode.UNSUPPORTED_OPTION,
                f"orthanc renders 8-bit colour only; this {photometric} image has {info.bits_allocated} bits "
                "allocated (its renderer answers 'Not implemented yet')",
                "input",
            )
        if photometric in UNDECODABLE_COLOUR:
            raise HarnessError(
                ErrorCode.UNSUPPORTED_OPTION,
                f"orthanc cannot decode {photometric} images: {UNDECODABLE_COLOUR[photometric]}",
                "input",
            )
        if photometric.startswith(("YBR_FULL_422", "YBR_PARTIAL")) and not info.is_compressed:
            raise HarnessError(
                ErrorCode.UNSUPPORTED_OPTION,
                f"orthanc cannot decode uncompressed {photometric} (its DCMTK decoder: 'Unsupported DICOM image')",
                "input",
            )
    else:
        if "ModalityLUTSequence" in ds:
            raise unsupported("modality_lut", "orthanc ignores the Modality LUT Sequence (0028,3000) of this file")
        if functional_group_rescale_ignored(ds):
            raise unsupported(
                "modality_lut", "orthanc applies only the top-level rescale, not the functional groups' of this file"
            )
        reason = presentation_refusal(opts.presentation, info.photometric, ds.get("PresentationLUTShape"))
        if reason:
            raise unsupported("presentation", reason)
        for frame in check_frame(info, opts.frame):
            voi = plan_voi(opts, ds, frame)
            if voi.window is None and top_level_rescale(ds)[0] < 0:
                raise unsupported("voi", "orthanc's min-max is reversed when Rescale Slope is negative")
            if voi.window is not None and info.bits_allocated == 1:
                raise unsupported(
                    "window_center" if voi.source == "explicit" else "voi",
                    "orthanc decodes 1-bit pixel data as 0/255, so a window in modality units (0/1) does not apply",
                )
    planes = info.overlay_planes
    burned = (
        planes if opts.overlays is True else [] if opts.overlays is False else [p for p in opts.overlays if p in planes]
    )
    if burned:
        raise unsupported("overlays", f"orthanc does not burn in overlays; this file has plane(s) {burned}")
