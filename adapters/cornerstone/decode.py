"""Cornerstone's ``decode``: the ``wadouri`` loader's decoded frame (its decode worker and WebAssembly codecs)
without the modality pre-scaling (``loadAndCacheImage(imageId, {useRGBA: false, preScale: {enabled: false}})``,
``image.getPixelData()``; ``window.dcmhDecode`` in ``page/entry.mjs``), one driver request per frame.

The page answers the typed array as the loader hands it to a viewer; the harness reads its words and applies
the contract's masking and sign extension (``stored_values``: Bits Stored at High Bit), as it does for every
decoder's words. Facts measured on @cornerstonejs/dicom-image-loader 5.14 with pydicom's test files (the typed
array's type in brackets):

- identical to the reference on native (big endian too), RLE, JPEG lossless, JPEG-LS, JPEG 2000 (YBR_ICT /
  YBR_RCT come back RGB, as the reference's) and RGB JPEG; signed data may come back in a Uint16Array.
- YCbCr (YBR_FULL, YBR_FULL_422) JPEG and uncompressed YBR_FULL come back converted to RGB:
  ``color_space: "native"`` is refused for them (field ``options.color_space``).
- Uncompressed YBR_FULL_422 comes back as the packed 4:2:2 bytes (2 per pixel), PALETTE COLOR as RGB, 1-bit
  data as the packed bytes: refused (``unsupported_option``, field ``input``); Float Pixel Data too.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo, check_frame
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.ops_models import DecodeRequest

#: The typed arrays the loader answers, as numpy types (little-endian: the page's platform).
TYPED_ARRAYS = {
    "Uint8Array": "u1",
    "Uint8ClampedArray": "u1",
    "Int8Array": "i1",
    "Uint16Array": "<u2",
    "Int16Array": "<i2",
    "Uint32Array": "<u4",
    "Int32Array": "<i4",
}
NATIVE = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"})
CONVERTED_YBR = frozenset({"YBR_FULL", "YBR_FULL_422"})


def check_decode_input(request: DecodeRequest, info: InputInfo) -> None:
    """The refusals of ``decode`` on Cornerstone, from the input's header (pure)."""
    photometric = info.photometric.upper()
    ds = info.dataset
    reason = None
    if ds is not None and "PixelData" not in ds and any(k in ds for k in ("FloatPixelData", "DoubleFloatPixelData")):
        reason = "the wadouri loader does not decode Float / Double Float Pixel Data"
    elif photometric == "PALETTE COLOR":
        reason = "the wadouri loader converts PALETTE COLOR to RGB: the indices are not served"
    elif info.bits_allocated == 1:
        reason = "the wadouri loader serves 1-bit Pixel Data as its packed bytes"
    elif photometric == "YBR_FULL_422" and info.transfer_syntax in NATIVE:
        reason = "the wadouri loader serves uncompressed YBR_FULL_422 as the packed 4:2:2 bytes (2 per pixel)"
    if reason:
        raise HarnessError(ErrorCode.UNSUPPORTED_OPTION, f"cornerstone: {reason}", "input")
    if photometric in CONVERTED_YBR and request.options.color_space == "native":
        raise HarnessError(
            ErrorCode.UNSUPPORTED_OPTION,
            f"cornerstone converts {photometric} to RGB while decoding: the stored YCbCr values are not served "
            '(ask color_space "rgb")',
            "options.color_space",
        )


def decode_request_line(ident: int, info: InputInfo, frame: int) -> dict[str, Any]:
    """One driver request (pure)."""
    import os

    return {"id": ident, "op": "decode", "input": os.path.abspath(str(info.path)), "frame": frame}


def words_of(answer: dict[str, Any], info: InputInfo) -> np.ndarray:
    """The answer's typed array as unsigned words, rows x cols [x samples]; ``backend_failed`` when its type
    or size is not what the header describes."""
    kind = TYPED_ARRAYS.get(str(answer.get("type")))
    if kind is None:
        raise HarnessError(ErrorCode.BACKEND_FAILED, f"cornerstone answered a {answer.get('type')}, not integers")
    values = np.frombuffer(base64.b64decode(str(answer.get("values", ""))), dtype=kind)
    samples = info.samples_per_pixel
    if values.size != info.rows * info.columns * samples:
        raise HarnessError(
            ErrorCode.BACKEND_FAILED,
            f"cornerstone answered {values.size} values for {info.rows} x {info.columns} x {samples}",
        )
    words = values.view(values.dtype.str.replace("i", "u")) if values.dtype.kind == "i" else values
    shape = (info.rows, info.columns) if samples == 1 else (info.rows, info.columns, samples)
    return words.reshape(shape)


def result_of(
    answers: list[dict[str, Any]], request: DecodeRequest, info: InputInfo, plan: OutputPlan, version: str | None
) -> dict[str, Any]:
    """The frames' stored values (the contract's masking on the loader's words), written as .npy."""
    from dcmharness.backends.python_ref.decode import layout_of, stored_values
    from dcmharness.backends.python_ref.ops_decode import output_dtype, write_decoded

    frames = check_frame(info, request.options.frame)
    lay = layout_of(info.dataset)
    out = [stored_values(words_of(answer, info), lay) for answer in answers]
    dtype = output_dtype(lay.bits_allocated, lay.signed)
    stacked = out[0] if len(out) == 1 else np.stack(out)
    array = np.ascontiguousarray(stacked.astype(dtype))
    photometric = info.photometric.upper()
    if info.samples_per_pixel == 3 and photometric.startswith("YBR"):
        photometric = "RGB"
    decoder = f"cornerstone {version or '?'} (dicom-image-loader wadouri, getPixelData without pre-scaling)"
    return write_decoded(array, photometric, frames, request, info, plan, decoder).result
