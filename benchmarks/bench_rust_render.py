"""rust_render (``dicom-render``) against ``dcmj2pnm`` on the same files, in the same run.

    .venv/bin/python -m benchmarks rust_render [--repeat 3] [--files N]

Files: the sample files both tools render (native, RLE and the JPEG processes dcmj2pnm decodes; the same
request on both: 8-bit PNG, min-max VOI, i.e. dcmtk ``+Wm``). Three passes over them, each the median of
``--repeat`` runs: ``dcmj2pnm`` one process per file, ``dicom-render`` one process per file, and one
``dicom-render --batch`` process for all files (JSON Lines in and out). The ratio is dcmj2pnm's time over
ours (how many times faster we are); the aim of issue 5 is >= 1.5x per file.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.corpus import sample_infos
from dcmharness.adapters.rust_render import BUILT

DCMJ2PNM_TS = frozenset(
    {
        "1.2.840.10008.1.2",
        "1.2.840.10008.1.2.1",
        "1.2.840.10008.1.2.2",
        "1.2.840.10008.1.2.5",
        "1.2.840.10008.1.2.4.50",
        "1.2.840.10008.1.2.4.57",
        "1.2.840.10008.1.2.4.70",
    }
)


def candidate_files() -> list[Path]:
    """Single-file sample images in a transfer syntax dcmj2pnm decodes, sorted by name."""
    return [info.path for info in sample_infos() if info.transfer_syntax in DCMJ2PNM_TS]


def dcmtk_argv(src: Path, dst: Path) -> list[str]:
    return ["dcmj2pnm", "+on", "+Wm", str(src), str(dst)]


def rust_argv(binary: Path, src: Path, dst: Path) -> list[str]:
    return [str(binary), "--overwrite", "--voi", "minmax", str(src), str(dst)]


def batch_lines(files: list[Path], out: Path) -> str:
    """The JSON Lines of one --batch run over ``files`` (the contract's request shape)."""
    return "".join(
        json.dumps({"id": k, "input": str(f), "output": str(out / f"b{k}.png"), "overwrite": True,
                    "options": {"voi": "minmax"}}) + "\n"
        for k, f in enumerate(files)
    )


def median_time(fn: Callable[[], None], repeat: int) -> float:
    fn()  # warm-up (page cache, binaries)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks rust_render", description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--files", type=int, default=0, help="use the first N files only (0 = all)")
    args = ap.parse_args(argv)
    binary = Path(shutil.which("dicom-render") or BUILT)
    if not shutil.which("dcmj2pnm") or not binary.exists():
        print("rust_render benchmark: needs dcmj2pnm (dcmtk) and the built dicom-render (make setup)")
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="dcmharness-bench-rust-"))
    try:
        files = []
        for f in candidate_files():  # only files both tools render, so both sides do the same work
            a = subprocess.run(dcmtk_argv(f, tmp / "check_d.png"), capture_output=True, check=False)
            b = subprocess.run(rust_argv(binary, f, tmp / "check_r.png"), capture_output=True, check=False)
            if a.returncode == 0 and b.returncode == 0:
                files.append(f)
        if args.files:
            files = files[: args.files]

        def per_file(build: Callable[[Path, Path], list[str]], tag: str) -> Callable[[], None]:
            def go() -> None:
                for k, f in enumerate(files):
                    subprocess.run(build(f, tmp / f"{tag}{k}.png"), capture_output=True, check=False)

            return go

        def batch() -> None:
            proc = subprocess.run([str(binary), "--batch"], input=batch_lines(files, tmp), capture_output=True,
                                  text=True, check=False)
            answers = [json.loads(line) for line in proc.stdout.splitlines()]
            if len(answers) != len(files) or not all(a["ok"] for a in answers):
                raise RuntimeError(f"dicom-render --batch failed: {proc.stdout[:300]} {proc.stderr[:300]}")

        peer = median_time(per_file(lambda s, d: dcmtk_argv(s, d), "d"), args.repeat)
        ours = median_time(per_file(lambda s, d: rust_argv(binary, s, d), "r"), args.repeat)
        ours_batch = median_time(batch, args.repeat)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    n = len(files)
    print(f"{n} sample files both render (8-bit PNG, min-max); median of {args.repeat} runs")
    print(f"| {'tool':<34} | {'s':>7} | {'ms/file':>8} | {'x dcmj2pnm':>10} |")
    print(f"|{'-' * 36}|{'-' * 9}|{'-' * 10}|{'-' * 12}|")
    for name, t in (("dcmj2pnm, one process per file", peer), ("dicom-render, one process per file", ours),
                    ("dicom-render --batch, one process", ours_batch)):
        print(f"| {name:<34} | {t:7.3f} | {t / n * 1000:8.1f} | {peer / t:10.2f} |")
    met = peer / ours >= 1.5
    print(f"aim: per file >= 1.5x dcmj2pnm: {'met' if met else 'NOT met'} ({peer / ours:.2f}x)")
    return 0
