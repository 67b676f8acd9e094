"""``decode`` on the reference backend (and, with another pydicom plugin, on ``python_gdcm``): stored values.

The values are those of the pipeline's first stage (``decode.py``): native Pixel Data unpacked here from its
bytes, compressed Pixel Data through pydicom's decoders (``raw``: no colour conversion); then masked to
BitsStored at HighBit and sign-extended (``stored_values``), cast to the smallest integer type of the Bits
Allocated and the signedness, and written little-endian as ``.npy`` (frames first when several).
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import numpy as np

from dcmharness.backends.base import Outcome
from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo, check_frame
from dcmharness.backends.python_ref.decode import Decoded, decode_words, layout_of, stored_values
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.ops_models import DecodeRequest

#: The photometric interpretations ``color_space: "rgb"`` converts (PS3.3 C.7.6.3.1.2).
YBR_TO_RGB = frozenset({"YBR_FULL", "YBR_FULL_422"})


def output_dtype(bits_allocated: int, signed: bool, is_float: bool = False) -> np.dtype[Any]:
    """The smallest little-endian type holding BitsAllocated bits with the Pixel Representation's sign. Pure."""
    if is_float:
        return np.dtype("<f8" if bits_allocated == 64 else "<f4")
    size = 1 if bits_allocated <= 8 else 2 if bits_allocated <= 16 else 4
    return np.dtype(f"<{'i' if signed else 'u'}{size}")


def md5_of(array: np.ndarray) -> str:
    """The MD5 of the array's bytes in C order (the layout of GDCM's and pydicom's reference tables). Pure."""
    return hashlib.md5(np.ascontiguousarray(array).tobytes()).hexdigest()


def ybr_full_to_rgb(values: np.ndarray, bits: int) -> np.ndarray:
    """YBR_FULL -> RGB by PS3.3 C.7.6.3.1.2 (rounded, clipped to the sample range). Pure."""
    top = (1 << bits) - 1
    half = float(1 << (bits - 1))
    y, cb, cr = (values[..., k].astype(np.float64) for k in range(3))
    r = y + 1.402 * (cr - half)
    g = y - 0.344136 * (cb - half) - 0.714136 * (cr - half)
    b = y + 1.772 * (cb - half)
    return np.clip(np.rint(np.stack([r, g, b], axis=-1)), 0, top)


def plugin_words(ds: Any, frame: int, transfer_syntax: str | None, plugin: str) -> Decoded:
    """One frame's words through a named pydicom decoding plugin (``raw``: no colour conversion)."""
    from pydicom.pixels.decoders.base import get_decoder

    try:
        arr, meta = get_decoder(transfer_syntax or "").as_array(ds, index=frame, raw=True, decoding_plugin=plugin)
    except (NotImplementedError, ValueError, RuntimeError, OSError, KeyError, TypeError, IndexError) as exc:
        text = " ".join(str(exc).split())[:400] or type(exc).__name__
        raise HarnessError(ErrorCode.DECODE_FAILED, f"{plugin} could not decode the pixel data: {text}") from None
    photometric = str(meta.get("photometric_interpretation", "") or ds.get("PhotometricInterpretation", "")).upper()
    words = np.asarray(arr)
    if words.dtype.kind in "iu":
        words = words.astype(words.dtype.newbyteorder("="))
        if words.dtype.kind == "i":
            words = words.view(f"u{words.dtype.itemsize}")
    return Decoded(words=words, photometric=photometric, native=False)


def decode_array(
    ds: Any, transfer_syntax: str | None, frames: list[int], color_space: str, plugin: str | None = None
) -> tuple[np.ndarray, str]:
    """The stored values of ``frames`` (stacked when several) and the photometric of what is returned."""
    lay = layout_of(ds)
    out: list[np.ndarray] = []
    photometric = lay.photometric
    is_float = False  # float Pixel Data: decided before any colour conversion (which computes in float64)
    for frame in frames:
        decoded = (
            decode_words(ds, frame, transfer_syntax)
            if plugin is None
            else plugin_words(ds, frame, transfer_syntax, plugin)
        )
        values = stored_values(decoded.words, lay)
        is_float = values.dtype.kind == "f"
        photometric = decoded.photometric
        if color_space == "rgb" and photometric in YBR_TO_RGB:
            if lay.samples != 3 or values.ndim != 3:
                raise HarnessError(ErrorCode.DECODE_FAILED, f"{photometric} data without three samples")
            values = ybr_full_to_rgb(values, lay.bits_stored)
            photometric = "RGB"
        out.append(values)
    dtype = output_dtype(lay.bits_allocated, lay.signed, is_float)
    stacked = out[0] if len(out) == 1 else np.stack(out)
    return np.ascontiguousarray(stacked.astype(dtype)), photometric


