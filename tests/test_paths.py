"""Awkward file names work on every available backend and are never read as options; ``--root`` confines.

Names: ``-rf``, ``--help``, ``+Wm`` (a dcmtk option), spaces, quotes, shell metacharacters, non-ASCII.
``--root DIR``: every input and output path of a run resolves inside DIR, ``..`` and symlinks included
(the input, the output, the default output, the per-frame outputs of ``frame: "all"``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from PIL import Image

from dcmharness.interface import registry
from dcmharness.interface.api import RunContext, run
from dcmharness.interface.samples import find

MR = find("MR_small.dcm")  # 64 x 64 MONOCHROME2, explicit VR LE: every backend renders it

ODD_NAMES = [
    "-rf",
    "--help",
    "+Wm",
    "with space",
    "quote'single\"double",
    "$(touch pwned);`id`|x&",
    "ünïcødé 画像",
]


def available_backends() -> list[str]:
    out = []
    for name in registry.names():
        try:
            if registry.get(name).availability().available:
                out.append(name)
        except Exception:  # a backend being written right now may not import yet
            continue
    return out


#: the op each backend is tested with: its first of these (an output file each, but validate: none)
OPS = (
    ("to_image", ".png"),
    ("transcode", ".dcm"),
    ("anonymize", ".dcm"),
    ("validate", ""),
    ("decode", ".npy"),
    ("nifti", ".nii"),
)
#: the same 64 x 64 image in JPEG 2000 lossless, for a backend that decodes compressed syntaxes only
MR_J2K = find("MR_small_jp2klossless.dcm")


def _source(backend: str) -> Path:
    return MR_J2K if _op(backend)[0] == "decode" else MR


def _op(backend: str) -> tuple[str, str]:
    ops = registry.get(backend).ops
    return next((op, ext) for op, ext in OPS if op in ops)


def _request(backend: str, input_: str, output: str, **extra: Any) -> dict[str, Any]:
    op, _ = _op(backend)
    if op == "validate":  # writes nothing: the input path is what must stay a file name
        extra.pop("overwrite", None)
        return {"op": op, "input": input_, "backend": backend, "timeout": 120, **extra}
    if op == "nifti":
        extra = {"options": {"sidecar": False}, **extra}
    return {"op": op, "input": input_, "output": output, "backend": backend, "timeout": 120, **extra}


def _write_input(backend: str, path: Path) -> None:
    """The op's input at ``path``: MR_small, or for a series op a folder of 4 synthetic CT slices."""
    if _op(backend)[0] != "nifti":
        path.write_bytes(_source(backend).read_bytes())
    else:
        _write_series(path)


def _write_series(path: Path) -> None:
    from dcmharness.interface.synth.series import SeriesSpec, write_slices

    path.mkdir()
    write_slices(SeriesSpec("paths", "4 slices", slices=4), path)


@pytest.mark.parametrize("backend", available_backends())
def test_odd_names_are_files_not_options(backend: str, tmp_path: Path) -> None:
    op, ext = _op(backend)
    for stem in ODD_NAMES:
        _write_input(backend, tmp_path / stem)
        out_name = f"{stem}{ext}"
        resp = run(_request(backend, stem, out_name), RunContext(cwd=tmp_path))  # relative: as typed
        assert resp.ok, (stem, resp.error)
        if op == "validate":
            assert resp.outputs == [] and resp.result is not None
            assert resp.result["sop_class_uid"] == "1.2.840.10008.5.1.4.1.1.4"  # MR_small read, whatever its name
            continue
        assert resp.outputs == [str(tmp_path / out_name)]
        if op == "to_image":
            with Image.open(tmp_path / out_name) as img:
                assert img.size == (64, 64)
        elif op == "decode":
            assert np.load(tmp_path / out_name, allow_pickle=False).shape == (64, 64)
        elif op == "nifti":
            assert (tmp_path / out_name).read_bytes()[344:348] == b"n+1\0"  # a single-file NIfTI-1
        else:
            assert pydicom.dcmread(tmp_path / out_name).Rows == 64
    assert not (tmp_path / "pwned").exists()
    written = [f"{n}{ext}" for n in ODD_NAMES] if op != "validate" else []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*ODD_NAMES, *written])


def test_odd_names_through_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "-rf").write_bytes(MR.read_bytes())
    proc = subprocess.run(
        [sys.executable, "-m", "dcmharness", "run", "--op", "to_image", "--input=-rf", "--output=--help.png"],
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
        check=False,
    )
    resp = json.loads(proc.stdout)
    assert (proc.returncode, resp["ok"]) == (0, True), proc.stderr
    assert resp["outputs"] == [str(tmp_path / "--help.png")]


def test_adapters_never_put_a_dash_first_in_a_path_argument(tmp_path: Path) -> None:
    """Every path an external backend ran with is absolute (so it cannot start with '-' or '+')."""
    (tmp_path / "-rf").write_bytes(MR.read_bytes())
    (tmp_path / "series").mkdir()
    _write_series(tmp_path / "series" / "-rf")
    checked = 0
    for backend in available_backends():
        (tmp_path / "-rf").write_bytes(_source(backend).read_bytes())
        output = "-o" + _op(backend)[1]
        cwd = tmp_path / "series" if _op(backend)[0] == "nifti" else tmp_path
        resp = run(_request(backend, "-rf", output, overwrite=True), RunContext(cwd=cwd))
        assert resp.ok, (backend, resp.error)
        for arg in resp.command or []:
            if arg.endswith(("-rf", output)):
                assert arg.startswith("/"), (backend, arg)
                checked += 1
    if checked == 0:
        pytest.skip("no external backend available: nothing ran with an argv")


