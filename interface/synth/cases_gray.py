"""Grayscale cases: decoding, Modality LUT, VOI LUT and presentation stages."""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import UID

from dcmharness.interface.synth import formulas as f
from dcmharness.interface.synth.dataset import image_dataset, lut_item, sequence, set_pixels, to_words
from dcmharness.interface.synth.model import Built

XA_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.12.1")  # X-Ray Angiographic Image Storage
R, C = 16, 32  # every grayscale case is 16 rows x 32 columns unless said otherwise


def _gray(name: str, values: np.ndarray, **kw: object) -> Dataset:
    ds = image_dataset(name, values.shape[-2], values.shape[-1], **kw)  # type: ignore[arg-type]
    set_pixels(ds, to_words(values, int(ds.BitsAllocated)))
    return ds


def linear_stored_window() -> Built:
    x = f.ramp(0, 4095, R, C)
    ds = _gray("linear_stored_window", x, bits_stored=12)
    ds.WindowCenter, ds.WindowWidth = 2048, 1024
    return Built(ds, f.round_half_up(f.linear(x, 2048, 1024, 255), 255), "stored window, LINEAR by default")


def linear_half_borders() -> Built:
    x = f.ramp(0, 63, R, C)
    ds = _gray("linear_half_borders", x, bits_stored=12)
    ds.RescaleSlope, ds.RescaleIntercept = 0.5, 0
    m = x * 0.5  # modality values land on the window's +-0.5 borders (7.5 and 11.5)
    exp = f.round_half_up(f.linear(m, 10, 5, 255), 255)
    what = "LINEAR borders: x <= c-0.5-(w-1)/2 -> 0, x = c-0.5+(w-1)/2 -> ymax (modality values 7.5, 11.5)"
    return Built(ds, exp, what, {"window_center": 10, "window_width": 5})


def linear_w1_threshold() -> Built:
    x = f.ramp(90, 110, R, C)
    ds = _gray("linear_w1_threshold", x)
    exp = np.where(x <= 99.5, 0, 255).astype(np.uint8)
    return Built(ds, exp, "LINEAR with w = 1 is a threshold at c - 0.5", {"window_center": 100, "window_width": 1})


def linear_exact_file_16bit() -> Built:
    x = f.ramp(0, 4095, R, C)
    ds = _gray("linear_exact_file_16bit", x, bits_stored=12)
    ds.WindowCenter, ds.WindowWidth, ds.VOILUTFunction = 1000, 500, "LINEAR_EXACT"
    exp = f.round_half_up(f.linear_exact(x, 1000, 500, 65535), 65535)
    return Built(ds, exp, "the file's VOI LUT Function LINEAR_EXACT, 16-bit output", {"bit_depth": 16})


def sigmoid_file() -> Built:
    x = f.ramp(0, 4095, R, C)
    ds = _gray("sigmoid_file", x, bits_stored=12)
    ds.WindowCenter, ds.WindowWidth, ds.VOILUTFunction = 2048, 1000, "SIGMOID"
    return Built(ds, f.round_half_up(f.sigmoid(x, 2048, 1000, 255), 255), "the file's VOI LUT Function SIGMOID")


def sigmoid_option_signed() -> Built:
    x = f.ramp(-512, 511, R, C)
    ds = _gray("sigmoid_option_signed", x, bits_stored=12, signed=True)
    ds.WindowCenter, ds.WindowWidth = 3000, 10  # ignored: the explicit window wins
    exp = f.round_half_up(f.sigmoid(x, 0, 200, 255), 255)
    opts = {"window_center": 0, "window_width": 200, "voi_function": "sigmoid"}
    return Built(ds, exp, "explicit window with voi_function sigmoid on signed data", opts)


def explicit_ignores_file_function() -> Built:
    x = f.ramp(0, 4095, R, C)
    ds = _gray("explicit_ignores_file_function", x, bits_stored=12)
    ds.WindowCenter, ds.WindowWidth, ds.VOILUTFunction = 2048, 4096, "SIGMOID"
    exp = f.round_half_up(f.linear(x, 1500, 2000, 255), 255)
    opts = {"window_center": 1500, "window_width": 2000}
    return Built(ds, exp, "an explicit window is LINEAR even when the file says SIGMOID", opts)


def stored_window_index() -> Built:
    x = f.ramp(0, 4095, R, C)
    ds = _gray("stored_window_index", x, bits_stored=12)
    ds.WindowCenter, ds.WindowWidth = [2048, 600], [4096, 300]
    exp = f.round_half_up(f.linear(x, 600, 300, 255), 255)
    return Built(ds, exp, "the second stored window (voi_index 1)", {"voi": "window", "voi_index": 1})


