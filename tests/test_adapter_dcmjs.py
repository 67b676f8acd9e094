"""dcmjs: the worker's golden requests, the capability table and the per-file refusals (no Node started), and
the JSON Lines worker pool's life cycle on a stand-in worker (a Python script: timeout, death, a flooded
stderr, stop by PID)."""

from __future__ import annotations

import json
import os
import re
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset

from dcmharness.adapters.base import check_capabilities
from dcmharness.adapters.dcmjs.adapter import (
    RENDERABLE,
    DcmjsAdapter,
    answer_error,
    build_worker_request,
    capability_table,
    grayscale_refusal,
    package_version,
)
from dcmharness.adapters.jsonl_workers import WorkerGone, WorkerPool
from dcmharness.backends.outputs import OutputPlan, OutputTarget
from dcmharness.backends.preflight import InputInfo, inspect
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import ToImageRequest
from dcmharness.contract.options import ToImageOptions
from dcmharness.interface.conform import divergence
from dcmharness.interface.samples import find


def request(name: str, output: str = "/o/x.png", **options: Any) -> tuple[ToImageRequest, InputInfo]:
    path = str(find(name))
    req = ToImageRequest.model_validate(
        {"op": "to_image", "backend": "dcmjs", "input": path, "output": output, "options": options}
    )
    return req, inspect(path)


def plan(output: str = "/o/x.png", frames: tuple[int, ...] = (0,)) -> OutputPlan:
    out = Path(output)
    return OutputPlan(targets=[OutputTarget(out, out.with_name(f".{out.stem}.t{f}{out.suffix}"), f) for f in frames])


def refusal(name: str, output: str = "/o/x.png", **options: Any) -> HarnessError:
    req, info = request(name, output, **options)
    with pytest.raises(HarnessError) as caught:
        DcmjsAdapter().check_input(req, info)
    return caught.value


# -- golden requests ---------------------------------------------------------------------------------------
def test_explicit_window_request() -> None:
    req, info = request("CT_small.dcm", window_center=40, window_width=400)
    assert build_worker_request(req, info, plan(), 7) == {
        "id": 7,
        "input": os.path.abspath(find("CT_small.dcm")),
        "outputs": [{"frame": 0, "path": "/o/.x.t0.png"}],
        "format": "png",
        "png_compression": None,
        "window": [40.0, 400.0],
        "voi": "auto",
        "voi_index": None,
        "voi_function": None,
        "overlays": True,
    }


def test_stored_window_function_and_pnm() -> None:
    req, info = request("MR_small.dcm", "/o/m.pgm", voi="window", voi_index=0, voi_function="sigmoid", overlays=False)
    line = build_worker_request(req, info, plan("/o/m.pgm"), 1)
    assert (line["format"], line["window"], line["voi"], line["voi_index"], line["voi_function"], line["overlays"]) == (
        "pnm", None, "window", 0, "sigmoid", False
    )  # fmt: skip


def test_every_frame_gets_its_own_temp_file() -> None:
    req, info = request("emri_small.dcm", "/o/e.png", frame="all")
    line = build_worker_request(req, info, plan("/o/e.png", (0, 1, 2)), 3)
    assert line["outputs"] == [{"frame": f, "path": f"/o/.e.t{f}.png"} for f in (0, 1, 2)]


def test_the_request_is_one_json_line() -> None:
    req, info = request("CT_small.dcm", png_compression=9)
    text = json.dumps(build_worker_request(req, info, plan(), 1))
    assert "\n" not in text and json.loads(text)["png_compression"] == 9


# -- what it cannot be asked -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"bit_depth": 16}, "options.bit_depth"),
        ({"format": "jpeg"}, "options.format"),
        ({"format": "tiff"}, "options.format"),
        ({"voi": "lut"}, "options.voi"),
        ({"voi": "minmax"}, "options.voi"),
        ({"voi": "none"}, "options.voi"),
        ({"modality_lut": False}, "options.modality_lut"),
        ({"presentation": "inverse"}, "options.presentation"),
        ({"presentation": "identity"}, "options.presentation"),
        ({"overlays": [0]}, "options.overlays"),
        ({"overlay_value": 128}, "options.overlay_value"),
    ],
)
def test_capability_refusals(options: dict[str, Any], field: str) -> None:
    with pytest.raises(HarnessError) as caught:
        check_capabilities(ToImageOptions.model_validate(options), capability_table()["to_image"], "dcmjs")
    assert (caught.value.code, caught.value.field) == (ErrorCode.UNSUPPORTED_OPTION, field)


@pytest.mark.parametrize(
    "options",
    [{}, {"window_center": 40, "window_width": 400, "voi_function": "linear_exact"}, {"voi": "window", "voi_index": 0},
     {"overlays": False}, {"png_compression": 1}, {"format": "pnm"}, {"frame": "all"}],
)  # fmt: skip
def test_what_it_can_be_asked(options: dict[str, Any]) -> None:
    check_capabilities(ToImageOptions.model_validate(options), capability_table()["to_image"], "dcmjs")


