"""Stage 1, pixel decoding: stored values of one frame, exactly as PS3.5 8 / PS3.3 C.7.6.3 define them."""

from __future__ import annotations

from typing import Any

import numpy as np

from contract.errors import ErrorCode, HarnessError


def mask_stored_bits(raw: np.ndarray, bits_stored: int, high_bit: int, signed: bool) -> np.ndarray:
    """Keep the BitsStored bits ending at HighBit; sign-extend when signed. Pure.

    Unused high bits (embedded overlays, garbage) never leak into the stored values.
    """
    if raw.dtype.kind == "f":
        return raw
    width = raw.dtype.itemsize * 8
    if bits_stored >= width and high_bit == width - 1:
        return raw
    unsigned = raw.view(f"u{raw.dtype.itemsize}") if raw.dtype.kind == "i" else raw
    shift = high_bit + 1 - bits_stored
    values = (unsigned.astype(np.uint64) >> np.uint64(max(shift, 0))) & np.uint64((1 << bits_stored) - 1)
    if signed:
        sign = np.int64(1) << np.int64(bits_stored - 1)
        out = values.astype(np.int64)
        return np.where(out >= sign, out - (np.int64(1) << np.int64(bits_stored)), out)
    return values.astype(np.int64)


def decode_frame(ds: Any, frame: int, transfer_syntax: str | None) -> np.ndarray:
    """The decoded pixel array of one 0-based frame (rows x cols [x samples]), as pydicom returns it.

    YBR colour data comes back converted to RGB by pydicom (T.871, offset 128, rounded); grayscale data is
    masked and sign-extended here.
    """
    from pydicom.pixels.utils import pixel_array

    photometric = str(ds.get("PhotometricInterpretation", "") or "").strip().upper()
    spp = int(ds.get("SamplesPerPixel", 1) or 1)
    as_rgb = spp == 3 and photometric.startswith("YBR")
    try:
        arr = pixel_array(ds, index=frame, raw=not as_rgb)
    except NotImplementedError as exc:
        raise HarnessError(
            ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
            f"no installed decoder for transfer syntax {transfer_syntax}: {_first_line(exc)}",
        ) from None
    except (RuntimeError, ValueError, OSError, KeyError, AttributeError, TypeError, IndexError) as exc:
        text = _first_line(exc)
        if (
            "Unable to decode" in text
            and "no" in text.lower()
            and "plugin" in text.lower()
            and "available" in text.lower()
        ):
            raise HarnessError(ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX, text) from None
        raise HarnessError(ErrorCode.DECODE_FAILED, f"pixel data could not be decoded: {text}") from None
    if spp == 1 and arr.dtype.kind in "iu":
        bits_alloc = int(ds.BitsAllocated)
        bits_stored = int(ds.get("BitsStored", bits_alloc) or bits_alloc)
        high_bit = int(ds.get("HighBit", bits_stored - 1) if ds.get("HighBit") is not None else bits_stored - 1)
        if high_bit >= bits_alloc or high_bit + 1 < bits_stored:
            high_bit = bits_stored - 1
        arr = mask_stored_bits(arr, bits_stored, high_bit, int(ds.get("PixelRepresentation", 0) or 0) == 1)
    return arr


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return " ".join(lines)[:400] if lines else type(exc).__name__
