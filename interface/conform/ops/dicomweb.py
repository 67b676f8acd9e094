"""dicomweb: every DICOMweb client (python_ref, orthanc, ...) against every DICOMweb server the harness can start on
127.0.0.1 (today: Orthanc with its DICOMweb plugin, ``adapters/orthanc/dicomweb_server.py``), for ``stow`` of each
corpus file, ``qido`` of it and ``wado`` of its study.

Profiles: ``dicomweb:stow`` (the STOW's per-instance status where the client reports one, and the instance the
server then holds, read over the server's own REST API, compared element by element with the original),
``dicomweb:qido`` (an instance-level search by the file's SOP Instance UID must give exactly one match with the
file's patient, study and series keys), ``dicomweb:wado`` (the study retrieved as stored, ``transfer-syntax=*``:
the file received compared element by element with the original, its transfer syntax reported). A re-encoding
by a client or the server shows as a difference, to be explained by a registry entry naming the profile. One
server per corpus file, emptied before each client, stopped by PID before the next file.
"""

from __future__ import annotations

import json
import tempfile
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dcmharness.interface import registry
from dcmharness.interface.conform.ops.core import Ctx, OpCheck, Run, run_request
from dcmharness.interface.conform.ops.network import FIND_KEYS, dataset_differences, find_problems
from dcmharness.interface.conform.ops.network import _record as network_record

DICOMWEB_FILES = (
    "CT_small.dcm",
    "MR_small.dcm",
    "rtplan.dcm",
    "JPEG-LL.dcm",
    "emri_small_RLE.dcm",
    "JPEG2000.dcm",
    "MR_small_bigendian.dcm",
    "SC_rgb_jpeg_gdcm.dcm",
    "SC_rgb_rle.dcm",
)
SERVERS = ("orthanc",)
SERVERS_LEFT_OUT = {
    "dcm4che": "dcm4chee-arc (the dcm4che DICOMweb server) is a Java EE application (WildFly + LDAP + a database), "
    "not installable here",
}


def clients(ctx: Ctx) -> list[str]:
    """The reference first, then every available backend that implements ``stow`` (or those asked for)."""
    names = list(ctx.config.backends) if ctx.config.backends else registry.names()
    chosen = [ctx.config.reference]
    for name in names:
        if name == ctx.config.reference or name not in registry.BACKENDS:
            continue
        backend = registry.get(name)
        if "stow" in backend.ops and backend.availability().available:
            chosen.append(name)
    return chosen


def _rest(url: str, method: str = "GET", body: bytes | None = None) -> bytes:
    req = urllib.request.Request(url, data=body, method=method)
    with urllib.request.urlopen(req, timeout=30) as resp:
        return bytes(resp.read())


def wipe(rest_url: str) -> None:
    """Delete every instance the server holds (its REST API)."""
    for instance_id in json.loads(_rest(rest_url + "/instances")):
        _rest(f"{rest_url}/instances/{instance_id}", "DELETE")


def held_file(rest_url: str, sop_instance_uid: str, into: Path) -> Path | None:
    """The file the server holds for ``sop_instance_uid`` (its REST API, as stored), or None."""
    query = {"Level": "Instance", "Query": {"SOPInstanceUID": sop_instance_uid}}
    ids = json.loads(_rest(rest_url + "/tools/find", "POST", json.dumps(query).encode()))
    if len(ids) != 1:
        return None
    into.write_bytes(_rest(f"{rest_url}/instances/{ids[0]}/file"))
    return into


def stow_problems(result: dict[str, Any]) -> list[str]:
    """What a client's STOW result says against storing the file: a failed or unlisted instance (a client that
    cannot see the STOW response reports ``not_reported``, which is no problem). Pure."""
    problems = []
    for row in result.get("instances", []):
        if row.get("status") == "failed":
            problems.append(f"{Path(row['file']).name}: failed (Failure Reason {row.get('failure_reason', '?')})")
    if result.get("sent") != 1:
        problems.append(f"{result.get('sent')} files sent, expected 1")
    return problems


