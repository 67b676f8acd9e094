"""network: every DIMSE client (python_ref, dcmtk, ...) against every server the harness can start on 127.0.0.1
(python_ref's pynetdicom SCP; a private Orthanc's DICOM server; dcmtk's dcmqrscp: the last two in a network
namespace of their own behind a relay on 127.0.0.1, ``adapters/loopback_ns.py``), for ``echo``, ``store`` of each
corpus file, ``find`` and ``get`` of what was stored.

Profiles: ``network:echo`` (once per client and server), ``network:store`` (the server's copy of the stored file,
read from its storage, compared element by element with the original; decoded pixels when the transfer
re-encoded them), ``network:find`` (an image-level hierarchical query by the file's study, series and SOP
Instance UIDs must return exactly one match with the file's patient, study and series keys), ``network:get``
(the instance retrieved at image level, asking for the file's own transfer syntax, compared element by element
with the original). Per server and file: a fresh server seeded by the reference's store, against which every
client finds and gets; then a fresh server per other client for its store. A re-encoding by a client or a
server shows as a difference, to be explained by a registry entry naming the profile. Every server is stopped by
PID before the next.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator, Sequence
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
SERVERS = ("python_ref", "orthanc", "dcmtk")
FIND_KEYS = ("PatientID", "StudyInstanceUID", "SeriesInstanceUID")
#: the keys of a hierarchical image-level query (PS3.4 C.4.1.2.2.1: the unique keys of every level above)
IMAGE_KEYS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")


def server_peer(server: str) -> Any:
    """The context manager starting ``server`` on 127.0.0.1 (its storage in a temporary folder)."""
    if server == "orthanc":
        from dcmharness.adapters.orthanc.peer import orthanc_peer

        return orthanc_peer()
    if server == "dcmtk":
        from dcmharness.adapters.dcmtk.peer import dcmqrscp_peer

        return dcmqrscp_peer()
    from dcmharness.backends.python_ref.scp import python_scp

    return _python_peer(python_scp)


@contextlib.contextmanager
def _python_peer(python_scp: Any) -> Iterator[Any]:
    with tempfile.TemporaryDirectory(prefix="dcmharness-conform-scp-") as store, python_scp(store) as peer:
        yield peer


def servers_available() -> tuple[list[str], dict[str, str]]:
    """The servers this machine can start, and why each other one is left out."""
    import shutil

    from dcmharness.adapters.loopback_ns import namespace_support

    chosen, left_out = ["python_ref"], {}
    namespaces, why = namespace_support()
    from dcmharness.adapters.orthanc.adapter import OrthancAdapter

    needs = {"orthanc": OrthancAdapter().find() is not None, "dcmtk": shutil.which("dcmqrscp") is not None}
    for server in SERVERS[1:]:
        if not needs[server]:
            left_out[server] = "not installed"
        elif not namespaces:
            left_out[server] = f"it cannot bind one address and no network namespace is available here: {why}"
        else:
            chosen.append(server)
    return chosen, left_out


def stored_file(server: str, peer: Any, sop_instance_uid: str, workdir: Path) -> Path | None:
    """The server's own copy of an instance: the python SCP's file, dcmqrscp's file in its storage area (found by
    its SOP Instance UID), Orthanc's attachment through its REST API (``/instances/{id}/file``)."""
    if server == "python_ref":
        target = Path(peer.store_dir) / f"{sop_instance_uid}.dcm"
        return target if target.is_file() else None
    if server == "dcmtk":
        import pydicom

        for path in sorted(Path(peer.store_dir).glob("*")):
            if path.name == "index.dat" or not path.is_file():
                continue
            try:
                if str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID) == sop_instance_uid:
                    return path
            except Exception:  # noqa: BLE001 - not a stored instance
                continue
        return None
    return _orthanc_file(peer.http_url, sop_instance_uid, workdir)


def _orthanc_file(base: str, sop_instance_uid: str, workdir: Path) -> Path | None:
    import json
    import urllib.request

    query = json.dumps({"Level": "Instance", "Query": {"SOPInstanceUID": sop_instance_uid}}).encode()
    request = urllib.request.Request(base + "/tools/find", data=query, method="POST")
    with urllib.request.urlopen(request, timeout=30) as resp:
        found = json.loads(resp.read())
    if len(found) != 1:
        return None
    target = workdir / f"orthanc-{sop_instance_uid}.dcm"
    with urllib.request.urlopen(f"{base}/instances/{found[0]}/file", timeout=60) as resp:
        target.write_bytes(resp.read())
    return target


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


def _syntax_name(uid: str) -> str | None:
    from dcmharness.contract.ops_models import TRANSFER_SYNTAXES

    return next((name for name, u in TRANSFER_SYNTAXES.items() if u == uid), None)


