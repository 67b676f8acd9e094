"""Live: stow, qido and wado by each DICOMweb client (python_ref: requests + dicomweb-client; orthanc: its DICOMweb
plugin as a client) against the harness's own DICOMweb server (a private Orthanc with the DICOMweb plugin on
127.0.0.1, stopped by PID): a folder with compressed files and a non-DICOM file stored, found, retrieved and
compared byte for byte with the originals; a closed port, a 404 base URL, a silent server; ``dcmharness
dicomweb-server`` stopped with its Orthanc by Ctrl-C."""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dcmharness.backends.network import free_port
from dcmharness.interface.api import run

pytestmark = pytest.mark.live
pytest.importorskip("dicomweb_client", reason="dicomweb-client is not installed (pip install dicomweb-client)")

from dcmharness.adapters.orthanc.dicomweb_server import DicomwebPeer, orthanc_binary  # noqa: E402
from dcmharness.adapters.orthanc.server import find_plugins  # noqa: E402

HAVE_ORTHANC = orthanc_binary() is not None and "dicomweb" in find_plugins()
if not HAVE_ORTHANC:
    pytest.skip("Orthanc with its DICOMweb plugin is not installed (apt-get install orthanc orthanc-dicomweb)",
                allow_module_level=True)

CLIENTS = ["python_ref", "orthanc"]
#: explicit VR LE, JPEG 2000, RLE, JPEG lossless, and a second explicit VR file of another patient
SAMPLES = ("CT_small.dcm", "JPEG2000.dcm", "SC_rgb_rle.dcm", "JPEG-LL.dcm", "MR_small.dcm")


def sample(name: str) -> Path:
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name)
    assert path is not None, name
    return Path(str(path))


@pytest.fixture(scope="module")
def server() -> Iterator[DicomwebPeer]:
    from dcmharness.adapters.orthanc.dicomweb_server import orthanc_dicomweb_server

    with orthanc_dicomweb_server() as peer:
        assert peer.url.startswith("http://127.0.0.1:")
        yield peer
    assert not _alive(peer.pid)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].split()[:1] != ["Z"]


def _wipe(peer: DicomwebPeer) -> None:
    with urllib.request.urlopen(peer.rest_url + "/instances", timeout=10) as resp:
        ids = json.loads(resp.read())
    for instance_id in ids:
        req = urllib.request.Request(f"{peer.rest_url}/instances/{instance_id}", method="DELETE")
        urllib.request.urlopen(req, timeout=10).close()


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    src.mkdir()
    for name in SAMPLES:
        (src / name).write_bytes(sample(name).read_bytes())
    (src / "notes.txt").write_text("not DICOM")
    return src


@pytest.mark.parametrize("client", CLIENTS)
def test_stow_qido_wado_round_trip(client: str, server: DicomwebPeer, folder: Path, tmp_path: Path) -> None:
    import pydicom

    _wipe(server)
    stow = run({"op": "stow", "backend": client, "input": str(folder), "options": {"url": server.url}})
    assert stow.ok, stow.error
    result = stow.result or {}
    assert (result["files"], result["sent"]) == (6, 5)
    assert [Path(s["file"]).name for s in result["skipped"]] == ["notes.txt"]
    assert any("notes.txt: skipped" in w for w in stow.warnings)
    expected_status = "stored" if client == "python_ref" else "not_reported"
    assert [r["status"] for r in result["instances"]] == [expected_status] * 5
    if client == "python_ref":
        assert result["http_status"] == 200 and result["stored"] == 5
    else:
        assert result["orthanc_answer"]["InstancesCount"] == "5"

    headers = {name: pydicom.dcmread(sample(name), stop_before_pixels=True) for name in SAMPLES}
    for name, ds in headers.items():
        found = run({"op": "qido", "backend": client, "options": {
            "url": server.url, "level": "instance", "query": {"SOPInstanceUID": str(ds.SOPInstanceUID),
                                                             "PatientID": ""}}})
        assert found.ok, found.error
        matches = (found.result or {})["matches"]
        assert len(matches) == 1, name
        assert matches[0]["00080018"]["Value"] == [str(ds.SOPInstanceUID)]
        assert matches[0]["00100020"].get("Value", [""]) == [str(ds.get("PatientID", ""))]

    studies = run({"op": "qido", "backend": client, "options": {"url": server.url, "query": {"PatientID": "1CT1"}}})
    assert studies.ok and studies.result is not None
    assert [m["0020000D"]["Value"][0] for m in studies.result["matches"]] == [
        str(headers["CT_small.dcm"].StudyInstanceUID)
    ]
    none = run({"op": "qido", "backend": client, "options": {"url": server.url, "query": {"PatientID": "nobody"}}})
    assert none.ok and none.result is not None and none.result["count"] == 0

    by_study: dict[str, list[str]] = {}
    for name, ds in headers.items():
        by_study.setdefault(str(ds.StudyInstanceUID), []).append(name)
    assert len(by_study) == 4  # JPEG2000.dcm and JPEG-LL.dcm are one study
    for study, names in by_study.items():
        out = tmp_path / f"wado-{study}"
        got = run({"op": "wado", "backend": client, "output": str(out), "options": {"url": server.url,
                                                                                  "study_uid": study}})
        assert got.ok, (names, got.error)
        instances = {i["sop_instance_uid"]: i for i in (got.result or {})["instances"]}
        want = {str(headers[n].SOPInstanceUID): n for n in names}
        assert sorted(instances) == sorted(want)
        for uid, name in want.items():
            assert instances[uid]["transfer_syntax"] == str(headers[name].file_meta.TransferSyntaxUID)
            written = out / f"{uid}.dcm"
            assert written.read_bytes() == sample(name).read_bytes(), f"{name} came back changed"
        assert sorted(got.outputs) == sorted(str(out / f"{uid}.dcm") for uid in want)
        assert sorted(os.listdir(out)) == sorted(f"{uid}.dcm" for uid in want)  # no temp file left


