"""The Output LUT (``colormap``): the palettes against the standard's tables, the contract, the refusals,
python_ref and rust_render on the synthetic cases."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from dcmharness.adapters.rust_render import RustRenderAdapter, batch_options, option_args
from dcmharness.backends.python_ref import render_array
from dcmharness.backends.python_ref.output_lut import apply_colormap, palette_indices, palette_table
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.options import WELL_KNOWN_PALETTES, OptionError, ToImageOptions, palette_name
from dcmharness.interface import registry
from dcmharness.interface.api import run
from dcmharness.interface.conform.rgb16 import read_rgb16
from dcmharness.interface.synth import cases_colormap, generate

ROOT = Path(__file__).resolve().parents[1]

# ---- the standard's tables --------------------------------------------------------------------------------
# Rows transcribed from PS3.6 (2013 edition, docbook part06.xml) Annex B, "Color Palette Data" tables, as
# printed there (Red, Green, Blue per row). Hot Iron's rows are numbered by their position from the table's
# first row; the other runs are contiguous stretches of their table, at the row where the run begins.
HOT_IRON_ROWS_0_26 = [(2 * i, 0, 0) for i in range(27)]  # Table B.1.1.2-2, rows 0..26: 0, 2, 4, ... 52
HOT_IRON_ROWS_82_121 = [(2 * i, 0, 0) for i in range(82, 122)]  # Table B.1.1.2-2: 164, 166, ... 242
PET_ROWS_FROM_77 = [  # Table B.1.2.2-2
    (27, 100, 153), (29, 98, 155), (31, 96, 157), (33, 94, 159), (35, 92, 161), (37, 90, 163), (39, 88, 165),
    (41, 86, 167), (43, 84, 169), (45, 82, 171), (47, 80, 173), (49, 78, 175), (51, 76, 177), (53, 74, 179),
    (55, 72, 181), (57, 70, 183), (59, 68, 185), (61, 66, 187), (63, 64, 189), (65, 63, 191), (67, 61, 193),
    (69, 59, 195), (71, 57, 197), (73, 55, 199), (75, 53, 201), (77, 51, 203), (79, 49, 205), (81, 47, 207),
    (83, 45, 209), (85, 43, 211), (86, 41, 213), (88, 39, 215), (90, 37, 217), (92, 35, 219), (94, 33, 221),
    (96, 31, 223), (98, 29, 225), (100, 27, 227), (102, 25, 229),
]  # fmt: skip
HOT_METAL_BLUE_ROWS_FROM_51 = [  # Table B.1.3.2-2: blue rising alone, then red joins
    *[(0, 0, b) for b in (100, 102, 104, 106, 108, 110, 112, 114, 116, 117, 119, 121, 123, 125, 127, 129, 131)],
    *[(0, 0, b) for b in (133, 135, 137, 139, 141, 143, 145, 147, 149, 151, 153, 155, 157, 159, 161, 163, 165)],
    (0, 0, 167), (3, 0, 169), (6, 0, 171), (9, 0, 173), (12, 0, 175),
]  # fmt: skip
PET_20_STEP_RUN_FROM_189 = (  # Table B.1.4.2-2: the tail of one step, then 12, 13 and 12 equal rows
    [(208, 176, 64)] * 3 + [(208, 144, 0)] * 12 + [(192, 96, 0)] * 13 + [(176, 48, 0)] * 12
)


@pytest.mark.parametrize(
    ("name", "start", "rows"),
    [
        ("hot_iron", 0, HOT_IRON_ROWS_0_26),
        ("hot_iron", 82, HOT_IRON_ROWS_82_121),
        ("pet", 77, PET_ROWS_FROM_77),
        ("hot_metal_blue", 51, HOT_METAL_BLUE_ROWS_FROM_51),
        ("pet_20_step", 189, PET_20_STEP_RUN_FROM_189),
    ],
)
def test_palettes_hold_the_standards_rows(name: str, start: int, rows: list[tuple[int, int, int]]) -> None:
    table = palette_table(name)
    assert [tuple(v) for v in table[start : start + len(rows)].tolist()] == rows


def test_every_palette_is_256_entries_from_black_or_its_published_first_entry() -> None:
    for name in WELL_KNOWN_PALETTES:
        table = palette_table(name)
        assert table.shape == (256, 3) and table.dtype == np.uint8
        assert not table.flags.writeable
    for name in ("hot_iron", "pet", "hot_metal_blue", "pet_20_step"):  # all four tables start black, end white
        assert palette_table(name)[0].tolist() == [0, 0, 0]
        assert palette_table(name)[255].tolist() == [255, 255, 255]


def test_segmented_palettes_expand_by_the_contracts_rule() -> None:
    i = np.arange(256)
    assert palette_table("spring").tolist() == np.stack([np.full(256, 255), i, 255 - i], -1).tolist()
    assert palette_table("fall").tolist() == np.stack([np.full(256, 255), 255 - i, 0 * i], -1).tolist()
    winter = palette_table("winter")
    assert winter[:, 1].tolist() == i.tolist()  # green 0 -> 255
    assert (winter[0].tolist(), winter[255].tolist()) == ([0, 0, 255], [127, 255, 128])
    summer = palette_table("summer")
    assert (summer[0].tolist(), summer[255].tolist()) == ([0, 255, 0], [0, 128, 254])
    # blue: 0 up to entry 127, then a linear segment 0 -> 254 over 128 entries: entry 223 is 96 * 254 / 128 =
    # 190.5, rounded half up (SEMANTICS.md section 6) to 191 (pydicom 3.0.2 rounds it to 190)
    assert summer[127, 2] == 0 and summer[223, 2] == 191


def test_fall_and_winter_are_their_own_uids() -> None:
    """Fall is 1.2.840.10008.1.5.7 and Winter .8 (PS3.6 Table B.1-1); pydicom 3.0.2's apply_color_lut maps the
    names FALL and WINTER to each other's UID (pydicom/pixels/processing.py:117-118)."""
    assert palette_table("1.2.840.10008.1.5.7") is palette_table("fall")
    assert palette_table("fall")[0].tolist() == [255, 255, 0]
    assert palette_table("1.2.840.10008.1.5.8")[0].tolist() == [0, 0, 255]


