"""The synthetic cases: generated deterministically, and python_ref renders each within 1 level."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dcmharness.backends.python_ref import render_array
from dcmharness.interface.synth import SynthCase, all_builders, generate

NAMES = [b.__name__ for b in all_builders()]


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SynthCase]:
    out = tmp_path_factory.mktemp("synth")
    return {c.name: c for c in generate(out)}


def test_every_stage_has_cases() -> None:
    assert len(NAMES) == len(set(NAMES)) >= 45
    for needle in (
        "sigmoid",
        "linear_exact",
        "inverse",
        "mono1_identity",
        "embedded",
        "palette_16bit",
        "segmented",
        "garbage",
        "big_endian",
        "8bit_packed",
        "desc0",
        "per_frame",
        "multiframe",
        "planar1",
        "ybr_full_native",
        "ybr_full_422",
        "colormap",
    ):
        assert any(needle in n for n in NAMES), needle


@pytest.mark.parametrize("name", NAMES)
def test_python_ref_matches_expected(cases: dict[str, SynthCase], name: str) -> None:
    case = cases[name]
    expected = np.load(case.expected)
    options = dict(case.options)
    frame = options.pop("frame", 0)
    got = render_array(str(case.path), frame, **options)
    assert got.shape == expected.shape
    assert got.dtype == expected.dtype
    assert int(np.abs(got.astype(np.int64) - expected.astype(np.int64)).max()) <= 1


def test_manifest_lists_every_case(cases: dict[str, SynthCase]) -> None:
    some = next(iter(cases.values()))
    manifest = json.loads((some.path.parent / "manifest.json").read_text())
    listed = {c["name"]: c for c in manifest["cases"]}
    assert set(listed) == set(NAMES)
    assert listed["linear_w1_threshold"]["options"] == {"window_center": 100, "window_width": 1}
    assert listed["linear_w1_threshold"]["path"] == "linear_w1_threshold.dcm"


def test_generation_is_deterministic(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", ["palette_segmented", "signed12_garbage_high_bits"])
    b = generate(tmp_path / "b", ["palette_segmented", "signed12_garbage_high_bits"])
    assert [c.name for c in a] == ["signed12_garbage_high_bits", "palette_segmented"]
    for x, y in zip(a, b, strict=True):
        assert x.path.read_bytes() == y.path.read_bytes()
        assert x.expected.read_bytes() == y.expected.read_bytes()


def test_expected_values_are_hand_checkable(cases: dict[str, SynthCase]) -> None:
    # w = 1 threshold at c - 0.5 = 99.5: stored 99 -> 0, stored 100 -> 255
    import pydicom

    ds = pydicom.dcmread(cases["linear_w1_threshold"].path)
    exp = np.load(cases["linear_w1_threshold"].expected)
    stored = ds.pixel_array
    assert set(exp[stored == 99].tolist()) == {0} and set(exp[stored == 100].tolist()) == {255}


def test_synth_is_independent_of_the_renderer() -> None:
    import dcmharness.interface.synth as synth

    for path in Path(synth.__file__).parent.glob("*.py"):
        text = path.read_text()
        assert "from backends" not in text and "import backends" not in text, path.name


def test_cli_writes_cases(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dcmharness.interface.cli.main import main

    assert main(["synth", "--out", str(tmp_path), "--case", "rgb_planar1"]) == 0
    assert (tmp_path / "rgb_planar1.dcm").is_file() and (tmp_path / "rgb_planar1.npy").is_file()
    assert main(["synth", "--out", str(tmp_path), "--case", "nope"]) == 2
    assert "unknown case" in capsys.readouterr().out
