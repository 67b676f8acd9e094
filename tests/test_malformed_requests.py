"""Malformed requests, table-driven: each gets a structured response with the expected error code and field.

Two tables: requests as decoded JSON values (run through the dispatcher ``dcmharness.interface.api.run``) and raw
byte streams (run through ``dcmharness run``'s stream reader: empty, non-UTF-8, broken JSON Lines ...).
No case may produce a traceback, write a file, or leave a temporary file behind.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dcmharness.interface.api import RunContext, run
from dcmharness.interface.cli.run import EXIT_FAILED, EXIT_OK, EXIT_UNUSABLE, _run_stream
from dcmharness.interface.samples import find

CT = str(find("CT_small.dcm"))  # 1 frame, no stored window, no VOI LUT
RTPLAN = str(find("rtplan.dcm"))  # DICOM without Pixel Data


def _base(tmp: Path, **extra: Any) -> dict[str, Any]:
    return {"op": "to_image", "input": CT, "output": str(tmp / "out.png"), **extra}


def _opts(tmp: Path, **options: Any) -> dict[str, Any]:
    return _base(tmp, options=options)


# (case id, builder(tmp) -> request value, expected code, expected field)
Case = tuple[str, Any, str, str | None]

CASES: list[Case] = [
    # not a request object at all
    ("array-not-object", lambda t: [], "invalid_request", None),
    ("string-not-object", lambda t: "to_image", "invalid_request", None),
    ("number-not-object", lambda t: 42, "invalid_request", None),
    ("null-not-object", lambda t: None, "invalid_request", None),
    # op
    ("empty-object", lambda t: {}, "invalid_request", "op"),
    ("missing-op", lambda t: {"input": CT}, "invalid_request", "op"),
    ("unknown-op", lambda t: _base(t, op="to_jpeg2000"), "invalid_request", "op"),
    ("op-wrong-type", lambda t: _base(t, op=1), "invalid_request", "op"),
    # top-level fields
    ("missing-input", lambda t: {"op": "to_image"}, "invalid_request", "input"),
    ("input-wrong-type", lambda t: _base(t, input=123), "invalid_request", "input"),
    ("input-empty", lambda t: _base(t, input=""), "invalid_request", "input"),
    ("input-huge", lambda t: _base(t, input="a" * 5000), "invalid_request", "input"),
    ("input-nul", lambda t: _base(t, input="CT\x00small.dcm"), "invalid_request", "input"),
    ("input-lone-surrogate", lambda t: _base(t, input="ct\ud800.dcm"), "invalid_request", "input"),
    ("output-empty", lambda t: _base(t, output=""), "invalid_request", "output"),
    ("output-huge", lambda t: _base(t, output="/tmp/" + "b" * 5000 + ".png"), "invalid_request", "output"),
    ("output-nul", lambda t: _base(t, output=str(t / "o\x00.png")), "invalid_request", "output"),
    ("output-wrong-type", lambda t: _base(t, output=["a.png"]), "invalid_request", "output"),
    ("unknown-backend", lambda t: _base(t, backend="imagemagick"), "invalid_request", "backend"),
    ("backend-empty", lambda t: _base(t, backend=""), "invalid_request", "backend"),
    ("unknown-top-field", lambda t: _base(t, colour="red"), "invalid_request", "colour"),
    ("overwrite-string", lambda t: _base(t, overwrite="yes"), "invalid_request", "overwrite"),
    ("timeout-zero", lambda t: _base(t, timeout=0), "invalid_request", "timeout"),
    ("timeout-negative", lambda t: _base(t, timeout=-1), "invalid_request", "timeout"),
    ("timeout-too-long", lambda t: _base(t, timeout=3601), "invalid_request", "timeout"),
    ("timeout-string", lambda t: _base(t, timeout="5"), "invalid_request", "timeout"),
    ("timeout-nan", lambda t: _base(t, timeout=float("nan")), "invalid_request", "timeout"),
    ("id-list", lambda t: _base(t, id=[1]), "invalid_request", "id"),
    ("id-float", lambda t: _base(t, id=1.5), "invalid_request", "id"),
    ("id-bool", lambda t: _base(t, id=True), "invalid_request", "id"),
    # options: types and ranges
    ("options-not-object", lambda t: _base(t, options=[]), "invalid_request", "options"),
    ("unknown-option", lambda t: _opts(t, gamma=2.2), "invalid_request", "options.gamma"),
    ("frame-string", lambda t: _opts(t, frame="1"), "invalid_request", "options.frame"),
    ("frame-negative", lambda t: _opts(t, frame=-1), "invalid_request", "options.frame"),
    ("frame-bool", lambda t: _opts(t, frame=True), "invalid_request", "options.frame"),
    ("frame-float", lambda t: _opts(t, frame=1.0), "invalid_request", "options.frame"),
    ("format-unknown", lambda t: _opts(t, format="gif"), "invalid_request", "options.format"),
    ("bit-depth-12", lambda t: _opts(t, bit_depth=12), "invalid_request", "options.bit_depth"),
    ("quality-zero", lambda t: _opts(t, quality=0, format="jpeg"), "invalid_request", "options.quality"),
    ("quality-101", lambda t: _opts(t, quality=101), "invalid_request", "options.quality"),
    ("png-compression-10", lambda t: _opts(t, png_compression=10), "invalid_request", "options.png_compression"),
    (
        "window-width-zero",
        lambda t: _opts(t, window_center=40, window_width=0),
        "invalid_request",
        "options.window_width",
    ),
    (
        "window-width-negative",
        lambda t: _opts(t, window_center=40, window_width=-400),
        "invalid_request",
        "options.window_width",
    ),
    (
        "window-width-below-1-linear",
        lambda t: _opts(t, window_center=40, window_width=0.5),
        "invalid_request",
        "options.window_width",
    ),
    (
        "window-center-nan",
        lambda t: _opts(t, window_center=float("nan"), window_width=400),
        "invalid_request",
        "options.window_center",
    ),
    (
        "window-center-inf",
        lambda t: _opts(t, window_center=float("inf"), window_width=400),
        "invalid_request",
        "options.window_center",
    ),
    (
        "window-center-string",
        lambda t: _opts(t, window_center="40", window_width=400),
        "invalid_request",
        "options.window_center",
    ),
    ("window-preset-unknown", lambda t: _opts(t, window_preset="abdomen"), "invalid_request", "options.window_preset"),
    ("voi-unknown", lambda t: _opts(t, voi="max"), "invalid_request", "options.voi"),
    ("voi-function-unknown", lambda t: _opts(t, voi_function="gamma"), "invalid_request", "options.voi_function"),
    ("voi-index-negative", lambda t: _opts(t, voi="window", voi_index=-1), "invalid_request", "options.voi_index"),
    ("presentation-unknown", lambda t: _opts(t, presentation="negative"), "invalid_request", "options.presentation"),
    ("modality-lut-string", lambda t: _opts(t, modality_lut="no"), "invalid_request", "options.modality_lut"),
    ("overlays-string", lambda t: _opts(t, overlays="yes"), "invalid_request", "options.overlays"),
    ("overlay-plane-16", lambda t: _opts(t, overlays=[16]), "invalid_request", "options.overlays"),
    ("overlay-plane-twice", lambda t: _opts(t, overlays=[1, 1]), "invalid_request", "options.overlays"),
    ("overlay-value-name", lambda t: _opts(t, overlay_value="red"), "invalid_request", "options.overlay_value"),
    ("overlay-value-300-at-8-bit", lambda t: _opts(t, overlay_value=300), "invalid_request", "options.overlay_value"),
    ("overlay-value-bool", lambda t: _opts(t, overlay_value=True), "invalid_request", "options.overlay_value"),
    # conflicting options
    ("center-without-width", lambda t: _opts(t, window_center=40), "invalid_request", "options.window_width"),
    (
        "preset-and-explicit",
        lambda t: _opts(t, window_preset="lung", window_center=40, window_width=400),
        "invalid_request",
        "options.window_preset",
    ),
    (
        "explicit-window-and-minmax",
        lambda t: _opts(t, window_center=40, window_width=400, voi="minmax"),
        "invalid_request",
        "options.voi",
    ),
    ("voi-index-without-voi", lambda t: _opts(t, voi_index=0), "invalid_request", "options.voi_index"),
    (
        "explicit-window-and-voi-index",
        lambda t: _opts(t, window_center=40, window_width=400, voi="window", voi_index=0),
        "invalid_request",
        "options.voi_index",
    ),
    ("jpeg-16-bit", lambda t: _opts(t, format="jpeg", bit_depth=16), "invalid_request", "options.bit_depth"),
    (
        "jpeg-ext-16-bit",
        lambda t: _base(t, output=str(t / "o.jpg"), options={"bit_depth": 16}),
        "invalid_request",
        "options.bit_depth",
    ),
    ("quality-on-png-output", lambda t: _opts(t, quality=90), "invalid_request", "options.quality"),
    (
        "png-compression-on-jpeg",
        lambda t: _opts(t, format="jpeg", png_compression=6),
        "invalid_request",
        "options.png_compression",
    ),
    # the input does not have what the request asks for
    ("frame-out-of-range", lambda t: _opts(t, frame=1), "frame_out_of_range", "options.frame"),
    (
        "stored-window-out-of-range",
        lambda t: _opts(t, voi="window", voi_index=7),
        "invalid_request",
        "options.voi_index",
    ),
    ("voi-lut-absent", lambda t: _opts(t, voi="lut"), "invalid_request", "options.voi"),
    ("input-missing", lambda t: _base(t, input=str(t / "absent.dcm")), "input_not_found", "input"),
    ("input-is-folder", lambda t: _base(t, input=str(t)), "input_not_found", "input"),
    (
        "input-not-dicom",
        lambda t: _base(t, input=_write(t / "notes.txt", b"hello, not DICOM\n" * 40)),
        "not_dicom",
        "input",
    ),
    ("input-empty-file", lambda t: _base(t, input=_write(t / "empty.dcm", b"")), "not_dicom", "input"),
    ("input-no-pixel-data", lambda t: _base(t, input=RTPLAN), "no_pixel_data", "input"),
    ("output-folder-missing", lambda t: _base(t, output=str(t / "nowhere" / "o.png")), "output_dir_missing", "output"),
    ("output-is-folder", lambda t: _base(t, output=str(t)), "output_exists", "output"),
    ("output-exists", lambda t: _base(t, output=_write(t / "taken.png", b"keep me")), "output_exists", "output"),
]


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 30
    assert len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize(("build", "code", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_request_gets_its_error_code(tmp_path: Path, build: Any, code: str, field: str | None) -> None:
    before = sorted(p.name for p in tmp_path.iterdir())
    request = build(tmp_path)
    created = sorted(p.name for p in tmp_path.iterdir())  # files the case itself set up
    resp = run(request, RunContext(cwd=tmp_path))
    assert resp.ok is False
    assert resp.error is not None
    assert (resp.error.code, resp.error.field) == (code, field), resp.error.message
    assert resp.error.message and "Traceback" not in resp.error.message
    assert resp.outputs == []
    after = sorted(p.name for p in tmp_path.iterdir())
    assert after == created, "a refused request wrote or left a file"
    assert set(before) <= set(after)
    json.loads(resp.model_dump_json())  # always serialisable


def test_a_valid_id_is_echoed_even_when_the_request_is_refused(tmp_path: Path) -> None:
    resp = run(_opts(tmp_path, frame=-1) | {"id": "req-7"})
    assert (resp.id, resp.error and resp.error.code) == ("req-7", "invalid_request")
    resp = run(_base(tmp_path, input=str(tmp_path / "absent.dcm"), id=12))
    assert (resp.id, resp.error and resp.error.code) == (12, "input_not_found")


def test_the_output_that_exists_is_untouched(tmp_path: Path) -> None:
    taken = tmp_path / "taken.png"
    taken.write_bytes(b"keep me")
    run(_base(tmp_path, output=str(taken)))
    assert taken.read_bytes() == b"keep me"


# -- raw streams through `dcmharness run` ---------------------------------------------------------

GOOD = json.dumps({"id": "good", "op": "to_image", "input": "/nonexistent/a.dcm"}).encode()

# (case id, stream bytes, expected exit status, expected codes of the responses in order)
STREAMS: list[tuple[str, bytes, int, list[str | None]]] = [
    ("empty-stream", b"", EXIT_UNUSABLE, ["invalid_json"]),
    ("blank-lines-only", b"  \n\n\t\n", EXIT_UNUSABLE, ["invalid_json"]),
    ("not-utf8", b"\xff\xfe{\x00", EXIT_UNUSABLE, ["invalid_json"]),
    ("latin1-in-string", b'{"op": "to_image", "input": "caf\xe9.dcm"}', EXIT_UNUSABLE, ["invalid_json"]),
    ("broken-json", b'{"op": "to_image", "input": ', EXIT_UNUSABLE, ["invalid_json"]),
    ("empty-array", b"[]", EXIT_UNUSABLE, ["invalid_json"]),
    ("array-of-non-objects", b'[1, "x", null]', EXIT_FAILED, ["invalid_request"] * 3),
    ("nested-too-deep", b"[" * 100_000, EXIT_UNUSABLE, ["invalid_json"]),
    (
        "nan-window",
        b'{"op": "to_image", "input": "a.dcm", "options": {"window_center": NaN, "window_width": 1}}',
        EXIT_FAILED,
        ["invalid_request"],
    ),
    (
        "jsonl-broken-between-good",
        GOOD + b"\n{broken\n" + GOOD + b"\n\xff\xfe\n\n" + GOOD + b"\n[1, 2\n" + GOOD + b"\n",
        EXIT_FAILED,
        [
            "input_not_found",
            "invalid_json",
            "input_not_found",
            "invalid_json",
            "input_not_found",
            "invalid_json",
            "input_not_found",
        ],
    ),
    (
        "jsonl-first-line-broken",
        b"{oops\n" + GOOD + b"\n" + GOOD + b"\n",
        EXIT_FAILED,
        ["invalid_json", "input_not_found", "input_not_found"],
    ),
    (
        "jsonl-non-object-line",
        GOOD + b"\n42\n" + GOOD + b"\n",
        EXIT_FAILED,
        ["input_not_found", "invalid_request", "input_not_found"],
    ),
]


@pytest.mark.parametrize(("raw", "status", "codes"), [s[1:] for s in STREAMS], ids=[s[0] for s in STREAMS])
def test_stream_gets_one_response_per_request(raw: bytes, status: int, codes: list[str | None]) -> None:
    out = io.StringIO()
    rc = _run_stream(io.BytesIO(raw), RunContext(), out, False)
    text = out.getvalue()
    responses = json.loads(text) if text.startswith("[") else [json.loads(line) for line in text.splitlines()]
    assert [r["error"]["code"] if r["error"] else None for r in responses] == codes
    assert rc == status
    assert all(r["ok"] is False for r in responses)


def test_jsonl_good_requests_still_succeed_around_broken_lines(tmp_path: Path) -> None:
    """Through the real CLI: the broken lines are answered in place, the good ones render."""
    lines = [
        json.dumps({"id": "a", "op": "to_image", "input": CT, "output": str(tmp_path / "a.png")}).encode(),
        b'{"id": "b", "op": ',
        b"\xc3\x28 not utf-8",
        json.dumps({"id": "c", "op": "to_image", "input": CT, "output": str(tmp_path / "c.png")}).encode(),
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "dcmharness", "run"],
        input=b"\n".join(lines) + b"\n",
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert b"Traceback" not in proc.stderr
    responses = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(r["id"], r["ok"], r["error"] and r["error"]["code"]) for r in responses] == [
        ("a", True, None),
        (None, False, "invalid_json"),
        (None, False, "invalid_json"),
        ("c", True, None),
    ]
    assert proc.returncode == EXIT_FAILED
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "c.png"]


def test_all_good_stream_exits_zero(tmp_path: Path) -> None:
    raw = json.dumps({"op": "to_image", "input": CT, "output": str(tmp_path / "a.png")}).encode()
    out = io.StringIO()
    assert _run_stream(io.BytesIO(raw), RunContext(), out, False) == EXIT_OK
