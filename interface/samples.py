"""The real sample files: pydicom's own test files and the ``pydicom-data`` package (import ``data_store``).

``python -m dcmharness.interface.samples list`` prints them; ``demo-requests --out DIR`` prints the JSON Lines batch
that ``make run`` sends through ``dcmharness run``.
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import lru_cache
from pathlib import Path


def sample_dirs() -> list[Path]:
    dirs = []
    import pydicom.data

    dirs.append(Path(pydicom.data.__file__).parent / "test_files")
    try:
        import data_store

        dirs.append(Path(data_store.__file__).parent / "data")
    except ImportError:  # pragma: no cover - the dev extra installs it
        pass
    return [d for d in dirs if d.is_dir()]


@lru_cache(maxsize=1)
def sample_files() -> tuple[Path, ...]:
    """Every file of the sample folders (DICOM or not), sorted by name then path."""
    files = [p for d in sample_dirs() for p in d.rglob("*") if p.is_file() and not p.name.endswith((".py", ".pyc"))]
    return tuple(sorted(files, key=lambda p: (p.name.lower(), str(p))))


def find(name: str) -> Path:
    """A sample file by its name (e.g. ``CT_small.dcm``); KeyError when there is none."""
    for p in sample_files():
        if p.name == name:
            return p
    raise KeyError(name)


@lru_cache(maxsize=1)
def image_files() -> tuple[Path, ...]:
    """The sample files that are DICOM with Pixel Data (header read only)."""
    import pydicom

    out = []
    for p in sample_files():
        try:
            ds = pydicom.dcmread(p, stop_before_pixels=False, defer_size=256, force=False)
        except Exception:
            continue
        if "PixelData" in ds:
            out.append(p)
    return tuple(out)


DEMO = [
    ("CT_small.dcm", "ct_soft_tissue.png", {"window_preset": "soft_tissue"}),
    ("CT_small.dcm", "ct_lung.png", {"window_center": -600, "window_width": 1500}),
    ("CT_small.dcm", "ct_none_16bit.png", {"voi": "none", "bit_depth": 16}),
    ("MR_small.dcm", "mr_stored_window.png", {"voi": "window"}),
    ("RG1_UNCI.dcm", "rg1_monochrome1.png", {}),
    ("US1_UNCR.dcm", "us1_rgb.jpg", {"quality": 85}),
    ("OT-PAL-8-face.dcm", "palette.png", {}),
    ("mlut_18.dcm", "modality_lut.png", {}),
    ("vlut_04.dcm", "voi_lut.png", {"voi": "lut"}),
    ("emri_small.dcm", "emri.png", {"frame": "all"}),
    ("SC_rgb_jpeg_dcmtk.dcm", "rgb_jpeg.png", {}),
    ("MR-SIEMENS-DICOM-WithOverlays.dcm", "overlays.png", {}),
]


def demo_requests(out: Path) -> list[dict[str, object]]:
    reqs: list[dict[str, object]] = []
    for name, output, options in DEMO:
        try:
            path = find(name)
        except KeyError:
            continue
        reqs.append(
            {
                "id": output.rsplit(".", 1)[0],
                "op": "to_image",
                "input": str(path),
                "output": str(out / output),
                "overwrite": True,
                "options": options,
            }
        )
    return reqs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dcmharness.interface.samples")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="list the sample files with pixel data")
    d = sub.add_parser("demo-requests", help="print the demo batch as JSON Lines")
    d.add_argument("--out", default="out")
    args = parser.parse_args(argv)
    if args.cmd == "list":
        for p in image_files():
            print(p)
    else:
        out = Path(args.out).resolve()
        for r in demo_requests(out):
            sys.stdout.write(json.dumps(r) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
