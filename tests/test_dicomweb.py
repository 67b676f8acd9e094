"""DICOMweb ops (stow, qido, wado): the contract, the URLs, the multipart body and its splitter, the STOW response,
and python_ref against small HTTP servers of the test on 127.0.0.1 (a closed port, a 404 base URL, a silent
server, a malformed answer). The live tests against Orthanc are in ``test_live_dicomweb.py``."""

from __future__ import annotations

import http.server
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from dcmharness.backends.dicomweb import (
    MultipartSplitter,
    boundary_of,
    instance_rows,
    multipart_chunks,
    multipart_length,
    qido_url,
    stow_input,
    stow_statuses,
    stow_url,
    wado_accept,
    wado_url,
)
from dcmharness.backends.network import StoreFile, free_port
from dcmharness.contract.dicomweb_models import QidoOptions, WadoOptions
from dcmharness.contract.errors import ERROR_DESCRIPTIONS, ErrorCode
from dcmharness.interface.api import run

pytest.importorskip("dicomweb_client", reason="dicomweb-client is not installed (pip install dicomweb-client)")


def sample(name: str) -> Path:
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name)
    assert path is not None, name
    return Path(str(path))


# -- contract ------------------------------------------------------------------------------------------------
def test_http_error_is_a_documented_code() -> None:
    assert ErrorCode.HTTP_ERROR.value == "http_error"
    assert "HTTP error status" in ERROR_DESCRIPTIONS[ErrorCode.HTTP_ERROR]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"url": "ftp://127.0.0.1/dicom-web"}, "options.url"),
        ({"url": "http://user:pw@127.0.0.1/dicom-web"}, "options.url"),
        ({"url": "http://127.0.0.1:99999999/x"}, "options.url"),
        ({"url": "http://127.0.0.1/dicom-web?x=1"}, "options.url"),
        ({"url": "http://127.0.0.1/dicom-web", "timeout": 0}, "options.timeout"),
        ({"url": "http://127.0.0.1/dicom-web", "level": "patient"}, "options.level"),
        ({"url": "http://127.0.0.1/dicom-web", "query": {"not a key": "1"}}, "options.query.not a key"),
        ({"url": "http://127.0.0.1/dicom-web", "level": "instance", "series_uid": "1.2"}, "options.series_uid"),
        ({"url": "http://127.0.0.1/dicom-web", "study_uid": "1.2"}, "options.study_uid"),
        ({"url": "http://127.0.0.1/dicom-web", "level": "series", "study_uid": "1.2x"}, "options.study_uid"),
    ],
)
def test_qido_options_refused(options: dict[str, Any], field: str) -> None:
    resp = run({"op": "qido", "options": options})
    assert not resp.ok and resp.error is not None
    assert resp.error.code == "invalid_request", resp.error
    assert resp.error.field == field


def test_qido_unknown_keyword_is_invalid_request() -> None:
    resp = run({"op": "qido", "options": {"url": "http://127.0.0.1:9/dicom-web", "query": {"PatientNam": "x"}}})
    assert resp.error is not None and resp.error.code == "invalid_request"
    assert resp.error.field == "options.query.PatientNam"


def test_wado_needs_series_for_an_instance() -> None:
    resp = run({"op": "wado", "options": {"url": "http://127.0.0.1:9/x", "study_uid": "1.2", "sop_instance_uid": "3"}})
    assert resp.error is not None and resp.error.code == "invalid_request"
    assert resp.error.field == "options.sop_instance_uid"


def test_qido_and_wado_take_no_input(tmp_path: Path) -> None:
    resp = run({"op": "qido", "input": "x.dcm", "options": {"url": "http://127.0.0.1:9/x"}})
    assert resp.error is not None and resp.error.code == "invalid_request" and resp.error.field == "input"


def test_stow_writes_no_output(tmp_path: Path) -> None:
    resp = run({"op": "stow", "input": str(sample("CT_small.dcm")), "output": str(tmp_path / "o"),
                "options": {"url": "http://127.0.0.1:9/x"}})
    assert resp.error is not None and resp.error.code == "invalid_request" and resp.error.field == "output"


