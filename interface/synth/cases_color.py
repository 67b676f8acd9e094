"""Colour cases (RGB, planar configuration, YBR, palettes) and overlay cases."""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset

from dcmharness.interface.synth import formulas as f
from dcmharness.interface.synth.dataset import image_dataset, overlay, pack_overlay, set_pixels, to_words
from dcmharness.interface.synth.model import Built

R, C = 16, 32
Luts = tuple[np.ndarray, np.ndarray, np.ndarray]


def _rgb_pattern(rows: int = R, cols: int = C) -> np.ndarray:
    r = f.ramp(0, 255, rows, cols)
    g = r[::-1, ::-1]
    b = (np.arange(rows)[:, None] * 16 + np.arange(cols)[None, :] * 5) % 256
    return np.stack([r, g, b], axis=-1).astype(np.int64)


def rgb_planar1() -> Built:
    rgb = _rgb_pattern()
    ds = image_dataset("rgb_planar1", R, C, bits_allocated=8, photometric="RGB", samples=3)
    ds.PlanarConfiguration = 1
    set_pixels(ds, np.moveaxis(rgb, -1, 0))  # RRR... GGG... BBB...
    return Built(ds, rgb.astype(np.uint8), "RGB with Planar Configuration 1 (colour-by-plane)")


def rgb_16bit_out8() -> Built:
    rgb = _rgb_pattern() * 256 + _rgb_pattern() % 7  # not multiples of 257: exercises the rounding
    ds = image_dataset("rgb_16bit_out8", R, C, bits_allocated=16, photometric="RGB", samples=3)
    set_pixels(ds, rgb)
    exp = f.round_half_up(rgb / 257.0, 255)
    return Built(ds, exp, "16-bit RGB to 8-bit output: v * 255 / 65535")


def rgb_16bit_out16() -> Built:
    rgb = _rgb_pattern() * 256 + _rgb_pattern() % 7
    ds = image_dataset("rgb_16bit_out16", R, C, bits_allocated=16, photometric="RGB", samples=3)
    set_pixels(ds, rgb)
    return Built(ds, rgb.astype(np.uint16), "16-bit RGB kept at 16 bits", {"bit_depth": 16})


def ybr_full_native() -> Built:
    ybr = f.rgb_to_ybr_full(_rgb_pattern())
    ds = image_dataset("ybr_full_native", R, C, bits_allocated=8, photometric="YBR_FULL", samples=3)
    set_pixels(ds, ybr)
    exp = f.round_half_up(f.ybr_full_to_rgb(ybr[..., 0], ybr[..., 1], ybr[..., 2]), 255)
    return Built(ds, exp, "uncompressed YBR_FULL, converted with T.871 (offset 128) and rounded")


def ybr_full_422_native() -> Built:
    ybr = f.rgb_to_ybr_full(_rgb_pattern()).astype(np.int64)
    y = ybr[..., 0]
    cb = (ybr[:, 0::2, 1] + ybr[:, 1::2, 1]) // 2  # one chroma pair per two pixels
    cr = (ybr[:, 0::2, 2] + ybr[:, 1::2, 2]) // 2
    packed = np.stack([y[:, 0::2], y[:, 1::2], cb, cr], axis=-1).reshape(R, -1)  # Y1 Y2 Cb Cr
    ds = image_dataset("ybr_full_422_native", R, C, bits_allocated=8, photometric="YBR_FULL_422", samples=3)
    set_pixels(ds, packed)
    exp = f.round_half_up(f.ybr_full_to_rgb(y, np.repeat(cb, 2, axis=1), np.repeat(cr, 2, axis=1)), 255)
    return Built(ds, exp, "uncompressed YBR_FULL_422 (Y1 Y2 Cb Cr), chroma shared by each pixel pair")


def _palette_entries() -> Luts:
    i = np.arange(256, dtype=np.int64)
    red = i * 257
    green = 65535 - i * 257
    blue = (i * 1000 + 12345) % 65536
    return red, green, blue


def _palette_ds(name: str, indices: np.ndarray, first: int, little: bool = True) -> tuple[Dataset, Luts]:
    ds = image_dataset(name, R, C, bits_allocated=8, photometric="PALETTE COLOR")
    set_pixels(ds, indices)
    luts = _palette_entries()
    order = "<u2" if little else ">u2"
    for channel, data in zip(("Red", "Green", "Blue"), luts, strict=True):
        setattr(ds, f"{channel}PaletteColorLookupTableDescriptor", [256, first, 16])
        ds[f"{channel}PaletteColorLookupTableDescriptor"].VR = "US"
        setattr(ds, f"{channel}PaletteColorLookupTableData", data.astype(order).tobytes())
        ds[f"{channel}PaletteColorLookupTableData"].VR = "OW"
    return ds, luts


def _palette_expected(indices: np.ndarray, luts: Luts, first: int, ymax: int) -> np.ndarray:
    rgb = np.stack([lut[np.clip(indices - first, 0, 255)] for lut in luts], axis=-1).astype(np.float64)
    return f.round_half_up(rgb if ymax == 65535 else rgb / 257.0, ymax)


