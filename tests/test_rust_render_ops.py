"""rust_render's ``stats`` and ``histogram``: golden command lines and refusals (no binary needed), then live
tests that run both ops on real sample files through python_ref and rust_render and require identical results
(same numbers, same keys in the same order), skipped with the reason where ``dicom-render`` is not built."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset

from dcmharness.adapters.base import ToolInfo, check_capabilities
from dcmharness.adapters.runner import ToolError, ToolRun
from dcmharness.adapters.rust_render import (
    RustRenderAdapter,
    build_ops_argv,
    capability_table,
    check_ops_input,
    parse_ops_result,
)
from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.ops_models import HistogramRequest, StatsRequest
from dcmharness.interface import registry
from dcmharness.interface.api import run

TOOL = ToolInfo("/opt/bin/dicom-render", "0.1.0")
IN = "/data/ct.dcm"
EXPLICIT_LE = "1.2.840.10008.1.2.1"


def info(transfer_syntax: str = EXPLICIT_LE, path: str = IN, float_pixels: bool = False) -> InputInfo:
    ds = Dataset()
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.SamplesPerPixel = 1
    if float_pixels:
        ds.FloatPixelData = b"\0" * 64
    else:
        ds.PixelData = b"\0" * 32
    return InputInfo(
        path=Path(path), dataset=ds, transfer_syntax=transfer_syntax, has_pixel_data=True, rows=4, columns=4,
        bits_allocated=16, bits_stored=12, photometric="MONOCHROME2",
    )  # fmt: skip


def stats(options: dict[str, Any]) -> StatsRequest:
    return StatsRequest.model_validate({"op": "stats", "input": IN, "options": options})


def histogram(options: dict[str, Any]) -> HistogramRequest:
    return HistogramRequest.model_validate({"op": "histogram", "input": IN, "options": options})


# -- golden command lines -------------------------------------------------------------------------------------
def test_stats_default_argv() -> None:
    assert build_ops_argv(stats({}), info(), TOOL) == [
        "/opt/bin/dicom-render", "--op", "stats", "--frame", "all", "--values", "modality",
        "--percentiles", "1.0,5.0,25.0,50.0,75.0,95.0,99.0", "--", IN,
    ]  # fmt: skip


def test_stats_every_option() -> None:
    req = stats({"frame": 2, "values": "stored", "percentiles": [2.5, 50, 99.9, 0.1 + 0.2]})
    assert build_ops_argv(req, info(), TOOL) == [
        "/opt/bin/dicom-render", "--op", "stats", "--frame", "2", "--values", "stored",
        "--percentiles", "2.5,50.0,99.9,0.30000000000000004", "--", IN,
    ]  # fmt: skip


def test_stats_no_percentiles_is_an_empty_list() -> None:
    args = build_ops_argv(stats({"percentiles": []}), info(), TOOL)
    assert args[args.index("--percentiles") + 1] == ""


def test_histogram_default_argv() -> None:
    assert build_ops_argv(histogram({}), info(), TOOL) == [
        "/opt/bin/dicom-render", "--op", "histogram", "--frame", "all", "--values", "modality", "--bins", "256",
        "--", IN,
    ]  # fmt: skip


def test_histogram_range_round_trips_and_may_start_with_a_minus() -> None:
    req = histogram({"frame": 0, "bins": 7, "range": [-1000, 1e-300]})
    assert build_ops_argv(req, info(), TOOL) == [
        "/opt/bin/dicom-render", "--op", "histogram", "--frame", "0", "--values", "modality", "--bins", "7",
        "--range", "-1000.0,1e-300", "--", IN,
    ]  # fmt: skip


def test_input_with_a_leading_dash_follows_double_dash() -> None:
    args = build_ops_argv(stats({}), info(path="/data/-x.dcm"), TOOL)
    assert args[-2:] == ["--", "/data/-x.dcm"]


def test_adapter_build_argv_dispatches_by_op() -> None:
    adapter = RustRenderAdapter()
    assert adapter.build_argv(histogram({}), info(), OutputPlan(targets=[]), TOOL)[1:3] == ["--op", "histogram"]


# -- capabilities and refusals --------------------------------------------------------------------------------
def test_ops_are_declared_and_every_option_is_honoured() -> None:
    assert {"to_image", "stats", "histogram"} <= set(RustRenderAdapter.ops)
    table = capability_table(None)
    check_capabilities(stats({"values": "stored", "percentiles": [3]}).options, table["stats"], "rust_render")
    check_capabilities(
        histogram({"values": "stored", "bins": 3, "range": [0, 1]}).options, table["histogram"], "rust_render"
    )


def test_unknown_transfer_syntax_is_refused() -> None:
    with pytest.raises(HarnessError) as exc:
        check_ops_input(info(transfer_syntax="1.2.840.10008.1.2.4.100"))  # MPEG2
    assert exc.value.code == ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX


def test_float_pixel_data_is_refused() -> None:
    with pytest.raises(HarnessError) as exc:
        RustRenderAdapter().check_input(stats({}), info(float_pixels=True))
    assert exc.value.code == ErrorCode.UNSUPPORTED_OPTION
    assert exc.value.field == "input"
    check_ops_input(info())  # ordinary pixel data passes


def test_result_is_parsed_in_order() -> None:
    text = '{"values":"stored","modality_lut":"disabled","frames":[{"frame":0,"percentiles":{"50":1.0,"1":0.5}}]}'
    result = parse_ops_result(text, ["x"], None)
    assert list(result["frames"][0]["percentiles"]) == ["50", "1"]


@pytest.mark.parametrize("text", ["", "not json", "[]", '{"frames": 3}', '{"frames": [], "values": "stored"}'])
def test_malformed_result_is_backend_failed(text: str) -> None:
    with pytest.raises(ToolError) as exc:
        parse_ops_result(text, ["x"], None)
    assert exc.value.code == ErrorCode.BACKEND_FAILED


def test_tool_error_keeps_its_contract_code() -> None:
    run_ = ToolRun(
        argv=["x"], returncode=1, stdout=b"", stderr=b"error: frame_out_of_range: frame 9 is out of range\n",
        seconds=0.1,
    )  # fmt: skip
    with pytest.raises(ToolError) as exc:
        RustRenderAdapter().interpret(run_, OutputPlan(targets=[]))
    assert exc.value.code == ErrorCode.FRAME_OUT_OF_RANGE


# -- live -----------------------------------------------------------------------------------------------------
def _missing() -> str | None:
    avail = RustRenderAdapter().availability()
    return None if avail.available else f"dicom-render not available: {avail.reason}"


live = pytest.mark.skipif(_missing() is not None, reason=str(_missing()))


@pytest.fixture()
def registered(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setitem(registry.BACKENDS, "rust_render", "dcmharness.adapters.rust_render:RustRenderAdapter")
    yield
    registry.close_all()


#: Signed with rescale, signed without, multi-frame unsigned 12-bit, Modality LUT Sequence, RGB 8 and 16-bit,
#: RLE, JPEG 2000 (signed), fractional slope/intercept (J2K), enhanced multi-frame (functional groups),
#: explicit big endian.
FILES = (
    "CT_small.dcm",
    "MR_small.dcm",
    "emri_small.dcm",
    "mlut_18.dcm",
    "US1_UNCR.dcm",
    "SC_rgb_16bit.dcm",
    "MR_small_RLE.dcm",
    "JPEG2000.dcm",
    "MR2_J2KR.dcm",
    "liver.dcm",
    "MR_small_bigendian.dcm",
)
CASES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("stats", {}),
    ("stats", {"values": "stored", "percentiles": [0, 2.5, 12.34375, 33.3, 99.9, 100]}),
    ("stats", {"frame": 0, "percentiles": [50, 0.001, 50]}),
    ("histogram", {}),
    ("histogram", {"values": "stored", "bins": 7, "range": [-100.5, 300.25]}),
    ("histogram", {"frame": 0, "bins": 65536}),
)


def _sample(name: str) -> Path:
    from dcmharness.interface.samples import find

    try:
        return find(name)
    except KeyError:
        pytest.skip(f"sample file {name} is not installed")


@live
@pytest.mark.parametrize("name", FILES)
def test_identical_to_python_ref(registered: None, name: str) -> None:
    src = str(_sample(name))
    for op, options in CASES:
        ref = run({"op": op, "input": src, "options": options})
        mine = run({"op": op, "backend": "rust_render", "input": src, "options": options})
        assert ref.ok, ref.error
        assert mine.ok, (op, options, mine.error, mine.stderr)
        assert mine.outputs == []
        assert mine.command is not None and mine.command[1:3] == ["--op", op]
        # the same numbers, keys and key order: the JSON texts are equal
        assert json.dumps(mine.result) == json.dumps(ref.result), (op, options)


@live
def test_hand_checked_values(registered: None, ct_small: Path) -> None:
    """CT_small (rescale -1024): a few numbers checked against numpy directly."""
    import numpy as np
    import pydicom

    ds = pydicom.dcmread(ct_small)
    hu = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    resp = run({"op": "stats", "backend": "rust_render", "input": str(ct_small), "options": {"percentiles": [50]}})
    assert resp.ok and resp.result is not None, resp.error
    frame = resp.result["frames"][0]
    assert resp.result["modality_lut"] == "rescale"
    assert frame["count"] == hu.size
    assert frame["min"] == hu.min() and frame["max"] == hu.max()
    assert frame["mean"] == hu.mean() and frame["std"] == hu.std()
    assert frame["percentiles"] == {"50": float(np.median(hu))}


@live
def test_tool_checks_frames_and_options_itself(tmp_path: Path, ct_small: Path) -> None:
    tool = RustRenderAdapter().tool()
    assert tool is not None
    proc = subprocess.run([tool.path, "--op", "stats", "--frame", "1", "--", str(ct_small)], capture_output=True)
    assert proc.returncode == 1
    assert proc.stderr.decode().startswith("error: frame_out_of_range:")
    proc = subprocess.run([tool.path, "--op", "histogram", "--bins", "0", str(ct_small)], capture_output=True)
    assert proc.stderr.decode().startswith("error: invalid_request:")
    proc = subprocess.run([tool.path, "--op", "stats", str(ct_small), str(tmp_path / "x.json")], capture_output=True)
    assert proc.returncode == 2  # stats writes nothing: INPUT only
    assert not (tmp_path / "x.json").exists()


@live
def test_batch_mode_answers_ops(ct_small: Path) -> None:
    tool = RustRenderAdapter().tool()
    assert tool is not None
    lines = [
        json.dumps({"id": 1, "op": "stats", "input": str(ct_small), "options": {"percentiles": [50]}}),
        json.dumps({"id": 2, "op": "histogram", "input": str(ct_small), "options": {"bins": 2}}),
        json.dumps({"id": 3, "op": "stats", "input": str(ct_small), "output": "/tmp/x.json"}),
    ]
    proc = subprocess.run([tool.path, "--batch"], input="\n".join(lines).encode(), capture_output=True, timeout=60)
    answers = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert [a["ok"] for a in answers] == [True, True, False]
    ref = run({"op": "stats", "input": str(ct_small), "options": {"percentiles": [50]}})
    assert answers[0]["result"] == ref.result
    assert sum(answers[1]["result"]["frames"][0]["counts"]) == 128 * 128
    assert answers[2]["error"]["field"] == "output"