# -- URLs ----------------------------------------------------------------------------------------------------
def test_qido_urls() -> None:
    base = "http://127.0.0.1:8042/dicom-web/"
    assert qido_url(QidoOptions(url=base)) == "http://127.0.0.1:8042/dicom-web/studies"
    opts = QidoOptions(url=base, level="instance", study_uid="1.2", series_uid="1.2.3",
                       query={"SOPInstanceUID": "1.2.3.4,1.2.3.5", "PatientName": "Doe*", "Modality": ""}, limit=5)
    assert qido_url(opts) == (
        "http://127.0.0.1:8042/dicom-web/studies/1.2/series/1.2.3/instances"
        "?SOPInstanceUID=1.2.3.4,1.2.3.5&PatientName=Doe*&includefield=Modality&limit=5"
    )
    series = QidoOptions(url=base, level="series", query={"StudyDate": "20040101-20041231"}, fuzzymatching=True)
    assert qido_url(series) == (
        "http://127.0.0.1:8042/dicom-web/series?StudyDate=20040101-20041231&fuzzymatching=true"
    )


def test_wado_and_stow_urls() -> None:
    opts = WadoOptions(url="http://h/dw", study_uid="1.2", series_uid="1.2.3", sop_instance_uid="1.2.3.4")
    assert wado_url(opts) == "http://h/dw/studies/1.2/series/1.2.3/instances/1.2.3.4"
    assert wado_accept(opts.transfer_syntax_uid) == 'multipart/related; type="application/dicom"; transfer-syntax=*'
    lossless = WadoOptions(url="http://h/dw", study_uid="1.2", transfer_syntax="explicit_vr_little_endian")
    assert wado_accept(lossless.transfer_syntax_uid).endswith("transfer-syntax=1.2.840.10008.1.2.1")
    assert stow_url("http://h/dw/") == "http://h/dw/studies"
    assert stow_url("http://h/dw", "1.2") == "http://h/dw/studies/1.2"


# -- multipart -----------------------------------------------------------------------------------------------
def test_multipart_body_holds_the_files_as_they_are(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"first\r\n--x")
    b.write_bytes(b"")
    body = b"".join(multipart_chunks([a, b], "BND", chunk=3))
    assert body == (
        b"--BND\r\nContent-Type: application/dicom\r\n\r\nfirst\r\n--x\r\n"
        b"--BND\r\nContent-Type: application/dicom\r\n\r\n\r\n--BND--\r\n"
    )
    assert multipart_length([a, b], "BND") == len(body)


def _split(body: bytes, boundary: str, chunk: int) -> list[tuple[dict[str, str], bytes]]:
    store: dict[int, io.BytesIO] = {}

    class Keep(io.BytesIO):
        def close(self) -> None:  # keep the value readable after the splitter closes it
            pass

    def open_part(index: int) -> tuple[Path, IO[bytes]]:
        store[index] = Keep()
        return Path(f"part{index}"), store[index]

    splitter = MultipartSplitter(boundary, open_part)
    for i in range(0, len(body), chunk):
        splitter.feed(body[i : i + chunk])
    parts = splitter.finish()
    return [(p.headers, store[i].getvalue()) for i, p in enumerate(parts)]


@pytest.mark.parametrize("chunk", [1, 2, 7, 64, 10_000])
def test_splitter_finds_every_part_whatever_the_chunking(chunk: int) -> None:
    body = (
        b"preamble\r\n--b1\r\nContent-Type: application/dicom\r\nContent-Length: 9\r\n\r\nDICM\r\n--b\r\n"
        b"--b1\r\ncontent-type: application/dicom\r\n\r\n\x00\x01\r\n--b1--\r\nepilogue"
    )
    parts = _split(body, "b1", chunk)
    assert [h["content-type"] for h, _ in parts] == ["application/dicom", "application/dicom"]
    assert [data for _, data in parts] == [b"DICM\r\n--b", b"\x00\x01"]
    assert parts[0][0]["content-length"] == "9"


