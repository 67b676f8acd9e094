"""The grayscale stages once per distinct stored value, then one lookup per pixel (a speed-up, same output).

Every stage after decoding maps each pixel on its own (Modality LUT or rescale, VOI window / LUT, the
Presentation LUT, quantization, the pseudo-colour palette): the same float64 operations on the same value give
the same result wherever the value stands in the array. The one stage that looks at the whole frame, the
min-max window, takes the minimum and maximum of the modality values, and the distinct values present in the
frame have the same minimum and maximum as the frame itself. So the stages can run on the sorted distinct
stored values of the frame (a few thousand for a 12-bit CT) and each pixel then looks its output up: what
dcmtk does with its own LUTs. ``tests/test_python_ref_lookup.py`` checks the output against the stages run
on every pixel, on every sample file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DistinctValues:
    """A frame's stored values as the sorted distinct values present and each pixel's place among them."""

    values: np.ndarray  # 1-D, sorted, the stored values' dtype
    lowest: int  # the smallest stored value
    present: np.ndarray  # bool, one entry per value lowest .. highest
    offsets: np.ndarray  # intp, the frame's shape: each pixel's value - lowest

    def expand(self, table: np.ndarray) -> np.ndarray:
        """The frame's output: ``table[k]`` (one row per distinct value) at every pixel holding value ``k``."""
        full = np.zeros((len(self.present), *table.shape[1:]), dtype=table.dtype)
        full[self.present] = table
        out: np.ndarray = full[self.offsets]
        return out


def distinct_values(stored: np.ndarray) -> DistinctValues | None:
    """The distinct values of an integer frame; None where a lookup would not pay (float data, a range of
    values wider than the frame has pixels). Pure."""
    if stored.dtype.kind not in "iu" or stored.size == 0:
        return None
    lowest, highest = int(stored.min()), int(stored.max())
    span = highest - lowest + 1
    if span > stored.size:
        return None
    offsets = np.subtract(stored, lowest, dtype=np.intp)
    present = np.bincount(offsets.reshape(-1), minlength=span) > 0
    values = (np.flatnonzero(present) + lowest).astype(stored.dtype)
    return DistinctValues(values=values, lowest=lowest, present=present, offsets=offsets)
