"""Live: echo and store by python_ref (pynetdicom) and dcmtk (echoscu, storescu) against the harness's own SCP
(pynetdicom, started on 127.0.0.1 by PID): stored files compared element by element with the originals, a
closed port, a wrong called AE title, a silent peer, a non-DICOM file in a folder; ``dcmharness scp`` stopped
by Ctrl-C with its SCP."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dcmharness.backends.network import Peer, free_port
from dcmharness.interface.api import run

pytestmark = pytest.mark.live
pytest.importorskip("pynetdicom", reason="pynetdicom is not installed (pip install pynetdicom)")

from dcmharness.backends.python_ref.scp import python_scp  # noqa: E402

CLIENTS = [
    "python_ref",
    pytest.param(
        "dcmtk",
        marks=pytest.mark.skipif(
            not (shutil.which("echoscu") and shutil.which("storescu")), reason="dcmtk (echoscu, storescu) not installed"
        ),
    ),
]
SAMPLES = ("CT_small.dcm", "MR_small.dcm", "JPEG-LL.dcm", "emri_small_RLE.dcm", "rtplan.dcm")
#: storescu sends one compressed transfer syntax per run (adapters/dcmtk/network.py, proposal_flags)
DCMTK_SAMPLES = ("CT_small.dcm", "MR_small.dcm", "JPEG-LL.dcm", "rtplan.dcm")


def sample(name: str) -> Path:
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name)
    assert path is not None, name
    return Path(str(path))


@pytest.fixture(scope="module")
def scp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peer]:
    with python_scp(tmp_path_factory.mktemp("scp-store"), aet="HARNESS-SCP") as peer:
        yield peer


def listening_addresses(port: int) -> set[str]:
    """The local addresses (hex, as /proc/net/tcp{,6} has them) of the sockets LISTENing on ``port``."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as fh:
            for line in fh.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, hex_port = local.split(":")
                if state == "0A" and int(hex_port, 16) == port:
                    found.add(address)
    return found


def net(peer: Peer, **extra: Any) -> dict[str, Any]:
    return {"port": peer.port, "called_aet": peer.aet, **extra}


def test_scp_listens_on_loopback_only(scp: Peer) -> None:
    assert listening_addresses(scp.port) == {"0100007F"}  # 127.0.0.1, nothing else


@pytest.mark.parametrize("backend", CLIENTS)
def test_echo(scp: Peer, backend: str) -> None:
    resp = run({"op": "echo", "backend": backend, "options": net(scp, calling_aet="ECHO-TEST", timeout=5)})
    assert resp.ok, resp.error
    result = resp.result or {}
    assert (result["status"], result["status_meaning"]) == ("0x0000", "Success")
    assert result["peer"] == {"host": "127.0.0.1", "port": scp.port, "called_aet": "HARNESS-SCP",
                              "calling_aet": "ECHO-TEST"}  # fmt: skip
    assert {"abstract_syntax": "1.2.840.10008.1.1", "transfer_syntax": "1.2.840.10008.1.2"} in result[
        "accepted_contexts"
    ]
    assert result["transfer_syntax"] == "1.2.840.10008.1.2"
    assert result["timings_ms"]["total"] > 0


#: Data Set Trailing Padding: storescu 3.6.7 does not send it (observed: `storescu -R -aec HARNESS-SCP 127.0.0.1
#: <port> CT_small.dcm` -> the received file has no (FFFC,FFFC), its transfer syntax unchanged).
TRAILING_PADDING = 0xFFFCFFFC


