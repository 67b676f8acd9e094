"""Synthetic DICOM cases: small deterministic files covering what the real sample corpus lacks.

``generate(out_dir)`` writes, per case, ``<name>.dcm`` (pydicom), ``<name>.npy`` (the expected uint8 /
uint16 rendering, computed from the standard's formulas in ``formulas.py``, independently of any
renderer) and a ``manifest.json`` listing every case with its ``to_image`` options.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dcmharness.interface.synth.dataset import write
from dcmharness.interface.synth.model import Builder, SynthCase

__all__ = ["SynthCase", "all_builders", "generate"]


def all_builders() -> list[Builder]:
    from dcmharness.interface.synth import cases_codec, cases_color, cases_colormap, cases_gray

    return [*cases_gray.CASES, *cases_codec.CASES, *cases_color.CASES, *cases_colormap.CASES]


def generate(out_dir: Path, names: list[str] | None = None) -> list[SynthCase]:
    """Write every case (or those named) into ``out_dir`` (created) and return them."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cases: list[SynthCase] = []
    for builder in all_builders():
        name = builder.__name__
        if names is not None and name not in names:
            continue
        built = builder()
        path = out_dir / f"{name}.dcm"
        expected = out_dir / f"{name}.npy"
        write(built.ds, path, big_endian=built.big_endian)
        np.save(expected, built.expected, allow_pickle=False)
        cases.append(SynthCase(name, path, dict(built.options), expected, built.description))
    manifest = {"generator": "dcmharness synth", "cases": [c.to_json() for c in cases]}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return cases
