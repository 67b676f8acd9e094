"""Stage 3, the VOI LUT (PS3.3 C.11.2): modality values -> VOI output in [0, ymax], float64. Pure functions."""

from __future__ import annotations

import numpy as np

from dcmharness.backends.python_ref.modality import LUT, lut_lookup


def window_linear(x: np.ndarray, c: float, w: float, ymax: float) -> np.ndarray:
    """LINEAR (C.11.2.1.2.1), w >= 1; w = 1 is a threshold at c - 0.5.

    The standard's three branches equal the middle formula clipped to [0, ymax]: the formula is <= 0
    exactly when x <= c-0.5-(w-1)/2 and > ymax exactly when x > c-0.5+(w-1)/2.
    """
    x = np.asarray(x, dtype=np.float64)
    if w <= 1:
        return np.where(x <= c - 0.5, 0.0, float(ymax))
    y = x - (c - 0.5)  # the one temporary; the rest is in place
    y *= ymax / (w - 1)
    y += 0.5 * ymax
    return np.clip(y, 0.0, ymax, out=y)


def window_linear_exact(x: np.ndarray, c: float, w: float, ymax: float) -> np.ndarray:
    """LINEAR_EXACT (C.11.2.1.3.2), w > 0."""
    x = np.asarray(x, dtype=np.float64)
    y = ((x - c) / w + 0.5) * ymax
    return np.where(x <= c - w / 2, 0.0, np.where(x > c + w / 2, ymax, y))


def window_sigmoid(x: np.ndarray, c: float, w: float, ymax: float) -> np.ndarray:
    """SIGMOID (C.11.2.1.3.1), w > 0."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore"):
        return ymax / (1.0 + np.exp(-4.0 * (x - c) / w))


WINDOW_FUNCTIONS = {"linear": window_linear, "linear_exact": window_linear_exact, "sigmoid": window_sigmoid}


def window(x: np.ndarray, c: float, w: float, function: str, ymax: float) -> np.ndarray:
    return WINDOW_FUNCTIONS[function](x, c, w, ymax)


def linear_range(x: np.ndarray, lo: float, hi: float, ymax: float) -> np.ndarray:
    """``(x-lo)/(hi-lo)*ymax`` clipped (min-max and 'none'); a constant range renders 0."""
    x = np.asarray(x, dtype=np.float64)
    if hi <= lo:
        return np.zeros_like(x)
    y: np.ndarray = np.subtract(x, lo)  # the same operations in the same order as the formula, in place
    y /= hi - lo
    y *= ymax
    np.clip(y, 0.0, ymax, out=y)
    return y


def lut_bits(lut: LUT) -> int:
    """Bits per entry actually used: the descriptor's, unless the largest entry needs fewer."""
    top = int(lut.data.max()) if len(lut.data) else 0
    used = max(1, top.bit_length())
    return min(lut.bits, used) if lut.bits > 8 else lut.bits


def apply_voi_lut(x: np.ndarray, lut: LUT, ymax: float) -> np.ndarray:
    """VOI LUT Sequence: lookup, then scale the entries' range [0, 2**bits-1] onto [0, ymax]."""
    values = lut_lookup(x, lut).astype(np.float64)
    return values * (ymax / float((1 << lut_bits(lut)) - 1))


def function_name(file_value: str | None) -> str:
    """The contract's function name for a VOI LUT Function (0028,1056) value; LINEAR by default."""
    v = (file_value or "").strip().upper()
    return {"LINEAR_EXACT": "linear_exact", "SIGMOID": "sigmoid"}.get(v, "linear")
