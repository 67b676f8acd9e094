"""The DICOM clients of gdcm (gdcmscu), Orthanc (REST /modalities) and dcm4che (storescu/findscu/getscu argv):
golden argv and calls, parsing of recorded gdcmscu 3.0.21 logs, Orthanc's error mapping and answer
conversion; live (marked ``live``): each client against the harness's pynetdicom SCP on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dcmharness.adapters.dcm4che.network import findscu_argv, getscu_argv, storescu_argv
from dcmharness.adapters.gdcm.network import (
    accepted_ids,
    echo_status,
    failure_of,
    gdcmscu_argv,
    proposed_contexts,
    rejection_of,
    store_statuses,
)
from dcmharness.adapters.orthanc.network import (
    dicom_json_of_answer,
    error_of,
    query_body,
    register_body,
    register_call,
    store_body,
)
from dcmharness.adapters.pixelmed.network import error_of as pixelmed_error_of
from dcmharness.adapters.pixelmed.network import job_fields, network_argv, store_outcome
from dcmharness.adapters.runner import ToolError, ToolRun
from dcmharness.backends.network import StoreFile, StoreInput
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.ops_models import EchoRequest, FindRequest, NetworkOptions, StoreRequest

LOGS = Path(__file__).parent / "data" / "network_clients"
CT, MR = "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.4"
EXPLICIT, IMPLICIT = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2"


def opts(**kw: object) -> NetworkOptions:
    return NetworkOptions.model_validate({"port": 11112, "called_aet": "MY-SCP", **kw})


def store_input(*files: StoreFile) -> StoreInput:
    return StoreInput(
        path=Path("/d"), dataset=None, transfer_syntax=None, has_pixel_data=False, size_bytes=0, files=list(files)
    )


# -- gdcm ----------------------------------------------------------------------------------------------------


def test_gdcmscu_echo_argv() -> None:
    req = EchoRequest.model_validate(
        {"op": "echo", "options": {"port": 104, "called_aet": "PACS", "calling_aet": "ME"}}
    )
    assert gdcmscu_argv("/usr/bin/gdcmscu", req, None) == [
        "/usr/bin/gdcmscu", "-D", "--aetitle", "ME", "--call", "PACS", "--echo", "127.0.0.1", "104",
    ]  # fmt: skip


def test_gdcmscu_store_argv_gives_every_file_with_i() -> None:
    req = StoreRequest.model_validate({"op": "store", "input": "/d", "options": {"port": 5000, "host": "10.0.0.7"}})
    info = store_input(
        StoreFile(Path("/d/a.dcm"), CT, "1.2", EXPLICIT), StoreFile(Path("/d/b.dcm"), CT, "1.3", EXPLICIT)
    )
    assert gdcmscu_argv("gdcmscu", req, info) == [
        "gdcmscu", "-D", "--aetitle", "DCMHARNESS", "--call", "ANY-SCP", "--store",
        "-i", "/d/a.dcm", "-i", "/d/b.dcm", "10.0.0.7", "5000",
    ]  # fmt: skip


def test_gdcm_proposes_one_context_per_sop_class_and_transfer_syntax_ids_odd() -> None:
    files = [
        StoreFile(Path("a"), MR, "1", EXPLICIT),
        StoreFile(Path("b"), CT, "2", EXPLICIT),
        StoreFile(Path("c"), MR, "3", EXPLICIT),
        StoreFile(Path("d"), CT, "4", IMPLICIT),
    ]
    assert proposed_contexts(files) == {1: (MR, EXPLICIT), 3: (CT, EXPLICIT), 5: (CT, IMPLICIT)}


def test_recorded_gdcmscu_echo_success() -> None:
    text = (LOGS / "gdcmscu_echo_ok.log").read_text()
    assert echo_status(text) == 0
    assert accepted_ids(text) == {1: IMPLICIT}
    assert "ProtocolStream as nullptr is invalid" in text  # the abort after success (exit status 134)


def test_recorded_gdcmscu_rejection_is_association_rejected_with_the_reason() -> None:
    text = (LOGS / "gdcmscu_echo_rejected.log").read_text()
    rejection = rejection_of(text)
    assert rejection is not None
    assert (rejection.result, rejection.source, rejection.diagnostic) == (1, 1, 7)
    assert rejection.reason == "called-AE-title-not-recognized"
    error = failure_of(text, opts(called_aet="WRONG"))
    assert (error.code, error.field) == (ErrorCode.ASSOCIATION_REJECTED, "options.called_aet")
    assert echo_status(text) is None


def test_recorded_gdcmscu_closed_port_is_a_network_error() -> None:
    text = (LOGS / "gdcmscu_echo_refused.log").read_text()
    assert echo_status(text) is None and rejection_of(text) is None
    error = failure_of(text, opts(port=1))
    assert error.code == ErrorCode.NETWORK_ERROR
    assert "does not say which" in error.message


def test_recorded_gdcmscu_store_of_three_files() -> None:
    text = (LOGS / "gdcmscu_store_three.log").read_text()
    statuses = store_statuses(text)
    assert [(Path(p).name, s) for p, s in statuses] == [("MR_small.dcm", 0), ("CT_small.dcm", 0), ("rtplan.dcm", 0)]
    assert accepted_ids(text) == {1: EXPLICIT, 3: EXPLICIT, 5: IMPLICIT}


def test_recorded_gdcmscu_store_aborted_by_the_peer_is_a_network_error() -> None:
    from dcmharness.adapters.gdcm.network import store_result

    text = (LOGS / "gdcmscu_store_aborted.log").read_text()
    req = StoreRequest.model_validate({"op": "store", "input": "/d", "options": {"port": 11112}})
    ct = "/work/main/.venv/lib/python3.11/site-packages/pydicom/data/test_files/CT_small.dcm"
    run = ToolRun([], 1, text.encode(), b"", 0.1)
    with pytest.raises(HarnessError) as exc:
        store_result(run, req, store_input(StoreFile(Path(ct), CT, "1.2", EXPLICIT)))
    assert exc.value.code == ErrorCode.NETWORK_ERROR and "A-ABORT" in exc.value.message


# -- orthanc -------------------------------------------------------------------------------------------------


def test_orthanc_modality_and_bodies() -> None:
    o = opts(port=4242, called_aet="PACS", calling_aet="ME", timeout=7)
    assert register_call("dcmharness-ab").describe("http://127.0.0.1:8042") == (
        "PUT http://127.0.0.1:8042/modalities/dcmharness-ab"
    )
    assert register_body(o) == {"AET": "PACS", "Host": "127.0.0.1", "Port": 4242, "LocalAet": "ME"}
    assert store_body(o, ["i1", "i2"]) == {"Resources": ["i1", "i2"], "Synchronous": True, "Timeout": 7}
    find = FindRequest.model_validate(
        {"op": "find", "options": {"port": 1, "level": "image", "query": {"SOPInstanceUID": "1.2", "PatientID": ""}}}
    )
    assert query_body(find) == {
        "Level": "Instance", "Query": {"SOPInstanceUID": "1.2", "PatientID": ""}, "Normalize": False, "Timeout": 10,
    }  # fmt: skip


def _http500(details: str) -> ToolError:
    body = json.dumps({"Details": details, "HttpStatus": 500, "Message": "Error in the network protocol"})
    return ToolError(ErrorCode.BACKEND_FAILED, "orthanc answered HTTP 500", [], body)


def test_orthanc_errors_map_to_the_contract_codes() -> None:
    o = opts()
    rejected = error_of(_http500('DicomAssociation - connecting to AET "WRONG": DUL Association Rejected'), o)
    assert rejected.code == ErrorCode.ASSOCIATION_REJECTED and "does not report" in rejected.message
    refused = error_of(_http500("DicomAssociation - connecting: TCP Initialization Error: Connection refused"), o)
    assert refused.code == ErrorCode.NETWORK_ERROR
    silent = error_of(_http500("DicomAssociation - connecting: DUL network read timeout"), o)
    assert silent.code == ErrorCode.NETWORK_ERROR
    timeout = error_of(ToolError(ErrorCode.TIMEOUT, "orthanc did not answer", [], None), o)
    assert timeout.code == ErrorCode.NETWORK_ERROR
    other = ToolError(ErrorCode.BACKEND_FAILED, "orthanc answered HTTP 404", [], '{"Message": "Unknown resource"}')
    assert error_of(other, o) is other


def test_orthanc_answer_becomes_dicom_json() -> None:
    answer = {
        "0008,0052": {"Name": "QueryRetrieveLevel", "Type": "String", "Value": "IMAGE"},
        "0002,0003": {"Name": "MediaStorageSOPInstanceUID", "Type": "String", "Value": "1.2"},
        "0010,0020": {"Name": "PatientID", "Type": "String", "Value": "ID1"},
        "0008,0050": {"Name": "AccessionNumber", "Type": "Null", "Value": None},
        "0028,0010": {"Name": "Rows", "Type": "String", "Value": "512"},
    }
    assert dicom_json_of_answer(answer) == {
        "00080050": {"vr": "SH"},
        "00080052": {"vr": "CS", "Value": ["IMAGE"]},
        "00100020": {"vr": "LO", "Value": ["ID1"]},
        "00280010": {"vr": "US", "Value": [512]},
    }


# -- pixelmed ----------------------------------------------------------------------------------------------------


def test_pixelmed_launcher_argv_and_job_fields() -> None:
    assert network_argv("/usr/bin/java", "/j/pixelmed.jar", "/b", "-Xmx512m") == [
        "/usr/bin/java", "-Djava.awt.headless=true", "-Xmx512m", "-cp", "/j/pixelmed.jar:/b", "PixelMedNetwork",
    ]  # fmt: skip
    echo = EchoRequest.model_validate({"op": "echo", "options": {"port": 104, "called_aet": "PACS"}})
    assert job_fields(echo, None) == ["echo", "127.0.0.1", "104", "PACS", "DCMHARNESS"]
    store = StoreRequest.model_validate({"op": "store", "input": "/d", "options": {"port": 104}})
    info = store_input(StoreFile(Path("/d/a.dcm"), CT, "1.2", EXPLICIT))
    assert job_fields(store, info) == ["store", "127.0.0.1", "104", "ANY-SCP", "DCMHARNESS", "/d/a.dcm"]
    find = FindRequest.model_validate(
        {"op": "find", "options": {"port": 104, "model": "patient_root", "level": "patient"}}
    )
    assert job_fields(find, None, "/w/q.dcm", "/w/answers") == [
        "find", "127.0.0.1", "104", "ANY-SCP", "DCMHARNESS", "1.2.840.10008.5.1.4.1.2.1.1", "/w/q.dcm", "/w/answers",
    ]  # fmt: skip


def test_pixelmed_recorded_answers_and_errors() -> None:
    # PixelMedNetwork's answers and DicomNetworkException messages, recorded against the harness's SCP
    per_file, warnings = store_outcome(["store", "2", "1", "0", "/d/b.dcm=1", "/d/a.dcm=0"])
    assert (per_file, warnings) == ({"/d/b.dcm": True, "/d/a.dcm": False}, 0)
    o = opts(called_aet="WRONG")
    rejected = pixelmed_error_of(
        "com.pixelmed.network.DicomNetworkException: A-ASSOCIATE-RJ indication - rejected-permanent by DICOM UL "
        "Service User, called AE Title not recognized",
        o,
    )
    assert (rejected.code, rejected.field) == (ErrorCode.ASSOCIATION_REJECTED, "options.called_aet")
    assert "called-AE-title-not-recognized" in rejected.message
    refused = pixelmed_error_of(
        "com.pixelmed.network.DicomNetworkException: A-P-ABORT indication - (127.0.0.1:1) - "
        "java.net.ConnectException: Connection refused",
        opts(port=1),
    )
    assert refused.code == ErrorCode.NETWORK_ERROR


# -- dcm4che (not installable here: argv only) ------------------------------------------------------------------


def test_dcm4che_storescu_echo_and_store_argv() -> None:
    o = opts(port=11112, called_aet="STORESCP", calling_aet="ME", timeout=2.5)
    common = ["storescu", "-c", "STORESCP@127.0.0.1:11112", "-b", "ME", "--connect-timeout", "2500",
              "--accept-timeout", "2500", "--response-timeout", "2500", "--release-timeout", "2500"]  # fmt: skip
    assert storescu_argv("storescu", o, []) == common  # no file: C-ECHO
    assert storescu_argv("storescu", o, ["/d/a.dcm"]) == [*common, "/d/a.dcm"]


def test_dcm4che_findscu_and_getscu_argv() -> None:
    o = opts(timeout=10)
    query = {"PatientName": "Doe*", "StudyInstanceUID": ""}
    assert findscu_argv("findscu", o, "study", "study_root", query, "/tmp/o")[13:] == [
        "-M", "StudyRoot", "-L", "STUDY", "-m", "PatientName=Doe*", "-r", "StudyInstanceUID",
        "--out-dir", "/tmp/o", "--out-file", "000.dcm",
    ]  # fmt: skip
    get = getscu_argv("getscu", o, "series", "patient_root", {"SeriesInstanceUID": "1.2"}, "/tmp/g")
    assert get[9:11] == ["--retrieve-timeout", "10000"]
    assert get[13:] == ["-M", "PatientRoot", "-L", "SERIES", "-m", "SeriesInstanceUID=1.2", "--directory", "/tmp/g"]


# -- refusals before running ------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["gdcm", "orthanc", "pixelmed"])
def test_proposal_list_is_refused_before_running(backend: str) -> None:
    from dcmharness.interface.api import run

    resp = run({"op": "echo", "backend": backend,
                "options": {"port": 1, "transfer_syntaxes": ["explicit_vr_little_endian"]}})  # fmt: skip
    if resp.error and resp.error.code == "backend_unavailable":
        pytest.skip(resp.error.message)
    assert resp.error is not None
    assert (resp.error.code, resp.error.field) == ("unsupported_option", "options.transfer_syntaxes")
    assert resp.command is None  # nothing ran


def test_orthanc_refuses_fractional_timeout_and_patient_root_below_patient() -> None:
    from dcmharness.interface.api import run

    resp = run({"op": "echo", "backend": "orthanc", "options": {"port": 1, "timeout": 1.5}})
    assert resp.error is not None and (resp.error.code, resp.error.field) == ("unsupported_option", "options.timeout")
    resp = run({"op": "find", "backend": "orthanc",
                "options": {"port": 1, "level": "study", "model": "patient_root"}})  # fmt: skip
    assert resp.error is not None and (resp.error.code, resp.error.field) == ("unsupported_option", "options.model")


# -- live ---------------------------------------------------------------------------------------------------


def _available(backend: str) -> bool:
    from dcmharness.interface import registry

    adapter = registry.get(backend)
    if not adapter.availability().available:
        return False
    if backend == "pixelmed":
        return adapter.network_classes() is not None  # type: ignore[attr-defined]
    return backend != "gdcm" or bool(shutil.which("gdcmscu"))


LIVE = [
    pytest.param(b, marks=[pytest.mark.live, pytest.mark.skipif(not _available(b), reason=f"{b} is not installed")])
    for b in ("gdcm", "orthanc", "pixelmed")
]


@pytest.fixture(scope="module")
def scp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    pytest.importorskip("pynetdicom")
    from dcmharness.backends.python_ref.scp import python_scp

    with python_scp(tmp_path_factory.mktemp("clients-scp"), aet="HARNESS-SCP") as peer:
        yield peer


def _sample(name: str) -> Path:
    from pydicom.data import get_testdata_file

    return Path(str(get_testdata_file(name)))


@pytest.mark.parametrize("backend", LIVE)
def test_live_echo_store_find(scp: object, backend: str, tmp_path: Path) -> None:
    import pydicom

    from dcmharness.interface.api import run

    peer: object = scp
    net = {"port": peer.port, "called_aet": peer.aet, "calling_aet": "CLIENT-T", "timeout": 10}  # type: ignore[attr-defined]
    echo = run({"op": "echo", "backend": backend, "options": net})
    assert echo.ok, echo.error
    assert (echo.result or {})["status"] == "0x0000"
    for name in ("CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm"):
        shutil.copy(_sample(name), tmp_path / name)
    stored = run({"op": "store", "backend": backend, "input": str(tmp_path), "options": net})
    assert stored.ok, stored.error
    result = stored.result or {}
    assert (result["files"], result["stored"], result["status"]) == (3, 3, "0x0000")
    for name in ("CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm"):
        original = pydicom.dcmread(tmp_path / name)
        received = pydicom.dcmread(Path(peer.store_dir) / f"{original.SOPInstanceUID}.dcm")  # type: ignore[attr-defined]
        assert received.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID
        assert received.PixelData == original.PixelData
        assert received.PatientName == original.PatientName
    if backend == "gdcm":
        assert {c["transfer_syntax"] for c in result["accepted_contexts"]} == {EXPLICIT, "1.2.840.10008.1.2.4.91"}
        return  # gdcmscu 3.0.21 prints no C-FIND answer: find is not offered
    ct = pydicom.dcmread(tmp_path / "CT_small.dcm", stop_before_pixels=True)
    query = {"PatientID": str(ct.PatientID), "StudyInstanceUID": ""}
    found = run({"op": "find", "backend": backend, "options": {**net, "level": "study", "query": query}})
    assert found.ok, found.error
    matches = (found.result or {})["matches"]
    assert [m["0020000D"]["Value"] for m in matches] == [[str(ct.StudyInstanceUID)]]


@pytest.mark.parametrize("backend", LIVE)
def test_live_closed_port_and_wrong_called_aet(scp: object, backend: str) -> None:
    from dcmharness.backends.network import free_port
    from dcmharness.interface.api import run

    started = time.monotonic()
    closed = run({"op": "echo", "backend": backend, "options": {"port": free_port(), "timeout": 10}})
    assert closed.error is not None and closed.error.code == "network_error"
    assert time.monotonic() - started < 20  # Orthanc's first request starts its server (a few seconds)
    wrong = run({"op": "echo", "backend": backend, "options": {"port": scp.port, "called_aet": "NOT-THERE"}})  # type: ignore[attr-defined]
    assert wrong.error is not None and wrong.error.code == "association_rejected"
    if backend == "gdcm":
        assert wrong.error.field == "options.called_aet" and "called-AE-title-not-recognized" in wrong.error.message


@pytest.mark.parametrize("backend", LIVE)
def test_live_silent_peer_never_hangs(backend: str) -> None:
    from dcmharness.interface.api import run

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        port = server.getsockname()[1]
        started = time.monotonic()
        resp = run({"op": "echo", "backend": backend, "options": {"port": port, "timeout": 2}})
        elapsed = time.monotonic() - started
    assert resp.error is not None and resp.error.code == "network_error"
    assert elapsed < 15


#: What a peer aborting the association on the C-STORE gives: gdcm and Orthanc name the abort; PixelMed's
#: status handler reports a failed file without the cause.
ABORT_CODES = {"gdcm": "network_error", "orthanc": "network_error", "pixelmed": "dimse_failure"}


@pytest.mark.parametrize("backend", LIVE)
def test_live_peer_aborting_the_store(backend: str) -> None:
    pytest.importorskip("pynetdicom")
    from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt

    from dcmharness.backends.network import free_port
    from dcmharness.interface.api import run

    def on_store(event: object) -> int:
        event.assoc.abort()  # type: ignore[attr-defined]
        return 0x0000

    ae = AE(ae_title="ABORT-SCP")
    for cx in AllStoragePresentationContexts:
        if cx.abstract_syntax is not None:
            ae.add_supported_context(cx.abstract_syntax, ALL_TRANSFER_SYNTAXES)
    port = free_port()
    server = ae.start_server(("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)])
    assert server is not None
    try:
        started = time.monotonic()
        resp = run({"op": "store", "backend": backend, "input": str(_sample("CT_small.dcm")),
                    "options": {"port": port, "called_aet": "ABORT-SCP", "timeout": 5}})  # fmt: skip
        assert resp.error is not None and resp.error.code == ABORT_CODES[backend], resp.error
        assert time.monotonic() - started < 20
    finally:
        server.shutdown()


@pytest.mark.parametrize("backend", LIVE)
def test_live_failure_statuses_are_dimse_failures(backend: str) -> None:
    """A peer answering C-STORE with 0xA700 and C-FIND with 0xC001: dimse_failure, with the status where the
    client gives it (gdcm, Orthanc; PixelMed's store handler gives none; gdcm has no find)."""
    pytest.importorskip("pynetdicom")
    from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt

    from dcmharness.backends.network import free_port
    from dcmharness.interface.api import run

    def on_find(event: object) -> Iterator[tuple[int, None]]:
        yield 0xC001, None

    ae = AE(ae_title="FAIL-SCP")
    for cx in AllStoragePresentationContexts:
        if cx.abstract_syntax is not None:
            ae.add_supported_context(cx.abstract_syntax, ALL_TRANSFER_SYNTAXES)
    ae.add_supported_context("1.2.840.10008.5.1.4.1.2.2.1")  # Study Root Q/R FIND
    port = free_port()
    def on_store(event: object) -> int:
        return 0xA700

    server = ae.start_server(
        ("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store), (evt.EVT_C_FIND, on_find)]
    )
    assert server is not None
    net = {"port": port, "called_aet": "FAIL-SCP", "timeout": 5}
    try:
        stored = run({"op": "store", "backend": backend, "input": str(_sample("CT_small.dcm")), "options": net})
        assert stored.error is not None and stored.error.code == "dimse_failure", stored.error
        assert ("0xA700" in stored.error.message) == (backend != "pixelmed")
        if backend != "gdcm":
            found = run({"op": "find", "backend": backend, "options": {**net, "query": {"PatientID": ""}}})
            assert found.error is not None and found.error.code == "dimse_failure", found.error
            assert "0xc001" in found.error.message.lower()
    finally:
        server.shutdown()
