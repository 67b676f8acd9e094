"""Benchmark: the cornerstone backend's browser start-up and per-image time on 512x512 CT slices.

``python -m benchmarks.bench_cornerstone [--files 10]`` starts one session (Chromium + driver: the start-up
time), renders N slices of the shared head CT series through the real dispatcher (the first one also loads
the page's code and the decode worker: reported apart) and prints the median per image, with the time
python_ref takes for the same requests.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from dcmharness.interface import registry
from dcmharness.interface.api import run

SERIES = Path("/work/shared/data/ct-head-series")


def _render(backend: str, files: list[Path], out: Path) -> list[float]:
    times = []
    for i, f in enumerate(files):
        t0 = time.perf_counter()
        resp = run({"op": "to_image", "backend": backend, "input": str(f), "output": str(out / f"{backend}_{i}.png"),
                    "options": {"window_center": 40, "window_width": 400}})  # fmt: skip
        times.append(time.perf_counter() - t0)
        if not resp.ok:
            raise SystemExit(f"{backend} failed on {f.name}: {resp.error}")
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_cornerstone")
    parser.add_argument("--files", type=int, default=10)
    args, _ = parser.parse_known_args(argv)  # options meant for other benchmarks are ignored
    files = sorted(SERIES.glob("*.dcm"))[: args.files]
    if not files:
        print(f"no slices in {SERIES}", file=sys.stderr)
        return 2
    adapter = registry.get("cornerstone")
    if not adapter.availability().available:
        print(f"cornerstone not available: {adapter.availability().reason}", file=sys.stderr)
        return 2
    try:
        t0 = time.perf_counter()
        adapter.session()  # type: ignore[attr-defined]
        start = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as tmp:
            cs = _render("cornerstone", files, Path(tmp))
            ref = _render("python_ref", files, Path(tmp))
    finally:
        registry.close_all()
    print(f"cornerstone start-up (Chromium + driver, until ready): {start:.2f} s")
    print(f"first image (page code, decode worker, warm-up): {cs[0] * 1000:.0f} ms")
    rest = cs[1:] or cs
    cs_ms, ref_ms = statistics.median(rest) * 1000, statistics.median(ref[1:] or ref) * 1000
    print(f"per image after that, median of {len(rest)}: cornerstone {cs_ms:.0f} ms, python_ref {ref_ms:.0f} ms")
    print("(512x512 CT slices, explicit window 40/400, PNG, through the dispatcher)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
