"""network: every DIMSE client (python_ref, dcmtk, ...) against every server the harness can start on 127.0.0.1
(python_ref's pynetdicom SCP; dcmtk's storescp cannot bind one address in 3.6.7 and is left out, the report's
``network_matrix`` says so), for ``echo``, ``store`` of each corpus file, and ``find`` of what was stored.

Profiles: ``network:echo`` (once per client and server), ``network:store`` (the stored file compared element
by element with the original, and the transfer syntax it was sent in), ``network:find`` (an image-level query
by the file's SOP Instance UID must return exactly one match with the file's patient, study and series UIDs).
A re-encoding by a client or a server shows as a difference, to be explained by a registry entry naming the
profile. One SCP per corpus file (a fresh store folder), stopped by PID before the next.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dcmharness.interface import registry
from dcmharness.interface.conform.ops.core import Ctx, OpCheck, Run, record, ref_record, run_request

NETWORK_FILES = (
    "CT_small.dcm",
    "MR_small.dcm",
    "rtplan.dcm",
    "JPEG-LL.dcm",
    "emri_small_RLE.dcm",
    "JPEG2000.dcm",
    "MR_small_bigendian.dcm",
    "SC_rgb_jpeg_gdcm.dcm",
)
SERVERS = ("python_ref",)
SERVERS_LEFT_OUT = {"dcmtk": "storescp 3.6.7 has no option to bind one address (it would listen on every interface)"}
FIND_KEYS = ("PatientID", "StudyInstanceUID", "SeriesInstanceUID")


def clients(ctx: Ctx) -> list[str]:
    """The reference first, then every available backend that implements ``store`` (or those asked for)."""
    names = list(ctx.config.backends) if ctx.config.backends else registry.names()
    chosen = [ctx.config.reference]
    for name in names:
        if name == ctx.config.reference or name not in registry.BACKENDS:
            continue
        backend = registry.get(name)
        if "store" in backend.ops and backend.availability().available:
            chosen.append(name)
    return chosen


def dataset_differences(original: Path, stored: Path, sent_as: str | None) -> list[str]:
    """How the stored file differs from the original: the transfer syntax, elements dropped or added, values
    (an element that came back as UN after an Implicit VR transfer is compared by its tag only)."""
    import pydicom

    a, b = pydicom.dcmread(original), pydicom.dcmread(stored)
    problems: list[str] = []
    ts_a, ts_b = str(a.file_meta.TransferSyntaxUID), str(b.file_meta.TransferSyntaxUID)
    if ts_b != ts_a:
        problems.append(f"stored in transfer syntax {ts_b}, the original is in {ts_a} (sent as {sent_as})")
    tags_a, tags_b = {e.tag for e in a}, {e.tag for e in b}
    problems += [
        f"{t} ({pydicom.datadict.keyword_for_tag(t) or 'private'}) not stored" for t in sorted(tags_a - tags_b)
    ]
    problems += [f"{t} added by the transfer" for t in sorted(tags_b - tags_a)]
    for tag in sorted(tags_a & tags_b):
        x, y = a[tag], b[tag]
        if y.VR == "UN" and x.VR != "UN":
            continue
        if x.VR != y.VR:
            problems.append(f"{tag} VR {x.VR} stored as {y.VR}")
        elif x.value != y.value and not (x.keyword == "PixelData" and ts_a != ts_b and _same_pixels(a, b)):
            problems.append(f"{tag} ({x.keyword or 'private'}) value differs")
    return problems


def _same_pixels(a: Any, b: Any) -> bool:
    """Pixel Data re-encoded in another transfer syntax (e.g. byte-swapped from big endian): the decoded pixels."""
    import numpy as np

    try:
        return bool(np.array_equal(a.pixel_array, b.pixel_array))
    except Exception:  # noqa: BLE001 - not decodable: the bytes differ and that is the finding
        return False


def _net(peer: Any, **extra: Any) -> dict[str, Any]:
    return {"port": peer.port, "called_aet": peer.aet, "timeout": 30, **extra}


def network_file(ctx: Ctx, path: Path, case: str, backends: Sequence[str], case_dir: Path) -> None:
    import pydicom

    from dcmharness.backends.python_ref.scp import python_scp

    header = pydicom.dcmread(path, stop_before_pixels=True)
    sop_instance = str(header.SOPInstanceUID)
    first = not any(r["profile"] == "network:echo" for r in ctx.records)
    problems: list[Any] | None
    for server in SERVERS:
        with tempfile.TemporaryDirectory(prefix="dcmharness-conform-scp-") as store, python_scp(store) as peer:
            for client in clients(ctx):
                label = f"{client}->{server}"
                if first:
                    echo = run_request({"op": "echo", "backend": client, "options": _net(peer)}, ctx.config.timeout)
                    problems = [] if (echo.result or {}).get("status") == "0x0000" else None
                    _record(ctx, f"{case}/echo", path, "network:echo", client, server, echo, problems, label)
                stored = run_request(
                    {"op": "store", "backend": client, "input": str(path), "options": _net(peer)}, ctx.config.timeout
                )
                problems = None
                target = Path(store) / f"{sop_instance}.dcm"
                if stored.ok and stored.result:
                    sent = stored.result["instances"][0].get("sent_transfer_syntax")
                    try:
                        problems = dataset_differences(path, target, sent) if target.is_file() else ["nothing stored"]
                    except Exception as exc:  # an unreadable stored file is a finding
                        problems = [f"stored file not readable: {type(exc).__name__}: {exc}"[:300]]
                _record(ctx, f"{case}/store", path, "network:store", client, server, stored, problems, label)
                query = {"SOPInstanceUID": sop_instance, **{k: "" for k in FIND_KEYS}}
                found = run_request(
                    {"op": "find", "backend": client, "options": _net(peer, level="image", query=query)},
                    ctx.config.timeout,
                )
                problems = None
                if found.ok and found.result is not None and stored.ok:
                    problems = find_problems(found.result["matches"], header)
                _record(ctx, f"{case}/find", path, "network:find", client, server, found, problems, label)
                target.unlink(missing_ok=True)


def find_problems(matches: list[dict[str, Any]], header: Any) -> list[str]:
    """An image-level query by SOP Instance UID must give one match carrying the file's keys. Pure."""
    from pydicom.datadict import tag_for_keyword

    if len(matches) != 1:
        return [f"{len(matches)} matches, expected 1"]
    problems = []
    for key in ("SOPInstanceUID", *FIND_KEYS):
        tag = f"{tag_for_keyword(key):08X}"
        got = (matches[0].get(tag) or {}).get("Value", [""])[0]
        want = str(header.get(key, "") or "")
        if str(got) != want:
            problems.append(f"{key}: {got!r}, the file has {want!r}")
    return problems


