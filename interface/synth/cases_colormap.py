"""Pseudo-colour cases: the Output LUT (``colormap``, SEMANTICS.md section 4b) on grayscale images.

The expected entries are not python_ref's tables: Hot Iron is read byte by byte from the Red/Green/Blue
Palette Color Lookup Table Data of the standard's published Hot Iron instance (PS3.6 Table B.1-1; its entries
are the rows of Table B.1.1.2-2), Spring and Fall are written from their segmented definitions (one
discrete entry, then one linear segment of 255 entries: integer steps, no rounding).
"""

from __future__ import annotations

import numpy as np
import pydicom
from pydicom.data import get_palette_files

from dcmharness.interface.synth import formulas as f
from dcmharness.interface.synth.dataset import image_dataset, overlay, pack_overlay, set_pixels
from dcmharness.interface.synth.model import Built

R, C = 16, 32
_CHANNELS = ("Red", "Green", "Blue")


def hot_iron_entries() -> np.ndarray:
    """256 x 3 uint8: the published Hot Iron instance's LUT Data, one byte per 8-bit entry."""
    ds = pydicom.dcmread(get_palette_files("hotiron.dcm")[0])
    assert str(ds.SOPInstanceUID) == "1.2.840.10008.1.5.1"
    channels = [np.frombuffer(ds[f"{c}PaletteColorLookupTableData"].value, dtype=np.uint8) for c in _CHANNELS]
    return np.stack(channels, axis=-1)


def spring_entries() -> np.ndarray:
    """Spring (1.2.840.10008.1.5.5): red 255; green 0 -> 255; blue 255 -> 0."""
    i = np.arange(256)
    return np.stack([np.full(256, 255), i, 255 - i], axis=-1).astype(np.uint8)


def fall_entries() -> np.ndarray:
    """Fall (1.2.840.10008.1.5.7): red 255; green 255 -> 0; blue 0."""
    i = np.arange(256)
    return np.stack([np.full(256, 255), 255 - i, np.zeros(256, dtype=np.int64)], axis=-1).astype(np.uint8)


def index_of(p: np.ndarray, ymax: int) -> np.ndarray:
    """The palette index of a P-value: floor(p * 255 / ymax + 0.5), clipped to 0..255."""
    return np.clip(np.floor(np.asarray(p, dtype=np.float64) * 255 / ymax + 0.5), 0, 255).astype(np.int64)


def colormap_hot_iron_overlay() -> Built:
    x = f.ramp(0, 255, R, C)
    ds = image_dataset("colormap_hot_iron_overlay", R, C, bits_allocated=8)
    set_pixels(ds, x)
    mask = np.zeros((R, C), dtype=bool)
    mask[4:7, 3:29] = True
    overlay(ds, 0, R, C, (1, 1), data=pack_overlay(mask))
    exp = hot_iron_entries()[x].copy()  # voi none over 0..255: the P-value is the stored value
    exp[mask] = (0, 255, 0)
    opts = {"colormap": "hot_iron", "voi": "none", "overlay_value": "#00ff00"}
    return Built(ds, exp, "Hot Iron over every index 0..255, a green overlay burned in after the palette", opts)


def colormap_spring_uid_inverse_16bit() -> Built:
    x = f.ramp(0, 4095, R, C)
    ds = image_dataset("colormap_spring_uid_inverse_16bit", R, C, bits_stored=12, photometric="MONOCHROME1")
    set_pixels(ds, x)
    ds.WindowCenter, ds.WindowWidth = 2048, 3000
    p = 65535 - f.linear(x, 2048, 3000, 65535)  # MONOCHROME1: inverted before the Output LUT
    exp = spring_entries()[index_of(p, 65535)].astype(np.uint16) * 257
    opts = {"colormap": "1.2.840.10008.1.5.5", "bit_depth": 16}
    return Built(ds, exp, "Spring by SOP Instance UID after a MONOCHROME1 inversion, 16-bit RGB (x257)", opts)


def colormap_fall_window() -> Built:
    x = f.ramp(0, 1000, R, C)
    ds = image_dataset("colormap_fall_window", R, C, bits_stored=12)
    set_pixels(ds, x)
    ds.WindowCenter, ds.WindowWidth = 500, 1001  # P-value = x * 255/1000 exactly
    exp = fall_entries()[index_of(f.linear(x, 500, 1001, 255), 255)]
    return Built(ds, exp, "Fall (1.2.840.10008.1.5.7, yellow to red) after the stored window", {"colormap": "fall"})


CASES = [colormap_hot_iron_overlay, colormap_spring_uid_inverse_16bit, colormap_fall_window]
