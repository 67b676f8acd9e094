"""The synthetic case types."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset


@dataclass(frozen=True)
class SynthCase:
    """One generated case: the DICOM file, its to_image options and its expected rendering (.npy)."""

    name: str
    path: Path
    options: dict[str, Any]
    expected: Path
    description: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path.name,
            "options": self.options,
            "expected": self.expected.name,
            "description": self.description,
        }


@dataclass
class Built:
    """What a case builder returns: the dataset to write, options and the expected uint8/uint16 array."""

    ds: Dataset
    expected: np.ndarray
    description: str
    options: dict[str, Any] = field(default_factory=dict)
    big_endian: bool = False


Builder = Callable[[], Built]
