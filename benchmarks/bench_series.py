"""The series ops on the real head CT (issue 14): ``nifti`` on python_ref against ``dcm2niix`` run directly, and
the peak memory of ``volume`` against the volume's own size.

Run: ``.venv/bin/python -m benchmarks series [--repeat 3] [--series DIR]``. Prints, in one run:

- ``nifti`` (``.nii``, no sidecar) through ``dcmharness.interface.api.run`` on python_ref, the same through the
  dcm2niix backend, and ``dcm2niix`` alone (a subprocess, its own output folder), interleaved, best of
  ``--repeat``; the ratio python_ref / dcm2niix (aim: within 2x);
- the peak resident memory (``ru_maxrss``) of ``dcmharness run --op volume`` in a fresh process, of the same
  process importing what it needs and doing nothing (the baseline), and the volume's size (aim: the peak
  at most 2x the volume).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_SERIES = Path(os.environ.get("DCMHARNESS_HEAD_CT", "/work/shared/data/ct-head-series"))
BASELINE = (
    "import dcmharness.interface.api, numpy, pydicom, nibabel;"
    "from dcmharness.backends.python_ref import decode, modality"
)


def peak_kb(argv: list[str]) -> int:
    """Peak resident memory (KiB) of one child process, measured by ``/usr/bin/time -f %M``."""
    time_bin = shutil.which("time") or "/usr/bin/time"
    proc = subprocess.run([time_bin, "-f", "%M", *argv], check=True, capture_output=True, text=True)
    return int(proc.stderr.strip().splitlines()[-1])


def bench_nifti(series: Path, out: Path, repeat: int) -> dict[str, float]:
    from dcmharness.interface.api import run

    tool = shutil.which("dcm2niix")
    best = {"python_ref": float("inf"), "dcm2niix backend": float("inf"), "dcm2niix alone": float("inf")}
    for i in range(repeat):
        t0 = time.perf_counter()
        resp = run(
            {"op": "nifti", "input": str(series), "output": str(out / f"p{i}.nii"), "options": {"sidecar": False}}
        )
        best["python_ref"] = min(best["python_ref"], time.perf_counter() - t0)
        if not resp.ok:
            raise SystemExit(f"python_ref failed: {resp.error}")
        if tool is None:
            continue
        folder = out / f"d{i}"
        folder.mkdir()
        t0 = time.perf_counter()
        subprocess.run(
            [tool, "-b", "n", "-z", "n", "-f", "x", "-o", str(folder), str(series)], check=True, capture_output=True
        )
        best["dcm2niix alone"] = min(best["dcm2niix alone"], time.perf_counter() - t0)
        t0 = time.perf_counter()
        resp = run(
            {
                "op": "nifti",
                "backend": "dcm2niix",
                "input": str(series),
                "output": str(out / f"x{i}.nii"),
                "options": {"sidecar": False},
            }
        )
        best["dcm2niix backend"] = min(best["dcm2niix backend"], time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks series")
    parser.add_argument("--series", type=Path, default=DEFAULT_SERIES)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if not args.series.is_dir():
        print(f"series benchmark skipped: no series at {args.series}")
        return 0
    out = Path(tempfile.mkdtemp(prefix="dcmharness-bench-series-"))
    try:
        best = bench_nifti(args.series, out, args.repeat)
        print(f"nifti on {args.series} (best of {args.repeat}, in-process API, .nii)")
        for name, seconds in best.items():
            print(f"  {name:<18} {seconds:7.2f} s")
        if best["dcm2niix alone"] < float("inf"):
            print(f"  ratio python_ref / dcm2niix alone: {best['python_ref'] / best['dcm2niix alone']:.2f} (aim <= 2)")
        volume_kb = peak_kb(
            [
                sys.executable,
                "-m",
                "dcmharness",
                "run",
                "--op",
                "volume",
                "--input",
                str(args.series),
                "--output",
                str(out / "v.npy"),
            ]
        )
        baseline_kb = peak_kb([sys.executable, "-c", BASELINE])
        import numpy as np

        size = np.load(out / "v.npy", mmap_mode="r").nbytes
        print(
            f"volume: peak {volume_kb / 1024:.1f} MiB, the process's imports alone {baseline_kb / 1024:.1f} MiB, "
            f"the volume {size / 2**20:.1f} MiB: peak / volume {volume_kb * 1024 / size:.2f} "
            f"({(volume_kb - baseline_kb) * 1024 / size:.2f} above the baseline; aim <= 2)"
        )
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
