"""Compare dicom-render with python_ref on sample files, pixel by pixel (development aid).

Usage: .venv/bin/python backends/rust_render/tools/compare_ref.py [FILE.dcm ...]
Default files: pydicom's test files. Prints max |diff| per file and option profile.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pydicom

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from dcmharness.backends.python_ref.pipeline import render_frame
from dcmharness.contract.errors import HarnessError
from dcmharness.contract.options import ToImageOptions

BIN = Path(__file__).resolve().parents[1] / "target" / "release" / "dicom-render"
PROFILES: list[dict[str, Any]] = [
    {},
    {"voi": "none"},
    {"voi": "minmax", "bit_depth": 16},
    {"window_center": 40, "window_width": 400, "voi_function": "linear_exact"},
    {"window_center": 100, "window_width": 300, "voi_function": "sigmoid", "bit_depth": 16},
    {"presentation": "inverse", "modality_lut": False},
    {"voi": "window", "voi_index": 1},
    {"voi": "lut", "bit_depth": 16},
    {"presentation": "identity", "overlays": False},
    {"overlay_value": 77, "frame": 1},
]


def read_pnm(path: Path) -> np.ndarray:
    data = path.read_bytes()
    parts = data.split(b"\n", 3)
    magic, (w, h), maxval = parts[0], map(int, parts[1].split()), int(parts[2])
    dt = ">u2" if maxval > 255 else "u1"
    arr = np.frombuffer(parts[3], dtype=dt)
    return arr.reshape(h, w, 3) if magic == b"P6" else arr.reshape(h, w)


def main(files: list[str]) -> None:
    if not files:
        base = Path(pydicom.__file__).parent / "data" / "test_files"
        files = sorted(str(p) for p in base.glob("*.dcm"))
    tmp = Path(tempfile.mkdtemp())
    for f in files:
        try:
            ds = pydicom.dcmread(f, force=True)
            ts = str(ds.file_meta.get("TransferSyntaxUID", "")) if hasattr(ds, "file_meta") else None
        except Exception as exc:
            print(f"{Path(f).name:45s} pydicom cannot read: {exc}")
            continue
        if "PixelData" not in ds:
            continue
        for k, prof in enumerate(PROFILES):
            opts = ToImageOptions(**prof)
            try:
                frame = prof.get("frame", 0)
                nframes = int(ds.get("NumberOfFrames", 1) or 1)
                if frame >= nframes:
                    continue
                ref = render_frame(ds, frame, opts, ts).image
                ref_err = None
            except HarnessError as e:
                ref, ref_err = None, e.code.value
            except Exception as e:
                ref, ref_err = None, f"python crash {type(e).__name__}: {e}"[:80]
            out = tmp / f"o{k}.pnm"
            req = {"id": 1, "input": f, "output": str(out), "overwrite": True, "options": {**prof, "format": "pnm"}}
            p = subprocess.run([str(BIN), "--batch"], input=json.dumps(req) + "\n", capture_output=True, text=True)
            ans = json.loads(p.stdout)
            mine_err = None if ans["ok"] else ans["error"]["code"] + ": " + ans["error"]["message"][:70]
            name = f"{Path(f).name[:40]:40s} p{k}"
            if ref is None or mine_err:
                if (ref_err or "") != (mine_err or "").split(":")[0]:
                    print(f"{name} ref={ref_err} mine={mine_err}")
                continue
            mine = read_pnm(out)
            if mine.shape != ref.shape:
                print(f"{name} SHAPE ref={ref.shape} mine={mine.shape}")
                continue
            d = np.abs(mine.astype(np.int64) - ref.astype(np.int64))
            flag = "" if d.max() <= 1 else "   <-- MISMATCH"
            print(f"{name} max={d.max()} n>1={int((d > 1).sum())}{flag}")


if __name__ == "__main__":
    main(sys.argv[1:])
