"""The rust_render adapter: golden argv and batch-request tests (no binary needed), then live tests against
python_ref wherever ``backends/rust_render`` is built (skipped with the reason elsewhere)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset

from dcmharness.adapters.base import ToolInfo, check_capabilities
from dcmharness.adapters.rust_render import (
    RustRenderAdapter,
    build_batch_request,
    build_to_image_argv,
    capability_table,
    error_from_stderr,
    frames_prefix,
)
from dcmharness.backends.outputs import OutputPlan, OutputTarget
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import ToImageRequest
from dcmharness.interface import registry
from dcmharness.interface.api import run

TOOL = ToolInfo("/opt/bin/dicom-render", "0.1.0")
IN = "/data/ct.dcm"
TEMP = "/out/.ct.dcmharness-1-ab.tmp.png"
EXPLICIT_LE = "1.2.840.10008.1.2.1"


def gray(transfer_syntax: str = EXPLICIT_LE, path: str = IN) -> InputInfo:
    ds = Dataset()
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.SamplesPerPixel = 1
    return InputInfo(
        path=Path(path), dataset=ds, transfer_syntax=transfer_syntax, has_pixel_data=True, rows=4, columns=4,
        bits_allocated=16, bits_stored=12, photometric="MONOCHROME2",
    )  # fmt: skip


def colour() -> InputInfo:
    ds = Dataset()
    ds.PhotometricInterpretation = "RGB"
    ds.SamplesPerPixel = 3
    return InputInfo(
        path=Path(IN), dataset=ds, transfer_syntax=EXPLICIT_LE, has_pixel_data=True, rows=4, columns=4,
        samples_per_pixel=3, bits_allocated=8, bits_stored=8, photometric="RGB",
    )  # fmt: skip


def plan(frames: int = 1, temp: str = TEMP) -> OutputPlan:
    first = Path(temp)
    targets = [
        OutputTarget(final=Path(f"/out/ct_{k:04d}.png"), temp=first if k == 0 else Path(f"/out/t{k}.png"), frame=k)
        for k in range(frames)
    ]
    return OutputPlan(targets=targets)


def request(options: dict[str, Any], output: str | None = "/out/ct.png") -> ToImageRequest:
    return ToImageRequest.model_validate({"op": "to_image", "input": IN, "output": output, "options": options})


def argv(options: dict[str, Any], output: str | None = "/out/ct.png", info: InputInfo | None = None) -> list[str]:
    return build_to_image_argv(request(options, output), info or gray(), plan(), TOOL)


def middle(args: list[str]) -> list[str]:
    """The options between the executable and ``-- INPUT OUTPUT``."""
    assert args[-3] == "--"
    return args[1:-3]


# -- golden command lines -------------------------------------------------------------------------------------
def test_default_request_full_argv() -> None:
    assert argv({}) == [TOOL.path, "--frame", "0", "--format", "png", "--", IN, TEMP]


def test_every_option_at_once() -> None:
    options = {
        "frame": 2,
        "format": "png",
        "bit_depth": 16,
        "png_compression": 6,
        "window_center": 40.5,
        "window_width": 400,
        "voi_function": "linear_exact",
        "modality_lut": False,
        "presentation": "inverse",
        "overlays": [3, 0],
        "overlay_value": 1000,
    }
    assert middle(argv(options)) == [
        "--frame", "2", "--format", "png", "--bit-depth", "16", "--png-compression", "6",
        "--window-center", "40.5", "--window-width", "400", "--voi-function", "linear_exact",
        "--no-modality-lut", "--presentation", "inverse", "--overlays", "0,3", "--overlay-value", "1000",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("options", "flags"),
    [
        ({"voi": "window", "voi_index": 1}, ["--voi", "window", "--voi-index", "1"]),
        ({"voi": "lut"}, ["--voi", "lut"]),
        ({"voi": "minmax"}, ["--voi", "minmax"]),
        ({"voi": "none"}, ["--voi", "none"]),
        ({"voi_function": "sigmoid"}, ["--voi-function", "sigmoid"]),
        ({"window_preset": "lung"}, ["--window-center", "-600", "--window-width", "1500"]),
        ({"overlays": False}, ["--overlays", "none"]),
        ({"overlays": []}, ["--overlays", "none"]),
        ({"presentation": "identity"}, ["--presentation", "identity"]),
    ],
)
def test_voi_presentation_overlay_flags(options: dict[str, Any], flags: list[str]) -> None:
    assert middle(argv(options))[4:] == flags


@pytest.mark.parametrize(
    ("output", "options", "fmt"),
    [
        ("/out/ct.jpg", {"quality": 75}, ["--format", "jpeg", "--quality", "75"]),
        ("/out/ct.tiff", {"bit_depth": 16}, ["--format", "tiff", "--bit-depth", "16"]),
        ("/out/ct.pgm", {}, ["--format", "pnm"]),
        ("/out/ct.out", {"format": "png"}, ["--format", "png"]),
        ("/out/ct.whatever", {}, ["--format", "png"]),
    ],
)
def test_format_always_explicit(output: str, options: dict[str, Any], fmt: list[str]) -> None:
    assert middle(argv(options, output=output))[2:] == fmt


def test_input_with_a_leading_dash_follows_double_dash() -> None:
    args = build_to_image_argv(request({}), gray(path="/d/-x.dcm"), plan(temp="/o/-t.png"), TOOL)
    assert args[-3:] == ["--", "/d/-x.dcm", "/o/-t.png"]


def test_all_frames_write_under_a_private_prefix() -> None:
    p = plan(3)
    args = build_to_image_argv(request({"frame": "all"}), gray(), p, TOOL)
    assert args[1:3] == ["--frame", "all"]
    assert args[-1] == "/out/.ct.dcmharness-1-ab.tmp.frames.png" == str(frames_prefix(p))


# -- batch requests -------------------------------------------------------------------------------------------
def test_batch_request_uses_contract_names() -> None:
    req = request({"window_preset": "brain", "bit_depth": 16, "overlays": [2], "modality_lut": False})
    assert build_batch_request(req, gray(), plan(), 7) == {
        "id": 7,
        "input": IN,
        "output": TEMP,
        "overwrite": False,
        "options": {
            "frame": 0, "format": "png", "window_center": 40.0, "window_width": 80.0, "bit_depth": 16,
            "modality_lut": False, "overlays": [2],
        },
    }  # fmt: skip


def test_batch_request_default_is_minimal() -> None:
    assert build_batch_request(request({}), gray(), plan(), 1)["options"] == {"frame": 0, "format": "png"}


# -- capabilities and refusals --------------------------------------------------------------------------------
def test_every_option_is_honoured() -> None:
    opts = request(
        {"window_center": 1, "window_width": 2, "voi_function": "sigmoid", "overlays": [1], "png_compression": 9}
    ).options
    check_capabilities(opts, capability_table(None)["to_image"], "rust_render")


def test_colour_refuses_grayscale_options_before_running() -> None:
    adapter = RustRenderAdapter()
    with pytest.raises(HarnessError) as exc:
        adapter.check_input(request({"voi": "minmax"}), colour())
    assert exc.value.code == ErrorCode.UNSUPPORTED_OPTION
    assert exc.value.field == "options.voi"


def test_unknown_transfer_syntax_is_refused() -> None:
    adapter = RustRenderAdapter()
    with pytest.raises(HarnessError) as exc:
        adapter.check_input(request({}), gray(transfer_syntax="1.2.840.10008.1.2.4.100"))  # MPEG2
    assert exc.value.code == ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX


@pytest.mark.parametrize(
    ("stderr", "code"),
    [
        (
            "error: unsupported_transfer_syntax: transfer syntax 1.2.3 is not supported",
            ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
        ),
        ("error: decode_failed: JPEG: bad Huffman code", ErrorCode.DECODE_FAILED),
        ("error: internal_error: dicom-render crashed: boom", ErrorCode.BACKEND_FAILED),
        ("error: made_up: x", ErrorCode.BACKEND_FAILED),
        ("Segmentation fault", ErrorCode.BACKEND_FAILED),
    ],
)
def test_tool_errors_keep_their_contract_code(stderr: str, code: ErrorCode) -> None:
    assert error_from_stderr(stderr)[0] == code


# -- live -----------------------------------------------------------------------------------------------------
def _missing() -> str | None:
    avail = RustRenderAdapter().availability()
    return None if avail.available else f"dicom-render not available: {avail.reason}"


live = pytest.mark.skipif(_missing() is not None, reason=str(_missing()))


@pytest.fixture()
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.BACKENDS, "rust_render", "dcmharness.adapters.rust_render:RustRenderAdapter")


def _render(backend: str, src: Path, out: Path, options: dict[str, Any]) -> np.ndarray:
    resp = run({"op": "to_image", "backend": backend, "input": str(src), "output": str(out), "options": options})
    assert resp.ok, resp.error
    return np.asarray(Image.open(resp.outputs[0])).astype(np.int64)


PROFILES = [
    {},
    {"voi": "none"},
    {"voi": "minmax", "bit_depth": 16},
    {"window_center": 40, "window_width": 400, "voi_function": "linear_exact"},
    {"window_center": 100, "window_width": 300, "voi_function": "sigmoid"},
]


@live
@pytest.mark.parametrize("batch", ["never", "always"])
@pytest.mark.parametrize("options", PROFILES)
def test_agrees_with_python_ref(
    registered: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ct_small: Path, mr_small: Path, batch: str,
    options: dict[str, Any],
) -> None:  # fmt: skip
    monkeypatch.setenv("DCMHARNESS_RUST_BATCH", batch)
    try:
        for src in (ct_small, mr_small):
            ref = _render("python_ref", src, tmp_path / f"ref_{src.stem}.png", options)
            mine = _render("rust_render", src, tmp_path / f"rust_{src.stem}.png", options)
            assert ref.shape == mine.shape
            assert int(np.abs(ref - mine).max()) <= 1
    finally:
        registry.close_all()


@live
@pytest.mark.parametrize("batch", ["never", "always"])
def test_all_frames_and_errors_through_the_harness(
    registered: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, batch: str
) -> None:
    from dcmharness.interface.samples import find

    monkeypatch.setenv("DCMHARNESS_RUST_BATCH", batch)
    try:
        src = find("emri_small.dcm")
        resp = run({"op": "to_image", "backend": "rust_render", "input": str(src), "output": str(tmp_path / "e.png"),
                    "options": {"frame": "all"}})  # fmt: skip
        assert resp.ok, resp.error
        assert [Path(p).name for p in resp.outputs] == [f"e_{k:04d}.png" for k in range(10)]
        assert sorted(p.name for p in tmp_path.iterdir()) == [f"e_{k:04d}.png" for k in range(10)]  # no leftovers
        resp = run({"op": "to_image", "backend": "rust_render", "input": str(src), "output": str(tmp_path / "w.png"),
                    "options": {"voi": "lut"}})  # fmt: skip
        assert not resp.ok
        assert resp.error is not None and resp.error.code == "invalid_request"
    finally:
        registry.close_all()


@live
def test_run_batch_sends_a_group_through_one_process(registered: None, tmp_path: Path, ct_small: Path) -> None:
    from dcmharness.interface.batch import run_batch
    from dcmharness.interface.samples import find

    emri = find("emri_small.dcm")
    requests = [
        {"op": "to_image", "backend": "rust_render", "input": str(ct_small), "output": str(tmp_path / "a.png")},
        {"op": "to_image", "backend": "rust_render", "input": str(ct_small), "output": str(tmp_path / "b.png"),
         "options": {"voi": "lut"}},
        {"op": "to_image", "backend": "rust_render", "input": str(emri), "output": str(tmp_path / "e.tiff"),
         "options": {"frame": "all", "bit_depth": 16}},
        {"op": "to_image", "backend": "python_ref", "input": str(ct_small), "output": str(tmp_path / "r.png")},
    ]  # fmt: skip
    try:
        responses = run_batch(requests)
    finally:
        registry.close_all()
    assert [r.ok for r in responses] == [True, False, True, True]
    assert responses[0].command is not None and responses[0].command[1] == "--batch"
    assert responses[1].error is not None and responses[1].error.code == "invalid_request"
    assert len(responses[2].outputs) == 10
    assert responses[2].result is not None and responses[2].result["mode"] == "I;16"
    ref = np.asarray(Image.open(responses[3].outputs[0])).astype(np.int64)
    mine = np.asarray(Image.open(responses[0].outputs[0])).astype(np.int64)
    assert int(np.abs(ref - mine).max()) <= 1
    leftovers = [p.name for p in tmp_path.iterdir() if ".tmp" in p.name or ".frames" in p.name]
    assert not leftovers
