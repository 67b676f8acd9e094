"""``dcmharness serve`` against the in-process API, in the same run (issue 17).

    .venv/bin/python -m benchmarks serve [--repeat 60] [--concurrent 50]

- overhead: ``POST /run`` of a 512x512 CT ``to_image`` (python_ref, explicit window, outputs in the server's
  private folder) against the same request through ``dcmharness.interface.api.run`` in this process,
  alternated request by request; the overhead is the median of the paired differences (aim <= 10 ms);
- concurrent: ``--concurrent`` requests at once (one connection each), every answer checked: ok, its own id,
  an output whose pixels equal the in-process render.

The server is the real command (``python -m dcmharness serve --port 0``) in a subprocess; the client keeps
its connection open (as any HTTP client does). The CT is slice 1 of /work/shared/data/ct-head-series/.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

SERIES = Path("/work/shared/data/ct-head-series")
SLICE = "IM-0001-0001.dcm"
OPTIONS = {"window_center": 40, "window_width": 400}
REPO = Path(__file__).resolve().parents[1]


def start_server(root: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dcmharness", "serve", "--root", str(root), "--port", "0", "--workers", "4"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env=env,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stderr.readline().decode()
        if "open http://" in line:
            base, _, token = line.split("open ", 1)[1].strip().partition("/?token=")
            return proc, base, token
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise RuntimeError("dcmharness serve did not start")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    import httpx

    from dcmharness.interface.api import RunContext, run
    from dcmharness.interface.conform.compare import compare_files

    parser = argparse.ArgumentParser(prog="benchmarks serve")
    parser.add_argument("--repeat", type=int, default=60)
    parser.add_argument("--concurrent", type=int, default=50)
    args, _ = parser.parse_known_args(argv)
    if not (SERIES / SLICE).is_file():
        print(f"serve: skipped ({SERIES / SLICE} is absent)")
        return 0
    request: dict[str, Any] = {"op": "to_image", "input": SLICE, "backend": "python_ref", "options": OPTIONS}
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        ctx = RunContext(cwd=Path(tmp))
        direct_req = {**request, "input": str(SERIES / SLICE), "overwrite": True}
        reference = run({**direct_req, "output": str(Path(tmp) / "reference.png")}, ctx)
        assert reference.ok, reference.error
        proc, base, token = start_server(SERIES)
        try:
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
                for _ in range(3):  # warm both paths (imports, caches)
                    client.post("/run", json=request).raise_for_status()
                    run(direct_req, ctx)
                served, direct, paired = [], [], []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    resp = client.post("/run", json=request)
                    t1 = time.perf_counter()
                    r = run(direct_req, ctx)
                    t2 = time.perf_counter()
                    assert resp.json()["ok"] and r.ok
                    served.append((t1 - t0) * 1000)
                    direct.append((t2 - t1) * 1000)
                    paired.append(served[-1] - direct[-1])
            overhead = statistics.median(paired)

            def one(k: int) -> tuple[bool, float]:
                t0 = time.perf_counter()
                with httpx.Client(base_url=base, headers=headers, timeout=300) as c:
                    body = c.post("/run", json={**request, "id": k}).json()
                elapsed = (time.perf_counter() - t0) * 1000
                good = (
                    body.get("ok") is True
                    and body.get("id") == k
                    and compare_files(reference.outputs[0], body["outputs"][0]).max_abs_diff == 0
                )
                return good, elapsed

            t0 = time.perf_counter()
            with ThreadPoolExecutor(args.concurrent) as pool:
                answers = list(pool.map(one, range(args.concurrent)))
            wall = (time.perf_counter() - t0) * 1000
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
    correct = sum(1 for good, _ in answers if good)
    figures = {
        "served_p50_ms": round(statistics.median(served), 2),
        "direct_p50_ms": round(statistics.median(direct), 2),
        "overhead_p50_ms": round(overhead, 2),
        "overhead_p90_ms": round(pct(paired, 0.9), 2),
        "concurrent": args.concurrent,
        "concurrent_correct": correct,
        "concurrent_wall_ms": round(wall, 1),
        "concurrent_max_latency_ms": round(max(e for _, e in answers), 1),
    }
    print("serve:", json.dumps(figures))
    print(f"serve: overhead per request p50 {overhead:.2f} ms (aim <= 10 ms): {'ok' if overhead <= 10 else 'MISSED'}")
    print(f"serve: {correct}/{args.concurrent} concurrent requests answered correctly")
    return 0 if overhead <= 10 and correct == args.concurrent else 1


if __name__ == "__main__":
    sys.exit(main())
