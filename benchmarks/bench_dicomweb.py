"""``python -m benchmarks dicomweb``: the 174-slice head CT through each DICOMweb client (python_ref, orthanc)
against ONE harness DICOMweb server (Orthanc + its DICOMweb plugin, 127.0.0.1), emptied before each round: stow
of the folder, qido of its instances, wado of the study (every file checked byte for byte against the series);
medians of ``--repeat`` rounds each (alternating).

The series is read from ``/work/shared/data/ct-head-series`` (``--series`` to change it), never copied.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path
from typing import Any

SERIES = Path("/work/shared/data/ct-head-series")
CLIENTS = ("python_ref", "orthanc")


def _round(client: str, url: str, series: Path, study: str, originals: dict[str, bytes]) -> dict[str, float]:
    from dcmharness.interface.api import run

    times: dict[str, float] = {}
    stow = run({"op": "stow", "backend": client, "input": str(series), "options": {"url": url, "timeout": 120},
                "timeout": 600})
    if not stow.ok:
        raise RuntimeError(f"{client} stow: {stow.error}")
    times["stow"] = stow.duration_ms
    qido = run({"op": "qido", "backend": client,
                "options": {"url": url, "level": "instance", "study_uid": study, "timeout": 120}})
    if not qido.ok or qido.result is None or qido.result["count"] != len(originals):
        raise RuntimeError(f"{client} qido: {qido.error or (qido.result and qido.result['count'])}")
    times["qido"] = qido.duration_ms
    with tempfile.TemporaryDirectory() as out:
        wado = run({"op": "wado", "backend": client, "output": f"{out}/w",
                    "options": {"url": url, "study_uid": study, "timeout": 120}, "timeout": 600})
        if not wado.ok or wado.result is None:
            raise RuntimeError(f"{client} wado: {wado.error}")
        for item in wado.result["instances"]:
            if Path(item["file"]).read_bytes() != originals[item["sop_instance_uid"]]:
                raise RuntimeError(f"{client} wado: {item['sop_instance_uid']} came back changed")
        if wado.result["files"] != len(originals):
            raise RuntimeError(f"{client} wado: {wado.result['files']} of {len(originals)} files")
    times["wado"] = wado.duration_ms
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks dicomweb")
    parser.add_argument("--series", type=Path, default=SERIES)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if not args.series.is_dir():
        print(f"dicomweb benchmark: {args.series} is not a folder")
        return 1
    import pydicom

    from dcmharness.adapters.orthanc.dicomweb_server import orthanc_dicomweb_server
    from dcmharness.contract.errors import HarnessError
    from dcmharness.interface import registry
    from dcmharness.interface.conform.ops.dicomweb import wipe

    files = sorted(p for p in args.series.iterdir() if p.is_file() and not p.name.startswith("."))
    originals = {str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID): p.read_bytes() for p in files}
    study = str(pydicom.dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)
    size = sum(len(b) for b in originals.values())
    times: dict[str, dict[str, list[float]]] = {c: {"stow": [], "qido": [], "wado": []} for c in CLIENTS}
    try:
        with orthanc_dicomweb_server() as peer:
            for _ in range(max(1, args.repeat)):
                for client in CLIENTS:
                    wipe(peer.rest_url)
                    for op, ms in _round(client, peer.url, args.series, study, originals).items():
                        times[client][op].append(ms)
    except (HarnessError, RuntimeError) as exc:
        print(f"dicomweb benchmark: {getattr(exc, 'message', exc)}")
        return 1
    finally:
        registry.close_all()
    print(f"{args.series}: {len(files)} files, {size / 1e6:.1f} MB; medians of {args.repeat} rounds, whole requests")
    print(f"| {'client':<12} | {'stow ms':>8} | {'MB/s':>5} | {'qido ms':>8} | {'wado ms':>8} | {'MB/s':>5} |")
    print(f"|{'-' * 14}|{'-' * 10}|{'-' * 7}|{'-' * 10}|{'-' * 10}|{'-' * 7}|")
    for client, ops in times.items():
        med: dict[str, Any] = {op: statistics.median(v) for op, v in ops.items()}
        print(
            f"| {client:<12} | {med['stow']:8.0f} | {size / 1e3 / med['stow']:5.1f} | {med['qido']:8.0f} | "
            f"{med['wado']:8.0f} | {size / 1e3 / med['wado']:5.1f} |"
        )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
