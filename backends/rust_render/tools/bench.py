"""Time dicom-render (one process per file, and one --batch process) against dcmj2pnm on the same files.

Usage: .venv/bin/python backends/rust_render/tools/bench.py [--repeat N] [FILE.dcm ...]
Default files: the sample files both tools decode (pydicom's test files and data_store). Every tool
renders the same request (8-bit PNG, min-max VOI: dcmtk +Wm) into a temp folder; the table gives wall
seconds per pass and the speed-up of rust_render over dcmj2pnm.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(__file__).resolve().parents[1] / "target" / "release" / "dicom-render"
DCMTK_TS = {
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.5",
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70",
}


def sample_files() -> list[Path]:
    import pydicom

    roots = [Path(pydicom.__file__).parent / "data" / "test_files"]
    try:
        import data_store  # type: ignore[import-not-found]

        roots.append(Path(data_store.__file__).parent / "data")
    except ImportError:
        pass
    out = []
    for root in roots:
        for p in sorted(root.glob("*.dcm")):
            try:
                ds = pydicom.dcmread(p, stop_before_pixels=True)
                ts = str(ds.file_meta.TransferSyntaxUID)
            except Exception:
                continue
            if ts in DCMTK_TS and "Rows" in ds:
                out.append(p)
    return out


def ok_pair(f: Path, tmp: Path) -> bool:
    a = subprocess.run(["dcmj2pnm", "+on", "+Wm", str(f), str(tmp / "check_d.png")], capture_output=True)
    b = subprocess.run(
        [str(BIN), "--overwrite", "--voi", "minmax", str(f), str(tmp / "check_r.png")], capture_output=True
    )
    return a.returncode == 0 and b.returncode == 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    if not shutil.which("dcmj2pnm"):
        sys.exit("dcmj2pnm not on PATH (apt-get install dcmtk)")
    tmp = Path(tempfile.mkdtemp())
    files = [Path(f) for f in args.files] or sample_files()
    files = [f for f in files if ok_pair(f, tmp)]
    print(f"{len(files)} files both tools render")
    best: dict[str, float] = {}
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        for k, f in enumerate(files):
            subprocess.run(["dcmj2pnm", "+on", "+Wm", str(f), str(tmp / f"d{k}.png")], capture_output=True)
        t1 = time.perf_counter()
        for k, f in enumerate(files):
            subprocess.run(
                [str(BIN), "--overwrite", "--voi", "minmax", str(f), str(tmp / f"r{k}.png")], capture_output=True
            )
        t2 = time.perf_counter()
        lines = "".join(
            json.dumps(
                {
                    "id": k,
                    "input": str(f),
                    "output": str(tmp / f"b{k}.png"),
                    "overwrite": True,
                    "options": {"voi": "minmax"},
                }
            )
            + "\n"
            for k, f in enumerate(files)
        )
        p = subprocess.run([str(BIN), "--batch"], input=lines, capture_output=True, text=True)
        t3 = time.perf_counter()
        assert all(json.loads(x)["ok"] for x in p.stdout.splitlines()), p.stdout[:500]
        for name, t in (("dcmj2pnm", t1 - t0), ("rust_render per file", t2 - t1), ("rust_render --batch", t3 - t2)):
            best[name] = min(best.get(name, 1e9), t)
    base = best["dcmj2pnm"]
    for name, t in best.items():
        print(f"{name:24s} {t:7.3f} s  ({t / len(files) * 1000:6.1f} ms/file)  speed-up vs dcmj2pnm: {base / t:5.2f}x")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