def check_color_space(request: DecodeRequest, info: InputInfo) -> None:
    """``color_space: "rgb"`` converts YBR_FULL / YBR_FULL_422 only (8 to 16 bits): refused otherwise."""
    if request.options.color_space != "rgb" or not info.photometric.startswith("YBR"):
        return
    if info.photometric not in YBR_TO_RGB:
        raise HarnessError(
            ErrorCode.UNSUPPORTED_OPTION,
            f"color_space rgb converts YBR_FULL and YBR_FULL_422, not {info.photometric} (its decoder's business)",
            "options.color_space",
        )


def decode(request: DecodeRequest, info: InputInfo, plan: OutputPlan, plugin: str | None = None) -> Outcome:
    check_color_space(request, info)
    frames = check_frame(info, request.options.frame)
    array, photometric = decode_array(info.dataset, info.transfer_syntax, frames, request.options.color_space, plugin)
    decoder = plugin or "python_ref (native unpacking; pydicom decoders)"
    return write_decoded(array, photometric, frames, request, info, plan, decoder)


def write_decoded(
    array: np.ndarray,
    photometric: str,
    frames: list[int],
    request: DecodeRequest,
    info: InputInfo,
    plan: OutputPlan,
    decoder: str,
) -> Outcome:
    """Write the array as ``.npy`` to the plan's temp file and answer the contract's result."""
    with open(plan.targets[0].temp, "wb") as fh:  # a file object: np.save would append .npy to a name
        np.save(fh, array, allow_pickle=False)
    return Outcome(
        result={
            "shape": list(array.shape),
            "dtype": array.dtype.name,
            "md5": md5_of(array),
            "frames": frames,
            "photometric": photometric,
            "color_space": request.options.color_space,
            "transfer_syntax": info.transfer_syntax,
            "decoder": decoder,
        }
    )


def refuse_float_pixel_data(info: InputInfo | None, backend: str) -> None:
    """``unsupported_option`` (field ``input``) for Float / Double Float Pixel Data: the toolkits that decode
    by writing a native copy read Pixel Data (7FE0,0010) only."""
    ds = info.dataset if info is not None else None
    if ds is not None and "PixelData" not in ds and any(k in ds for k in ("FloatPixelData", "DoubleFloatPixelData")):
        raise HarnessError(ErrorCode.UNSUPPORTED_OPTION, f"{backend} does not decode Float Pixel Data", "input")


#: What a decompressed copy must keep from the input (a tool that rewrote the geometry decoded something else).
KEPT_ATTRIBUTES = ("Rows", "Columns", "SamplesPerPixel", "BitsAllocated", "PixelRepresentation")
#: What a decompressing tool may rewrite and the contract takes from the input's header: GDCM sets Bits Stored
#: to the JPEG 2000 codestream's precision (693_J2KI.dcm: 14 -> 16); the values are masked as the input says.
RESTORED_ATTRIBUTES = ("BitsStored", "HighBit")


def decode_native_copy(
    copy: str | os.PathLike[str], request: DecodeRequest, info: InputInfo, plan: OutputPlan, decoder: str
) -> Outcome:
    """``decode`` of a file another decoder (a toolkit's command line tool) wrote uncompressed: its Pixel Data
    is unpacked by this module's native unpacking, so the values are that decoder's. ``backend_failed`` when
    the copy is not native, or its image attributes or frame count differ from the input's."""
    import pydicom

    from dcmharness.backends.python_ref.decode import NATIVE_SYNTAXES

    check_color_space(request, info)
    frames = check_frame(info, request.options.frame)
    try:
        ds = pydicom.dcmread(os.fspath(copy))
        syntax = str(ds.file_meta.get("TransferSyntaxUID", "") or "")
    except Exception as exc:  # unreadable copy: the tool failed
        raise HarnessError(ErrorCode.BACKEND_FAILED, f"{decoder}: the decompressed copy is unreadable: {exc}") from None
    if syntax not in NATIVE_SYNTAXES or "PixelData" not in ds:
        raise HarnessError(
            ErrorCode.BACKEND_FAILED, f"{decoder} wrote transfer syntax {syntax or '?'}, not a native one"
        )
    changed = [
        name
        for name in KEPT_ATTRIBUTES
        if name in info.dataset and str(ds.get(name, "")) != str(info.dataset.get(name, ""))
    ]
    if int(ds.get("NumberOfFrames", 1) or 1) != info.frames:
        changed.append("NumberOfFrames")
    if changed:
        raise HarnessError(ErrorCode.BACKEND_FAILED, f"{decoder} changed {', '.join(changed)} of the image")
    warnings = []
    for name in RESTORED_ATTRIBUTES:
        if name in info.dataset and str(ds.get(name, "")) != str(info.dataset.get(name, "")):
            warnings.append(
                f"{decoder} rewrote {name} {info.dataset.get(name)} -> {ds.get(name)}; masked with the input's"
            )
            setattr(ds, name, info.dataset.get(name))
    array, photometric = decode_array(ds, syntax, frames, request.options.color_space)
    outcome = write_decoded(array, photometric, frames, request, info, plan, decoder)
    outcome.warnings.extend(warnings)
    return outcome