def minmax_16bit() -> Built:
    x = f.ramp(100, 3000, R, C)
    ds = _gray("minmax_16bit", x, bits_stored=12)
    ds.WindowCenter, ds.WindowWidth = 50, 10  # ignored by voi=minmax
    exp = f.round_half_up(f.stretch(x, 100, 3000, 65535), 65535)
    return Built(ds, exp, "min-max window, 16-bit output", {"voi": "minmax", "bit_depth": 16})


def none_signed_rescale() -> Built:
    x = f.ramp(-2048, 2047, R, C)
    ds = _gray("none_signed_rescale", x, bits_stored=12, signed=True)
    ds.RescaleSlope, ds.RescaleIntercept = 2, -100
    lo, hi = -2048 * 2 - 100, 2047 * 2 - 100
    exp = f.round_half_up(f.stretch(x * 2 - 100, lo, hi, 255), 255)
    return Built(ds, exp, "voi none: the theoretical range of signed 12-bit data through the rescale", {"voi": "none"})


def signed12_garbage_high_bits() -> Built:
    x = f.ramp(-2048, 2047, R, C)
    rng = np.random.default_rng(12)
    garbage = rng.integers(0, 16, size=x.shape) << 12  # the 4 unused high bits hold noise
    words = (to_words(x, 12) | garbage).astype(np.int64)
    ds = image_dataset("signed12_garbage_high_bits", R, C, bits_stored=12, signed=True)
    set_pixels(ds, words)
    exp = f.round_half_up(f.stretch(x, -2048, 2047, 255), 255)
    return Built(ds, exp, "signed 12-bit in 16 with garbage in the high bits (masked, sign-extended)", {"voi": "none"})


def high_bit_not_top() -> Built:
    x = f.ramp(0, 1023, R, C)
    rng = np.random.default_rng(10)
    words = (x << 3) | rng.integers(0, 8, size=x.shape) | (rng.integers(0, 8, size=x.shape) << 13)
    ds = image_dataset("high_bit_not_top", R, C, bits_stored=10, high_bit=12)
    set_pixels(ds, words)
    exp = f.round_half_up(f.stretch(x, 0, 1023, 255), 255)
    return Built(ds, exp, "BitsStored 10 ending at HighBit 12 (bits 3..12), garbage around", {"voi": "none"})


def big_endian_ct() -> Built:
    x = f.ramp(0, 2000, R, C)
    ds = image_dataset("big_endian_ct", R, C, bits_stored=12, modality="CT")
    set_pixels(ds, x, little_endian=False)
    ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
    ds.WindowCenter, ds.WindowWidth = 40, 400
    exp = f.round_half_up(f.linear(x - 1024, 40, 400, 255), 255)
    return Built(ds, exp, "Explicit VR Big Endian 16-bit with rescale and a stored window", big_endian=True)


