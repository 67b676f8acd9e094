"""Stage 4, the Presentation LUT (PS3.3 C.11.6) and MONOCHROME1 (C.7.6.3.1.2). Pure functions."""

from __future__ import annotations

import numpy as np


def should_invert(photometric: str, shape: str | None, option: str) -> bool:
    """Whether the output is inverted: once for MONOCHROME1 or an INVERSE shape (see SEMANTICS.md)."""
    if option == "identity":
        return False
    if option == "inverse":
        return True
    return photometric.strip().upper() == "MONOCHROME1" or (shape or "").strip().upper() == "INVERSE"


def invert(y: np.ndarray, ymax: float) -> np.ndarray:
    return ymax - y
