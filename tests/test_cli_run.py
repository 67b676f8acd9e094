"""`dcmharness run`: request shapes, streaming, exit statuses, and each bad input's error code (nothing written)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dcmharness.interface.samples import find
from tests.conftest import responses, run_cli


def req(input_: Path | str, output: str = "out.png", **options: object) -> dict[str, object]:
    return {"op": "to_image", "input": str(input_), "output": output, "options": options}


@pytest.fixture()
def not_dicom(tmp_path: Path) -> Path:
    p = tmp_path / "notes.txt"
    p.write_text("this is not a DICOM file\n" * 20)
    return p


def bad_cases(ct: Path, not_dicom: Path) -> list[tuple[str, bytes, str, str | None]]:
    """(name, stdin, expected code, expected field)."""
    return [
        ("broken_json", b'{"op": "to_image", "input": ', "invalid_json", None),
        (
            "validation",
            json.dumps({"op": "to_image", "input": str(ct), "options": {"bit_depth": 7}}).encode(),
            "invalid_request",
            "options.bit_depth",
        ),
        ("unknown_option", json.dumps(req(ct, frames=2)).encode(), "invalid_request", "options.frames"),
        ("missing_file", json.dumps(req("/nonexistent/x.dcm")).encode(), "input_not_found", "input"),
        ("not_dicom", json.dumps(req(not_dicom)).encode(), "not_dicom", "input"),
        ("no_pixel_data", json.dumps(req(find("rtplan.dcm"))).encode(), "no_pixel_data", "input"),
        ("frame_out_of_range", json.dumps(req(ct, frame=1)).encode(), "frame_out_of_range", "options.frame"),
        (
            "output_dir_missing",
            json.dumps(req(ct, output="no/such/dir/x.png")).encode(),
            "output_dir_missing",
            "output",
        ),
        ("unknown_backend", json.dumps({**req(ct), "backend": "gimp"}).encode(), "invalid_request", "backend"),
    ]


@pytest.mark.parametrize("index", range(9))
def test_bad_input_gives_its_code_and_writes_nothing(
    tmp_path: Path, ct_small: Path, not_dicom: Path, index: int
) -> None:
    name, stdin, code, field = bad_cases(ct_small, not_dicom)[index]
    work = tmp_path / "work"
    work.mkdir()
    status, out, err = run_cli("run", stdin=stdin, cwd=work)
    (resp,) = responses(out)
    assert resp["ok"] is False, name
    assert resp["error"]["code"] == code, (name, resp["error"])
    assert resp["error"]["field"] == field, (name, resp["error"])
    assert "Traceback" not in err and "Traceback" not in out
    assert status == (2 if code == "invalid_json" else 1), name
    assert list(work.iterdir()) == [], name


def test_existing_output_is_not_overwritten_unless_asked(tmp_path: Path, ct_small: Path) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"precious")
    status, out, _ = run_cli("run", stdin=json.dumps(req(ct_small, str(target))))
    (resp,) = responses(out)
    assert status == 1 and resp["error"]["code"] == "output_exists" and resp["error"]["field"] == "output"
    assert target.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]  # no temp file left
    status, out, _ = run_cli("run", stdin=json.dumps({**req(ct_small, str(target)), "overwrite": True}))
    assert status == 0 and target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_json_lines_stream_goes_on_after_failed_lines(tmp_path: Path, ct_small: Path) -> None:
    lines = [
        json.dumps({**req(ct_small, "a.png"), "id": "a"}),
        "{this is not json",
        json.dumps({**req("/missing.dcm", "b.png"), "id": "b"}),
        b"\xff\xfe not utf-8".decode("latin-1"),
        json.dumps({**req(ct_small, "c.png", window_preset="bone"), "id": "c"}),
    ]
    stdin = "\n".join(lines).encode("latin-1") + b"\n"
    status, out, _ = run_cli("run", stdin=stdin, cwd=tmp_path)
    rs = responses(out)
    assert [r["ok"] for r in rs] == [True, False, False, False, True]
    assert [r["error"]["code"] if r["error"] else None for r in rs] == [
        None,
        "invalid_json",
        "input_not_found",
        "invalid_json",
        None,
    ]
    assert rs[0]["id"] == "a" and rs[2]["id"] == "b" and rs[4]["id"] == "c"
    assert status == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "c.png"]


def test_array_of_requests_answers_an_array(tmp_path: Path, ct_small: Path, mr_small: Path) -> None:
    stdin = json.dumps([req(ct_small, "ct.png"), req(mr_small, "mr.tiff", bit_depth=16)])
    status, out, _ = run_cli("run", "--pretty", stdin=stdin, cwd=tmp_path)
    rs = json.loads(out)
    assert status == 0 and [r["ok"] for r in rs] == [True, True]
    assert rs[1]["result"]["format"] == "tiff" and rs[1]["result"]["mode"] == "I;16"


def test_pretty_single_object_over_several_lines(tmp_path: Path, ct_small: Path) -> None:
    stdin = json.dumps(req(ct_small, "x.jpg", quality=70), indent=2)
    status, out, _ = run_cli("run", stdin=stdin, cwd=tmp_path)
    (resp,) = responses(out)
    assert status == 0 and resp["result"]["format"] == "jpeg"
    assert (tmp_path / "x.jpg").read_bytes()[:2] == b"\xff\xd8"


def test_request_file_and_flags(tmp_path: Path, ct_small: Path) -> None:
    f = tmp_path / "reqs.jsonl"
    f.write_text(json.dumps(req(ct_small, str(tmp_path / "f.png"))) + "\n")
    status, out, _ = run_cli("run", "--request", str(f))
    assert status == 0 and responses(out)[0]["ok"]
    status, out, _ = run_cli(
        "run",
        "--op",
        "to_image",
        "--input",
        str(ct_small),
        "--output",
        str(tmp_path / "g.pnm"),
        "--options",
        '{"voi": "none", "bit_depth": 16}',
        "--id",
        "flags",
    )
    (resp,) = responses(out)
    assert status == 0 and resp["id"] == "flags" and resp["result"]["voi"]["source"] == "none"
    assert (tmp_path / "g.pnm").read_bytes().startswith(b"P5\n128 128\n65535\n")


def test_default_output_goes_to_cwd_with_the_input_stem(tmp_path: Path, ct_small: Path) -> None:
    status, out, _ = run_cli("run", stdin=json.dumps({"op": "to_image", "input": str(ct_small)}), cwd=tmp_path)
    (resp,) = responses(out)
    assert status == 0 and resp["outputs"] == [str(tmp_path / "CT_small.png")]


def test_all_frames_naming(tmp_path: Path) -> None:
    status, out, _ = run_cli("run", stdin=json.dumps(req(find("emri_small.dcm"), "mr.png", frame="all")), cwd=tmp_path)
    (resp,) = responses(out)
    assert status == 0
    assert [Path(p).name for p in resp["outputs"]] == [f"mr_{i:04d}.png" for i in range(10)]
    assert resp["result"]["frames"] == list(range(10))


@pytest.mark.parametrize("stdin", [b"", b"   \n\n"])
def test_empty_input_is_unusable(stdin: bytes) -> None:
    status, out, _ = run_cli("run", stdin=stdin)
    assert status == 2 and responses(out)[0]["error"]["code"] == "invalid_json"


def test_version_and_help() -> None:
    status, out, _ = run_cli("--version")
    assert status == 0 and out.startswith("dcmharness ")
    for cmd in ("run", "backends", "schema"):
        status, out, _ = run_cli(cmd, "--help")
        assert status == 0 and "usage:" in out


def test_backends_lists_python_ref() -> None:
    status, out, _ = run_cli("backends", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert status == 0 and rows["python_ref"]["available"] is True and "to_image" in rows["python_ref"]["ops"]