def palette_16bit() -> Built:
    idx = f.ramp(0, 255, R, C)
    ds, luts = _palette_ds("palette_16bit", idx, 0)
    return Built(ds, _palette_expected(idx, luts, 0, 255), "PALETTE COLOR with 16-bit entries, 8-bit output v/257")


def palette_16bit_out16() -> Built:
    idx = f.ramp(0, 255, R, C)
    ds, luts = _palette_ds("palette_16bit_out16", idx, 0)
    exp = _palette_expected(idx, luts, 0, 65535)
    return Built(ds, exp, "PALETTE COLOR with 16-bit entries kept at 16 bits", {"bit_depth": 16})


def palette_first_mapped() -> Built:
    idx = f.ramp(0, 255, R, C)
    ds, luts = _palette_ds("palette_first_mapped", idx, 10)
    exp = _palette_expected(idx, luts, 10, 255)
    return Built(ds, exp, "palette descriptor first value 10: lower indices clamp to entry 0")


def palette_big_endian() -> Built:
    idx = f.ramp(0, 255, R, C)
    ds, luts = _palette_ds("palette_big_endian", idx, 0, little=False)
    exp = _palette_expected(idx, luts, 0, 255)
    return Built(ds, exp, "big-endian file: 16-bit palette data in OW read big-endian", big_endian=True)


def palette_segmented() -> Built:
    idx = f.ramp(0, 255, R, C)
    ds = image_dataset("palette_segmented", R, C, bits_allocated=8, photometric="PALETTE COLOR")
    set_pixels(ds, idx)
    # red: discrete [0, 1000] then linear to 65535 over 254 entries; green: discrete ramp of 4 values then
    # linear down to 0 over 252; blue: one discrete entry, linear to 30000 over 127, linear to 0 over 128.
    segments = {
        "Red": [0, 2, 0, 1000, 1, 254, 65535],
        "Green": [0, 4, 100, 200, 300, 400, 1, 252, 0],
        "Blue": [0, 1, 5000, 1, 127, 30000, 1, 128, 0],
    }
    expanded = {
        "Red": [0, 1000] + [1000 + (65535 - 1000) * (k + 1) / 254 for k in range(254)],
        "Green": [100, 200, 300, 400] + [400 - 400 * (k + 1) / 252 for k in range(252)],
        "Blue": [5000]
        + [5000 + (30000 - 5000) * (k + 1) / 127 for k in range(127)]
        + [30000 - 30000 * (k + 1) / 128 for k in range(128)],
    }
    luts = []
    for channel in ("Red", "Green", "Blue"):
        setattr(ds, f"{channel}PaletteColorLookupTableDescriptor", [256, 0, 16])
        ds[f"{channel}PaletteColorLookupTableDescriptor"].VR = "US"
        setattr(ds, f"Segmented{channel}PaletteColorLookupTableData", np.asarray(segments[channel], "<u2").tobytes())
        ds[f"Segmented{channel}PaletteColorLookupTableData"].VR = "OW"
        luts.append(np.floor(np.asarray(expanded[channel]) + 0.5))
    rgb = np.stack([lut[idx] for lut in luts], axis=-1)
    exp = f.round_half_up(rgb / 257.0, 255)
    return Built(ds, exp, "segmented palette LUTs (discrete + linear segments, 16-bit)")


# ---- overlays ----------------------------------------------------------------------------------


def _gray_base(name: str, frames: int = 1) -> tuple[Dataset, np.ndarray]:
    x = f.ramp(0, 1000, R, C)
    stack = np.stack([x] * frames) if frames > 1 else x
    ds = image_dataset(name, R, C, bits_stored=12, frames=frames)
    set_pixels(ds, stack)
    ds.WindowCenter, ds.WindowWidth = 500, 1001  # y = x * 255/1000 exactly
    return ds, f.round_half_up(f.linear(x, 500, 1001, 255), 255)


def _place(mask: np.ndarray, origin: tuple[int, int], rows: int = R, cols: int = C) -> np.ndarray:
    out = np.zeros((rows, cols), dtype=bool)
    for r in range(mask.shape[0]):
        for c in range(mask.shape[1]):
            rr, cc = origin[0] - 1 + r, origin[1] - 1 + c
            if mask[r, c] and 0 <= rr < rows and 0 <= cc < cols:
                out[rr, cc] = True
    return out


def _mask(rows: int, cols: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2, size=(rows, cols)).astype(bool)


def overlay_origin_clipped() -> Built:
    ds, exp = _gray_base("overlay_origin_clipped")
    mask = _mask(9, 10, 3)
    origin = (-2, 27)  # starts above the image and runs past its right edge
    overlay(ds, 0, 9, 10, origin, data=pack_overlay(mask))
    exp = exp.copy()
    exp[_place(mask, origin)] = 100
    return Built(ds, exp, "separate overlay (9x10) at origin (-2, 27): clipped on two sides", {"overlay_value": 100})