# ---- the contract -----------------------------------------------------------------------------------------
def test_colormap_by_name_or_uid() -> None:
    assert ToImageOptions.model_validate({"colormap": "pet"}).colormap == "pet"
    assert palette_name("1.2.840.10008.1.5.4") == "pet_20_step"
    assert palette_name("hot_metal_blue") == "hot_metal_blue"
    for bad in ("viridis", "HOT_IRON", "1.2.840.10008.1.5.9", 3):
        with pytest.raises(ValidationError):
            ToImageOptions.model_validate({"colormap": bad})
    with pytest.raises(OptionError):
        palette_name("jet")


def test_schema_lists_the_palettes() -> None:
    import json

    schema = json.loads((ROOT / "contract" / "schema" / "request.schema.json").read_text())
    assert '"1.2.840.10008.1.5.8"' in json.dumps(schema) and '"hot_metal_blue"' in json.dumps(schema)


# ---- the stage --------------------------------------------------------------------------------------------
def test_indices_round_half_up_and_clip() -> None:
    p = np.array([-5.0, 0.49, 0.5, 127.5, 254.5, 300.0])
    assert palette_indices(p, 255).tolist() == [0, 0, 1, 128, 255, 255]
    assert palette_indices(np.array([257 * 200 - 128.0, 257 * 200 - 129.0]), 65535).tolist() == [200, 199]


def test_apply_colormap_8_and_16_bits() -> None:
    p = np.array([[0.0, 82.0, 255.0]])
    assert apply_colormap(p, 255, "hot_iron").tolist() == [[[0, 0, 0], [164, 0, 0], [255, 255, 255]]]
    out = apply_colormap(p * 257, 65535, "hot_iron")
    assert out.dtype == np.uint16 and out.tolist() == [[[0, 0, 0], [164 * 257, 0, 0], [65535] * 3]]


