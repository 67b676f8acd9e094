"""Each stage of python_ref against values computed by hand from the standard's formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydicom.dataset import Dataset

from dcmharness.backends.python_ref import color, decode, modality, overlays, presentation, voi
from dcmharness.backends.python_ref.pipeline import overlay_fill, quantize
from dcmharness.contract.errors import HarnessError

A = np.asarray


# ---- rounding ------------------------------------------------------------------------------------


def test_quantize_rounds_half_up_and_clips() -> None:
    got = quantize(A([-3.0, 0.49, 0.5, 1.5, 2.4999, 254.5, 300.0]), 255)
    assert got.tolist() == [0, 0, 1, 2, 2, 255, 255]
    assert got.dtype == np.uint8
    got16 = quantize(A([65534.5, 1e9, 12.5]), 65535)
    assert got16.tolist() == [65535, 65535, 13] and got16.dtype == np.uint16


# ---- VOI: window functions -----------------------------------------------------------------------


def test_linear_hand_values() -> None:
    # c=50, w=11: x <= 44.5 -> 0; x > 54.5 -> 255; else ((x-49.5)/10 + 0.5) * 255
    y = voi.window_linear(A([44.0, 44.5, 45.0, 49.5, 54.0, 54.5, 55.0]), 50, 11, 255)
    assert y.tolist() == pytest.approx([0, 0, 12.75, 127.5, 242.25, 255, 255])
    assert quantize(y, 255).tolist() == [0, 0, 13, 128, 242, 255, 255]


def test_linear_half_borders() -> None:
    # c=10, w=5: lower border 7.5 is 0 (x <= ...), 7.6 is 6.375; upper border 11.5 computes to exactly 255
    y = voi.window_linear(A([7.5, 7.6, 11.5, 11.6]), 10, 5, 255)
    assert y.tolist() == pytest.approx([0.0, 6.375, 255.0, 255.0])


def test_linear_w1_is_a_threshold_at_c_minus_half() -> None:
    y = voi.window_linear(A([99.0, 99.5, 99.6, 100.0, 101.0]), 100, 1, 255)
    assert y.tolist() == [0, 0, 255, 255, 255]


def test_linear_16bit_keeps_precision() -> None:
    y = voi.window_linear(A([45.0]), 50, 11, 65535)
    assert y.tolist() == pytest.approx([0.05 * 65535])  # 3276.75, not 13 * 257
    assert quantize(y, 65535).tolist() == [3277]


def test_linear_exact_hand_values() -> None:
    # c=0, w=100: x <= -50 -> 0; x > 50 -> 255; else (x/100 + 0.5) * 255
    y = voi.window_linear_exact(A([-50.0, -49.0, 0.0, 25.0, 50.0, 51.0]), 0, 100, 255)
    assert y.tolist() == pytest.approx([0, 2.55, 127.5, 191.25, 255, 255])


def test_sigmoid_hand_values() -> None:
    y = voi.window_sigmoid(A([-25.0, 0.0, 25.0, -1e6]), 0, 100, 255)
    assert y.tolist() == pytest.approx([255 / (1 + math.e), 127.5, 255 / (1 + math.exp(-1)), 0.0])
    assert quantize(y, 255).tolist() == [69, 128, 186, 0]


def test_window_dispatches_by_function_name() -> None:
    x = A([25.0])
    assert voi.window(x, 0, 100, "sigmoid", 255)[0] == pytest.approx(186.41993)
    assert voi.window(x, 0, 100, "linear_exact", 255)[0] == pytest.approx(191.25)
    assert voi.function_name("SIGMOID") == "sigmoid"
    assert voi.function_name("LINEAR_EXACT ") == "linear_exact"
    assert voi.function_name(None) == "linear" and voi.function_name("LINEAR") == "linear"


def test_linear_range_minmax_and_constant() -> None:
    assert voi.linear_range(A([10.0, 20.0, 30.0]), 10, 30, 255).tolist() == [0, 127.5, 255]
    assert voi.linear_range(A([7.0, 7.0]), 7, 7, 255).tolist() == [0, 0]


# ---- Modality LUT and theoretical range ----------------------------------------------------------


def _ds(**attrs: object) -> Dataset:
    ds = Dataset()
    for k, v in attrs.items():
        setattr(ds, k, v)
    return ds


def test_rescale_and_theoretical_range_signed() -> None:
    assert modality.rescale(A([-2048, 0, 2047]), 2.0, -100.0).tolist() == [-4196, -100, 3994]
    ds = _ds(BitsAllocated=16, BitsStored=12, PixelRepresentation=1)
    assert modality.theoretical_range(ds, 0) == (-2048.0, 2047.0)
    ds.RescaleSlope, ds.RescaleIntercept = -2, 10
    assert modality.theoretical_range(ds, 0) == (-4084.0, 4106.0)  # endpoints swapped by the negative slope
    assert modality.theoretical_range(ds, 0, enabled=False) == (-2048.0, 2047.0)


def test_stored_range() -> None:
    assert modality.stored_range(12, False) == (0, 4095)
    assert modality.stored_range(12, True) == (-2048, 2047)
    assert modality.stored_range(1, False) == (0, 1)


def _lut(desc: list[int], data: bytes | list[int], vr: str = "OW") -> Dataset:
    item = Dataset()
    item.LUTDescriptor = desc
    item.LUTData = data
    item["LUTData"].VR = vr
    return item


def test_lut_descriptor_zero_means_65536_and_signed_first() -> None:
    data = (np.arange(65536) >> 4).astype("<u2").tobytes()
    lut = modality.read_lut(_lut([0, 32768, 12], data), signed_first=True)
    assert len(lut.data) == 65536 and lut.first == -32768 and lut.bits == 12
    assert modality.lut_lookup(A([-32768, -1, 0, 32767]), lut).tolist() == [0, 2047, 2048, 4095]
    unsigned = modality.read_lut(_lut([0, 32768, 12], data), signed_first=False)
    assert unsigned.first == 32768


def test_lut_8bit_entries_byte_packed() -> None:
    lut = modality.read_lut(_lut([4, 0, 8], bytes([1, 2, 3, 4])))
    assert lut.data.tolist() == [1, 2, 3, 4]
    packed_us = modality.read_lut(_lut([4, 0, 8], [0x0201, 0x0403], vr="US"))
    assert packed_us.data.tolist() == [1, 2, 3, 4]


def test_lut_16bit_entries_in_file_byte_order() -> None:
    assert modality.read_lut(_lut([2, 0, 16], b"\x01\x00\x00\x01")).data.tolist() == [1, 256]
    be = modality.read_lut(_lut([2, 0, 16], b"\x01\x00\x00\x01"), little_endian=False)
    assert be.data.tolist() == [256, 1]


def test_lut_lookup_clamps_and_rounds_half_up() -> None:
    lut = modality.LUT(first=10, bits=16, data=A([5, 6, 7]))
    assert modality.lut_lookup(A([0, 10, 11, 12, 99]), lut).tolist() == [5, 5, 6, 7, 7]
    assert modality.lut_lookup(A([10.49, 10.5, 11.5]), lut).tolist() == [5, 6, 7]


def test_apply_modality_prefers_lut_then_rescale() -> None:
    ds = _ds(PixelRepresentation=0, RescaleSlope=2, RescaleIntercept=1)
    assert modality.apply_modality(A([0, 3]), ds, 0)[0].tolist() == [1, 7]
    assert modality.apply_modality(A([0, 3]), ds, 0, enabled=False)[1] == "disabled"
    ds.ModalityLUTSequence = [_lut([4, 0, 16], (np.arange(4) * 10).astype("<u2").tobytes())]
    values, kind = modality.apply_modality(A([0, 3, 9]), ds, 0)
    assert kind == "lut" and values.tolist() == [0, 30, 30]


def test_rescale_per_frame_functional_groups() -> None:
    def pvt(slope: float, intercept: float) -> Dataset:
        item = Dataset()
        inner = Dataset()
        inner.RescaleSlope, inner.RescaleIntercept = slope, intercept
        item.PixelValueTransformationSequence = [inner]
        return item

    ds = _ds(PerFrameFunctionalGroupsSequence=[pvt(1, 0), pvt(3, -100)])
    assert modality.rescale_params(ds, 1) == (3.0, -100.0)
    shared = _ds(SharedFunctionalGroupsSequence=[pvt(2, 5)])
    assert modality.rescale_params(shared, 7) == (2.0, 5.0)
    assert modality.rescale_params(_ds(), 0) is None


# ---- VOI LUT ----------------------------------------------------------------------------------------


def test_voi_lut_bits_actually_used() -> None:
    assert voi.lut_bits(modality.LUT(0, 16, A([0, 4095]))) == 12  # descriptor claims 16, data is 12-bit
    assert voi.lut_bits(modality.LUT(0, 16, A([0, 40000]))) == 16
    assert voi.lut_bits(modality.LUT(0, 8, A([0, 15]))) == 8


def test_apply_voi_lut_scales_to_output_range() -> None:
    lut = modality.LUT(first=10, bits=16, data=A([0, 2048, 4095]))
    y = voi.apply_voi_lut(A([0, 10, 11, 12, 99]), lut, 255)
    assert y.tolist() == pytest.approx([0, 0, 2048 * 255 / 4095, 255, 255])
    lut8 = modality.LUT(first=0, bits=8, data=A([0, 51, 255]))
    assert voi.apply_voi_lut(A([1]), lut8, 65535).tolist() == [51 * 257]


# ---- Presentation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("photometric", "shape", "option", "inverted"),
    [
        ("MONOCHROME2", None, "auto", False),
        ("MONOCHROME1", None, "auto", True),
        ("MONOCHROME1", "IDENTITY", "auto", True),  # documented choice: MONOCHROME1 is shown inverted
        ("MONOCHROME1", "INVERSE", "auto", True),  # one inversion, not two
        ("MONOCHROME2", "INVERSE", "auto", True),
        ("MONOCHROME2", "IDENTITY", "auto", False),
        ("MONOCHROME1", None, "identity", False),
        ("MONOCHROME2", "INVERSE", "identity", False),
        ("MONOCHROME2", None, "inverse", True),
        ("MONOCHROME1", "INVERSE", "inverse", True),
    ],
)
def test_should_invert(photometric: str, shape: str | None, option: str, inverted: bool) -> None:
    assert presentation.should_invert(photometric, shape, option) is inverted


def test_invert() -> None:
    assert presentation.invert(A([0.0, 12.75, 255.0]), 255).tolist() == [255, 242.25, 0]


# ---- Decoding ---------------------------------------------------------------------------------------


def test_mask_stored_bits_signed_with_garbage() -> None:
    raw = A([0xF7FF, 0x0800, 0xFFFF, 0xA005], dtype=np.uint16)
    assert decode.mask_stored_bits(raw, 12, 11, signed=True).tolist() == [2047, -2048, -1, 5]
    assert decode.mask_stored_bits(raw, 12, 11, signed=False).tolist() == [2047, 2048, 4095, 5]


def test_mask_stored_bits_high_bit_not_top() -> None:
    raw = A([(5 << 3) | 0b111 | (0b101 << 13)], dtype=np.uint16)
    assert decode.mask_stored_bits(raw, 10, 12, signed=False).tolist() == [5]


def test_mask_stored_bits_int_input_and_32bit() -> None:
    assert decode.mask_stored_bits(A([-1], dtype=np.int16), 16, 15, signed=True).tolist() == [-1]
    assert decode.mask_stored_bits(A([0xFFFFFFFF], dtype=np.uint32), 32, 31, signed=False).tolist() == [2**32 - 1]
    assert decode.mask_stored_bits(A([0x80000000], dtype=np.uint32), 32, 31, signed=True).tolist() == [-(2**31)]


def _layout(**kw: object) -> decode.PixelLayout:
    base: dict[str, object] = dict(
        rows=2,
        cols=2,
        samples=1,
        bits_allocated=16,
        bits_stored=16,
        high_bit=15,
        signed=False,
        planar=0,
        photometric="MONOCHROME2",
    )
    base.update(kw)
    return decode.PixelLayout(**base)  # type: ignore[arg-type]


def test_native_words_byte_order_and_frames() -> None:
    data = np.arange(8, dtype=">u2").tobytes()
    got = decode.native_words(data, _layout(), 1, little_endian=False)
    assert got.tolist() == [[4, 5], [6, 7]]
    little = decode.native_words(np.arange(8, dtype="<u2").tobytes(), _layout(), 0, little_endian=True)
    assert little.tolist() == [[0, 1], [2, 3]]


def test_native_words_8bit_ow_big_endian_is_swapped() -> None:
    lay = _layout(bits_allocated=8, bits_stored=8, high_bit=7)
    assert decode.native_words(bytes([2, 1, 4, 3]), lay, 0, False, "OW").tolist() == [[1, 2], [3, 4]]
    assert decode.native_words(bytes([2, 1, 4, 3]), lay, 0, False, "OB").tolist() == [[2, 1], [4, 3]]


def test_native_words_1bit_frame_not_byte_aligned() -> None:
    lay = _layout(rows=1, cols=3, bits_allocated=1, bits_stored=1, high_bit=0)
    # frames of 3 bits, LSB first: 0b_110_101 -> frame 0 = 1,0,1; frame 1 = 0,1,1
    assert decode.native_words(bytes([0b110101]), lay, 1, True).tolist() == [[0, 1, 1]]


def test_native_words_planar_and_ybr422() -> None:
    lay = _layout(rows=1, cols=2, samples=3, bits_allocated=8, bits_stored=8, high_bit=7, planar=1, photometric="RGB")
    assert decode.native_words(bytes([1, 2, 3, 4, 5, 6]), lay, 0, True).tolist() == [[[1, 3, 5], [2, 4, 6]]]
    lay422 = _layout(rows=1, cols=2, samples=3, bits_allocated=8, bits_stored=8, high_bit=7, photometric="YBR_FULL_422")
    assert decode.native_words(bytes([10, 20, 100, 200]), lay422, 0, True).tolist() == [
        [[10, 100, 200], [20, 100, 200]]
    ]


def test_short_pixel_data_is_decode_failed() -> None:
    with pytest.raises(HarnessError) as err:
        decode.native_words(b"\0" * 6, _layout(), 0, True)
    assert err.value.code.value == "decode_failed"


# ---- Colour ---------------------------------------------------------------------------------------


def test_ybr_full_to_rgb_t871() -> None:
    rgb = color.ybr_full_to_rgb(A([[128, 128, 128], [100, 100, 200]]))
    assert rgb[0].tolist() == [128, 128, 128]
    assert rgb[1].tolist() == pytest.approx([100 + 1.402 * 72, 100 + 0.344136 * 28 - 0.714136 * 72, 100 - 1.772 * 28])
    assert quantize(rgb, 255)[1].tolist() == [201, 58, 50]
    assert color.ybr_full_to_rgb(A([[1000, 32768, 32768]]), 32768.0)[0].tolist() == [1000, 1000, 1000]


def test_scale_samples() -> None:
    assert quantize(color.scale_samples(A([0, 257, 65535, 383]), 16, 255), 255).tolist() == [0, 1, 255, 1]
    assert color.scale_samples(A([7]), 8, 255).tolist() == [7]
    assert color.scale_samples(A([255]), 8, 65535).tolist() == [65535]


def test_expand_segmented_discrete_linear_indirect() -> None:
    assert color.expand_segmented(A([0, 2, 0, 1000, 1, 3, 4000]), 5).tolist() == [0, 1000, 2000, 3000, 4000]
    assert color.expand_segmented(A([0, 1, 0, 1, 2, 3]), 2).tolist() == [0, 2]  # 1.5 rounds half up to 2
    data = A([0, 2, 10, 20, 1, 2, 40, 2, 1, 0, 0])  # indirect: repeat 1 segment from offset 0
    assert color.expand_segmented(data, 7).tolist() == [10, 20, 30, 40, 10, 20, 20]


def test_palette_luts_big_endian_and_first() -> None:
    assert color.words_from_bytes(b"\x12\x34", little_endian=False).tolist() == [0x1234]
    assert color.words_from_bytes(b"\x12\x34", little_endian=True).tolist() == [0x3412]
    luts = [(A([0, 100, 200]), 5, 16), (A([1, 2, 3]), 5, 16), (A([9, 8, 7]), 5, 16)]
    assert color.apply_palette_luts(A([0, 6, 99]), luts).tolist() == [[0, 1, 9], [100, 2, 8], [200, 3, 7]]


# ---- Overlays ------------------------------------------------------------------------------------


def test_unpack_bits_lsb_first() -> None:
    assert overlays.unpack_bits(b"\x05", 4).tolist() == [1, 0, 1, 0]
    assert overlays.unpack_bits(b"\x80", 10).tolist() == [0, 0, 0, 0, 0, 0, 0, 1, 0, 0]


def test_place_negative_and_outside_origin() -> None:
    mask = A([[1, 0], [0, 1]])
    assert overlays.place(mask, 3, 3, 0, 0).astype(int).tolist() == [[1, 0, 0], [0, 0, 0], [0, 0, 0]]
    assert overlays.place(mask, 3, 3, 3, 3).astype(int).tolist() == [[0, 0, 0], [0, 0, 0], [0, 0, 1]]
    assert not overlays.place(mask, 3, 3, 10, 1).any()


def test_overlay_mask_multiframe_and_embedded() -> None:
    ds = Dataset()
    ds.add_new(0x60000010, "US", 1)
    ds.add_new(0x60000011, "US", 4)
    ds.add_new(0x60000050, "SS", [1, 1])
    ds.add_new(0x60000015, "IS", 2)
    ds.add_new(0x60000051, "US", 3)
    ds.add_new(0x60003000, "OW", bytes([0b1001_0110, 0]))  # overlay frame 0 = 0110, frame 1 = 1001
    assert overlays.overlay_mask(ds, 0x6000, 1, 1, 4, None) is None  # image frame 1 precedes origin 3
    assert overlays.overlay_mask(ds, 0x6000, 2, 1, 4, None).astype(int).tolist() == [[0, 1, 1, 0]]  # type: ignore[union-attr]
    assert overlays.overlay_mask(ds, 0x6000, 3, 1, 4, None).astype(int).tolist() == [[1, 0, 0, 1]]  # type: ignore[union-attr]
    assert overlays.overlay_mask(ds, 0x6000, 4, 1, 4, None) is None
    emb = Dataset()
    emb.add_new(0x60020010, "US", 1)
    emb.add_new(0x60020011, "US", 2)
    emb.add_new(0x60020102, "US", 12)
    raw = A([[0x1005, 0x0FFF]], dtype=np.uint16)
    assert overlays.overlay_mask(emb, 0x6002, 0, 1, 2, raw).astype(int).tolist() == [[1, 0]]  # type: ignore[union-attr]


def test_burn_in_and_fill() -> None:
    img = np.zeros((1, 2), dtype=np.uint8)
    assert overlays.burn_in(img, A([[True, False]]), 100).tolist() == [[100, 0]]
    assert overlay_fill(None, 255, colour=False) == 255
    assert overlay_fill(None, 65535, colour=False) == 65535
    assert overlay_fill(7, 255, colour=True) == (7, 7, 7)
    assert overlay_fill("#ff8000", 255, colour=True) == (255, 128, 0)
    assert overlay_fill("#ff8000", 65535, colour=True) == (65535, 32896, 0)
    with pytest.raises(HarnessError) as err:
        overlay_fill("#ff0000", 255, colour=False)
    assert err.value.code.value == "unsupported_option" and err.value.field == "options.overlay_value"


def test_packed_8bit_entries_in_big_endian_words() -> None:
    assert modality.packed_bytes(bytes([1, 2, 3, 4]), little_endian=True).tolist() == [1, 2, 3, 4]
    assert modality.packed_bytes(bytes([2, 1, 4, 3]), little_endian=False).tolist() == [1, 2, 3, 4]
    lut = modality.read_lut(_lut([4, 0, 8], bytes([2, 1, 4, 3])), little_endian=False)
    assert lut.data.tolist() == [1, 2, 3, 4]


def test_check_color_options_16bit_only_for_writers_of_16bit_rgb() -> None:
    from dcmharness.backends.python_ref.pipeline import check_color_options
    from dcmharness.contract.options import ToImageOptions

    opts = ToImageOptions(bit_depth=16)
    check_color_options(opts, colour_16bit=True)
    with pytest.raises(HarnessError) as err:
        check_color_options(opts)  # what adapters call: they keep refusing 16-bit colour
    assert err.value.field == "options.bit_depth"
