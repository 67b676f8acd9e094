"""Stage 4b, the Output LUT: pseudo-colour through a well-known palette (PS3.6 Annex B; PS3.3 C.7.6.23, C.11.6).

The P-values of the presentation stage index the palette's 256 entries (descriptor 256\\0\\8 for all eight
palettes of PS3.6 Annex B); the output is RGB. The palettes are the standard's published Color Palette
instances (the files PS3.6 Table B.1-1 links, shipped with pydicom), read by the same palette code as a
PALETTE COLOR image (``color.palette_lut``: plain and segmented LUT data).
"""

from __future__ import annotations

import functools

import numpy as np
import pydicom
from pydicom.data import get_palette_files

from dcmharness.backends.python_ref.color import CHANNELS, palette_lut
from dcmharness.contract.options import WELL_KNOWN_PALETTES, palette_name

#: The published instance of each palette (pydicom/data/palettes/, named as in its README).
PALETTE_FILES: dict[str, str] = {
    "hot_iron": "hotiron.dcm",
    "pet": "pet.dcm",
    "hot_metal_blue": "hotmetalblue.dcm",
    "pet_20_step": "pet20step.dcm",
    "spring": "spring.dcm",
    "summer": "summer.dcm",
    "fall": "fall.dcm",
    "winter": "winter.dcm",
}


def palette_table(colormap: str) -> np.ndarray:
    """The palette's 256 RGB entries (256 x 3, uint8), for a name or SOP Instance UID. Read-only."""
    return _read_palette(palette_name(colormap))


@functools.cache
def _read_palette(name: str) -> np.ndarray:
    path = get_palette_files(PALETTE_FILES[name])[0]
    ds = pydicom.dcmread(path)
    label, uid = WELL_KNOWN_PALETTES[name]
    if str(ds.SOPInstanceUID) != uid:  # (the labels of the segmented four read e.g. "SPRING LUT")
        raise ValueError(f"{path} is not the {label} palette ({uid})")
    channels = []
    for channel in CHANNELS:
        data, first, bits = palette_lut(ds, channel, True)
        if len(data) != 256 or first != 0 or bits != 8:
            raise ValueError(f"{path}: {channel} descriptor is not 256\\0\\8")
        channels.append(data)
    table = np.stack(channels, axis=-1).astype(np.uint8)
    table.flags.writeable = False
    return table


def palette_indices(p_values: np.ndarray, ymax: int) -> np.ndarray:
    """P-values on ``[0, ymax]`` as indices 0..255: ``floor(p * 255 / ymax + 0.5)``, clipped. Pure."""
    t = np.asarray(p_values, dtype=np.float64) * (255.0 / ymax) + 0.5
    np.floor(t, out=t)
    np.clip(t, 0, 255, out=t)
    return t.astype(np.intp)


def apply_colormap(p_values: np.ndarray, ymax: int, colormap: str) -> np.ndarray:
    """RGB output (rows x cols x 3) of the palette's entries, scaled to ``ymax`` (x257 at 16 bits). Pure."""
    rgb: np.ndarray = palette_table(colormap)[palette_indices(p_values, ymax)]
    if ymax == 255:
        return rgb
    wide: np.ndarray = rgb.astype(np.uint16) * np.uint16(257)
    return wide
