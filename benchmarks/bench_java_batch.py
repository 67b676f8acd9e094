"""Benchmark: one JVM for many requests (batch) against one JVM per request, for the Java backends.

``python -m benchmarks.bench_java_batch [--files 20] [--repeat 1]`` renders the same N sample files (gray,
decodable by PixelMed, the explicit_window profile) twice through the real dispatcher: once with
``dcmharness.interface.api.run`` per request (one ``ConsumerFormatImageMaker`` JVM each), once with
``dcmharness.interface.batch.run_batch`` (one ``PixelMedBatch`` JVM for all). It prints a table and the ratio,
and does the same for dcm4che's ``dcm2jpg`` when it is installed (one call with many files).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dcmharness.backends.preflight import inspect
from dcmharness.contract.errors import HarnessError
from dcmharness.contract.models import Response, ToImageRequest
from dcmharness.interface import registry
from dcmharness.interface.api import run
from dcmharness.interface.batch import run_batch
from dcmharness.interface.conform.profiles import PROFILES
from dcmharness.interface.samples import image_files


@dataclass(frozen=True)
class Timing:
    backend: str
    mode: str
    requests: int
    ok: int
    seconds: float

    @property
    def per_request_ms(self) -> float:
        return 1000 * self.seconds / max(1, self.requests)


def pick_files(count: int, backend: str) -> list[tuple[Path, dict[str, Any]]]:
    """The first ``count`` sample files the backend accepts with the explicit_window profile (header checks only)."""
    adapter = registry.get(backend)
    chosen: list[tuple[Path, dict[str, Any]]] = []
    for path in image_files():
        try:
            info = inspect(str(path))
            options = PROFILES["explicit_window"].options_for(info)
            if options is None or info.frames > 1:
                continue
            req = ToImageRequest.model_validate(
                {"op": "to_image", "backend": backend, "input": str(path), "output": "x.png", "options": options}
            )
            adapter.check(req, info)
        except HarnessError:
            continue
        chosen.append((path, options))
        if len(chosen) == count:
            break
    return chosen


def requests_for(files: Sequence[tuple[Path, dict[str, Any]]], backend: str, folder: Path) -> list[dict[str, Any]]:
    return [
        {
            "op": "to_image",
            "backend": backend,
            "input": str(path),
            "output": str(folder / f"{k:03d}.png"),
            "overwrite": True,
            "options": options,
        }
        for k, (path, options) in enumerate(files)
    ]


def timed(label: str, backend: str, fn: Callable[[], list[Response]]) -> Timing:
    started = time.perf_counter()
    responses = fn()
    seconds = time.perf_counter() - started
    return Timing(backend, label, len(responses), sum(r.ok for r in responses), seconds)


def bench_backend(backend: str, count: int, repeat: int) -> list[Timing] | str:
    avail = registry.get(backend).availability()
    if not avail.available:
        return f"{backend}: skipped ({avail.reason})"
    files = pick_files(count, backend)
    if len(files) < count:
        return f"{backend}: only {len(files)} suitable sample files"
    singles: list[Timing] = []
    batches: list[Timing] = []
    with tempfile.TemporaryDirectory(prefix="dcmharness-bench-") as tmp:
        reqs = requests_for(files, backend, Path(tmp))
        for _ in range(repeat):
            singles.append(timed("one call per file", backend, lambda: [run(r) for r in reqs]))
            batches.append(timed("batch (one JVM)", backend, lambda: run_batch(reqs)))
    return [median(singles), median(batches)]


def median(timings: Sequence[Timing]) -> Timing:
    best = statistics.median(t.seconds for t in timings)
    first = timings[0]
    return Timing(first.backend, first.mode, first.requests, min(t.ok for t in timings), best)


def table(rows: Sequence[Timing]) -> str:
    lines = [f"{'backend':<10} {'mode':<20} {'requests':>8} {'ok':>4} {'seconds':>9} {'ms/request':>11}"]
    for t in rows:
        lines.append(
            f"{t.backend:<10} {t.mode:<20} {t.requests:>8} {t.ok:>4} {t.seconds:>9.2f} {t.per_request_ms:>11.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_java_batch", description=__doc__)
    parser.add_argument("--files", type=int, default=20, help="sample files per run (default 20)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per mode; the median is shown (default 1)")
    parser.add_argument("--backends", default="pixelmed,dcm4che", help="comma-separated (default pixelmed,dcm4che)")
    args = parser.parse_args(argv)
    rows: list[Timing] = []
    notes: list[str] = []
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        result = bench_backend(backend, args.files, args.repeat)
        if isinstance(result, str):
            notes.append(result)
            continue
        rows += result
        single, batch = result
        notes.append(
            f"{backend}: batch is {single.seconds / batch.seconds:.1f}x faster than one call per file "
            f"({single.seconds:.2f} s vs {batch.seconds:.2f} s for {single.requests} files)"
        )
    registry.close_all()
    if rows:
        print(table(rows))
    for note in notes:
        print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
