"""Stage 2, the Modality LUT (PS3.3 C.11.1): stored values -> modality values (e.g. Hounsfield units)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class LUT:
    """A LUT from its descriptor: ``n`` entries, first mapped input value, bits per entry, data."""

    first: int
    bits: int
    data: np.ndarray  # int64, n entries


def rescale(values: np.ndarray, slope: float, intercept: float) -> np.ndarray:
    """``m*x + b`` in float64. Pure."""
    return values.astype(np.float64) * slope + intercept


def lut_lookup(values: np.ndarray, lut: LUT) -> np.ndarray:
    """``data[clamp(x - first, 0, n-1)]`` (PS3.3 C.11.1.1 / C.11.2.1.1). Pure."""
    idx = np.clip(values.astype(np.int64) - lut.first, 0, len(lut.data) - 1)
    return lut.data[idx]


def read_lut(item: Any, data_keyword: str = "LUTData", signed_first: bool = False) -> LUT:
    """Decode a LUT item (Modality or VOI LUT Sequence item): descriptor, byte-packed 8-bit entries, 0 = 65536."""
    desc = [int(v) for v in item.LUTDescriptor]
    n = desc[0] or 65536
    first = desc[1]
    if signed_first and first >= 32768:
        first -= 65536
    bits = desc[2]
    elem = item[data_keyword]
    raw = elem.value
    if isinstance(raw, bytes | bytearray):
        if bits == 8 and len(raw) in (n, n + 1) and elem.VR in ("OW", "OB", "US or OW", "US or SS or OW"):
            data = np.frombuffer(bytes(raw[:n]), dtype=np.uint8).astype(np.int64)
        else:
            dtype = ">u2" if not getattr(item, "is_little_endian", True) else "<u2"
            data = np.frombuffer(bytes(raw[: 2 * (len(raw) // 2)]), dtype=dtype).astype(np.int64)
            if bits == 8 and len(data) * 2 >= n and len(data) < n:  # byte-packed 8-bit entries in OW
                data = np.frombuffer(bytes(raw[:n]), dtype=np.uint8).astype(np.int64)
    else:
        values = raw if isinstance(raw, list | tuple) else list(raw) if hasattr(raw, "__iter__") else [raw]
        data = np.asarray([int(v) for v in values], dtype=np.int64)
    if len(data) < n:
        data = np.concatenate([data, np.full(n - len(data), data[-1] if len(data) else 0, dtype=np.int64)])
    return LUT(first=first, bits=bits, data=data[:n])


def rescale_params(ds: Any, frame: int) -> tuple[float, float] | None:
    """Rescale slope/intercept for a frame: top level, else per-frame, else shared functional groups."""
    if "RescaleSlope" in ds or "RescaleIntercept" in ds:
        return _float(ds.get("RescaleSlope"), 1.0), _float(ds.get("RescaleIntercept"), 0.0)
    for seq_name, index in (("PerFrameFunctionalGroupsSequence", frame), ("SharedFunctionalGroupsSequence", 0)):
        seq = ds.get(seq_name)
        if not seq or index >= len(seq):
            continue
        pvt = seq[index].get("PixelValueTransformationSequence")
        if pvt:
            item = pvt[0]
            return _float(item.get("RescaleSlope"), 1.0), _float(item.get("RescaleIntercept"), 0.0)
    return None


def _float(value: Any, default: float) -> float:
    try:
        return default if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return default


def modality_lut_item(ds: Any) -> Any | None:
    seq = ds.get("ModalityLUTSequence")
    return seq[0] if seq else None


def apply_modality(values: np.ndarray, ds: Any, frame: int, enabled: bool = True) -> tuple[np.ndarray, str]:
    """Modality values of a frame and which transform produced them (``lut``, ``rescale``, ``identity``)."""
    if not enabled:
        return values.astype(np.float64), "disabled"
    item = modality_lut_item(ds)
    if item is not None:
        lut = read_lut(item, signed_first=int(ds.get("PixelRepresentation", 0) or 0) == 1)
        return lut_lookup(values, lut).astype(np.float64), "lut"
    params = rescale_params(ds, frame)
    if params is not None:
        return rescale(values, *params), "rescale"
    return values.astype(np.float64), "identity"


def theoretical_range(ds: Any, frame: int, enabled: bool = True) -> tuple[float, float]:
    """The range of modality values the stored bits can produce (dcmtk's default 'no VOI' range)."""
    bits = int(ds.get("BitsStored", ds.get("BitsAllocated", 8)) or 8)
    if int(ds.get("PixelRepresentation", 0) or 0) == 1:
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    else:
        lo, hi = 0, (1 << bits) - 1
    if not enabled:
        return float(lo), float(hi)
    item = modality_lut_item(ds)
    if item is not None:
        lut = read_lut(item)
        return 0.0, float((1 << lut.bits) - 1)
    params = rescale_params(ds, frame)
    if params is not None:
        a, b = lo * params[0] + params[1], hi * params[0] + params[1]
        return float(min(a, b)), float(max(a, b))
    return float(lo), float(hi)