def test_python_ref_wado_one_instance_and_transcoded(server: DicomwebPeer, tmp_path: Path) -> None:
    import pydicom

    _wipe(server)
    ct = sample("CT_small.dcm")
    assert run({"op": "stow", "input": str(ct), "options": {"url": server.url}}).ok
    ds = pydicom.dcmread(ct, stop_before_pixels=True)
    opts = {"url": server.url, "study_uid": str(ds.StudyInstanceUID), "series_uid": str(ds.SeriesInstanceUID),
            "sop_instance_uid": str(ds.SOPInstanceUID), "transfer_syntax": "implicit_vr_little_endian"}
    got = run({"op": "wado", "output": str(tmp_path / "w"), "options": opts})
    assert got.ok, got.error
    assert (got.result or {})["instances"][0]["transfer_syntax"] == "1.2.840.10008.1.2"
    again = run({"op": "wado", "output": str(tmp_path / "w"), "options": opts})
    assert again.error is not None and again.error.code == "output_exists"
    assert run({"op": "wado", "output": str(tmp_path / "w"), "overwrite": True, "options": opts}).ok


def test_orthanc_refuses_what_its_plugin_cannot_be_asked(server: DicomwebPeer, tmp_path: Path) -> None:
    resp = run({"op": "wado", "backend": "orthanc", "output": str(tmp_path / "w"), "options": {
        "url": server.url, "study_uid": "1.2", "transfer_syntax": "explicit_vr_little_endian"}})
    assert resp.error is not None and resp.error.code == "unsupported_option"
    assert resp.error.field == "options.transfer_syntax"
    assert not (tmp_path / "w").exists()
    resp = run({"op": "qido", "backend": "orthanc", "options": {"url": server.url, "timeout": 1.5}})
    assert resp.error is not None and resp.error.code == "unsupported_option" and resp.error.field == "options.timeout"


# -- bad input ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("client", CLIENTS)
def test_closed_port_and_404_base_url(client: str, server: DicomwebPeer, tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}/dicom-web"
    started = time.monotonic()
    resp = run({"op": "qido", "backend": client, "options": {"url": closed, "timeout": 5}})
    assert resp.error is not None and resp.error.code == "network_error", resp.error
    assert time.monotonic() - started < 5
    wrong = server.rest_url + "/no-such-root"
    for req in (
        {"op": "qido", "options": {"url": wrong}},
        {"op": "stow", "input": str(sample("CT_small.dcm")), "options": {"url": wrong}},
    ):
        resp = run({**req, "backend": client})
        assert resp.error is not None and resp.error.code == "http_error", resp.error
        assert resp.error.message.startswith("HTTP 404 from "), resp.error.message
        assert ("Unknown resource" if client == "python_ref" else "received HTTP status 404") in resp.error.message


