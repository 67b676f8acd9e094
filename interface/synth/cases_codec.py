"""Byte order and transfer syntax cases: big-endian LUT bytes and 32-bit words, deflate, JPEG 2000."""

from __future__ import annotations

import numpy as np
from pydicom.uid import DeflatedExplicitVRLittleEndian, JPEG2000Lossless

from dcmharness.interface.synth import formulas as f
from dcmharness.interface.synth.dataset import image_dataset, lut_item, sequence, set_pixels, to_words
from dcmharness.interface.synth.model import Built

R, C = 16, 32


def voi_lut_8bit_packed_big_endian() -> Built:
    x = f.ramp(0, 255, R, C)
    i = np.arange(256)
    entries = ((i * 7) % 256).astype(np.uint8)
    swapped = entries.reshape(-1, 2)[:, ::-1].tobytes()  # OW words of a big-endian file: (e1, e0), (e3, e2)...
    ds = image_dataset("voi_lut_8bit_packed_big_endian", R, C, bits_stored=8)
    set_pixels(ds, x, little_endian=False)
    ds.VOILUTSequence = sequence(lut_item(256, 0, 8, swapped, vr="OW"))
    exp = f.round_half_up(entries[x].astype(np.float64), 255)
    return Built(ds, exp, "big-endian file: 8-bit VOI LUT entries byte-packed in OW words", big_endian=True)


def big_endian_32bit_signed() -> Built:
    x = f.ramp(-(2**31), 2**31 - 1, R, C)
    ds = image_dataset("big_endian_32bit_signed", R, C, bits_allocated=32, signed=True)
    set_pixels(ds, to_words(x, 32), little_endian=False)
    exp = f.round_half_up(f.stretch(x, -(2**31), 2**31 - 1, 255), 255)
    return Built(ds, exp, "Explicit VR Big Endian, signed 32-bit words, voi none", {"voi": "none"}, big_endian=True)


def deflate_window() -> Built:
    x = f.ramp(0, 4095, R, C)
    ds = image_dataset("deflate_window", R, C, bits_stored=12)
    set_pixels(ds, x)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds.WindowCenter, ds.WindowWidth = 1024, 2048
    exp = f.round_half_up(f.linear(x, 1024, 2048, 255), 255)
    return Built(ds, exp, "Deflated Explicit VR Little Endian with a stored window")


def j2k_lossless_signed12() -> Built:
    rows, cols = 32, 64  # OpenJPEG's default 6 resolution levels need at least 32 pixels a side
    x = f.ramp(-2048, 2047, rows, cols)
    ds = image_dataset("j2k_lossless_signed12", rows, cols, bits_stored=12, signed=True)
    ds.compress(JPEG2000Lossless, x.astype(np.int16), encoding_plugin="pylibjpeg")
    ds.WindowCenter, ds.WindowWidth = 0, 2000
    exp = f.round_half_up(f.linear(x, 0, 2000, 255), 255)
    return Built(ds, exp, "JPEG 2000 lossless, signed 12-bit in 16, stored window")


CASES = [voi_lut_8bit_packed_big_endian, big_endian_32bit_signed, deflate_window, j2k_lossless_signed12]