def _record(
    ctx: Ctx,
    case: str,
    path: Path,
    profile: str,
    client: str,
    server: str,
    run: Run,
    problems: list[Any] | None,
    label: str,
) -> None:
    options = {"server": server}
    if client == ctx.config.reference:
        ref_record(ctx, case, path, profile, options, run)
    rec = record(
        ctx,
        case=case,
        path=path,
        profile=profile,
        options=options,
        backend=client,
        run=run,
        problems=problems,
        reference=None,
    )
    rec["metrics"]["pair"] = label


def finish(ctx: Ctx, report: dict[str, Any]) -> None:
    """``network_matrix``: per client -> server -> op, the statuses counted; the servers left out and why."""
    matrix: dict[str, dict[str, dict[str, dict[str, int]]]] = {}
    for r in ctx.records:
        op = r["profile"].split(":", 1)[1]
        cell = matrix.setdefault(r["backend"], {}).setdefault(r["options"]["server"], {}).setdefault(op, {})
        cell[r["status"]] = cell.get(r["status"], 0) + 1
    report["network_matrix"] = {"cells": matrix, "servers_left_out": SERVERS_LEFT_OUT}
    # the runner picks backends by op name ("network" is none's): the clients compared are named here
    compared = []
    for name in clients(ctx)[1:]:
        backend = registry.get(name)
        compared.append({"name": name, "version": backend.availability().version, "kind": backend.kind})
    report["summary"]["backends"] = compared


NETWORK = OpCheck(NETWORK_FILES, network_file, finish=finish)