def assert_same_dataset(original: Path, stored: Path, sent_as: str, dropped: frozenset[int] = frozenset()) -> None:
    """Every data element of the original is in the stored file (in the transfer syntax it was sent in) with the
    same value, and nothing more. A private element sent in Implicit VR comes back as UN (its VR is not in the
    dictionary): compared by its bytes."""
    import pydicom

    a, b = pydicom.dcmread(original), pydicom.dcmread(stored)
    assert b.file_meta.TransferSyntaxUID == sent_as
    assert [e.tag for e in a if e.tag not in dropped] == [e.tag for e in b]
    for elem in a:
        if elem.tag in dropped:
            continue
        other = b[elem.tag]
        if other.VR == "UN" and elem.VR != "UN":
            assert elem.tag.is_private and sent_as == "1.2.840.10008.1.2", elem.tag
            continue
        assert other.VR == elem.VR, elem.tag
        assert other.value == elem.value, f"{original.name} {elem.tag} differs"


@pytest.mark.parametrize("backend", CLIENTS)
def test_store_folder_one_association(scp: Peer, backend: str, tmp_path: Path) -> None:
    folder = tmp_path / backend
    folder.mkdir()
    names = SAMPLES if backend == "python_ref" else DCMTK_SAMPLES
    for name in names:
        shutil.copy(sample(name), folder / name)
    resp = run({"op": "store", "backend": backend, "input": str(folder), "options": net(scp)})
    assert resp.ok, resp.error
    result = resp.result or {}
    assert (result["files"], result["stored"], result["status"]) == (len(names), len(names), "0x0000")
    assert result["bytes"] == sum(p.stat().st_size for p in folder.iterdir())
    import pydicom

    for inst in result["instances"]:
        original = Path(inst["file"])
        ds = pydicom.dcmread(original, stop_before_pixels=True)
        assert inst["sop_instance_uid"] == ds.SOPInstanceUID
        assert inst["transfer_syntax"] == ds.file_meta.TransferSyntaxUID
        if backend == "python_ref" or ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.70":
            assert inst["sent_transfer_syntax"] == ds.file_meta.TransferSyntaxUID  # sent as it is
        else:  # storescu -xs proposes JPEG lossless and the uncompressed ones in one context per SOP class; the
            # SCP picks explicit VR LE (its first choice), so storescu sends every uncompressed file in it
            assert inst["sent_transfer_syntax"] == "1.2.840.10008.1.2.1"
        stored = Path(scp.store_dir) / f"{ds.SOPInstanceUID}.dcm"
        dropped = frozenset({TRAILING_PADDING}) if backend == "dcmtk" else frozenset()
        assert_same_dataset(original, stored, inst["sent_transfer_syntax"], dropped)
    negotiated = {c["transfer_syntax"] for c in result["accepted_contexts"]}
    assert "1.2.840.10008.1.2.4.70" in negotiated  # JPEG lossless negotiated
    if backend == "python_ref":
        assert "1.2.840.10008.1.2.5" in negotiated  # and RLE
        assert any("rtplan.dcm" in w and "File Meta Information" in w for w in resp.warnings)


@pytest.mark.parametrize("backend", CLIENTS)
def test_wrong_called_aet_is_rejected_with_the_reason(scp: Peer, backend: str) -> None:
    resp = run({"op": "echo", "backend": backend, "options": net(scp, called_aet="NOT-THERE")})
    assert not resp.ok and resp.error is not None
    assert resp.error.code == "association_rejected"
    assert resp.error.field == "options.called_aet"
    assert "rejected-permanent" in resp.error.message and "called-AE-title-not-recognized" in resp.error.message


@pytest.mark.parametrize("backend", CLIENTS)
def test_closed_port_is_a_network_error_at_once(backend: str) -> None:
    port = free_port()
    started = time.monotonic()
    resp = run({"op": "echo", "backend": backend, "options": {"port": port, "timeout": 10}})
    assert resp.error is not None and resp.error.code == "network_error", resp.error
    assert "refused" in resp.error.message.lower()
    assert time.monotonic() - started < 5


