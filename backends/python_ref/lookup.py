"""The grayscale stages once per stored value, then one lookup per pixel (a speed-up, the same output).

Every stage after decoding maps each pixel on its own (Modality LUT or rescale, VOI window / LUT, the
Presentation LUT, quantization, the pseudo-colour palette): the same float64 operations on the same value give
the same result wherever the value stands in the array. The one stage that looks at the whole frame, the
min-max window, takes the minimum and maximum of the modality values. So the stages can run once on the
values ``lowest .. highest`` of the frame (a few thousand for a 12-bit CT) and each pixel then looks its
output up: what dcmtk does with its own LUTs. The min-max window sees the same minimum and maximum:

- through a monotone modality transform (none, or a rescale with finite slope and intercept: float rounding
  keeps the order), the extremes of ``lowest .. highest`` lie at its two ends, which are pixels of the frame;
- through a Modality LUT (any order) only the values present in the frame are run (``present_only``).

``tests/test_python_ref_lookup.py`` checks the output against the stages run on every pixel, on every
sample file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ValueTable:
    """The stored values to run the stages on, and each pixel's place among them."""

    values: np.ndarray  # 1-D, ascending, the stored values' dtype: lowest .. highest, or those present
    offsets: np.ndarray  # intp, the frame's shape: each pixel's value - lowest
    present: np.ndarray | None  # bool per value lowest .. highest when only the present ones are in values

    def expand(self, table: np.ndarray) -> np.ndarray:
        """The frame's output: the row of ``table`` (one per entry of ``values``) of each pixel's value."""
        full = table
        if self.present is not None:
            full = np.zeros((len(self.present), *table.shape[1:]), dtype=table.dtype)
            full[self.present] = table
        out: np.ndarray = full[self.offsets]
        return out


def value_table(stored: np.ndarray, present_only: bool = False) -> ValueTable | None:
    """The values of an integer frame to run the stages on; None where a lookup would not pay (float data, a
    range of values wider than the frame has pixels). ``present_only``: just the values that occur. Pure."""
    if stored.dtype.kind not in "iu" or stored.size == 0:
        return None
    lowest, highest = int(stored.min()), int(stored.max())
    span = highest - lowest + 1
    if span > stored.size:
        return None
    offsets = np.subtract(stored, lowest, dtype=np.intp)
    if not present_only:
        values = np.arange(lowest, highest + 1, dtype=stored.dtype)
        return ValueTable(values=values, offsets=offsets, present=None)
    present = np.bincount(offsets.reshape(-1), minlength=span) > 0
    values = (np.flatnonzero(present) + lowest).astype(stored.dtype)
    return ValueTable(values=values, offsets=offsets, present=present)