def test_jpeg_by_extension_is_refused() -> None:
    err = refusal("CT_small.dcm", "/o/x.jpg")
    assert (err.code, err.field) == (ErrorCode.UNSUPPORTED_OPTION, "options.format")


def test_modality_lut_sequence_is_refused() -> None:
    err = refusal("mlut_18.dcm")
    assert (err.code, err.field) == (ErrorCode.UNSUPPORTED_OPTION, "options.modality_lut")


def test_auto_voi_on_a_voi_lut_file_is_refused() -> None:
    err = refusal("vlut_04.dcm")
    assert (err.code, err.field) == (ErrorCode.UNSUPPORTED_OPTION, "options.voi")


def test_functional_group_rescale_is_refused() -> None:
    err = refusal("eCT_Supplemental.dcm")
    assert (err.code, err.field) == (ErrorCode.UNSUPPORTED_OPTION, "options.modality_lut")


def header(**attributes: Any) -> Dataset:
    ds = Dataset()
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return ds


def to_image(**options: Any) -> ToImageRequest:
    return ToImageRequest.model_validate({"op": "to_image", "backend": "dcmjs", "input": "x.dcm", "options": options})


@pytest.mark.parametrize(
    ("attributes", "options", "field"),
    [
        ({"PresentationLUTShape": "INVERSE"}, {}, "options.presentation"),
        ({"WindowCenter": [40, 50], "WindowWidth": [0.5, 400]}, {}, "options.voi"),
        ({"WindowCenter": [40, 50], "WindowWidth": [400, 0.5]}, {"voi": "window", "voi_index": 1}, "options.voi_index"),
        ({"WindowCenter": [40, 50], "WindowWidth": [400]}, {"voi": "window"}, "options.voi"),
    ],
)
def test_header_refusals(attributes: dict[str, Any], options: dict[str, Any], field: str) -> None:
    err = grayscale_refusal(to_image(**options), header(**attributes), "MONOCHROME2")
    assert err is not None and (err.code, err.field) == (ErrorCode.UNSUPPORTED_OPTION, field)


@pytest.mark.parametrize(
    ("attributes", "options", "photometric"),
    [
        ({"PresentationLUTShape": "INVERSE"}, {}, "MONOCHROME1"),  # inverted once either way
        ({"WindowCenter": [40, 50], "WindowWidth": [400, 0.5]}, {}, "MONOCHROME2"),  # window 0 is used
        ({"WindowCenter": [40, 50], "WindowWidth": [0.5, 400]}, {"window_center": 1, "window_width": 2}, "MONOCHROME2"),
        ({}, {}, "MONOCHROME2"),  # min-max: its own
    ],
)
def test_header_acceptances(attributes: dict[str, Any], options: dict[str, Any], photometric: str) -> None:
    assert grayscale_refusal(to_image(**options), header(**attributes), photometric) is None


def test_an_unrenderable_transfer_syntax_is_refused() -> None:
    req, info = request("CT_small.dcm")
    info.transfer_syntax = "1.2.840.10008.1.2.4.100"  # MPEG2: not in RenderableTransferSyntaxes
    with pytest.raises(HarnessError) as caught:
        DcmjsAdapter().check_input(req, info)
    assert (caught.value.code, caught.value.field) == (ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX, "input")
    assert "1.2.840.10008.1.2.4.100" not in RENDERABLE and "1.2.840.10008.1.2.4.201" in RENDERABLE


def test_grayscale_options_on_colour_are_refused() -> None:
    err = refusal("US1_UNCR.dcm", window_center=40, window_width=400)
    assert (err.code, err.field) == (ErrorCode.UNSUPPORTED_OPTION, "options.window_center")


def test_a_ct_with_a_window_is_accepted() -> None:
    req, info = request("CT_small.dcm", window_center=40, window_width=400)
    assert DcmjsAdapter().check_input(req, info) == []


def test_answer_errors_keep_only_codes_the_worker_may_claim() -> None:
    assert answer_error({"error": {"code": "decode_failed", "message": "m"}}, ["n"]).code == ErrorCode.DECODE_FAILED
    assert answer_error({"error": {"code": "timeout", "message": "m"}}, ["n"]).code == ErrorCode.BACKEND_FAILED
    assert answer_error({"error": {"code": "nonsense"}}, ["n"]).code == ErrorCode.BACKEND_FAILED