@pytest.fixture()
def silent_peer() -> Iterator[int]:
    """A TCP listener on 127.0.0.1 that accepts and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(sock.getsockname()[1])
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        sock.close()


@pytest.mark.parametrize("backend", CLIENTS)
def test_silent_peer_never_hangs_past_the_timeout(silent_peer: int, backend: str) -> None:
    started = time.monotonic()
    resp = run({"op": "echo", "backend": backend, "options": {"port": silent_peer, "timeout": 2}})
    elapsed = time.monotonic() - started
    assert resp.error is not None and resp.error.code == "network_error", resp.error
    assert 1.5 < elapsed < 2 + 4, elapsed  # the 2 s wait, plus starting a process on a busy machine


@pytest.mark.parametrize("backend", CLIENTS)
def test_folder_with_a_non_dicom_file_skips_it_with_a_warning(tmp_path: Path, backend: str) -> None:
    store = tmp_path / "store"
    store.mkdir()
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(sample("CT_small.dcm"), folder / "a.dcm")
    (folder / "b.txt").write_text("not DICOM")
    with python_scp(store, aet="SKIP-SCP") as peer:
        resp = run({"op": "store", "backend": backend, "input": str(folder), "options": net(peer)})
        assert resp.ok, resp.error
        assert resp.result is not None and resp.result["files"] == 1 and resp.result["stored"] == 1
        assert any(w.startswith("skipped (not sent)") and "b.txt" in w for w in resp.warnings), resp.warnings
        only = folder / "b.txt"
        resp = run({"op": "store", "backend": backend, "input": str(only), "options": net(peer)})
        assert resp.error is not None and resp.error.code == "not_dicom"
    import pydicom

    assert [p.name for p in store.glob("*.dcm")] == [f"{pydicom.dcmread(folder / 'a.dcm').SOPInstanceUID}.dcm"]


def test_dcmtk_refuses_a_proposal_list_before_running(scp: Peer) -> None:
    if not shutil.which("storescu"):
        pytest.skip("dcmtk not installed")
    resp = run(
        {
            "op": "store",
            "backend": "dcmtk",
            "input": str(sample("CT_small.dcm")),
            "options": net(scp, transfer_syntaxes=["explicit_vr_little_endian"]),
        }
    )
    assert resp.error is not None and resp.error.code == "unsupported_option"
    assert resp.error.field == "options.transfer_syntaxes" and resp.command is None


def test_python_ref_honours_a_proposal_list(scp: Peer) -> None:
    resp = run(
        {
            "op": "store",
            "input": str(sample("CT_small.dcm")),
            "options": net(scp, transfer_syntaxes=["implicit_vr_little_endian", "explicit_vr_little_endian"]),
        }
    )
    assert resp.ok, resp.error
    ct = "1.2.840.10008.5.1.4.1.1.2"
    assert (resp.result or {})["accepted_contexts"] == [
        {"abstract_syntax": ct, "transfer_syntax": "1.2.840.10008.1.2"},
        {"abstract_syntax": ct, "transfer_syntax": "1.2.840.10008.1.2.1"},
    ]
    bad = run({"op": "store", "input": str(sample("JPEG-LL.dcm")),
               "options": net(scp, transfer_syntaxes=["explicit_vr_little_endian"])})  # fmt: skip
    assert bad.error is not None and bad.error.code == "invalid_request"
    assert bad.error.field == "options.transfer_syntaxes"


def test_cli_scp_stops_with_its_peer_on_ctrl_c(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dcmharness", "scp", "--aet", "CLI-SCP", "--store", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        info = json.loads(line)
        assert (info["host"], info["aet"], info["store"]) == ("127.0.0.1", "CLI-SCP", str(tmp_path))
        assert listening_addresses(info["port"]) == {"0100007F"}
        resp = run({"op": "store", "input": str(sample("CT_small.dcm")),
                    "options": {"port": info["port"], "called_aet": "CLI-SCP"}})  # fmt: skip
        assert resp.ok, resp.error
        assert len(list(tmp_path.glob("*.dcm"))) == 1
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with pytest.raises(ProcessLookupError):
        os.kill(info["pid"], 0)  # the SCP is gone with it
    assert listening_addresses(info["port"]) == set()


def test_cli_scp_refuses_host_for_namespaced_peers() -> None:
    from dcmharness.interface.cli.main import main

    assert main(["scp", "--backend", "dcmtk", "--host", "0.0.0.0"]) == 2
    assert main(["scp", "--backend", "orthanc", "--store", "/tmp"]) == 2


FIND_CLIENTS = [
    "python_ref",
    pytest.param(
        "dcmtk", marks=pytest.mark.skipif(not shutil.which("findscu"), reason="dcmtk (findscu) not installed")
    ),
]


@pytest.fixture(scope="module")
def stored_peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Peer, list[Path]]]:
    """A fresh SCP holding CT_small, MR_small, JPEG-LL and rtplan (stored by python_ref)."""
    folder = tmp_path_factory.mktemp("find-in")
    files = [folder / n for n in ("CT_small.dcm", "MR_small.dcm", "JPEG-LL.dcm", "rtplan.dcm")]
    for f in files:
        shutil.copy(sample(f.name), f)
    with python_scp(tmp_path_factory.mktemp("find-store"), aet="FIND-SCP") as peer:
        resp = run({"op": "store", "input": str(folder), "options": net(peer)})
        assert resp.ok, resp.error
        yield peer, files


@pytest.mark.parametrize("backend", FIND_CLIENTS)
def test_find_study_level_with_wildcard(stored_peer: tuple[Peer, list[Path]], backend: str) -> None:
    import pydicom

    peer, files = stored_peer
    query = {"PatientName": "CompressedSamples^*", "PatientID": "", "StudyInstanceUID": ""}
    resp = run({"op": "find", "backend": backend, "options": net(peer, level="study", query=query)})
    assert resp.ok, resp.error
    result = resp.result or {}
    # expected from the files themselves: the studies whose patient name starts with CompressedSamples^
    expected = []
    for f in files:
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        if str(ds.PatientName).startswith("CompressedSamples^"):
            expected.append((str(ds.PatientName), ds.PatientID, ds.StudyInstanceUID))
    got = [
        (m["00100010"]["Value"][0]["Alphabetic"], m["00100020"]["Value"][0], m["0020000D"]["Value"][0])
        for m in result["matches"]
    ]
    assert sorted(got) == sorted(expected) and len(got) == 3
    assert all(m["00080052"] == {"vr": "CS", "Value": ["STUDY"]} for m in result["matches"])
    assert (result["status"], result["count"], result["level"]) == ("0x0000", 3, "study")
    assert result["accepted_contexts"][0]["abstract_syntax"] == "1.2.840.10008.5.1.4.1.2.2.1"


@pytest.mark.parametrize("backend", FIND_CLIENTS)
def test_find_image_level_by_uid_list_and_date_range(stored_peer: tuple[Peer, list[Path]], backend: str) -> None:
    import pydicom

    peer, files = stored_peer
    uids = [str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID) for f in files[:2]]
    query = {"SOPInstanceUID": "\\".join(uids), "StudyDate": "20040101-20041231"}
    resp = run({"op": "find", "backend": backend, "options": net(peer, level="image", query=query)})
    assert resp.ok, resp.error
    got = sorted(m["00080018"]["Value"][0] for m in (resp.result or {})["matches"])
    assert got == sorted(uids)  # both are 2004 studies
    none = run({"op": "find", "backend": backend,
                "options": net(peer, level="image", query={**query, "StudyDate": "-20031231"})})  # fmt: skip
    assert none.ok and (none.result or {})["count"] == 0


def test_find_answers_agree_between_clients(stored_peer: tuple[Peer, list[Path]]) -> None:
    if not shutil.which("findscu"):
        pytest.skip("dcmtk (findscu) not installed")
    peer, _ = stored_peer
    for level, query in (
        ("study", {"StudyInstanceUID": "", "StudyDate": ""}),
        ("series", {"Modality": "", "SeriesInstanceUID": ""}),
    ):
        answers = [
            (run({"op": "find", "backend": b, "options": net(peer, level=level, query=query)}).result or {})["matches"]
            for b in ("python_ref", "dcmtk")
        ]
        assert answers[0] == answers[1] and len(answers[0]) == 4


def test_conform_network_matrix(tmp_path: Path) -> None:
    """``dcmharness conform --op network`` on three files: every client against every server the machine can start
    (python_ref's SCP, Orthanc, dcmqrscp), echo/store/find/get: python_ref matches on its own SCP, dcmtk's dropped
    trailing padding and the servers' own differences are explained by their registry entries, nothing
    unexplained; the HTML shows the matrix."""
    from dcmharness.interface.conform.ops.network import servers_available
    from dcmharness.interface.conform.ops.runner import OpsConfig, run_ops_conformance

    backends = ["dcmtk"] if shutil.which("storescu") and shutil.which("getscu") else []
    report = run_ops_conformance(OpsConfig(op="network", out=tmp_path, backends=backends, limit=3, html=True))
    statuses = {(r["case"], r["backend"], r["options"]["server"]): r["status"] for r in report["results"]}
    assert statuses[("0000-CT_small.dcm/echo", "python_ref", "python_ref")] == "match"
    for step in ("store", "find", "get"):
        for index, name in enumerate(("CT_small.dcm", "MR_small.dcm", "rtplan.dcm")):
            assert statuses[(f"{index:04d}-{name}/{step}", "python_ref", "python_ref")] == "match"
    servers, left_out = servers_available()
    if "orthanc" in servers:
        get = next(r for r in report["results"] if r["case"] == "0000-CT_small.dcm/get"
                   and r["backend"] == "python_ref" and r["options"]["server"] == "orthanc")  # fmt: skip
        assert get["status"] == "explained" and get["divergence"]["id"] == "orthanc-get-drops-trailing-padding"
        assert statuses[("0002-rtplan.dcm/get", "python_ref", "orthanc")] == "match"
    if backends:
        ct = next(r for r in report["results"] if r["case"] == "0000-CT_small.dcm/store"
                  and r["backend"] == "dcmtk" and r["options"]["server"] == "python_ref")  # fmt: skip
        assert ct["status"] == "explained" and ct["divergence"]["id"] == "storescu-drops-trailing-padding"
        assert ct["metrics"]["details"] == ["(FFFC,FFFC) (DataSetTrailingPadding) not stored"]
        assert statuses[("0002-rtplan.dcm/store", "dcmtk", "python_ref")] == "match"
        assert statuses[("0000-CT_small.dcm/find", "dcmtk", "python_ref")] == "match"
        assert statuses[("0002-rtplan.dcm/get", "dcmtk", "python_ref")] == "unsupported"  # getscu +xi refused
    assert report["summary"]["unexplained_mismatches"] == 0
    matrix = report["network_matrix"]
    assert matrix["servers"] == servers and matrix["servers_left_out"] == left_out
    assert matrix["cells"]["python_ref"]["python_ref"]["get"] == {"match": 3}
    assert [b["name"] for b in report["summary"]["backends"]] == backends
    page = (tmp_path / "report.html").read_text()
    assert "Network matrix (client x server x op)" in page and "server: python_ref" in page


def test_scp_on_a_taken_port_is_refused(scp: Peer, tmp_path: Path) -> None:
    from dcmharness.contract.errors import HarnessError

    with pytest.raises(HarnessError) as exc, python_scp(tmp_path, port=scp.port):
        pass
    assert exc.value.code.value == "backend_unavailable" and f"127.0.0.1:{scp.port}" in exc.value.message


@pytest.fixture()
def aborting_peer() -> Iterator[int]:
    """An in-process pynetdicom SCP on 127.0.0.1 that accepts the association, then aborts it on a C-STORE."""
    from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt

    def on_store(event: Any) -> int:
        event.assoc.abort()
        return 0x0000

    ae = AE(ae_title="ABORT-SCP")
    for cx in AllStoragePresentationContexts:
        if cx.abstract_syntax is not None:
            ae.add_supported_context(cx.abstract_syntax, ALL_TRANSFER_SYNTAXES)
    port = free_port()
    server = ae.start_server(("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)])
    assert server is not None
    try:
        yield port
    finally:
        server.shutdown()


@pytest.mark.parametrize("backend", CLIENTS)
def test_peer_aborting_mid_transfer_is_a_network_error(aborting_peer: int, backend: str) -> None:
    started = time.monotonic()
    resp = run(
        {
            "op": "store",
            "backend": backend,
            "input": str(sample("CT_small.dcm")),
            "options": {"port": aborting_peer, "called_aet": "ABORT-SCP", "timeout": 5},
        }
    )
    assert resp.error is not None and resp.error.code == "network_error", resp.error
    assert "abort" in resp.error.message.lower()
    assert time.monotonic() - started < 5 + 4


GET_CLIENTS = [
    "python_ref",
    pytest.param("dcmtk", marks=pytest.mark.skipif(not shutil.which("getscu"), reason="dcmtk (getscu) not installed")),
]


@pytest.mark.parametrize("backend", GET_CLIENTS)
def test_get_study_into_a_folder(stored_peer: tuple[Peer, list[Path]], backend: str, tmp_path: Path) -> None:
    """C-GET of CT_small's study: the SCP sends back exactly the files of that study, in the transfer syntax
    asked for (explicit VR LE, the file's own), element by element equal to the originals; a second get into
    the same folder is output_exists and changes nothing; with overwrite it succeeds."""
    import pydicom

    from dcmharness.interface.conform.ops.network import dataset_differences

    peer, files = stored_peer
    ct = pydicom.dcmread(files[0], stop_before_pixels=True)
    same_study = sorted(
        str(d.SOPInstanceUID)
        for d in (pydicom.dcmread(f, stop_before_pixels=True) for f in files)
        if d.StudyInstanceUID == ct.StudyInstanceUID
    )
    out = tmp_path / "got"
    request = {
        "op": "get",
        "backend": backend,
        "output": str(out),
        "options": net(peer, level="study", query={"StudyInstanceUID": str(ct.StudyInstanceUID)},
                       transfer_syntaxes=["explicit_vr_little_endian"]),
    }  # fmt: skip
    resp = run(request)
    assert resp.ok, resp.error
    result = resp.result
    assert result is not None and result["status"] == "0x0000"
    assert result["sub_operations"]["completed"] == len(same_study) and result["sub_operations"]["failed"] == 0
    assert sorted(f["sop_instance_uid"] for f in result["files"]) == same_study
    assert sorted(os.listdir(out)) == [f"{uid}.dcm" for uid in same_study]  # no hidden incoming folder left
    got = out / f"{ct.SOPInstanceUID}.dcm"
    assert dataset_differences(files[0], got, None) == []
    before = got.stat().st_mtime_ns
    again = run(request)
    assert again.error is not None and again.error.code == "output_exists"
    assert got.stat().st_mtime_ns == before and sorted(os.listdir(out)) == [f"{u}.dcm" for u in same_study]
    assert run({**request, "overwrite": True}).ok


@pytest.mark.parametrize("backend", GET_CLIENTS)
def test_get_nothing_matching_writes_nothing(
    stored_peer: tuple[Peer, list[Path]], backend: str, tmp_path: Path
) -> None:
    peer, _ = stored_peer
    out = tmp_path / "none"
    resp = run({"op": "get", "backend": backend, "output": str(out),
                "options": net(peer, level="study", query={"StudyInstanceUID": "1.2.3.4.5.6.7"})})  # fmt: skip
    assert resp.ok, resp.error
    assert resp.result is not None and resp.result["count"] == 0 and resp.result["sub_operations"]["completed"] == 0
    assert os.listdir(out) == []


def test_get_closed_port_leaves_no_folder(tmp_path: Path) -> None:
    out = tmp_path / "never"
    resp = run({"op": "get", "output": str(out), "options": {"port": free_port(), "timeout": 2}})
    assert resp.error is not None and resp.error.code == "network_error"
    assert not out.exists()
