"""Stage 6, encoding the rendered array as PNG (8/16-bit), JPEG, TIFF or PNM with Pillow."""

from __future__ import annotations

from pathlib import Path

import numpy as np

DEFAULT_PNG_LEVEL = 1  # zlib level: ~5x faster than 6 on large images for a few % more bytes
DEFAULT_JPEG_QUALITY = 90


def to_pil(image: np.ndarray):  # type: ignore[no-untyped-def]
    from PIL import Image

    if image.ndim == 3:
        if image.dtype == np.uint16:  # Pillow has no 16-bit RGB mode: callers keep colour at 8 bits
            raise ValueError("16-bit RGB is not supported by the encoder")
        return Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8))
    if image.dtype == np.uint16:
        return Image.fromarray(np.ascontiguousarray(image, dtype="<u2"))  # mode I;16
    return Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8))


def encode(
    image: np.ndarray, path: Path, fmt: str, *, quality: int | None = None, png_level: int | None = None
) -> None:
    """Write ``image`` (uint8 gray/RGB or uint16 gray) to ``path`` in ``fmt``."""
    if fmt == "pnm":
        write_pnm(image, path)
        return
    pil = to_pil(image)
    if fmt == "png":
        pil.save(path, format="PNG", compress_level=DEFAULT_PNG_LEVEL if png_level is None else png_level)
    elif fmt == "jpeg":
        pil.save(path, format="JPEG", quality=quality or DEFAULT_JPEG_QUALITY)
    elif fmt == "tiff":
        pil.save(path, format="TIFF")
    else:  # pragma: no cover - the contract validates formats
        raise ValueError(f"unknown format {fmt}")


def write_pnm(image: np.ndarray, path: Path) -> None:
    """Binary PGM (P5) or PPM (P6); 16-bit samples big-endian with maxval 65535 (Netpbm)."""
    magic = b"P6" if image.ndim == 3 else b"P5"
    maxval = 65535 if image.dtype == np.uint16 else 255
    h, w = image.shape[:2]
    data = image.astype(">u2").tobytes() if maxval == 65535 else image.astype(np.uint8).tobytes()
    with open(path, "wb") as f:
        f.write(magic + b"\n%d %d\n%d\n" % (w, h, maxval) + data)
