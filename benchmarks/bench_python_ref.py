"""In-process rendering time of python_ref on a 512x512 CT, stage by stage, before encoding.

Run: ``.venv/bin/python -m benchmarks.bench_python_ref`` (or ``main()``). Prints a table of the median
time (ms) of each stage and of the whole ``render_frame`` over repeated runs on a header already read
(reading the file and encoding the PNG are shown separately, for scale).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dcmharness.backends.preflight import inspect
from dcmharness.backends.python_ref import decode, modality, pipeline
from dcmharness.backends.python_ref.encode import encode
from dcmharness.contract.options import ToImageOptions

DEFAULT_FILE = "693_UNCR.dcm"  # pydicom-data: 512x512 CT, 16-bit, explicit VR little endian


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Median and minimum wall time of ``fn`` in milliseconds (the minimum is the figure on an idle machine)."""
    fn()  # warm up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times), min(times)


def synthetic_ct(path: Path) -> Path:
    """A 512x512 signed 16-bit CT (rescale -1024, soft-tissue window) when the sample file is absent."""
    from dcmharness.interface.synth.dataset import image_dataset, set_pixels, to_words, write

    x = np.random.default_rng(0).integers(-1024, 3000, size=(512, 512))
    ds = image_dataset("bench_ct", 512, 512, bits_stored=16, signed=True, modality="CT")
    set_pixels(ds, to_words(x, 16))
    ds.RescaleSlope, ds.RescaleIntercept, ds.WindowCenter, ds.WindowWidth = 1, -1024, 40, 400
    write(ds, path)
    return path


def bench(path: Path, repeat: int) -> list[tuple[str, tuple[float, float]]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        info = inspect(str(path))
        ds, ts = info.dataset, info.transfer_syntax
        options = ToImageOptions(window_center=40, window_width=400)
        lay = decode.layout_of(ds)
        words = decode.decode_words(ds, 0, ts).words
        stored = decode.stored_values(words, lay)
        values, _ = modality.apply_modality(stored, ds, 0)
        y, _ = pipeline.select_voi(values, ds, 0, options, 255)
        image = pipeline.render_frame(ds, 0, options, ts).image
        out = Path(tempfile.mkdtemp()) / "bench.png"
        rows = [
            ("read header (inspect)", timed(lambda: inspect(str(path)), repeat)),
            ("1 decode words", timed(lambda: decode.decode_words(ds, 0, ts), repeat)),
            ("  mask / sign-extend", timed(lambda: decode.stored_values(words, lay), repeat)),
            ("2 modality (rescale)", timed(lambda: modality.apply_modality(stored, ds, 0), repeat)),
            ("3 VOI (LINEAR window)", timed(lambda: pipeline.select_voi(values, ds, 0, options, 255), repeat)),
            ("  quantize", timed(lambda: pipeline.quantize(y, 255), repeat)),
            ("render_frame (all stages)", timed(lambda: pipeline.render_frame(ds, 0, options, ts), repeat)),
            ("encode PNG (level 1)", timed(lambda: encode(image, out, "png"), repeat)),
        ]
        out.unlink(missing_ok=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_python_ref")
    parser.add_argument("--file", help=f"a DICOM file (default: the sample {DEFAULT_FILE}, else a synthetic CT)")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args(argv)
    if args.file:
        path = Path(args.file)
    else:
        try:
            from dcmharness.interface.samples import find

            path = find(DEFAULT_FILE)
        except KeyError:
            path = synthetic_ct(Path(tempfile.mkdtemp()) / "bench_ct.dcm")
    rows = bench(path, args.repeat)
    print(f"python_ref on {path.name} ({args.repeat} runs each)")
    print(f"| {'stage':<28} | {'median ms':>9} | {'min ms':>8} |")
    print(f"|{'-' * 30}|{'-' * 11}|{'-' * 10}|")
    for name, (median, best) in rows:
        print(f"| {name:<28} | {median:9.2f} | {best:8.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
