"""Small images for the HTML report: downscaled renders and diff heatmaps (bytes, ready for data: URIs)."""

from __future__ import annotations

import io

import numpy as np

THUMB_MAX = 160  # pixels on the longer side
JPEG_QUALITY = 80


def to_8bit(image: np.ndarray) -> np.ndarray:
    """uint16 -> uint8 by the top byte (what a viewer shows); uint8 unchanged."""
    if image.dtype == np.uint16:
        return (image >> 8).astype(np.uint8)
    return image.astype(np.uint8, copy=False)


def scale_factor(height: int, width: int, limit: int = THUMB_MAX) -> int:
    """The integer reduction factor that brings the longer side to ``limit`` or less (1 = keep)."""
    longest = max(height, width, 1)
    return max(1, -(-longest // limit))


def block_max(values: np.ndarray, factor: int) -> np.ndarray:
    """Reduce a 2-D array by ``factor`` keeping each block's maximum (a lone differing pixel stays visible)."""
    if factor == 1:
        return values
    h, w = values.shape
    ph, pw = -h % factor, -w % factor
    padded = np.pad(values, ((0, ph), (0, pw)), constant_values=0)
    reduced: np.ndarray = padded.reshape((h + ph) // factor, factor, (w + pw) // factor, factor).max(axis=(1, 3))
    return reduced


def _encode(pixels: np.ndarray, fmt: str) -> tuple[str, bytes]:
    from PIL import Image

    buf = io.BytesIO()
    img = Image.fromarray(np.ascontiguousarray(pixels))
    if fmt == "jpeg":
        img.save(buf, "JPEG", quality=JPEG_QUALITY)
        return "image/jpeg", buf.getvalue()
    img.save(buf, "PNG", optimize=True)
    return "image/png", buf.getvalue()


def thumbnail(image: np.ndarray) -> tuple[str, bytes]:
    """A downscaled 8-bit copy of a render (JPEG; PNG when tiny, where JPEG's overhead dominates)."""
    from PIL import Image

    img8 = to_8bit(image)
    h, w = img8.shape[:2]
    factor = scale_factor(h, w)
    if factor > 1:
        pil = Image.fromarray(np.ascontiguousarray(img8))
        pil = pil.resize((max(1, w // factor), max(1, h // factor)), Image.Resampling.BOX)
        img8 = np.asarray(pil)
    return _encode(img8, "png" if img8.shape[0] * img8.shape[1] <= 4096 else "jpeg")


def diff_magnitude(reference: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Per-pixel absolute difference (max over channels), float64, same shape required."""
    d = np.abs(reference.astype(np.float64) - other.astype(np.float64))
    return d.max(axis=2) if d.ndim == 3 else d


def colormap(norm: np.ndarray) -> np.ndarray:
    """[0, 1] -> RGB uint8: 0 black; small differences dark blue, then magenta, red, and yellow at 1."""
    n = np.clip(norm, 0.0, 1.0)
    r = np.clip(n * 2.0, 0.0, 1.0)
    g = np.clip(n * 2.0 - 1.0, 0.0, 1.0)
    b = np.where(n > 0, np.clip(0.6 - n * 0.6 + 0.4 * (n < 0.5), 0.0, 1.0), 0.0)
    rgb = np.stack([r, g, b], axis=-1)
    rgb = np.where((n > 0)[..., None], np.maximum(rgb, 0.25 * (n > 0)[..., None]), 0.0)
    return (rgb * 255 + 0.5).astype(np.uint8)


def heatmap(reference: np.ndarray, other: np.ndarray) -> tuple[str, bytes]:
    """The difference as a heatmap scaled to its own maximum (black = identical), downscaled by block max."""
    d = diff_magnitude(reference, other)
    factor = scale_factor(*d.shape)
    d = block_max(d, factor)
    peak = float(d.max()) if d.size else 0.0
    norm = d / peak if peak > 0 else d
    return _encode(colormap(norm), "png")
