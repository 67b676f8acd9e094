"""Contract validation: every bad request gets invalid_request naming the field at fault."""

from __future__ import annotations

from typing import Any

import pytest

from dcmharness.contract import WINDOW_PRESETS, ErrorCode, HarnessError, ToImageOptions
from dcmharness.contract.validation import parse_request, parse_request_text


def error_of(data: Any) -> HarnessError:
    with pytest.raises(HarnessError) as info:
        parse_request(data)
    return info.value


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"foo": 1}, "options.foo"),
        ({"window_center": 40}, "options.window_width"),
        ({"window_width": 0}, "options.window_width"),
        ({"window_center": 40, "window_width": 0.5}, "options.window_width"),  # LINEAR needs w >= 1
        ({"frame": -1}, "options.frame"),
        ({"frame": True}, "options.frame"),
        ({"frame": "last"}, "options.frame"),
        ({"bit_depth": 12}, "options.bit_depth"),
        ({"quality": 0}, "options.quality"),
        ({"format": "gif"}, "options.format"),
        ({"format": "jpeg", "bit_depth": 16}, "options.bit_depth"),
        ({"format": "png", "quality": 50}, "options.quality"),
        ({"voi": "lut", "window_center": 1, "window_width": 2}, "options.voi"),
        ({"voi_index": 1}, "options.voi_index"),
        ({"voi": "window", "voi_index": -1}, "options.voi_index"),
        ({"window_preset": "lung", "window_center": 1, "window_width": 2}, "options.window_preset"),
        ({"window_preset": "kidney"}, "options.window_preset"),
        ({"overlays": [16]}, "options.overlays"),
        ({"overlays": [1, 1]}, "options.overlays"),
        ({"overlay_value": "red"}, "options.overlay_value"),
        ({"overlay_value": 300}, "options.overlay_value"),
        ({"window_center": "40", "window_width": 400}, "options.window_center"),
        ({"modality_lut": "yes"}, "options.modality_lut"),
        ({"png_compression": 10}, "options.png_compression"),
    ],
)
def test_bad_options_name_their_field(options: dict[str, Any], field: str) -> None:
    err = error_of({"op": "to_image", "input": "x.dcm", "options": options})
    assert err.code == ErrorCode.INVALID_REQUEST
    assert err.field == field, err.message


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        ({"op": "to_image"}, "input"),
        ({"op": "to_image", "input": ""}, "input"),
        ({"op": "nope", "input": "x"}, "op"),
        ({"input": "x"}, "op"),
        ({"op": "to_image", "input": "x", "extra": 1}, "extra"),
        ({"op": "to_image", "input": "x", "overwrite": "yes"}, "overwrite"),
        ({"op": "to_image", "input": "x", "timeout": 0}, "timeout"),
        ({"op": "to_image", "input": 5}, "input"),
    ],
)
def test_bad_requests_name_their_field(request_: dict[str, Any], field: str) -> None:
    err = error_of(request_)
    assert err.code == ErrorCode.INVALID_REQUEST
    assert err.field == field, err.message


def test_not_an_object() -> None:
    err = error_of([1, 2])
    assert err.code == ErrorCode.INVALID_REQUEST


def test_invalid_json_and_non_utf8() -> None:
    with pytest.raises(HarnessError) as e:
        parse_request_text("{nope")
    assert e.value.code == ErrorCode.INVALID_JSON
    with pytest.raises(HarnessError) as e:
        parse_request_text(b'{"op": "to_image", "input": "\xff"}')
    assert e.value.code == ErrorCode.INVALID_JSON


@pytest.mark.parametrize("preset", sorted(WINDOW_PRESETS))
def test_presets_resolve_to_explicit_windows(preset: str) -> None:
    opts = ToImageOptions.model_validate({"window_preset": preset})
    assert opts.explicit_window() == WINDOW_PRESETS[preset]


def test_defaults() -> None:
    req = parse_request({"op": "to_image", "input": "x.dcm"})
    assert req.backend == "python_ref" and req.overwrite is False and req.output is None
    opts = req.options  # type: ignore[attr-defined]
    assert (opts.frame, opts.bit_depth, opts.voi, opts.presentation, opts.overlays, opts.modality_lut) == (
        0,
        8,
        "auto",
        "auto",
        True,
        True,
    )
