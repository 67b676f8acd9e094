"""``python -m benchmarks network``: the 174-slice head CT stored over ONE association by python_ref (pynetdicom,
chunked send) and by dcmtk (``storescu -R``), each into its own fresh private Orthanc's DICOM port (``--server
orthanc``, the default: ``adapters/orthanc/peer.py``, reached through the relay on 127.0.0.1) or the harness's
pynetdicom SCP (``--server python_ref``), in one run; medians of ``--repeat`` stores each (alternating), the
ratio python_ref / storescu (aim <= 1.5). Every instance is checked to be in the server afterwards (Orthanc:
``/statistics``' CountInstances).

The series is read from ``/work/shared/data/ct-head-series`` (``--series`` to change it), never copied.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

SERIES = Path("/work/shared/data/ct-head-series")
AIM = 1.5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks network")
    parser.add_argument("--series", type=Path, default=SERIES)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--server", choices=("orthanc", "python_ref"), default="orthanc")
    args = parser.parse_args(argv)
    if not args.series.is_dir():
        print(f"network benchmark: {args.series} is not a folder")
        return 1
    if not shutil.which("storescu"):
        print("network benchmark: dcmtk's storescu is not installed")
        return 1
    from dcmharness.interface.api import run

    times: dict[str, list[float]] = {"python_ref": [], "dcmtk": []}
    files = 0
    size = 0
    for _ in range(max(1, args.repeat)):
        for backend in times:
            with _server(args.server) as (peer, count):
                request = {
                    "op": "store",
                    "backend": backend,
                    "input": str(args.series),
                    "options": {"port": peer.port, "called_aet": peer.aet, "timeout": 30},
                    "timeout": 600,
                }
                resp = run(request)
                if not resp.ok or resp.result is None:
                    print(f"network benchmark: {backend} failed: {resp.error}")
                    return 1
                stored = count()
                if stored != resp.result["files"]:
                    print(f"network benchmark: {backend} stored {stored} of {resp.result['files']} files")
                    return 1
                files, size = resp.result["files"], resp.result["bytes"]
                times[backend].append(resp.duration_ms)
    py, dc = statistics.median(times["python_ref"]), statistics.median(times["dcmtk"])
    into = "a private Orthanc's DICOM port" if args.server == "orthanc" else "the harness's pynetdicom SCP"
    print(f"{args.series}: {files} files, {size / 1e6:.1f} MB, into {into}, one association each; medians of "
          f"{args.repeat}")  # fmt: skip
    print("(the whole request: reading the headers, associating, every C-STORE, releasing)")
    print(f"| {'client':<28} | {'ms':>8} | {'MB/s':>6} |")
    print(f"|{'-' * 30}|{'-' * 10}|{'-' * 8}|")
    print(f"| {'python_ref (pynetdicom)':<28} | {py:8.0f} | {size / 1e3 / py:6.1f} |")
    print(f"| {'dcmtk (storescu -R)':<28} | {dc:8.0f} | {size / 1e3 / dc:6.1f} |")
    ratio = py / dc
    print(f"python_ref / storescu: {ratio:.2f} (aim <= {AIM}: {'met' if ratio <= AIM else 'NOT met'})")
    return 0


@contextlib.contextmanager
def _server(kind: str) -> Iterator[tuple[Any, Callable[[], int]]]:
    """A fresh server and a function counting the instances it holds."""
    if kind == "orthanc":
        from dcmharness.adapters.orthanc.peer import orthanc_peer

        with orthanc_peer("BENCH-ORTHANC") as peer:

            def count() -> int:
                with urllib.request.urlopen(peer.http_url + "/statistics", timeout=30) as resp:
                    return int(json.loads(resp.read())["CountInstances"])

            yield peer, count
        return
    from dcmharness.backends.python_ref.scp import python_scp

    with tempfile.TemporaryDirectory() as store, python_scp(store, aet="BENCH-SCP") as scp:
        yield scp, lambda: len(list(Path(store).glob("*.dcm")))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