def dicomweb_file(ctx: Ctx, path: Path, case: str, backends: Sequence[str], case_dir: Path) -> None:
    import pydicom

    from dcmharness.adapters.orthanc.dicomweb_server import orthanc_dicomweb_server

    header = pydicom.dcmread(path, stop_before_pixels=True)
    sop_instance, study = str(header.SOPInstanceUID), str(header.StudyInstanceUID)
    timeout = ctx.config.timeout
    with orthanc_dicomweb_server() as peer, tempfile.TemporaryDirectory(prefix="dcmharness-conform-dw-") as tmp:
        for client in clients(ctx):
            label = f"{client}->orthanc"
            wipe(peer.rest_url)
            stowed = run_request(
                {"op": "stow", "backend": client, "input": str(path), "options": {"url": peer.url}}, timeout
            )
            problems: list[Any] | None = None
            if stowed.ok and stowed.result is not None:
                problems = stow_problems(stowed.result)
                held = held_file(peer.rest_url, sop_instance, Path(tmp) / f"{client}-held.dcm")
                try:
                    problems += dataset_differences(path, held, None) if held else ["the server holds no instance"]
                except Exception as exc:  # an unreadable stored file is a finding
                    problems.append(f"stored file not readable: {type(exc).__name__}: {exc}"[:300])
            _record(ctx, f"{case}/stow", path, "dicomweb:stow", client, stowed, problems, label)

            query = {"SOPInstanceUID": sop_instance, **{k: "" for k in FIND_KEYS}}
            found = run_request(
                {"op": "qido", "backend": client, "options": {"url": peer.url, "level": "instance", "query": query}},
                timeout,
            )
            problems = None
            if found.ok and found.result is not None and stowed.ok:
                problems = find_problems(found.result["matches"], header)
            _record(ctx, f"{case}/qido", path, "dicomweb:qido", client, found, problems, label)

            out = case_dir / f"wado-{client}"
            got = run_request(
                {"op": "wado", "backend": client, "output": str(out), "overwrite": True,
                 "options": {"url": peer.url, "study_uid": study}},
                timeout,
            )
            problems = None
            if got.ok and got.result is not None and stowed.ok:
                retrieved = out / f"{sop_instance}.dcm"
                if not retrieved.is_file():
                    problems = [f"{retrieved.name} not retrieved"]
                else:
                    try:
                        problems = dataset_differences(path, retrieved, None)
                    except Exception as exc:
                        problems = [f"retrieved file not readable: {type(exc).__name__}: {exc}"[:300]]
            _record(ctx, f"{case}/wado", path, "dicomweb:wado", client, got, problems, label)


def _record(
    ctx: Ctx, case: str, path: Path, profile: str, client: str, run: Run, problems: list[Any] | None, label: str
) -> None:
    """network's record (client -> server pair), plus the transfer syntax a wado received."""
    network_record(ctx, case, path, profile, client, "orthanc", run, problems, label)
    result = run.result or {}
    if profile == "dicomweb:wado" and result.get("instances"):
        ctx.records[-1]["metrics"]["transfer_syntax"] = result["instances"][0].get("transfer_syntax")


def finish(ctx: Ctx, report: dict[str, Any]) -> None:
    """``dicomweb_matrix``: per client -> server -> op, the statuses counted; the servers left out and why."""
    matrix: dict[str, dict[str, dict[str, dict[str, int]]]] = {}
    for r in ctx.records:
        op = r["profile"].split(":", 1)[1]
        cell = matrix.setdefault(r["backend"], {}).setdefault(r["options"]["server"], {}).setdefault(op, {})
        cell[r["status"]] = cell.get(r["status"], 0) + 1
    report["dicomweb_matrix"] = {"cells": matrix, "servers": list(SERVERS), "servers_left_out": SERVERS_LEFT_OUT}
    compared = []
    for name in clients(ctx)[1:]:
        backend = registry.get(name)
        compared.append({"name": name, "version": backend.availability().version, "kind": backend.kind})
    report["summary"]["backends"] = compared


DICOMWEB = OpCheck(DICOMWEB_FILES, dicomweb_file, finish=finish)