# -- --root ------------------------------------------------------------------------------------------------


@pytest.fixture
def jail(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "in").mkdir(parents=True)
    (root / "out").mkdir()
    (root / "in" / "mr.dcm").write_bytes(MR.read_bytes())
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.dcm").write_bytes(MR.read_bytes())
    return root


def _confined(root: Path, input_: str, output: str | None = None, **extra: Any) -> Any:
    req: dict[str, Any] = {"op": "to_image", "input": input_, **extra}
    if output is not None:
        req["output"] = output
    return run(req, RunContext(root=root))


def _code(resp: Any) -> tuple[str | None, str | None]:
    return (resp.error.code, resp.error.field) if resp.error else (None, None)


def test_root_relative_paths_resolve_inside_it(jail: Path) -> None:
    resp = _confined(jail, "in/mr.dcm", "out/mr.png")
    assert resp.ok and resp.outputs == [str(jail / "out" / "mr.png")]


def test_root_default_output_lands_inside_it(jail: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    resp = _confined(jail, "in/mr.dcm")
    assert resp.ok and resp.outputs == [str(jail / "mr.png")]
    assert not (tmp_path / "mr.png").exists()


@pytest.mark.parametrize(
    ("input_", "output", "field"),
    [
        ("../outside/secret.dcm", "out/a.png", "input"),
        ("in/../../outside/secret.dcm", "out/a.png", "input"),
        ("{outside}/secret.dcm", "out/a.png", "input"),
        ("in/mr.dcm", "../outside/a.png", "output"),
        ("in/mr.dcm", "out/../../outside/a.png", "output"),
        ("in/mr.dcm", "{outside}/a.png", "output"),
        ("in/mr.dcm", "/tmp/a.png", "output"),
    ],
)
def test_root_refuses_paths_that_escape(jail: Path, input_: str, output: str, field: str) -> None:
    outside = str(jail.parent / "outside")
    resp = _confined(jail, input_.format(outside=outside), output.format(outside=outside))
    assert _code(resp) == ("path_outside_root", field)
    assert sorted(p.name for p in (jail.parent / "outside").iterdir()) == ["secret.dcm"]


def test_root_refuses_symlinks_that_escape(jail: Path) -> None:
    outside = jail.parent / "outside"
    (jail / "in" / "link.dcm").symlink_to(outside / "secret.dcm")
    assert _code(_confined(jail, "in/link.dcm", "out/a.png")) == ("path_outside_root", "input")
    (jail / "escape").symlink_to(outside, target_is_directory=True)
    assert _code(_confined(jail, "in/mr.dcm", "escape/a.png")) == ("path_outside_root", "output")
    (jail / "out" / "dangling.png").symlink_to(outside / "new.png")
    resp = _confined(jail, "in/mr.dcm", "out/dangling.png", overwrite=True)
    assert _code(resp) == ("path_outside_root", "output")
    assert sorted(p.name for p in outside.iterdir()) == ["secret.dcm"]


def test_root_symlinks_inside_it_are_fine(jail: Path) -> None:
    (jail / "in" / "alias.dcm").symlink_to(jail / "in" / "mr.dcm")
    assert _confined(jail, "in/alias.dcm", "out/alias.png").ok


def test_root_confines_every_frame_output(jail: Path) -> None:
    (jail / "in" / "emri.dcm").write_bytes(find("emri_small.dcm").read_bytes())  # 10 frames
    outside = jail.parent / "outside"
    (outside / "victim.png").write_bytes(b"precious")
    (jail / "out" / "emri_0003.png").symlink_to(outside / "victim.png")
    resp = _confined(jail, "in/emri.dcm", "out/emri.png", overwrite=True, options={"frame": "all"})
    assert _code(resp) == ("path_outside_root", "output")
    assert (outside / "victim.png").read_bytes() == b"precious"
    assert sorted(p.name for p in (jail / "out").iterdir()) == ["emri_0003.png"]


def test_root_given_as_a_relative_path_or_a_symlink(jail: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(jail.parent)
    assert _confined(Path("root"), "in/mr.dcm", "out/rel.png").ok
    (jail.parent / "root_link").symlink_to(jail, target_is_directory=True)
    resp = _confined(jail.parent / "root_link", "in/mr.dcm", "out/via_link.png")
    assert resp.ok and (jail / "out" / "via_link.png").is_file()
    assert _code(_confined(Path("root"), "../outside/secret.dcm", "out/x.png")) == ("path_outside_root", "input")


def test_root_on_the_command_line(jail: Path) -> None:
    lines = [
        {"id": 1, "op": "to_image", "input": "in/mr.dcm", "output": "out/cli.png"},
        {"id": 2, "op": "to_image", "input": "../outside/secret.dcm", "output": "out/x.png"},
        {"id": 3, "op": "to_image", "input": "in/mr.dcm", "output": os.devnull},
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "dcmharness", "run", "--root", str(jail)],
        input="\n".join(json.dumps(x) for x in lines).encode(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    answers = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(a["id"], a["ok"], a["error"] and a["error"]["code"]) for a in answers] == [
        (1, True, None),
        (2, False, "path_outside_root"),
        (3, False, "path_outside_root"),
    ]
    assert proc.returncode == 1


def test_root_that_is_not_a_folder_is_unusable(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dcmharness", "run", "--root", str(tmp_path / "absent")],
        input=b'{"op": "to_image", "input": "a.dcm"}',
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["error"]["code"] == "invalid_request"
