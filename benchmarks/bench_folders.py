"""A series folder to PNG: one ``dcmharness run --jobs 2`` folder request against one ``dcmj2pnm`` per file.

    .venv/bin/python -m benchmarks folders            # or: python -m benchmarks series_png

- series: the real 174-slice head CT (``/work/shared/data/ct-head-series/``, read in place, never copied), each
  slice to an 8-bit PNG with the min-max window: ONE folder request ``{"op": "to_image", "input": <series>,
  "output": <folder>, "options": {"voi": "minmax"}}`` through ``dcmharness run --jobs 2`` (python_ref, two
  worker processes, process start included) versus ``dcmj2pnm +on +Wm`` run once per file (aim >= 4x); the
  same folder request with ``--jobs 1`` is measured too. Every ratio is measured in the same run: medians of
  rounds that run each side in turn (a change of the machine's load hits every side alike); the note gives the
  CPU seconds of each side (the ratio a busy machine does not blur) and the largest pixel difference between
  our PNGs and dcmj2pnm's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.bench_speed import Row, _skip, dcmj2pnm, format_table, interleaved

SERIES = Path("/work/shared/data/ct-head-series")
AIM = 4.0


def folder_request(output: Path) -> str:
    return json.dumps({"op": "to_image", "input": str(SERIES), "output": str(output), "options": {"voi": "minmax"}})


def run_folder(jobs: int, output: Path) -> dict[str, int]:
    """One ``dcmharness run --jobs N`` of the folder request; the summary's counts per status."""
    proc = subprocess.run(
        [sys.executable, "-m", "dcmharness", "run", "--jobs", str(jobs)],
        input=folder_request(output).encode(),
        capture_output=True,
        check=False,
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    counts: dict[str, int] = lines[-1]["result"]["counts"] if lines and lines[-1].get("result") else {}
    return counts


def max_difference(ours: Path, peer: Path) -> int:
    """The largest absolute pixel difference between our PNG and dcmj2pnm's of every slice."""
    worst = 0
    for theirs in sorted(peer.glob("*.png")):
        a = np.asarray(Image.open(ours / theirs.name), dtype=np.int32)
        b = np.asarray(Image.open(theirs), dtype=np.int32)
        worst = max(worst, int(np.abs(a - b).max()))
    return worst


def bench_series(repeat: int) -> list[Row]:
    aim = f">= {AIM:g}x"
    tool = dcmj2pnm()
    if tool is None:
        return [_skip("series", aim, "dcmj2pnm not on PATH")]
    files = sorted(p for p in SERIES.glob("*.dcm")) if SERIES.is_dir() else []
    if not files:
        return [_skip("series", aim, f"the series is not at {SERIES}")]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        runs = {"n": 0}
        counts: dict[int, dict[str, int]] = {}

        def ours(jobs: int) -> None:
            runs["n"] += 1  # a new output folder each time: nothing to overwrite
            counts[jobs] = run_folder(jobs, work / f"ours{runs['n']}")

        def peer() -> None:
            (work / "peer").mkdir(exist_ok=True)
            for p in files:
                subprocess.run([tool, "+on", "+Wm", str(p), str(work / "peer" / f"{p.stem}.png")], check=False)

        # interleaved (a warm-up round first), so that a change of the machine's load hits every side alike
        sides: dict[str, Callable[[], object]] = {"jobs2": lambda: ours(2), "peer": peer, "jobs1": lambda: ours(1)}
        t, c = interleaved(sides, repeat)
        worst = max_difference(work / "ours1", work / "peer")
    n = len(files)
    ratio = t["peer"] / t["jobs2"]
    failed = {k: v for k, v in counts[2].items() if k != "ok"}
    note = (
        f"{counts[2].get('ok', 0)}/{n} ok, max pixel difference vs dcmj2pnm {worst}; CPU s ours {c['jobs2']:.2f} "
        f"vs dcmj2pnm {c['peer']:.2f} ({c['peer'] / c['jobs2']:.1f}x)"
    )
    if failed:
        note += f"; failed: {failed}"
    request = "dcmharness run --jobs {}  <<< one folder request (python_ref, voi minmax, png)"
    return [
        Row(
            f"series folder, --jobs 2 ({n} slices)",
            t["jobs2"],
            t["peer"],
            ratio,
            aim,
            ratio >= AIM,
            request.format(2),
            "for f in series: dcmj2pnm +on +Wm $f out.png",
            note,
        ),
        Row(
            f"series folder, --jobs 1 ({n} slices)",
            t["jobs1"],
            t["peer"],
            t["peer"] / t["jobs1"],
            "",
            None,
            request.format(1),
            "for f in series: dcmj2pnm +on +Wm $f out.png",
            f"--jobs 2 is {t['jobs1'] / t['jobs2']:.2f}x --jobs 1 (CPU s {c['jobs1']:.2f})",
        ),
    ]


BENCHMARKS = {"series_png": bench_series}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_folders", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all): {', '.join(BENCHMARKS)}")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per measurement (median; default 3)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    rows: list[Row] = []
    for name in args.names or list(BENCHMARKS):
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        rows += BENCHMARKS[name](args.repeat)
    print(json.dumps([asdict(r) for r in rows], indent=2) if args.json else format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