def network_file(ctx: Ctx, path: Path, case: str, backends: Sequence[str], case_dir: Path) -> None:
    import pydicom

    header = pydicom.dcmread(path, stop_before_pixels=True)
    sop_instance = str(header.SOPInstanceUID)
    first = not any(r["profile"] == "network:echo" for r in ctx.records)
    servers, _ = servers_available()
    chosen = clients(ctx)
    for server in servers:
        with tempfile.TemporaryDirectory(prefix="dcmharness-conform-net-") as work:
            with server_peer(server) as peer:  # seeded by the reference's store; every client finds and gets
                if first:
                    for client in chosen:
                        echo = run_request({"op": "echo", "backend": client, "options": _net(peer)}, ctx.config.timeout)
                        problems: list[Any] | None = [] if (echo.result or {}).get("status") == "0x0000" else None
                        _record(ctx, f"{case}/echo", path, "network:echo", client, server, echo, problems)
                seeded = _store(ctx, path, case, chosen[0], server, peer, sop_instance, Path(work))
                if seeded:
                    for client in chosen:
                        _find(ctx, path, case, header, client, server, peer)
                        _get(ctx, path, case, header, client, server, peer, Path(work) / f"get-{client}")
            for client in chosen[1:]:
                with server_peer(server) as peer:
                    _store(ctx, path, case, client, server, peer, sop_instance, Path(work))


def _store(ctx: Ctx, path: Path, case: str, client: str, server: str, peer: Any, uid: str, work: Path) -> bool:
    stored = run_request(
        {"op": "store", "backend": client, "input": str(path), "options": _net(peer)}, ctx.config.timeout
    )
    problems: list[Any] | None = None
    if stored.ok and stored.result:
        sent = stored.result["instances"][0].get("sent_transfer_syntax")
        try:
            target = stored_file(server, peer, uid, work)
            problems = dataset_differences(path, target, sent) if target is not None else ["nothing stored"]
        except Exception as exc:  # an unreadable stored file is a finding
            problems = [f"stored file not readable: {type(exc).__name__}: {exc}"[:300]]
    _record(ctx, f"{case}/store", path, "network:store", client, server, stored, problems)
    return stored.ok


def _image_keys(header: Any) -> dict[str, str]:
    return {k: str(header.get(k, "") or "") for k in IMAGE_KEYS}


def _find(ctx: Ctx, path: Path, case: str, header: Any, client: str, server: str, peer: Any) -> None:
    query = {**_image_keys(header), "PatientID": ""}
    found = run_request(
        {"op": "find", "backend": client, "options": _net(peer, level="image", query=query)}, ctx.config.timeout
    )
    problems = find_problems(found.result["matches"], header) if found.ok and found.result is not None else None
    _record(ctx, f"{case}/find", path, "network:find", client, server, found, problems)


def _get(ctx: Ctx, path: Path, case: str, header: Any, client: str, server: str, peer: Any, out: Path) -> None:
    """C-GET of the instance at image level, asking for the file's own transfer syntax when the contract names it
    (else the client's default proposal), compared with the original."""
    ts = str(header.file_meta.TransferSyntaxUID)
    name = _syntax_name(ts)
    options = _net(peer, level="image", query=_image_keys(header))
    if name is not None:
        options["transfer_syntaxes"] = [name]
    got = run_request({"op": "get", "backend": client, "output": str(out), "options": options}, ctx.config.timeout)
    problems: list[Any] | None = None
    if got.ok and got.result is not None:
        files = got.result["files"]
        if len(files) != 1:
            problems = [f"{len(files)} instances retrieved, expected 1"]
        else:
            try:
                problems = dataset_differences(path, Path(files[0]["file"]), files[0]["transfer_syntax"])
            except Exception as exc:  # an unreadable retrieved file is a finding
                problems = [f"retrieved file not readable: {type(exc).__name__}: {exc}"[:300]]
    _record(ctx, f"{case}/get", path, "network:get", client, server, got, problems)


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
    label: str | None = None,
) -> None:
    label = label or f"{client}->{server}"
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
    servers, left_out = servers_available()
    report["network_matrix"] = {"cells": matrix, "servers": servers, "servers_left_out": left_out}
    # the runner picks backends by op name ("network" is none's): the clients compared are named here
    compared = []
    for name in clients(ctx)[1:]:
        backend = registry.get(name)
        compared.append({"name": name, "version": backend.availability().version, "kind": backend.kind})
    report["summary"]["backends"] = compared


NETWORK = OpCheck(NETWORK_FILES, network_file, finish=finish)
