"""Files are never damaged: inputs are never modified, outputs appear whole or not at all.

- every available backend leaves its inputs byte-identical (hash and mtime before and after);
- an output that is the input (same path, a symlink or a hard link to it) is refused;
- a real ``dcmharness run`` killed while writing (SIGKILL) leaves no partial file under an output's
  name; killed by SIGTERM it also removes its temporary files;
- concurrent requests for one output: without overwrite one wins and the others get ``output_exists``;
  with overwrite they are serialised (the file is exactly one complete render, never a mix).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from dcmharness.interface import registry
from dcmharness.interface.api import run
from dcmharness.interface.samples import find

INPUTS = ("CT_small.dcm", "MR_small_RLE.dcm", "SC_rgb_jpeg_dcmtk.dcm", "emri_small.dcm")
TEMP_MARK = ".dcmharness-"


def available_backends() -> list[str]:
    out = []
    for name in registry.names():
        try:
            if registry.get(name).availability().available:
                out.append(name)
        except Exception:  # a backend being written right now may not import yet
            continue
    return out


def _fingerprint(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), st.st_size, st.st_mtime_ns


@pytest.mark.parametrize("backend", available_backends())
def test_inputs_are_never_modified(backend: str, tmp_path: Path) -> None:
    for name in INPUTS:
        src = find(name)
        before = _fingerprint(src)
        for options in ({}, {"frame": "all"}, {"voi": "minmax", "bit_depth": 16}):
            run(
                {
                    "op": "to_image",
                    "input": str(src),
                    "output": str(tmp_path / f"{backend}_{name}.png"),
                    "backend": backend,
                    "overwrite": True,
                    "options": options,
                    "timeout": 120,
                }
            )
        assert _fingerprint(src) == before, f"{backend} modified {name}"


def _copy(src: Path, dst: Path) -> Path:
    dst.write_bytes(src.read_bytes())
    return dst


@pytest.mark.parametrize("alias", ["same", "symlink", "hardlink", "dotdot"])
def test_an_output_that_is_the_input_is_refused(alias: str, tmp_path: Path) -> None:
    dicom = _copy(find("CT_small.dcm"), tmp_path / "ct.dcm")
    before = _fingerprint(dicom)
    (tmp_path / "sub").mkdir()
    if alias == "same":
        output = dicom
    elif alias == "symlink":
        output = tmp_path / "link.png"
        output.symlink_to(dicom)
    elif alias == "hardlink":
        output = tmp_path / "hard.png"
        os.link(dicom, output)
    else:
        output = tmp_path / "sub" / ".." / "ct.dcm"
    resp = run(
        {
            "op": "to_image",
            "input": str(dicom),
            "output": str(output),
            "overwrite": True,
            "options": {"format": "png"},
        }
    )
    assert (resp.ok, resp.error and resp.error.code, resp.error and resp.error.field) == (
        False,
        "invalid_request",
        "output",
    )
    assert _fingerprint(dicom) == before


# -- killed mid-write -----------------------------------------------------------------------------------


def _big_batch(out: Path, n: int) -> bytes:
    src = str(find("RG1_UNCI.dcm"))  # 1955 x 1841, 16-bit: encoding at level 9 takes a while
    lines = [
        json.dumps(
            {
                "id": i,
                "op": "to_image",
                "input": src,
                "output": str(out / f"rg1_{i}.png"),
                "options": {"png_compression": 9, "bit_depth": 16},
            }
        )
        for i in range(n)
    ]
    return ("\n".join(lines) + "\n").encode()


def _start_run(batch: bytes, tmp: Path) -> subprocess.Popen[bytes]:
    req = tmp / "batch.jsonl"
    req.write_bytes(batch)
    return subprocess.Popen(
        [sys.executable, "-m", "dcmharness", "run", "--request", str(req)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _wait_for_temp(out: Path, proc: subprocess.Popen[bytes], limit: float = 120) -> list[Path]:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        temps = [p for p in out.iterdir() if TEMP_MARK in p.name]
        if temps:
            return temps
        if proc.poll() is not None:
            break
        time.sleep(0.005)
    proc.kill()
    pytest.fail("the run never had a temporary output in flight")


def _assert_complete_outputs(out: Path) -> list[str]:
    names = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    for name in names:
        with Image.open(out / name) as img:
            img.load()  # a truncated PNG raises here
            assert img.size == (1841, 1955)
    return names


@pytest.mark.slow
def test_a_run_killed_mid_write_leaves_no_partial_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    proc = _start_run(_big_batch(out, 3), tmp_path)
    temps = _wait_for_temp(out, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)
    assert temps[0].name.startswith(".")  # a temporary file is hidden, never under the output's name
    finals = _assert_complete_outputs(out)
    assert len(finals) < 3  # it was killed before the end
    leftovers = [p.name for p in out.iterdir() if p.name.startswith(".")]
    assert all(TEMP_MARK in n for n in leftovers), leftovers


@pytest.mark.slow
def test_a_run_terminated_mid_write_removes_its_temporary_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    proc = _start_run(_big_batch(out, 3), tmp_path)
    _wait_for_temp(out, proc)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    assert b"Traceback" not in stderr
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []
    finals = _assert_complete_outputs(out)
    answered = [json.loads(line) for line in stdout.splitlines()]
    assert sorted(Path(r["outputs"][0]).name for r in answered if r["ok"]) == finals


# -- concurrent writers ---------------------------------------------------------------------------------

WINDOWS = [(40.0 + 100 * i, 400.0 + 50 * i) for i in range(6)]


def _render(output: Path, center: float, width: float, overwrite: bool) -> Any:
    return run(
        {
            "op": "to_image",
            "input": str(find("CT_small.dcm")),
            "output": str(output),
            "overwrite": overwrite,
            "options": {"window_center": center, "window_width": width},
        }
    )


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img)


def test_concurrent_writers_without_overwrite_one_wins(tmp_path: Path) -> None:
    target = tmp_path / "same.png"
    with ThreadPoolExecutor(len(WINDOWS)) as pool:
        resps = list(pool.map(lambda w: _render(target, w[0], w[1], False), WINDOWS))
    winners = [i for i, r in enumerate(resps) if r.ok]
    assert len(winners) == 1
    assert {r.error.code for r in resps if not r.ok and r.error} == {"output_exists"}
    reference = _render(tmp_path / "ref.png", *WINDOWS[winners[0]], False)
    assert reference.ok
    assert np.array_equal(_pixels(target), _pixels(tmp_path / "ref.png"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ref.png", "same.png"]


@pytest.mark.slow
def test_concurrent_writers_with_overwrite_are_serialised(tmp_path: Path) -> None:
    refs = []
    for i, (c, w) in enumerate(WINDOWS):
        assert _render(tmp_path / f"ref{i}.png", c, w, False).ok
        refs.append(_pixels(tmp_path / f"ref{i}.png"))
    assert len({r.tobytes() for r in refs}) == len(refs)  # every window renders differently
    target = tmp_path / "same.png"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dcmharness",
                "run",
                "--op",
                "to_image",
                "--input",
                str(find("CT_small.dcm")),
                "--output",
                str(target),
                "--overwrite",
                "--options",
                json.dumps({"window_center": c, "window_width": w}),
            ],
            stdout=subprocess.PIPE,
        )
        for c, w in WINDOWS
    ]
    answers = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert all(a["ok"] for a in answers)
    final = _pixels(target)
    assert sum(np.array_equal(final, r) for r in refs) == 1  # exactly one whole render, not a mix
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