def overlay_embedded_bit12() -> Built:
    ds, exp = _gray_base("overlay_embedded_bit12")
    x = f.ramp(0, 1000, R, C)
    mask = _mask(R, C, 4)
    set_pixels(ds, x | (mask.astype(np.int64) << 12))
    overlay(ds, 0, R, C, (1, 1), bits_allocated=16, bit_position=12)
    exp = exp.copy()
    exp[mask] = 255
    return Built(ds, exp, "embedded overlay in bit 12 of the uncompressed Pixel Data (BitsStored 12)")


def _multiframe_overlay(name: str, frame: int) -> Built:
    ds, exp = _gray_base(name, frames=3)
    masks = [_mask(R, C, 20), _mask(R, C, 21)]
    data = pack_overlay(np.stack(masks))
    overlay(ds, 0, R, C, (1, 1), data=data, frames=2, frame_origin=2)  # overlay frames 0,1 -> image frames 1,2
    exp = exp.copy()
    if frame >= 1:
        exp[masks[frame - 1]] = 255
    what = f"image frame {frame}: " + (f"overlay frame {frame - 1}" if frame >= 1 else "no overlay frame")
    return Built(ds, exp, f"multi-frame overlay (2 frames from Image Frame Origin 2), {what}", {"frame": frame})


def overlay_multiframe_f0() -> Built:
    return _multiframe_overlay("overlay_multiframe_f0", 0)


def overlay_multiframe_f2() -> Built:
    return _multiframe_overlay("overlay_multiframe_f2", 2)


def overlay_list_select() -> Built:
    ds, exp = _gray_base("overlay_list_select")
    m0, m1 = _mask(R, C, 5), _mask(4, 4, 6)
    overlay(ds, 0, R, C, (1, 1), data=pack_overlay(m0))
    overlay(ds, 1, 4, 4, (3, 5), data=pack_overlay(m1))
    exp = exp.copy()
    exp[_place(m1, (3, 5))] = 7
    return Built(ds, exp, "two planes, overlays [1]: only plane 1 burned in", {"overlays": [1], "overlay_value": 7})


def overlays_off() -> Built:
    ds, exp = _gray_base("overlays_off")
    overlay(ds, 0, R, C, (1, 1), data=pack_overlay(_mask(R, C, 7)))
    return Built(ds, exp, "overlays false: the plane is not burned in", {"overlays": False})


def overlay_16bit_output() -> Built:
    ds, _ = _gray_base("overlay_16bit_output")
    x = f.ramp(0, 1000, R, C)
    mask = _mask(R, C, 8)
    overlay(ds, 0, R, C, (1, 1), data=pack_overlay(mask))
    exp = f.round_half_up(f.linear(x, 500, 1001, 65535), 65535)
    exp[mask] = 65535
    return Built(ds, exp, "overlay on 16-bit output: white is 65535", {"bit_depth": 16})


def overlay_rgb_colour() -> Built:
    rgb = _rgb_pattern()
    ds = image_dataset("overlay_rgb_colour", R, C, bits_allocated=8, photometric="RGB", samples=3)
    set_pixels(ds, rgb)
    mask = _mask(R, C, 9)
    overlay(ds, 0, R, C, (1, 1), data=pack_overlay(mask))
    exp = rgb.astype(np.uint8)
    exp[mask] = (255, 128, 0)
    return Built(ds, exp, 'overlay on an RGB image with overlay_value "#ff8000"', {"overlay_value": "#ff8000"})


def signed_embedded_overlay() -> Built:
    x = f.ramp(-500, 500, R, C)
    mask = _mask(R, C, 11)
    words = to_words(x, 12) | (mask.astype(np.int64) << 15)
    ds = image_dataset("signed_embedded_overlay", R, C, bits_stored=12, signed=True)
    set_pixels(ds, words)
    ds.WindowCenter, ds.WindowWidth = 0, 1001
    overlay(ds, 0, R, C, (1, 1), bits_allocated=16, bit_position=15)
    exp = f.round_half_up(f.linear(x, 0, 1001, 255), 255)
    exp[mask] = 0
    opts = {"overlay_value": 0}
    return Built(ds, exp, "signed 12-bit data with an embedded overlay in bit 15 (must not flip the sign)", opts)


CASES = [
    rgb_planar1,
    rgb_16bit_out8,
    rgb_16bit_out16,
    ybr_full_native,
    ybr_full_422_native,
    palette_16bit,
    palette_16bit_out16,
    palette_first_mapped,
    palette_big_endian,
    palette_segmented,
    overlay_origin_clipped,
    overlay_embedded_bit12,
    overlay_multiframe_f0,
    overlay_multiframe_f2,
    overlay_list_select,
    overlays_off,
    overlay_16bit_output,
    overlay_rgb_colour,
    signed_embedded_overlay,
]
