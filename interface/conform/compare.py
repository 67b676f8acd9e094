"""Comparing two renders pixel by pixel: the metrics every conformance result carries."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Metrics:
    """Differences of ``other`` against ``reference`` on the 8-bit (or 16-bit) scale of the images."""

    shape_match: bool
    mode_match: bool
    max_abs_diff: float
    mean_abs_diff: float
    rmse: float
    psnr: float | None  # dB; None when identical (infinite)
    frac_diff_gt1: float  # fraction of samples differing by more than 1 level
    reference_shape: tuple[int, ...]
    other_shape: tuple[int, ...]

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["reference_shape"] = list(self.reference_shape)
        d["other_shape"] = list(self.other_shape)
        return d


def load_image(path: str | Path) -> np.ndarray:
    """An image file as a numpy array: uint8 (L or RGB) or uint16 (16-bit gray, or 16-bit RGB PNG/PPM)."""
    from PIL import Image

    from dcmharness.interface.conform.rgb16 import PNG_SIGNATURE, read_rgb16

    with open(path, "rb") as fh:
        head = fh.read(32)
    png_rgb16 = head.startswith(PNG_SIGNATURE) and head[24:26] == b"\x10\x02"  # IHDR: bit depth 16, RGB
    if png_rgb16 or head.startswith(b"P6"):
        rgb16 = read_rgb16(Path(path).read_bytes())
        if rgb16 is not None:
            return rgb16
    with Image.open(path) as img:
        img.load()
        if img.mode in ("I;16", "I;16B", "I;16L"):
            return np.asarray(img, dtype=np.uint16)
        if img.mode == "I":
            return np.asarray(img).astype(np.uint16)
        if img.mode not in ("L", "RGB"):
            return np.asarray(img.convert("RGB" if img.mode in ("RGBA", "P", "CMYK", "YCbCr") else "L"))
        return np.asarray(img)


def compare(reference: np.ndarray, other: np.ndarray) -> Metrics:
    """Metrics of ``other`` against ``reference``. Gray vs RGB with equal channels compares as gray."""
    ref, oth = reference, other
    if ref.ndim == 3 and oth.ndim == 2 and _is_gray_rgb(ref):
        ref = ref[..., 0]
    if oth.ndim == 3 and ref.ndim == 2 and _is_gray_rgb(oth):
        oth = oth[..., 0]
    mode_match = ref.ndim == oth.ndim and ref.dtype == oth.dtype
    if ref.shape != oth.shape:
        return Metrics(False, mode_match, math.inf, math.inf, math.inf, 0.0, 1.0, reference.shape, other.shape)
    peak = 65535.0 if max(ref.dtype.itemsize, oth.dtype.itemsize) > 1 else 255.0
    diff = np.abs(ref.astype(np.float64) - oth.astype(np.float64))
    mse = float(np.mean(diff**2)) if diff.size else 0.0
    rmse = math.sqrt(mse)
    psnr = None if mse == 0 else 10 * math.log10(peak**2 / mse)
    return Metrics(
        shape_match=True,
        mode_match=mode_match,
        max_abs_diff=float(diff.max()) if diff.size else 0.0,
        mean_abs_diff=float(diff.mean()) if diff.size else 0.0,
        rmse=rmse,
        psnr=psnr,
        frac_diff_gt1=float(np.mean(diff > 1)) if diff.size else 0.0,
        reference_shape=reference.shape,
        other_shape=other.shape,
    )


def compare_files(reference: str | Path, other: str | Path) -> Metrics:
    return compare(load_image(reference), load_image(other))


def _is_gray_rgb(a: np.ndarray) -> bool:
    return a.shape[-1] == 3 and bool(np.array_equal(a[..., 0], a[..., 1]) and np.array_equal(a[..., 1], a[..., 2]))
