"""Live: the peers the harness starts besides its own SCP: Orthanc (its DICOM server) and dcmtk's dcmqrscp, each
in a network namespace of its own (only its loopback) reached through a relay on 127.0.0.1
(``adapters/loopback_ns.py``). Checked: nothing of them listens in the host's namespace but the relay on
127.0.0.1; their namespace has no interface but ``lo``; echo, store, find and get by python_ref and dcmtk round
trip a file element by element; a wrong called AE title is rejected; ``dcmharness scp --backend`` runs each until
Ctrl-C and stops it by PID; a peer's process is gone after its block."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dcmharness.backends.network import Peer
from dcmharness.interface.api import run

pytestmark = pytest.mark.live
pytest.importorskip("pynetdicom", reason="pynetdicom is not installed (pip install pynetdicom)")

from dcmharness.adapters.loopback_ns import namespace_support  # noqa: E402

if not namespace_support()[0]:
    pytest.skip(f"no network namespace for a peer here: {namespace_support()[1]}", allow_module_level=True)


def _orthanc() -> Any:
    from dcmharness.adapters.orthanc.peer import orthanc_peer

    return orthanc_peer("ORTHANC-TEST")


def _dcmqrscp() -> Any:
    from dcmharness.adapters.dcmtk.peer import dcmqrscp_peer

    return dcmqrscp_peer(aet="QR-TEST")


def _has_orthanc() -> bool:
    from dcmharness.adapters.orthanc.adapter import OrthancAdapter

    return OrthancAdapter().find() is not None


PEERS = [
    pytest.param(_orthanc, id="orthanc", marks=pytest.mark.skipif(not _has_orthanc(), reason="Orthanc not installed")),
    pytest.param(
        _dcmqrscp, id="dcmtk", marks=pytest.mark.skipif(not shutil.which("dcmqrscp"), reason="dcmqrscp not installed")
    ),
]
CLIENTS = ["python_ref", pytest.param("dcmtk", marks=pytest.mark.skipif(not shutil.which("getscu"), reason="dcmtk"))]


def sample(name: str) -> Path:
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name)
    assert path is not None, name
    return Path(str(path))


def listening(port: int, table: str = "/proc/net/tcp") -> set[str]:
    found: set[str] = set()
    for t in (table, table + "6"):
        with open(t) as fh:
            for line in fh.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, hex_port = local.split(":")
                if state == "0A" and int(hex_port, 16) == port:
                    found.add(address)
    return found


def listening_ports(table: str) -> set[int]:
    with open(table) as fh:
        return {int(line.split()[1].split(":")[1], 16) for line in fh.readlines()[1:] if line.split()[3] == "0A"}


@pytest.fixture(scope="module", params=PEERS)
def peer(request: pytest.FixtureRequest) -> Iterator[Peer]:
    start: Callable[[], Any] = request.param
    with start() as started:
        yield started
    with pytest.raises(ProcessLookupError):
        os.kill(started.pid, 0)  # stopped by PID (and reaped) when the block ended


def net(peer: Peer, **extra: Any) -> dict[str, Any]:
    return {"port": peer.port, "called_aet": peer.aet, "timeout": 20, **extra}


def test_nothing_listens_but_the_relay_on_loopback(peer: Peer) -> None:
    assert listening(peer.port) == {"0100007F"}  # the relay: 127.0.0.1 only
    assert os.readlink(f"/proc/{peer.pid}/ns/net") != os.readlink("/proc/self/ns/net")
    with open(f"/proc/{peer.pid}/net/dev") as fh:
        interfaces = [line.split(":")[0].strip() for line in fh.readlines()[2:]]
    assert interfaces == ["lo"]
    inside = listening_ports(f"/proc/{peer.pid}/net/tcp")  # the server's own sockets, in its namespace
    assert inside and not any(listening(p) for p in inside if p != peer.port)


@pytest.mark.parametrize("backend", CLIENTS)
def test_round_trip(peer: Peer, backend: str, tmp_path: Path) -> None:
    import pydicom

    from dcmharness.interface.conform.ops.network import dataset_differences

    original = sample("CT_small.dcm")
    ds = pydicom.dcmread(original, stop_before_pixels=True)
    echo = run({"op": "echo", "backend": backend, "options": net(peer)})
    assert echo.ok and (echo.result or {})["status"] == "0x0000", echo.error
    stored = run({"op": "store", "backend": backend, "input": str(original), "options": net(peer)})
    assert stored.ok, stored.error
    keys = {"StudyInstanceUID": str(ds.StudyInstanceUID), "SeriesInstanceUID": str(ds.SeriesInstanceUID),
            "SOPInstanceUID": str(ds.SOPInstanceUID)}  # fmt: skip
    found = run(
        {"op": "find", "backend": backend, "options": net(peer, level="image", query={**keys, "PatientID": ""})}
    )
    assert found.ok, found.error
    assert (found.result or {})["count"] == 1
    assert found.result is not None and found.result["matches"][0]["00100020"]["Value"] == [str(ds.PatientID)]
    explicit = ["explicit_vr_little_endian"]
    got = run({"op": "get", "backend": backend, "output": str(tmp_path / "got"),
               "options": net(peer, level="image", query=keys, transfer_syntaxes=explicit)})  # fmt: skip
    assert got.ok, got.error
    assert got.result is not None and [f["sop_instance_uid"] for f in got.result["files"]] == [str(ds.SOPInstanceUID)]
    back = tmp_path / "got" / f"{ds.SOPInstanceUID}.dcm"
    differences = dataset_differences(original, back, None)
    # dcmtk's storescu drops the data set trailing padding (registered); nothing else may differ
    assert differences in ([], ["(FFFC,FFFC) (DataSetTrailingPadding) not stored"]), differences


def test_wrong_called_aet_is_rejected(peer: Peer) -> None:
    resp = run({"op": "echo", "options": {**net(peer), "called_aet": "NOT-THIS-ONE"}})
    assert resp.error is not None and resp.error.code == "association_rejected"
    assert "called-AE-title-not-recognized" in resp.error.message


@pytest.mark.parametrize("backend", ["dcmtk", "orthanc"])
def test_cli_scp_backend_stops_its_peer_on_ctrl_c(backend: str) -> None:
    if backend == "dcmtk" and not shutil.which("dcmqrscp"):
        pytest.skip("dcmqrscp not installed")
    if backend == "orthanc" and not _has_orthanc():
        pytest.skip("Orthanc not installed")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dcmharness", "scp", "--backend", backend, "--aet", "CLI-PEER"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert (info["backend"], info["host"], info["aet"]) == (backend, "127.0.0.1", "CLI-PEER")
        assert listening(info["port"]) == {"0100007F"}
        resp = run({"op": "echo", "options": {"port": info["port"], "called_aet": "CLI-PEER", "timeout": 20}})
        assert resp.ok, resp.error
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with pytest.raises(ProcessLookupError):
        os.kill(info["pid"], 0)
    assert listening(info["port"]) == set()


def test_orthanc_peer_serves_dicomweb_over_the_same_store(tmp_path: Path) -> None:
    """`scp --backend orthanc` is a DICOM and a DICOMweb peer of one store: a file sent by C-STORE is found by
    QIDO-RS and retrieved by WADO-RS, byte for byte the file stored (same transfer syntax)."""
    if not _has_orthanc():
        pytest.skip("Orthanc not installed")
    from dcmharness.adapters.orthanc.server import find_plugins

    if "dicomweb" not in find_plugins():
        pytest.skip("Orthanc's DICOMweb plugin is not installed (apt-get install orthanc-dicomweb)")
    import pydicom

    ct = sample("CT_small.dcm")
    ds = pydicom.dcmread(ct, stop_before_pixels=True)
    with _orthanc() as orthanc:
        assert orthanc.dicomweb_url == f"{orthanc.http_url}/dicom-web"
        stored = run({"op": "store", "input": str(ct), "options": net(orthanc)})
        assert stored.ok, stored.error
        found = run(
            {
                "op": "qido",
                "options": {"url": orthanc.dicomweb_url, "level": "instance", "query": {"SOPInstanceUID": ""}},
            }
        )
        assert found.ok, found.error
        assert found.result is not None and found.result["count"] == 1
        assert found.result["matches"][0]["00080018"]["Value"] == [str(ds.SOPInstanceUID)]
        got = run(
            {
                "op": "wado",
                "output": str(tmp_path / "w"),
                "options": {"url": orthanc.dicomweb_url, "study_uid": str(ds.StudyInstanceUID)},
            }
        )
        assert got.ok, got.error
        files = list((tmp_path / "w").iterdir())
        assert len(files) == 1
        back = pydicom.dcmread(files[0])
        assert back.SOPInstanceUID == ds.SOPInstanceUID and back.PixelData == pydicom.dcmread(ct).PixelData