def test_splitter_refuses_a_truncated_answer() -> None:
    with pytest.raises(ValueError, match="closing delimiter"):
        _split(b"--b1\r\nContent-Type: application/dicom\r\n\r\nDICM", "b1", 4)


def test_boundary_of() -> None:
    assert boundary_of('multipart/related; type="application/dicom"; boundary=abc-1') == "abc-1"
    assert boundary_of('multipart/related; boundary="a b"; type="application/dicom"') == "a b"
    assert boundary_of("application/dicom+json") is None


# -- STOW response -------------------------------------------------------------------------------------------
STOW_ANSWER = {
    "00081190": {"vr": "UR", "Value": ["http://h/dw/studies/1.2"]},
    "00081198": {"vr": "SQ", "Value": [{
        "00081150": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.2"]},
        "00081155": {"vr": "UI", "Value": ["1.2.3.5"]},
        "00081197": {"vr": "US", "Value": [49152]},
    }]},
    "00081199": {"vr": "SQ", "Value": [{
        "00081150": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.2"]},
        "00081155": {"vr": "UI", "Value": ["1.2.3.4"]},
        "00081190": {"vr": "UR", "Value": ["http://h/dw/studies/1.2/series/1.2.3/instances/1.2.3.4"]},
    }]},
}


def test_stow_statuses_per_instance() -> None:
    statuses = stow_statuses(STOW_ANSWER)
    assert statuses["1.2.3.4"] == {
        "status": "stored",
        "sop_class_uid": "1.2.840.10008.5.1.4.1.1.2",
        "retrieve_url": "http://h/dw/studies/1.2/series/1.2.3/instances/1.2.3.4",
    }
    assert statuses["1.2.3.5"] == {"status": "failed", "sop_class_uid": "1.2.840.10008.5.1.4.1.1.2",
                                   "failure_reason": "0xC000"}
    files = [StoreFile(Path(f"/f{i}"), "1.2.840.10008.5.1.4.1.1.2", uid, "1.2.840.10008.1.2.1")
             for i, uid in enumerate(("1.2.3.4", "1.2.3.5", "1.2.3.6"))]
    rows = instance_rows(files, statuses)
    assert [r["status"] for r in rows] == ["stored", "failed", "not_reported"]
    assert rows[1]["failure_reason"] == "0xC000"


def test_stow_input_skips_non_dicom_files_of_a_folder(tmp_path: Path) -> None:
    (tmp_path / "ct.dcm").write_bytes(sample("CT_small.dcm").read_bytes())
    (tmp_path / "notes.txt").write_text("not DICOM")
    (tmp_path / ".hidden").write_text("hidden")
    info = stow_input(tmp_path)
    assert [f.path.name for f in info.files] == ["ct.dcm"]
    assert [Path(s["file"]).name for s in info.skipped] == ["notes.txt"]
    assert "not a DICOM file" in info.skipped[0]["reason"]


