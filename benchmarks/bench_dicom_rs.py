"""DICOM-rs ``dicom-toimage`` against ``dcmj2pnm`` on the same files, one process per file, in the same run.

    .venv/bin/python -m benchmarks dicom_rs [--repeat 3] [--files N]

Files: the sample images both tools render (native, RLE and the JPEG processes both decode), written as 8-bit
PNG with each tool's default VOI (``dcmj2pnm +on``; ``dicom-toimage --8bit``: the file's VOI LUT or first
window, else min-max). Times are the median of ``--repeat`` passes over all files; the ratio is dcmj2pnm's
time over dicom-toimage's (above 1: dicom-toimage is faster per file).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.corpus import sample_infos
from dcmharness.adapters.dicom_rs.render import DECODABLE, DicomRsAdapter

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
    """Sample images in a transfer syntax both tools decode, 8 or 16 bits allocated, sorted as the samples are."""
    return [
        info.path
        for info in sample_infos()
        if info.transfer_syntax in DCMJ2PNM_TS and info.transfer_syntax in DECODABLE and info.bits_allocated in (8, 16)
    ]


def dcmtk_argv(src: Path, dst: Path) -> list[str]:
    return ["dcmj2pnm", "+on", str(src), str(dst)]


def toimage_argv(binary: str, src: Path, dst: Path) -> list[str]:
    return [binary, "--8bit", "-o", str(dst), str(src)]


def median_time(fn: Callable[[], None], repeat: int) -> float:
    fn()  # warm-up (page cache, binaries)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks dicom_rs", description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--files", type=int, default=0, help="use the first N files only (0 = all)")
    args = ap.parse_args(argv)
    tool = DicomRsAdapter().tool()
    if not shutil.which("dcmj2pnm") or tool is None:
        print("dicom_rs benchmark: needs dcmj2pnm (dcmtk) and dicom-toimage (make setup)")
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="dcmharness-bench-dicomrs-"))
    try:
        files = []
        for f in candidate_files():  # only files both tools render, so both sides do comparable work
            a = subprocess.run(dcmtk_argv(f, tmp / "check_d.png"), capture_output=True, check=False)
            b = subprocess.run(toimage_argv(tool.path, f, tmp / "check_r.png"), capture_output=True, check=False)
            if a.returncode == 0 and b.returncode == 0:
                files.append(f)
        if args.files:
            files = files[: args.files]

        def per_file(build: Callable[[Path, Path], list[str]], tag: str) -> Callable[[], None]:
            def go() -> None:
                for k, f in enumerate(files):
                    subprocess.run(build(f, tmp / f"{tag}{k}.png"), capture_output=True, check=False)

            return go

        peer = median_time(per_file(dcmtk_argv, "d"), args.repeat)
        ours = median_time(per_file(lambda s, d: toimage_argv(tool.path, s, d), "r"), args.repeat)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    n = len(files)
    print(f"{n} sample files both render (8-bit PNG, each tool's default VOI); median of {args.repeat} runs")
    print(f"| {'tool':<38} | {'s':>7} | {'ms/file':>8} | {'x dcmj2pnm':>10} |")
    print(f"|{'-' * 40}|{'-' * 9}|{'-' * 10}|{'-' * 12}|")
    for name, t in (("dcmj2pnm, one process per file", peer), (f"dicom-toimage {tool.version}, one per file", ours)):
        print(f"| {name:<38} | {t:7.3f} | {t / n * 1000:8.1f} | {peer / t:10.2f} |")
    return 0