def test_colour_image_refuses_colormap() -> None:
    from pydicom.data import get_testdata_file

    path = get_testdata_file("US1_UNCR.dcm")
    assert path is not None
    with pytest.raises(HarnessError) as err:
        render_array(str(path), colormap="pet")
    assert (err.value.code, err.value.field) == (ErrorCode.UNSUPPORTED_OPTION, "options.colormap")


# ---- the backends -----------------------------------------------------------------------------------------
IMPLEMENTERS = {"python_ref", "rust_render"}
PARTLY = {"cornerstone"}  # its CPU colormaps hold the four tabulated palettes (tests/test_adapter_cornerstone.py)


@pytest.mark.parametrize("name", sorted(set(registry.BACKENDS) - IMPLEMENTERS - PARTLY))
def test_every_other_backend_refuses_colormap(name: str, ct_small: Path, tmp_path: Path) -> None:
    """Through the dispatcher: refused before anything runs (or the backend has no to_image, or is absent)."""
    try:
        resp = run({"op": "to_image", "backend": name, "input": str(ct_small), "output": str(tmp_path / "x.png"),
                    "options": {"colormap": "pet"}})  # fmt: skip
    finally:
        registry.close_all()
    assert not resp.ok and resp.error is not None
    assert not (tmp_path / "x.png").exists()
    if resp.error.code == ErrorCode.BACKEND_UNAVAILABLE:
        return
    assert resp.error.code == ErrorCode.UNSUPPORTED_OPTION
    assert resp.error.field in ("options.colormap", "op"), resp.error


def test_rust_render_declares_and_passes_colormap() -> None:
    assert RustRenderAdapter().capabilities_for(None)["to_image"]["colormap"] is True
    opts = ToImageOptions(colormap="1.2.840.10008.1.5.2", bit_depth=16)
    assert option_args(opts, "png")[-2:] == ["--colormap", "1.2.840.10008.1.5.2"]
    expected = {"frame": 0, "format": "png", "bit_depth": 16, "colormap": "1.2.840.10008.1.5.2"}
    assert batch_options(opts, "png") == expected
    assert "--colormap" not in option_args(ToImageOptions(), "png")


def test_rust_palettes_are_python_refs() -> None:
    spec = importlib.util.spec_from_file_location("gen_palettes", ROOT / "backends/rust_render/tools/gen_palettes.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert (ROOT / "backends/rust_render/src/palettes.rs").read_text() == gen.render_source()


@pytest.fixture(scope="module")
def synth_cases(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    names = [b.__name__ for b in cases_colormap.CASES]
    return generate(tmp_path_factory.mktemp("colormap"), names)


def test_python_ref_renders_the_synthetic_cases_exactly(synth_cases: list[Any]) -> None:
    assert len(synth_cases) == 3
    for case in synth_cases:
        expected = np.load(case.expected)
        got = render_array(str(case.path), **case.options)
        assert got.dtype == expected.dtype and got.shape == expected.shape == (16, 32, 3)
        assert np.array_equal(got, expected), case.name


def _rust_missing() -> str | None:
    avail = RustRenderAdapter().availability()
    return None if avail.available else f"dicom-render not available: {avail.reason}"


@pytest.mark.skipif(_rust_missing() is not None, reason=str(_rust_missing()))
@pytest.mark.parametrize("batch", ["never", "always"])
def test_rust_render_renders_the_synthetic_cases_exactly(
    synth_cases: list[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch: str
) -> None:
    monkeypatch.setenv("DCMHARNESS_RUST_BATCH", batch)
    try:
        for case in synth_cases:
            out = tmp_path / f"{case.name}_{batch}.png"
            resp = run({"op": "to_image", "backend": "rust_render", "input": str(case.path), "output": str(out),
                        "options": case.options})  # fmt: skip
            assert resp.ok, resp.error
            expected = np.load(case.expected)
            if expected.dtype == np.uint16:
                got = read_rgb16(out.read_bytes())
                assert got is not None
            else:
                from PIL import Image

                got = np.asarray(Image.open(out))
            assert np.array_equal(np.asarray(got).astype(np.int64), expected.astype(np.int64)), case.name
    finally:
        registry.close_all()