class _Silent(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        time.sleep(8)

    do_POST = do_GET


@pytest.mark.parametrize("client", CLIENTS)
def test_silent_server_never_hangs_past_the_timeout(client: str, tmp_path: Path) -> None:
    silent = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Silent)
    silent.daemon_threads = True
    threading.Thread(target=silent.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{silent.server_address[1]}/dicom-web"
        started = time.monotonic()
        resp = run({"op": "qido", "backend": client, "options": {"url": url, "timeout": 2}})
        took = time.monotonic() - started
    finally:
        silent.shutdown()
        silent.server_close()
    assert resp.error is not None and resp.error.code == "network_error", resp.error
    assert took < 7, took


def test_dicomweb_server_command_stops_its_orthanc_on_ctrl_c() -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-m", "dcmharness", "dicomweb-server"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        info = json.loads(line)
        assert info["url"].startswith("http://127.0.0.1:") and info["url"].endswith("/dicom-web")
        with urllib.request.urlopen(info["url"] + "/studies", timeout=10) as resp:
            assert resp.status == 200 and json.loads(resp.read() or b"[]") == []
        assert _alive(info["pid"])
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert not _alive(info["pid"])
        assert not Path(info["storage"]).exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_conform_dicomweb_matrix(tmp_path: Path) -> None:
    """``conform --op dicomweb`` on three files (explicit VR, RLE among them): every cell matches, the matrix and
    the server left out are in the report."""
    from dcmharness.interface.conform.ops.runner import OpsConfig, run_ops_conformance

    corpus = [sample(n) for n in ("CT_small.dcm", "SC_rgb_rle.dcm", "JPEG2000.dcm")]
    report = run_ops_conformance(OpsConfig(op="dicomweb", out=tmp_path, corpus=corpus, html=False))
    cells = report["dicomweb_matrix"]["cells"]
    assert cells["python_ref"]["orthanc"] == {"stow": {"match": 3}, "qido": {"match": 3}, "wado": {"match": 3}}
    assert cells["orthanc"]["orthanc"] == {"stow": {"match": 3}, "qido": {"match": 3}, "wado": {"match": 3}}
    assert "dcm4che" in report["dicomweb_matrix"]["servers_left_out"]
    assert report["summary"]["unexplained_mismatches"] == 0
    wado = [r for r in report["results"] if r["profile"] == "dicomweb:wado" and r["file"] == "JPEG2000.dcm"]
    assert {r["metrics"]["transfer_syntax"] for r in wado} == {"1.2.840.10008.1.2.4.91"}


def test_conform_dicomweb_sees_a_re_encoding(tmp_path: Path, server: DicomwebPeer) -> None:
    """The comparison the conformance makes fails on a retrieval the server transcoded (so a match means
    something): python_ref's wado asking for explicit VR little endian of the JPEG lossless file (Orthanc's
    built-in DCMTK decodes it)."""
    import pydicom

    from dcmharness.interface.conform.ops.network import dataset_differences

    _wipe(server)
    j2k = sample("JPEG-LL.dcm")
    assert run({"op": "stow", "input": str(j2k), "options": {"url": server.url}}).ok
    ds = pydicom.dcmread(j2k, stop_before_pixels=True)
    got = run({"op": "wado", "output": str(tmp_path / "w"), "options": {
        "url": server.url, "study_uid": str(ds.StudyInstanceUID), "transfer_syntax": "explicit_vr_little_endian"}})
    assert got.ok, got.error
    problems = dataset_differences(j2k, Path(got.outputs[0]), None)
    assert any("stored in transfer syntax 1.2.840.10008.1.2.1" in p for p in problems), problems


@pytest.mark.parametrize("client", CLIENTS)
def test_wado_of_a_study_the_server_does_not_have(client: str, server: DicomwebPeer, tmp_path: Path) -> None:
    """python_ref passes Orthanc's 404 on; Orthanc's plugin as the client fails its retrieve job with "Error in the
    network protocol" (its log) and answers 500, which is what the harness can report. Nothing is written."""
    resp = run({"op": "wado", "backend": client, "output": str(tmp_path / "w"),
                "options": {"url": server.url, "study_uid": "1.2.3.4.5"}})
    assert resp.error is not None and resp.error.code == "http_error", resp.error
    if client == "python_ref":
        assert resp.error.message.startswith("HTTP 404 from GET ") and "inexistent study" in resp.error.message
    else:
        assert resp.error.message.startswith("HTTP 500 from GET ") and "Error in the network protocol" in (
            resp.error.message
        )
    assert not (tmp_path / "w").exists()
