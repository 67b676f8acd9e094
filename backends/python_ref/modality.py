"""Stage 2, the Modality LUT (PS3.3 C.11.1): stored values -> modality values (e.g. Hounsfield units)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from dcmharness.contract.errors import ErrorCode, HarnessError


@dataclass(frozen=True)
class LUT:
    """A LUT from its descriptor: ``n`` entries, first mapped input value, bits per entry, data."""

    first: int
    bits: int
    data: np.ndarray  # int64, n entries


def rescale(values: np.ndarray, slope: float, intercept: float) -> np.ndarray:
    """``m*x + b`` in float64. Pure."""
    out = values.astype(np.float64)
    if slope != 1.0:
        out *= slope
    if intercept != 0.0:
        out += intercept
    return out


def lut_lookup(values: np.ndarray, lut: LUT) -> np.ndarray:
    """``data[clamp(x - first, 0, n-1)]`` (PS3.3 C.11.1.1 / C.11.2.1.1); float input rounded half up. Pure."""
    x = values if values.dtype.kind in "iu" else np.floor(np.asarray(values, dtype=np.float64) + 0.5)
    idx = np.clip(x.astype(np.int64) - lut.first, 0, len(lut.data) - 1)
    return lut.data[idx]


def read_lut(item: Any, data_keyword: str = "LUTData", signed_first: bool = False, little_endian: bool = True) -> LUT:
    """Decode a LUT item (Modality or VOI LUT Sequence item). Pure over the item's values.

    Descriptor ``[n, first, bits]``: n = 0 means 65536; ``first`` is read as signed (SS) when
    ``signed_first``. OW data is read in the file's byte order (``little_endian``); 8-bit entries may be
    byte-packed, two per 16-bit word, first entry in the low byte (in OW bytes or in a US word list).
    """
    n, first, bits = lut_descriptor(item.get("LUTDescriptor"), "LUT Descriptor (0028,3002)")
    if signed_first and first >= 32768:
        first -= 65536
    raw = item[data_keyword].value if data_keyword in item else None
    if raw is None or len(raw) == 0:
        raise invalid_lut("LUT Data (0028,3006) is absent or empty")
    if isinstance(raw, bytes | bytearray):
        if bits == 8 and len(raw) in (n, n + 1, n + n % 2):  # byte-packed 8-bit entries
            data = packed_bytes(bytes(raw), little_endian)[:n]
        else:
            even = len(raw) - len(raw) % 2
            dtype = "<u2" if little_endian else ">u2"
            data = np.frombuffer(bytes(raw[:even]), dtype=dtype).astype(np.int64)
    else:
        values = list(raw) if isinstance(raw, list | tuple) or hasattr(raw, "__iter__") else [raw]
        data = np.asarray([int(v) for v in values], dtype=np.int64)
        if bits == 8 and len(data) < n <= 2 * len(data):
            data = np.stack([data & 0xFF, data >> 8], axis=-1).reshape(-1)  # two 8-bit entries per US word
    if len(data) < n:
        data = np.concatenate([data, np.full(n - len(data), data[-1] if len(data) else 0, dtype=np.int64)])
    return LUT(first=first, bits=bits, data=data[:n])


def invalid_lut(message: str) -> HarnessError:
    """A malformed LUT in the input: ``decode_failed`` (never a traceback)."""
    return HarnessError(ErrorCode.DECODE_FAILED, f"invalid lookup table: {message}", "input")


def lut_descriptor(value: Any, what: str) -> tuple[int, int, int]:
    """A LUT descriptor ``[n, first, bits]`` with n = 0 read as 65536; ``decode_failed`` if malformed."""
    try:
        desc = [int(v) for v in value]
    except (TypeError, ValueError):
        raise invalid_lut(f"{what} is absent or not numbers: {value!r}") from None
    if len(desc) != 3 or not 1 <= desc[2] <= 16 or not 0 <= desc[0] <= 65535:
        raise invalid_lut(f"{what} must be [entries, first mapped value, bits 1..16], got {desc}")
    return desc[0] or 65536, desc[1], desc[2]


def packed_bytes(raw: bytes, little_endian: bool) -> np.ndarray:
    """8-bit entries packed two per 16-bit OW word, first entry in the low byte, as int64. Pure.

    In a big-endian file each word's bytes are swapped, so the entries come in pairs (1, 0), (3, 2), ...
    """
    data = np.frombuffer(raw, dtype=np.uint8)
    if not little_endian:
        even = len(data) - len(data) % 2
        data = data[:even].reshape(-1, 2)[:, ::-1].reshape(-1)
    return data.astype(np.int64)


def rescale_params(ds: Any, frame: int) -> tuple[float, float] | None:
    """Rescale slope/intercept of a frame: per-frame functional group, else shared, else top level."""
    for seq_name, index in (("PerFrameFunctionalGroupsSequence", frame), ("SharedFunctionalGroupsSequence", 0)):
        seq = ds.get(seq_name)
        if not seq or index >= len(seq):
            continue
        pvt = seq[index].get("PixelValueTransformationSequence")
        if pvt:
            item = pvt[0]
            return _float(item.get("RescaleSlope"), 1.0), _float(item.get("RescaleIntercept"), 0.0)
    if "RescaleSlope" in ds or "RescaleIntercept" in ds:
        return _float(ds.get("RescaleSlope"), 1.0), _float(ds.get("RescaleIntercept"), 0.0)
    return None


def _float(value: Any, default: float) -> float:
    try:
        return default if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return default


def modality_lut_item(ds: Any) -> Any | None:
    seq = ds.get("ModalityLUTSequence")
    return seq[0] if seq else None


def apply_modality(
    values: np.ndarray, ds: Any, frame: int, enabled: bool = True, little_endian: bool = True
) -> tuple[np.ndarray, str]:
    """Modality values of a frame and which transform produced them (``lut``, ``rescale``, ``identity``)."""
    if not enabled:
        return values.astype(np.float64), "disabled"
    item = modality_lut_item(ds)
    if item is not None:
        lut = read_lut(item, signed_first=_signed(ds), little_endian=little_endian)
        return lut_lookup(values, lut).astype(np.float64), "lut"
    params = rescale_params(ds, frame)
    if params is not None:
        return rescale(values, *params), "rescale"
    return values.astype(np.float64), "identity"


def is_monotone(ds: Any, frame: int, enabled: bool = True) -> bool:
    """Whether ``apply_modality`` keeps (or reverses) the order of the values: no transform, or a rescale with
    a finite slope and intercept (float rounding is monotone); a Modality LUT may map in any order."""
    if not enabled:
        return True
    if modality_lut_item(ds) is not None:
        return False
    params = rescale_params(ds, frame)
    return params is None or all(math.isfinite(v) for v in params)


def stored_range(bits_stored: int, signed: bool) -> tuple[int, int]:
    """The range of stored values: ``0 .. 2**bits-1`` or ``-2**(bits-1) .. 2**(bits-1)-1``. Pure."""
    if signed:
        return -(1 << (bits_stored - 1)), (1 << (bits_stored - 1)) - 1
    return 0, (1 << bits_stored) - 1


def theoretical_range(ds: Any, frame: int, enabled: bool = True, little_endian: bool = True) -> tuple[float, float]:
    """The range of modality values the stored bits can produce (dcmtk's default 'no VOI' range)."""
    bits = int(ds.get("BitsStored", ds.get("BitsAllocated", 8)) or 8)
    lo, hi = stored_range(bits, _signed(ds))
    if not enabled:
        return float(lo), float(hi)
    item = modality_lut_item(ds)
    if item is not None:
        lut = read_lut(item, little_endian=little_endian)
        return 0.0, float((1 << lut.bits) - 1)
    params = rescale_params(ds, frame)
    if params is not None:
        a, b = lo * params[0] + params[1], hi * params[0] + params[1]
        return float(min(a, b)), float(max(a, b))
    return float(lo), float(hi)


def _signed(ds: Any) -> bool:
    return int(ds.get("PixelRepresentation", 0) or 0) == 1