def test_stow_of_a_single_non_dicom_file_is_not_dicom(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("not DICOM")
    resp = run({"op": "stow", "input": str(bad), "options": {"url": "http://127.0.0.1:9/dicom-web"}})
    assert resp.error is not None and resp.error.code == "not_dicom" and resp.error.field == "input"


# -- python_ref against the test's own HTTP servers ----------------------------------------------------------
CT_UID = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"  # CT_small.dcm's SOP Instance UID


class _Handler(http.server.BaseHTTPRequestHandler):
    mode = "404"

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        elif self.headers.get("Transfer-Encoding") == "chunked":
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                self.rfile.read(size + 2)
                if size == 0:
                    break
        if self.mode == "silent":
            time.sleep(4)
            return
        if self.mode == "trickle":  # a WADO answer that never ends: one byte every 0.2 s
            self.send_response(200)
            self.send_header("Content-Type", 'multipart/related; type="application/dicom"; boundary=b1')
            self.end_headers()
            self.wfile.write(b"--b1\r\nContent-Type: application/dicom\r\n\r\n")
            for _ in range(50):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.2)
            return
        if self.mode in ("stow409", "stow202"):
            failed = {"00081150": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.2"]},
                      "00081155": {"vr": "UI", "Value": [CT_UID]}, "00081197": {"vr": "US", "Value": [272]}}
            body = json.dumps({"00081198": {"vr": "SQ", "Value": [failed]}}).encode()
            self.send_response(409 if self.mode == "stow409" else 202)
            self.send_header("Content-Type", "application/dicom+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.mode == "404":
            body = b'{"Message": "Unknown resource"}'
            self.send_response(404)
        else:  # "html": a 200 with something that is no DICOMweb answer
            body = b"<html>hello</html>"
            self.send_response(200)
        self.send_header("Content-Type", "application/json" if self.mode == "404" else "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _answer
    do_POST = _answer


@pytest.fixture()
def http_server(request: pytest.FixtureRequest) -> Iterator[str]:
    handler = type("H", (_Handler,), {"mode": request.param})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/dicom-web"
    finally:
        server.shutdown()
        server.server_close()


def _three_requests(url: str, tmp_path: Path, timeout: float = 10) -> list[Any]:
    return [
        run({"op": "stow", "input": str(sample("CT_small.dcm")), "options": {"url": url, "timeout": timeout}}),
        run({"op": "qido", "options": {"url": url, "timeout": timeout, "query": {"PatientID": "1CT1"}}}),
        run({"op": "wado", "output": str(tmp_path / "w"), "options": {"url": url, "timeout": timeout,
                                                                     "study_uid": "1.2.3"}}),
    ]


def test_closed_port_is_a_quick_network_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/dicom-web"
    started = time.monotonic()
    for resp in _three_requests(url, tmp_path):
        assert resp.error is not None and resp.error.code == "network_error", resp.error
        assert resp.error.field == "options.url"
        assert "Connection refused" in resp.error.message
    assert time.monotonic() - started < 5
    assert not (tmp_path / "w").exists()


@pytest.mark.parametrize("http_server", ["404"], indirect=True)
def test_404_base_url_is_http_error_with_the_body(http_server: str, tmp_path: Path) -> None:
    for resp in _three_requests(http_server, tmp_path):
        assert resp.error is not None and resp.error.code == "http_error", resp.error
        assert resp.error.message.startswith("HTTP 404 from ")
        assert "Unknown resource" in resp.error.message
    assert not (tmp_path / "w").exists()


@pytest.mark.parametrize("http_server", ["silent"], indirect=True)
def test_silent_server_is_a_network_error_after_the_timeout(http_server: str, tmp_path: Path) -> None:
    for resp in _three_requests(http_server, tmp_path, timeout=1):
        assert resp.error is not None and resp.error.code == "network_error", resp.error
        assert "within 1 s" in resp.error.message
        assert resp.duration_ms < 3500
    assert not (tmp_path / "w").exists()


@pytest.mark.parametrize("http_server", ["html"], indirect=True)
def test_an_answer_that_is_no_dicomweb_is_backend_failed(http_server: str, tmp_path: Path) -> None:
    stow, qido, wado = _three_requests(http_server, tmp_path)
    assert stow.error is not None and stow.error.code == "backend_failed" and "not DICOM JSON" in stow.error.message
    assert qido.error is not None and qido.error.code == "backend_failed" and "not JSON" in qido.error.message
    assert wado.error is not None and wado.error.code == "backend_failed" and "not multipart/related" in (
        wado.error.message
    )
    assert not (tmp_path / "w").exists()


def test_unreachable_host_in_a_closed_network(tmp_path: Path) -> None:
    # nothing listens on port 9 (discard) of the loopback address here: refused at once
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", 9)) != 0
    resp = run({"op": "qido", "options": {"url": "http://127.0.0.1:9/dicom-web", "timeout": 2}})
    assert resp.error is not None and resp.error.code == "network_error"


def test_wado_result_is_json_serialisable_error(tmp_path: Path) -> None:
    resp = run({"op": "wado", "output": str(tmp_path / "missing" / "w"),
                "options": {"url": "http://127.0.0.1:9/x", "study_uid": "1.2"}})
    assert resp.error is not None and resp.error.code == "output_dir_missing"
    json.dumps(resp.model_dump())


# -- orthanc as a client: the calls (golden) -----------------------------------------------------------------
def test_orthanc_calls_golden() -> None:
    from dcmharness.adapters.orthanc.dicomweb import (
        declare_body,
        find_body,
        qido_get_body,
        retrieve_body,
        server_name,
    )
    from dcmharness.contract.dicomweb_models import QidoRequest, WadoRequest

    assert declare_body("http://127.0.0.1:8042/dicom-web", 30.0) == {
        "Url": "http://127.0.0.1:8042/dicom-web/", "Timeout": 30}
    assert server_name("http://h/dw", 30) == server_name("http://h/dw", 30.0) != server_name("http://h/dw", 31)
    qido = QidoRequest(op="qido", options=QidoOptions(
        url="http://h/dw", level="instance", study_uid="1.2", query={"PatientID": "P*", "Modality": "",
                                                                     "PatientName": ""}, limit=3))
    assert qido_get_body(qido) == {"Uri": "/studies/1.2/instances", "Arguments": {
        "PatientID": "P*", "includefield": "Modality,PatientName", "limit": "3"}}
    wado = WadoRequest(op="wado", options=WadoOptions(url="http://h/dw", study_uid="1.2", series_uid="1.2.3"))
    assert retrieve_body(wado) == {"Resources": [{"Study": "1.2", "Series": "1.2.3"}]}
    assert find_body(wado) == {"Level": "Instance", "Query": {"StudyInstanceUID": "1.2", "SeriesInstanceUID": "1.2.3"}}


def test_orthanc_remote_failures_mapped() -> None:
    from dcmharness.adapters.orthanc.dicomweb import remote_failure
    from dcmharness.adapters.runner import ToolError

    def failure(body: dict[str, Any], log: str = "") -> Any:
        exc = ToolError(ErrorCode.BACKEND_FAILED, "orthanc answered HTTP 500", ["POST ..."], json.dumps(body))
        return remote_failure(exc, "GET", "http://127.0.0.1:1/dw/studies", 5, log)

    net = failure({"HttpStatus": 500, "OrthancStatus": 9, "Message": "Error in the network protocol"})
    assert net.code == ErrorCode.NETWORK_ERROR and "Error in the network protocol" in net.message
    relayed = failure({"HttpStatus": 404, "OrthancStatus": 17, "Message": "Unknown resource"})
    assert relayed.code == ErrorCode.HTTP_ERROR and relayed.message.startswith("HTTP 404 from GET ")
    log = ("E1204 17:40:01.1 HttpClient.cpp:1] Error in HTTP request, received HTTP status 404 (Not Found)\n"
           "W1204 17:40:01.2 Job.cpp:2] a warning")
    plugin = failure({"HttpStatus": 500, "OrthancStatus": 1, "Message": "Error encountered within the plugin engine"},
                     log)
    assert plugin.code == ErrorCode.HTTP_ERROR and plugin.message.startswith("HTTP 404 from GET ")
    assert "received HTTP status 404 (Not Found)" in plugin.message and "a warning" not in plugin.message


@pytest.mark.parametrize("http_server", ["trickle"], indirect=True)
def test_a_never_ending_wado_answer_stops_at_the_timeout(http_server: str, tmp_path: Path) -> None:
    started = time.monotonic()
    resp = run({"op": "wado", "output": str(tmp_path / "w"), "options": {"url": http_server, "timeout": 1,
                                                                        "study_uid": "1.2"}})
    assert resp.error is not None and resp.error.code == "network_error", resp.error
    assert "did not finish in time" in resp.error.message
    assert time.monotonic() - started < 3
    assert not (tmp_path / "w").exists()


@pytest.mark.parametrize("http_server", ["stow409"], indirect=True)
def test_stow_where_every_instance_failed_is_http_error(http_server: str) -> None:
    resp = run({"op": "stow", "input": str(sample("CT_small.dcm")), "options": {"url": http_server}})
    assert resp.error is not None and resp.error.code == "http_error"
    assert resp.error.message.endswith("no instance stored, 1 failed (Failure Reason 0x0110)")


@pytest.mark.parametrize("http_server", ["stow202"], indirect=True)
def test_stow_with_a_failed_instance_among_stored_ones_reports_it(http_server: str, tmp_path: Path) -> None:
    (tmp_path / "ct.dcm").write_bytes(sample("CT_small.dcm").read_bytes())
    (tmp_path / "mr.dcm").write_bytes(sample("MR_small.dcm").read_bytes())
    resp = run({"op": "stow", "input": str(tmp_path), "options": {"url": http_server}})
    assert resp.ok, resp.error
    result = resp.result or {}
    assert result["http_status"] == 202
    assert [(Path(r["file"]).name, r["status"]) for r in result["instances"]] == [
        ("ct.dcm", "failed"), ("mr.dcm", "not_reported")]
    assert result["instances"][0]["failure_reason"] == "0x0110"
    assert (result["stored"], result["failed"]) == (0, 1)
    assert any("ct.dcm: the server did not store it (Failure Reason 0x0110)" in w for w in resp.warnings)


# -- dcm4che's wadors / qidors: argv only (golden; the tools are not installable here) ---------------------------
def test_dcm4che_wadors_argv_golden() -> None:
    from dcmharness.adapters.dcm4che.dicomweb import wadors_argv, wadors_part_names

    study = WadoOptions(url="http://127.0.0.1:8042/dicom-web/", study_uid="1.2.3")
    assert wadors_argv("wadors", study, "/tmp/o") == [
        "wadors", "--header", "-a", 'multipart/related;type="application/dicom";transfer-syntax=*',
        "--out-dir", "/tmp/o", "http://127.0.0.1:8042/dicom-web/studies/1.2.3",
    ]
    one = WadoOptions(url="http://h/dw", study_uid="1.2", series_uid="1.2.3", sop_instance_uid="1.2.3.4",
                      transfer_syntax="explicit_vr_little_endian")
    assert wadors_argv("/opt/dcm4che/bin/wadors", one, "o")[3:] == [
        'multipart/related;type="application/dicom";transfer-syntax=1.2.840.10008.1.2.1', "--out-dir", "o",
        "http://h/dw/studies/1.2/series/1.2.3/instances/1.2.3.4",
    ]
    assert wadors_part_names(study, 2) == ["1.2.3-001.dicom", "1.2.3-002.dicom"]
    assert wadors_part_names(one, 1) == ["1.2.3.4-001.dicom"]


def test_dcm4che_qidors_argv_golden() -> None:
    from dcmharness.adapters.dcm4che.dicomweb import qidors_argv

    opts = QidoOptions(url="http://h/dw", level="instance", study_uid="1.2",
                       query={"PatientID": "P*", "SOPInstanceUID": "", "Modality": ""}, limit=10, fuzzymatching=True)
    assert qidors_argv("qidors", opts, "/tmp/q") == [
        "qidors", "-J", "--out-dir", "/tmp/q", "--out-file", "qido", "-m", "PatientID=P*",
        "-i", "SOPInstanceUID", "-i", "Modality", "--fuzzy", "--limit", "10", "http://h/dw/studies/1.2/instances",
    ]
    assert qidors_argv("qidors", QidoOptions(url="http://h/dw/"), "q")[-1] == "http://h/dw/studies"