def test_package_version_reads_package_json(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text('{"name": "dcmjs-imaging", "version": "0.2.5"}')
    assert package_version(tmp_path / "package.json") == "0.2.5"
    assert package_version(tmp_path / "missing.json") is None


def test_lockfile_pins_exact_versions() -> None:
    from dcmharness.adapters.dcmjs.adapter import HERE

    package = json.loads((HERE / "package.json").read_text())
    lock = json.loads((HERE / "package-lock.json").read_text())
    assert package["dependencies"] == {"dcmjs": "0.50.3", "dcmjs-imaging": "0.2.5"}  # dcmjs: from_json
    assert lock["packages"]["node_modules/dcmjs-imaging"]["version"] == "0.2.5"
    assert lock["packages"]["node_modules/dcmjs"]["version"] == "0.50.3"
    assert lock["packages"][""]["dependencies"] == package["dependencies"]
    assert all(p.get("integrity", "").startswith("sha512-") for k, p in lock["packages"].items() if k)


# -- the worker pool, on a stand-in worker -----------------------------------------------------------------
STAND_IN = textwrap.dedent(
    """
    import json, sys, time
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        if req.get("flood"):
            sys.stderr.write("x" * 1024 * 1024 + "\\n")  # far more than a pipe holds
            sys.stderr.flush()
        if req.get("sleep"):
            time.sleep(req["sleep"])
        if req.get("die"):
            sys.exit(3)
        print("not json from a library", flush=True) if req.get("noise") else None
        print(json.dumps({"id": req["id"], "ok": True, "echo": req.get("x")}), flush=True)
    """
)


@pytest.fixture()
def pool() -> Any:
    p = WorkerPool([sys.executable, "-c", STAND_IN], startup=10)
    yield p
    p.close()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False


def test_one_worker_answers_many_requests(pool: WorkerPool) -> None:
    worker = pool.take()
    assert [worker.ask({"id": k, "x": k * 2}, 5)["echo"] for k in range(3)] == [0, 2, 4]
    pool.give_back(worker)
    assert pool.take() is worker and pool.started == 1


def test_a_timeout_kills_the_worker_and_the_next_request_gets_a_new_one(pool: WorkerPool) -> None:
    worker = pool.take()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        worker.ask({"id": 1, "sleep": 30}, 0.5)
    assert time.monotonic() - started < 5
    pool.discard(worker)
    assert not alive(worker.pid)
    fresh = pool.take()
    assert fresh is not worker and fresh.ask({"id": 2, "x": "ok"}, 5)["echo"] == "ok" and pool.started == 2


def test_a_flooded_stderr_never_blocks_the_worker(pool: WorkerPool) -> None:
    worker = pool.take()
    for k in range(4):  # 4 MiB through a 64 KiB pipe
        assert worker.ask({"id": k, "flood": True, "x": k}, 10)["echo"] == k
    assert worker.stderr_tail().endswith("x" * 100)


def test_a_dead_worker_is_reported_and_replaced(pool: WorkerPool) -> None:
    worker = pool.take()
    with pytest.raises(WorkerGone):
        worker.ask({"id": 1, "die": True}, 5)
    pool.discard(worker)
    assert pool.take().ask({"id": 2, "x": 1}, 5)["echo"] == 1


def test_a_line_that_is_not_json_is_an_error(pool: WorkerPool) -> None:
    worker = pool.take()
    with pytest.raises(WorkerGone, match="not JSON"):
        worker.ask({"id": 1, "noise": True}, 5)


def test_close_stops_every_worker_by_pid(pool: WorkerPool) -> None:
    a, b = pool.take(), pool.take()
    pids = pool.pids()
    assert sorted(pids) == sorted([a.pid, b.pid])
    pool.close()
    assert not any(alive(p) for p in pids)


def test_a_worker_that_never_gets_ready_is_killed() -> None:
    slow = WorkerPool([sys.executable, "-c", "import time; time.sleep(60)"], startup=0.5)
    with pytest.raises(TimeoutError):
        slow.take()
    assert slow.pids() == []


# -- the registry's sources are the installed code ---------------------------------------------------------
CITATION = re.compile(r"1:(\d+) \(`([^`]+)`")


def dcmjs_entries() -> list[Any]:
    """The rendering entries (dcmjs-imaging's code); from_json's entries concern dcmjs's DicomDict instead."""
    return [
        e
        for e in divergence.load()
        if "dcmjs" in e.backends and not (e.profiles and all(p.startswith("from_json") for p in e.profiles))
    ]


def test_every_dcmjs_entry_quotes_the_installed_code_at_its_column() -> None:
    from dcmharness.adapters.dcmjs.adapter import HERE

    build = HERE / "node_modules" / "dcmjs-imaging" / "build" / "dcmjs-imaging.min.js"
    if not build.is_file():
        pytest.skip("dcmjs-imaging not installed (make setup)")
    assert package_version() == "0.2.5"
    code = build.read_text(encoding="utf-8")
    assert code.count("\n") <= 1  # one line: line 1, column N
    entries = dcmjs_entries()
    assert len(entries) >= 16
    for entry in entries:
        cited = CITATION.findall(entry.source)
        assert cited, f"{entry.id}: no `column (code)` citation"
        for column, snippet in cited:
            start = int(column) - 1
            assert code[start : start + len(snippet)] == snippet, f"{entry.id}: 1:{column} is not {snippet!r}"
