"""The standard's formulas, written again directly for the synthetic cases' expected renderings.

Deliberately independent of ``dcmharness.backends.python_ref`` (never import it here): each function is the
PS3.3 text as a numpy expression, so a case's expected image checks the renderer rather than itself.
"""

from __future__ import annotations

import numpy as np


def round_half_up(y: np.ndarray, ymax: int) -> np.ndarray:
    """SEMANTICS.md's rounding rule: floor(y + 0.5), clipped to [0, ymax], as uint8/uint16."""
    out = np.clip(np.floor(np.asarray(y, dtype=np.float64) + 0.5), 0, ymax)
    return out.astype(np.uint8 if ymax == 255 else np.uint16)


def linear(x: np.ndarray, c: float, w: float, ymax: int) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1 (LINEAR), written out branch by branch."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    low = x <= c - 0.5 - (w - 1) / 2
    high = x > c - 0.5 + (w - 1) / 2
    mid = ~(low | high)
    out[low] = 0.0
    out[high] = ymax
    if w > 1:
        out[mid] = ((x[mid] - (c - 0.5)) / (w - 1) + 0.5) * ymax
    return out


def linear_exact(x: np.ndarray, c: float, w: float, ymax: int) -> np.ndarray:
    """PS3.3 C.11.2.1.3.2 (LINEAR_EXACT)."""
    x = np.asarray(x, dtype=np.float64)
    out = ((x - c) / w + 0.5) * ymax
    out[x <= c - w / 2] = 0.0
    out[x > c + w / 2] = ymax
    return out


def sigmoid(x: np.ndarray, c: float, w: float, ymax: int) -> np.ndarray:
    """PS3.3 C.11.2.1.3.1 (SIGMOID)."""
    x = np.asarray(x, dtype=np.float64)
    return ymax / (1.0 + np.exp(-4.0 * (x - c) / w))


def stretch(x: np.ndarray, lo: float, hi: float, ymax: int) -> np.ndarray:
    """``(x - lo) / (hi - lo) * ymax`` (min-max and the theoretical 'none' range)."""
    return (np.asarray(x, dtype=np.float64) - lo) / (hi - lo) * ymax


def ybr_full_to_rgb(y: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> np.ndarray:
    """ITU-T T.871 (JFIF) inverse with offset 128: float RGB, rows x cols x 3."""
    y, cb, cr = (np.asarray(a, dtype=np.float64) for a in (y, cb, cr))
    r = y + 1.402 * (cr - 128)
    g = y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128)
    b = y + 1.772 * (cb - 128)
    return np.stack([r, g, b], axis=-1)


def rgb_to_ybr_full(rgb: np.ndarray) -> np.ndarray:
    """ITU-T T.871 forward (to write YBR_FULL files), rounded, uint8."""
    rgb = np.asarray(rgb, dtype=np.float64)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = -0.168736 * r - 0.331264 * g + 0.5 * b + 128
    cr = 0.5 * r - 0.418688 * g - 0.081312 * b + 128
    return np.clip(np.floor(np.stack([y, cb, cr], axis=-1) + 0.5), 0, 255).astype(np.uint8)


def ramp(lo: int, hi: int, rows: int, cols: int) -> np.ndarray:
    """A deterministic ramp of integers from lo to hi (inclusive) over rows x cols, row-major."""
    return np.floor(np.linspace(lo, hi, rows * cols) + 0.5).astype(np.int64).reshape(rows, cols)
