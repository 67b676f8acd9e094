"""The dcmjs adapter's overhead: a request through the adapter against the same render timed inside the Node
worker, on a 512x512 CT (pydicom-data's 693_UNCR.dcm), in one run.

    .venv/bin/python -m benchmarks dcmjs [--repeat 50]

Each request is ``to_image`` with an explicit window (40/400), 8-bit PNG, on the warm worker. Three figures,
medians over ``--repeat`` requests of each kind (interleaved, so the machine's load hits them alike):

- inside the worker: its own timing of the request (read the file, ``DicomImage.render``, encode, write:
  ``ms.total`` of its answer);
- the adapter: ``DcmjsAdapter.check`` + ``execute`` (the refusal checks, the JSON line each way, the
  worker's work, the PNG's verification); overhead = adapter / worker - 1, the aim of issue 19 (<= 20%);
- the whole request: ``dcmharness.interface.api.run`` (validation, the shared preflight that reads the
  header, the output plan and its commit on top; the same for every backend).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

AIM = 0.20


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks dcmjs", description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=50)
    ap.add_argument("--file", default="693_UNCR.dcm", help="sample file name (default: a 512x512 CT)")
    args = ap.parse_args(argv)

    from dcmharness.contract.validation import parse_request
    from dcmharness.interface import registry
    from dcmharness.interface.api import run
    from dcmharness.interface.context import RunContext
    from dcmharness.interface.prepare import PREPARERS
    from dcmharness.interface.samples import find

    backend = registry.get("dcmjs")
    avail = backend.availability()
    if not avail.available:
        print(f"dcmjs benchmark: backend not available ({avail.reason})")
        return 1
    src = find(args.file)
    tmp = Path(tempfile.mkdtemp(prefix="dcmharness-bench-dcmjs-"))
    inside: list[float] = []
    adapter: list[float] = []
    whole: list[float] = []

    def request(name: str) -> dict[str, Any]:
        return {"op": "to_image", "backend": "dcmjs", "input": str(src), "output": str(tmp / name),
                "options": {"window_center": 40, "window_width": 400}}  # fmt: skip

    try:
        for k in range(-3, args.repeat):  # 3 warm-up rounds (worker start, JIT)
            data = request(f"a{k + 3}.png")
            parsed = parse_request(data)
            info, plan = PREPARERS["to_image"](parsed, RunContext())
            t0 = time.perf_counter()
            backend.check(parsed, info)
            outcome = backend.execute(parsed, info, plan)
            t1 = time.perf_counter()
            plan.commit()
            t2 = time.perf_counter()
            response = run(request(f"w{k + 3}.png"))
            t3 = time.perf_counter()
            if not response.ok:
                print(f"dcmjs benchmark: request failed: {response.error}")
                return 1
            if k >= 0:
                inside.append(float(outcome.result["dcmjs"]["ms"]["total"]))
                adapter.append((t1 - t0) * 1000)
                whole.append((t3 - t2) * 1000)
    finally:
        registry.close_all()
        shutil.rmtree(tmp, ignore_errors=True)
    node_ms, adapter_ms, whole_ms = (statistics.median(v) for v in (inside, adapter, whole))
    overhead = adapter_ms / node_ms - 1
    print(f"{args.file} (512x512 CT), window 40/400, 8-bit PNG; medians of {args.repeat} warm requests of each kind")
    print(f"| {'where':<58} | {'ms':>6} | {'vs worker':>9} |")
    print(f"|{'-' * 60}|{'-' * 8}|{'-' * 11}|")
    for name, value in (("inside the Node worker (read, render, encode, write)", node_ms),
                        ("through the dcmjs adapter (check + execute)", adapter_ms),
                        ("the whole request (api.run: + validation, preflight, commit)", whole_ms)):  # fmt: skip
        print(f"| {name:<58} | {value:6.2f} | {value / node_ms - 1:+8.1%} |")
    print(f"adapter overhead: {overhead:+.1%} (aim <= {AIM:.0%}: {'met' if overhead <= AIM else 'NOT met'})")
    return 0