def voi_lut_8bit_packed_ow() -> Built:
    x = f.ramp(0, 300, R, C)  # beyond the LUT's last input: clamped to the last entry
    i = np.arange(256)
    entries = (255 - (i * i) // 256).astype(np.uint8)
    ds = _gray("voi_lut_8bit_packed_ow", x, bits_stored=12)
    ds.VOILUTSequence = sequence(lut_item(256, 0, 8, entries.tobytes(), vr="OW"))
    y = entries[np.clip(x, 0, 255)].astype(np.float64) * 65535 / 255
    exp = f.round_half_up(y, 65535)
    return Built(ds, exp, "VOI LUT with 8-bit entries byte-packed in OW, 16-bit output", {"bit_depth": 16})


def voi_lut_claims16_holds12() -> Built:
    x = f.ramp(0, 4095, R, C)
    i = np.arange(4096)
    entries = (4095 - i).astype("<u2")  # 12-bit values under a descriptor claiming 16 bits
    ds = _gray("voi_lut_claims16_holds12", x, bits_stored=12)
    ds.VOILUTSequence = sequence(lut_item(4096, 0, 16, entries.tobytes(), vr="OW"))
    exp = f.round_half_up(entries[x].astype(np.float64) * 255 / 4095, 255)
    return Built(ds, exp, "VOI LUT descriptor says 16 bits, entries use 12: scaled by 4095", {"voi": "lut"})


def voi_lut_signed_first() -> Built:
    x = f.ramp(-150, 150, R, C)
    n, first = 200, -100
    entries = np.floor(np.linspace(0, 65535, n) + 0.5).astype("<u2")
    ds = _gray("voi_lut_signed_first", x, bits_stored=16, signed=True)
    ds.VOILUTSequence = sequence(lut_item(n, first, 16, entries.tobytes(), vr="OW"))
    y = entries[np.clip(x - first, 0, n - 1)].astype(np.float64) * 255 / 65535
    return Built(ds, f.round_half_up(y, 255), "VOI LUT whose first mapped value is negative (signed data)")


def modality_lut_desc0_signed() -> Built:
    x = f.ramp(-32768, 32767, R, C)
    i = np.arange(65536)
    entries = (i >> 4).astype("<u2")  # 12-bit entries
    ds = _gray("modality_lut_desc0_signed", x, bits_stored=16, signed=True)
    ds.ModalityLUTSequence = sequence(lut_item(65536, -32768, 12, entries.tobytes(), vr="OW"))
    ds.ModalityLUTSequence[0].ModalityLUTType = "US"
    m = entries[x + 32768].astype(np.float64)
    exp = f.round_half_up(f.linear(m, 1000, 1000, 255), 255)
    opts = {"window_center": 1000, "window_width": 1000}
    return Built(ds, exp, "Modality LUT with descriptor 0 (= 65536 entries), first value -32768, 12-bit", opts)


def modality_lut_none_range() -> Built:
    x = f.ramp(0, 1023, R, C)
    i = np.arange(1024)
    entries = (i * 3).astype("<u2")
    ds = _gray("modality_lut_none_range", x, bits_stored=10)
    ds.ModalityLUTSequence = sequence(lut_item(1024, 0, 12, entries.tobytes(), vr="OW"))
    exp = f.round_half_up(f.stretch(entries[x], 0, 4095, 255), 255)
    return Built(ds, exp, "voi none after a Modality LUT: the range 0 .. 2**bits-1 of its entries", {"voi": "none"})


def modality_lut_disabled() -> Built:
    x = f.ramp(0, 4095, R, C)
    ds = _gray("modality_lut_disabled", x, bits_stored=12, modality="CT")
    ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
    exp = f.round_half_up(f.linear(x, 1000, 800, 255), 255)
    opts = {"modality_lut": False, "window_center": 1000, "window_width": 800}
    return Built(ds, exp, "modality_lut false: the window applies to stored values", opts)


def xa_rescale_applied() -> Built:
    x = f.ramp(0, 1023, R, C)
    ds = _gray("xa_rescale_applied", x, bits_stored=10, modality="XA")
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = XA_IMAGE_STORAGE  # toolkits key on the SOP Class
    ds.RescaleSlope, ds.RescaleIntercept = 2, 10
    exp = f.round_half_up(f.linear(x * 2 + 10, 1000, 1500, 255), 255)
    opts = {"window_center": 1000, "window_width": 1500}
    return Built(ds, exp, "XA with Rescale: applied like any modality (the standard; dcmtk skips it)", opts)


def per_frame_rescale() -> Built:
    frames = 3
    base = f.ramp(0, 1000, R, C)
    stack = np.stack([base + 100 * k for k in range(frames)])
    ds = image_dataset("per_frame_rescale", R, C, bits_stored=12, frames=frames, modality="CT")
    set_pixels(ds, stack)
    items = []
    for k in range(frames):
        pvt = Dataset()
        pvt.RescaleSlope, pvt.RescaleIntercept, pvt.RescaleType = k + 1, -50 * k, "US"
        item = Dataset()
        item.PixelValueTransformationSequence = sequence(pvt)
        items.append(item)
    ds.PerFrameFunctionalGroupsSequence = sequence(*items)
    m = stack[2] * 3 - 100
    exp = f.round_half_up(f.linear(m, 1500, 3000, 255), 255)
    opts = {"frame": 2, "window_center": 1500, "window_width": 3000}
    return Built(ds, exp, "per-frame functional group rescale (frame 2: slope 3, intercept -100)", opts)


def per_frame_voi() -> Built:
    frames = 2
    base = f.ramp(0, 4095, R, C)
    stack = np.stack([base, base])
    ds = image_dataset("per_frame_voi", R, C, bits_stored=12, frames=frames)
    set_pixels(ds, stack)
    items = []
    for k in range(frames):
        fv = Dataset()
        fv.WindowCenter, fv.WindowWidth = 1000 + 1000 * k, 500
        if k == 1:
            fv.VOILUTFunction = "LINEAR_EXACT"
        item = Dataset()
        item.FrameVOILUTSequence = sequence(fv)
        items.append(item)
    ds.PerFrameFunctionalGroupsSequence = sequence(*items)
    exp = f.round_half_up(f.linear_exact(base, 2000, 500, 255), 255)
    return Built(ds, exp, "per-frame Frame VOI LUT window and function (frame 1: 2000/500 LINEAR_EXACT)", {"frame": 1})


def _presentation(name: str, photometric: str, shape: str | None, opts: dict[str, object], inverted: bool) -> Built:
    x = f.ramp(0, 4095, R, C)
    ds = _gray(name, x, bits_stored=12, photometric=photometric)
    ds.WindowCenter, ds.WindowWidth = 2048, 4096
    if shape is not None:
        ds.PresentationLUTShape = shape
    y = f.linear(x, 2048, 4096, 255)
    exp = f.round_half_up(255 - y if inverted else y, 255)
    what = f"{photometric} shape {shape} options {opts}: {'inverted once' if inverted else 'not inverted'}"
    return Built(ds, exp, what, dict(opts))


def mono1_default() -> Built:
    return _presentation("mono1_default", "MONOCHROME1", None, {}, True)


def mono1_identity_shape() -> Built:
    return _presentation("mono1_identity_shape", "MONOCHROME1", "IDENTITY", {}, True)


def mono1_inverse_shape() -> Built:
    return _presentation("mono1_inverse_shape", "MONOCHROME1", "INVERSE", {}, True)


def mono1_presentation_identity() -> Built:
    return _presentation("mono1_presentation_identity", "MONOCHROME1", None, {"presentation": "identity"}, False)


def mono2_inverse_shape() -> Built:
    return _presentation("mono2_inverse_shape", "MONOCHROME2", "INVERSE", {}, True)


def mono2_presentation_inverse() -> Built:
    return _presentation("mono2_presentation_inverse", "MONOCHROME2", None, {"presentation": "inverse"}, True)


def one_bit_two_frames() -> Built:
    rows, cols = 5, 7  # 35 bits a frame: frame 1 starts mid-byte
    rng = np.random.default_rng(1)
    stack = rng.integers(0, 2, size=(2, rows, cols))
    ds = image_dataset("one_bit_two_frames", rows, cols, bits_allocated=1, frames=2)
    set_pixels(ds, stack)
    exp = (stack[1] * 255).astype(np.uint8)
    return Built(ds, exp, "1-bit data, frame 1 not byte-aligned", {"frame": 1, "voi": "none"})


def bits32_unsigned() -> Built:
    x = f.ramp(0, 2**32 - 1, R, C)
    ds = _gray("bits32_unsigned", x, bits_allocated=32)
    exp = f.round_half_up(f.stretch(x, 0, 2**32 - 1, 65535), 65535)
    return Built(ds, exp, "32-bit unsigned data, voi none, 16-bit output", {"voi": "none", "bit_depth": 16})


def rle_signed() -> Built:
    from pydicom.uid import RLELossless

    x = f.ramp(-1000, 3000, R, C)
    ds = image_dataset("rle_signed", R, C, bits_stored=16, signed=True, modality="CT")
    ds.PixelData = x.astype("<i2").tobytes()
    ds["PixelData"].VR = "OW"
    ds.compress(RLELossless, encoding_plugin="pydicom")
    ds.WindowCenter, ds.WindowWidth = 500, 2000
    exp = f.round_half_up(f.linear(x, 500, 2000, 255), 255)
    return Built(ds, exp, "RLE Lossless, signed 16-bit, stored window")


CASES = [
    linear_stored_window,
    linear_half_borders,
    linear_w1_threshold,
    linear_exact_file_16bit,
    sigmoid_file,
    sigmoid_option_signed,
    explicit_ignores_file_function,
    stored_window_index,
    minmax_16bit,
    none_signed_rescale,
    signed12_garbage_high_bits,
    high_bit_not_top,
    big_endian_ct,
    voi_lut_8bit_packed_ow,
    voi_lut_claims16_holds12,
    voi_lut_signed_first,
    modality_lut_desc0_signed,
    modality_lut_none_range,
    modality_lut_disabled,
    xa_rescale_applied,
    per_frame_rescale,
    per_frame_voi,
    mono1_default,
    mono1_identity_shape,
    mono1_inverse_shape,
    mono1_presentation_identity,
    mono2_inverse_shape,
    mono2_presentation_inverse,
    one_bit_two_frames,
    bits32_unsigned,
    rle_signed,
]
