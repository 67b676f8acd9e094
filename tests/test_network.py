"""Network ops without a network: the contract (echo has no input, AE titles, hosts), the status and rejection
tables, python_ref's presentation contexts, dcmtk's argv (golden) and the parsing of its debug log (lines
recorded from echoscu / storescu 3.6.7 against the harness's pynetdicom SCP)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dcmharness.adapters.dcmtk.network import (
    accepted_contexts,
    accepted_transfer_syntaxes,
    check_network,
    echo_status,
    failure_of,
    get_argv,
    get_final,
    network_argv,
    parse_rejection,
    pdu_after,
    store_responses,
    uid_of,
)
from dcmharness.backends.network import (
    AssociationRejected,
    Rejection,
    StoreFile,
    StoreInput,
    check_proposal,
    instance_file_name,
    retrieve_plan,
    retrieve_status_entry,
    status_category,
    status_entry,
)
from dcmharness.backends.python_ref.ops_network import proposed_contexts, retrieve_proposal, retrieve_storage_classes
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.ops_models import GetRequest
from dcmharness.contract.validation import parse_request

CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
EXPLICIT = "1.2.840.10008.1.2.1"
IMPLICIT = "1.2.840.10008.1.2"
JPEG_LL = "1.2.840.10008.1.2.4.70"

#: storescu -d -R (3.6.7) storing one CT file to the pynetdicom SCP: the A-ASSOCIATE-AC and the C-STORE RSP.
STORESCU_LOG = """\
I: Requesting Association
D: PDU Type: Associate Accept, PDU Length: 219 + 6 bytes PDU header
D:   02  00  00  00  00  db  00  01  00  00  54  45  53  54  53  43
D:   50  20  20  20  20  20  20  20  20  20  53  54  4f  52  45  53
D:   43  55  20  20  20  20  20  20  20  20  00  00  00  00  00  00
D:   00  00  00  00  00  00  00  00  00  00  00  00  00  00  00  00
D:   00  00  00  00  00  00  00  00  00  00  10  00  00  15  31  2e
D:   32  2e  38  34  30  2e  31  30  30  30  38  2e  33  2e  31  2e
D:   31  2e  31  21  00  00  1b  01  00  00  00  40  00  00  13  31
D:   2e  32  2e  38  34  30  2e  31  30  30  30  38  2e  31  2e  32
D:   2e  31  21  00  00  19  03  00  00  00  40  00  00  11  31  2e
D:   32  2e  38  34  30  2e  31  30  30  30  38  2e  31  2e  32  50
D:   00  00  3e  51  00  00  04  00  00  00  00  52  00  00  20  31
D:   2e  32  2e  38  32  36  2e  30  2e  31  2e  33  36  38  30  30
D:   34  33  2e  39  2e  33  38  31  31  2e  33  2e  30  2e  34  55
D:   00  00  0e  50  59  4e  45  54  44  49  43  4f  4d  5f  33  30
D:   34
D: Parsing an A-ASSOCIATE PDU
D: ====================== BEGIN A-ASSOCIATE-AC =====================
D:   Context ID:        1 (Accepted)
D:     Abstract Syntax: =CTImageStorage
D:     Proposed SCP/SCU Role: Default
D:     Accepted SCP/SCU Role: Default
D:     Accepted Transfer Syntax: =LittleEndianExplicit
D:   Context ID:        3 (Accepted)
D:     Abstract Syntax: =CTImageStorage
D:     Proposed SCP/SCU Role: Default
D:     Accepted SCP/SCU Role: Default
D:     Accepted Transfer Syntax: =LittleEndianImplicit
D: ======================= END A-ASSOCIATE-AC ======================
I: Association Accepted (Max Send PDV: 131060)
I: Sending file: /data/IM-0001-0001.dcm
I: Sending Store Request (MsgID 1, CT)
D: ===================== OUTGOING DIMSE MESSAGE ====================
D: Message Type                  : C-STORE RQ
D: ======================= END DIMSE MESSAGE =======================
I: Received Store Response
D: ===================== INCOMING DIMSE MESSAGE ====================
D: Message Type                  : C-STORE RSP
D: Presentation Context ID       : 3
D: DIMSE Status                  : 0xB000: Warning
D: ======================= END DIMSE MESSAGE =======================
I: Sending file: /data/IM-0001-0002.dcm
D: ===================== INCOMING DIMSE MESSAGE ====================
D: Presentation Context ID       : 1
D: DIMSE Status                  : 0xA700: Refused: OutOfResources
D: ======================= END DIMSE MESSAGE =======================
I: Releasing Association
"""

REJECTED_LOG = """\
I: Requesting Association
F: Association Rejected:
F: Result: Rejected Permanent, Source: Service User
F: Reason: Called AE Title Not Recognized
"""


def echo_request(**options: object) -> object:
    return parse_request({"op": "echo", "options": {"port": 11112, **options}})


def store_request(**options: object) -> object:
    return parse_request({"op": "store", "input": "/data", "options": {"port": 11112, **options}})


def store_input(*files: tuple[str, str, str]) -> StoreInput:
    entries = [StoreFile(Path(p), sop, f"1.2.3.{i}", ts) for i, (p, sop, ts) in enumerate(files)]
    return StoreInput(path=Path("/data"), dataset=None, transfer_syntax=None, has_pixel_data=False, files=entries)


# -- contract ----------------------------------------------------------------------------------------------------


def test_echo_has_no_input_and_defaults() -> None:
    req = echo_request()
    assert req.input is None  # type: ignore[attr-defined]
    opts = req.options  # type: ignore[attr-defined]
    assert (opts.host, opts.called_aet, opts.calling_aet, opts.timeout) == ("127.0.0.1", "ANY-SCP", "DCMHARNESS", 10.0)
    with pytest.raises(HarnessError) as exc:
        parse_request({"op": "echo", "input": "ct.dcm", "options": {"port": 104}})
    assert exc.value.code == ErrorCode.INVALID_REQUEST and exc.value.field == "input"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"port": 0}, "options.port"),
        ({"port": 65536}, "options.port"),
        ({"port": 104, "called_aet": "A" * 17}, "options.called_aet"),
        ({"port": 104, "called_aet": "A\\B"}, "options.called_aet"),
        ({"port": 104, "calling_aet": "    "}, "options.calling_aet"),
        ({"port": 104, "host": "-oProxy"}, "options.host"),
        ({"port": 104, "host": "a b"}, "options.host"),
        ({"port": 104, "timeout": 0}, "options.timeout"),
        ({"port": 104, "transfer_syntaxes": ["explicit_vr_little_endian"] * 2}, "options.transfer_syntaxes"),
    ],
)
def test_bad_network_options(options: dict[str, object], field: str) -> None:
    with pytest.raises(HarnessError) as exc:
        parse_request({"op": "echo", "options": options})
    assert exc.value.code == ErrorCode.INVALID_REQUEST
    assert exc.value.field == field


def test_store_needs_input_and_port() -> None:
    for bad in ({"op": "store", "options": {"port": 104}}, {"op": "store", "input": "x"}):
        with pytest.raises(HarnessError) as exc:
            parse_request(bad)
        assert exc.value.code == ErrorCode.INVALID_REQUEST


# -- tables --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "text", "category"),
    [
        (0x0000, "Success", "success"),
        (0xB000, "Warning: coercion of data elements", "warning"),
        (0xA700, "Refused: out of resources", "failure"),
        (0xA7FF, "Refused: out of resources", "failure"),
        (0xA900, "Error: data set does not match SOP class", "failure"),
        (0xC123, "Error: cannot understand", "failure"),
        (0x0122, "SOP class not supported", "failure"),
        (0xFF00, "Pending", "pending"),
    ],
)
def test_status_meanings(status: int, text: str, category: str) -> None:
    assert status_entry(status) == {"status": f"0x{status:04X}", "meaning": text, "category": category}
    assert status_category(status) == category


def test_rejection_reason_and_field() -> None:
    exc = AssociationRejected(Rejection(1, 1, 7), "WRONG")
    assert exc.code == ErrorCode.ASSOCIATION_REJECTED and exc.field == "options.called_aet"
    assert "called-AE-title-not-recognized" in exc.message and "'WRONG'" in exc.message
    assert Rejection(2, 3, 1).as_dict() == {
        "result": "rejected-transient",
        "source": "DICOM UL service-provider (Presentation related function)",
        "reason": "temporary-congestion",
        "codes": [2, 3, 1],
    }
    assert AssociationRejected(Rejection(1, 1, 3), "X").field is None


# -- python_ref's proposal -----------------------------------------------------------------------------------


def test_python_ref_proposes_each_files_own_transfer_syntax() -> None:
    files = store_input(("/a", CT, EXPLICIT), ("/b", CT, EXPLICIT), ("/c", CT, JPEG_LL), ("/d", MR, IMPLICIT)).files
    assert proposed_contexts(files, None) == [(CT, [EXPLICIT]), (CT, [JPEG_LL]), (MR, [IMPLICIT])]
    assert proposed_contexts(files, [EXPLICIT, IMPLICIT]) == [
        (CT, [EXPLICIT]),
        (CT, [IMPLICIT]),
        (MR, [EXPLICIT]),
        (MR, [IMPLICIT]),
    ]
    many = [StoreFile(Path(f"/{i}"), f"1.2.{i}", "1", EXPLICIT) for i in range(129)]
    with pytest.raises(HarnessError) as exc:
        proposed_contexts(many, None)
    assert exc.value.code == ErrorCode.INVALID_REQUEST and "129 presentation contexts" in exc.value.message


def test_explicit_proposal_must_cover_every_file() -> None:
    files = store_input(("/a", CT, EXPLICIT), ("/c", CT, JPEG_LL)).files
    check_proposal(files, None)
    check_proposal(files, [EXPLICIT, JPEG_LL])
    with pytest.raises(HarnessError) as exc:
        check_proposal(files, [EXPLICIT])
    assert exc.value.field == "options.transfer_syntaxes" and JPEG_LL in exc.value.message


# -- dcmtk: argv (golden) and refusals ----------------------------------------------------------------------


def test_echoscu_argv() -> None:
    req = echo_request(host="pacs.local", called_aet="PACS", calling_aet="ME", timeout=5)
    assert network_argv("/usr/bin/echoscu", req, None) == [  # type: ignore[arg-type]
        "/usr/bin/echoscu", "-d", "-aet", "ME", "-aec", "PACS", "-to", "5", "-ta", "5", "-td", "5",
        "pacs.local", "11112",
    ]  # fmt: skip


def test_storescu_argv_lists_every_file() -> None:
    info = store_input(("/data/b.dcm", CT, EXPLICIT), ("/data/a b.dcm", CT, JPEG_LL))
    argv = network_argv("/usr/bin/storescu", store_request(), info)  # type: ignore[arg-type]
    assert argv == [
        "/usr/bin/storescu", "-d", "-aet", "DCMHARNESS", "-aec", "ANY-SCP", "-to", "10", "-ta", "10", "-td", "10",
        "-R", "-xs", "127.0.0.1", "11112", "/data/b.dcm", "/data/a b.dcm",
    ]  # fmt: skip


def test_storescu_proposal_flag_follows_the_compressed_files() -> None:
    argv = network_argv("storescu", store_request(), store_input(("/a", CT, EXPLICIT), ("/b", CT, JPEG_LL)))  # type: ignore[arg-type]
    assert argv[argv.index("-R") + 1] == "-xs"
    argv = network_argv("storescu", store_request(), store_input(("/a", CT, "1.2.840.10008.1.2.5")))  # type: ignore[arg-type]
    assert argv[argv.index("-R") + 1] == "-xr"
    argv = network_argv("storescu", store_request(), store_input(("/a", CT, EXPLICIT), ("/b", MR, IMPLICIT)))  # type: ignore[arg-type]
    assert argv[argv.index("-R") + 1] == "127.0.0.1"
    mixed = store_input(("/a", CT, JPEG_LL), ("/b", CT, "1.2.840.10008.1.2.5"))
    with pytest.raises(HarnessError) as exc:
        check_network(store_request(), mixed)  # type: ignore[arg-type]
    assert exc.value.code == ErrorCode.UNSUPPORTED_OPTION and exc.value.field == "input"
    assert "1.2.840.10008.1.2.4.70, 1.2.840.10008.1.2.5" in exc.value.message


def test_dcmtk_refusals() -> None:
    with pytest.raises(HarnessError) as exc:
        check_network(echo_request(timeout=2.5), None)  # type: ignore[arg-type]
    assert exc.value.code == ErrorCode.UNSUPPORTED_OPTION and exc.value.field == "options.timeout"
    with pytest.raises(HarnessError) as exc:
        check_network(store_request(transfer_syntaxes=["explicit_vr_little_endian"]), store_input())  # type: ignore[arg-type]
    assert exc.value.code == ErrorCode.UNSUPPORTED_OPTION and exc.value.field == "options.transfer_syntaxes"
    assert check_network(echo_request(timeout=3), None) == []  # type: ignore[arg-type]


# -- dcmtk: the debug log ------------------------------------------------------------------------------------


def test_accepted_contexts_from_the_ac_pdu() -> None:
    pdu = pdu_after(STORESCU_LOG, "PDU Type: Associate Accept")
    assert pdu is not None and len(pdu) == 219 + 6 and pdu[0] == 0x02
    assert accepted_transfer_syntaxes(pdu) == {1: EXPLICIT, 3: IMPLICIT}
    assert accepted_contexts(STORESCU_LOG) == [
        {"abstract_syntax": CT, "transfer_syntax": EXPLICIT},
        {"abstract_syntax": CT, "transfer_syntax": IMPLICIT},
    ]


def test_dcmtk_names_to_uids() -> None:
    assert uid_of("=CTImageStorage") == CT
    assert uid_of("=VerificationSOPClass") == "1.2.840.10008.1.1"
    assert uid_of("1.2.3.4") == "1.2.3.4"
    assert uid_of("=NoSuchName") == "=NoSuchName"
    assert uid_of("=FINDStudyRootQueryRetrieveInformationModel") == "1.2.840.10008.5.1.4.1.2.2.1"
    assert uid_of("=FINDPatientRootQueryRetrieveInformationModel") == "1.2.840.10008.5.1.4.1.2.1.1"


def test_store_responses_in_order() -> None:
    assert store_responses(STORESCU_LOG) == [
        ("/data/IM-0001-0001.dcm", 3, 0xB000),
        ("/data/IM-0001-0002.dcm", 1, 0xA700),
    ]


def test_rejection_and_connection_failures() -> None:
    assert parse_rejection(REJECTED_LOG) == Rejection(1, 1, 7)
    assert parse_rejection("F: Result: Rejected Transient, Source: Service Provider (Presentation)\n"
                           "F: Reason: Temporary Congestion\n") == Rejection(2, 3, 1)  # fmt: skip
    opts = echo_request().options  # type: ignore[attr-defined]
    err = failure_of(REJECTED_LOG, opts)
    assert isinstance(err, AssociationRejected) and err.field == "options.called_aet"
    refused = "F: Association Request Failed: 0006:031c TCP Initialization Error: Connection refused\n"
    err = failure_of(refused, opts)
    assert err is not None and err.code == ErrorCode.NETWORK_ERROR and "Connection refused" in err.message
    silent = "F: Association Request Failed: 0006:031a DUL network read timeout\n"
    err = failure_of(silent, opts)
    assert err is not None and err.code == ErrorCode.NETWORK_ERROR and "read timeout" in err.message
    aborted = "E: 0006:0317 Peer aborted Association (or never connected)\n"
    err = failure_of(aborted, opts)
    assert err is not None and err.code == ErrorCode.NETWORK_ERROR and "Peer aborted" in err.message
    err = failure_of("F: No Acceptable Presentation Contexts\n", opts)
    assert err is not None and err.code == ErrorCode.DIMSE_FAILURE
    assert failure_of("I: Releasing Association\n", opts) is None


def test_echo_status() -> None:
    assert echo_status("I: Received Echo Response (Success)\n") == 0
    assert echo_status("I: Received Echo Response (Status: 0x0110 Failure)\n") == 0x0110
    assert echo_status("I: Requesting Association\n") is None


# -- find ----------------------------------------------------------------------------------------------------

FINDSCU_LOG = """\
I: Sending Find Request
D: Presentation Context ID       : 1
I: Received Find Response 1
D: DIMSE Status                  : 0xff00: Pending: Matches are continuing
I: Writing response dataset to file: /tmp/fo/rsp0001.dcm
I: Received Final Find Response
D: DIMSE Status                  : 0x0000: Success: Matching is complete
I: Releasing Association
"""


def find_request(**options: object) -> object:
    return parse_request({"op": "find", "options": {"port": 11112, **options}})


def test_findscu_argv() -> None:
    from dcmharness.adapters.dcmtk.network import find_argv

    req = find_request(level="series", query={"StudyInstanceUID": "1.2.3", "Modality": "", "SeriesDate": "2004-"})
    assert find_argv("/usr/bin/findscu", req, "/tmp/out") == [  # type: ignore[arg-type]
        "/usr/bin/findscu", "-d", "-aet", "DCMHARNESS", "-aec", "ANY-SCP", "-to", "10", "-ta", "10", "-td", "10",
        "-S", "-X", "-od", "/tmp/out", "-k", "QueryRetrieveLevel=SERIES", "-k", "StudyInstanceUID=1.2.3",
        "-k", "Modality=", "-k", "SeriesDate=2004-", "127.0.0.1", "11112",
    ]  # fmt: skip
    req = find_request(level="patient", model="patient_root", query={"PatientID": "X*"})
    argv = find_argv("findscu", req, "/o")  # type: ignore[arg-type]
    assert "-P" in argv and "QueryRetrieveLevel=PATIENT" in argv


def test_find_statuses() -> None:
    from dcmharness.adapters.dcmtk.network import find_statuses

    assert find_statuses(FINDSCU_LOG) == [0xFF00, 0x0000]
    assert find_statuses("F: Association Request Failed: ...\n") == []


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"level": "patient"}, "options.level"),  # patient level needs the patient root model
        ({"query": {"QueryRetrieveLevel": "STUDY"}}, "options.query.QueryRetrieveLevel"),
        ({"query": {"1abc": ""}}, "options.query.1abc"),
        ({"level": "instance"}, "options.level"),
    ],
)
def test_bad_find_options(options: dict[str, object], field: str) -> None:
    with pytest.raises(HarnessError) as exc:
        find_request(**options)
    assert exc.value.code == ErrorCode.INVALID_REQUEST and exc.value.field == field


def test_find_identifier() -> None:
    from dcmharness.backends.network import find_identifier

    ds = find_identifier("image", {"SOPInstanceUID": "1.2\\1.3", "PatientName": "A*"})
    assert ds.QueryRetrieveLevel == "IMAGE" and list(ds.SOPInstanceUID) == ["1.2", "1.3"]
    for key, value in (("NoSuchKeyword", ""), ("ReferencedImageSequence", ""), ("Rows", "many")):
        with pytest.raises(HarnessError) as exc:
            find_identifier("study", {key: value})
        assert exc.value.code == ErrorCode.INVALID_REQUEST and exc.value.field == f"options.query.{key}"


@pytest.mark.parametrize(
    ("keyword", "wanted", "have", "expected"),
    [
        ("PatientName", "", "Doe^John", True),  # universal
        ("PatientName", "Doe^John", "Doe^John", True),
        ("PatientName", "Doe^Jo", "Doe^John", False),
        ("PatientName", "Doe*", "Doe^John", True),
        ("PatientName", "D?e^*", "Doe^John", True),
        ("PatientName", "D.e*", "Doe^John", False),  # '.' is not a wildcard
        ("StudyDate", "20040101-20041231", "20040826", True),
        ("StudyDate", "-20031231", "20040826", False),
        ("StudyDate", "20040101-", "20040826", True),
        ("SOPInstanceUID", "1.2\\1.3", "1.3", True),
        ("SOPInstanceUID", "1.2\\1.3", "1.4", False),
        ("PatientID", "X", None, False),
    ],
)
def test_scp_matching(keyword: str, wanted: str, have: str | None, expected: bool) -> None:
    from pydicom import Dataset
    from pydicom.datadict import tag_for_keyword

    from dcmharness.backends.python_ref.scp import value_matches

    query, candidate = Dataset(), Dataset()
    setattr(query, keyword, wanted)
    if have is not None:
        setattr(candidate, keyword, have)
    tag = tag_for_keyword(keyword)
    assert tag is not None
    assert value_matches(query[keyword], candidate.get(tag)) is expected


# -- get (C-GET) ----------------------------------------------------------------------------------------------

#: getscu -d (3.6.7) retrieving two instances from the pynetdicom SCP: a pending and the final C-GET RSP.
GETSCU_LOG = """\
I: Received C-GET Response
D: ===================== INCOMING DIMSE MESSAGE ====================
D: Message Type                  : C-GET RSP
D: Message ID Being Responded To : 1
D: Affected SOP Class UID        : GETStudyRootQueryRetrieveInformationModel
D: Remaining Suboperations       : 1
D: Completed Suboperations       : 1
D: Failed Suboperations          : 0
D: Warning Suboperations         : 0
D: Data Set                      : none
D: DIMSE Status                  : 0xff00: Pending: Sub-operations are continuing
D: ======================= END DIMSE MESSAGE =======================
I: Received C-GET Response
D: ===================== INCOMING DIMSE MESSAGE ====================
D: Message Type                  : C-GET RSP
D: Presentation Context ID       : 1
D: Message ID Being Responded To : 1
D: Affected SOP Class UID        : GETStudyRootQueryRetrieveInformationModel
D: Remaining Suboperations       : 0
D: Completed Suboperations       : 2
D: Failed Suboperations          : 1
D: Warning Suboperations         : 0
D: Data Set                      : none
D: DIMSE Status                  : 0xb000: Warning: Sub-operations complete - One or more failures or warnings
D: ======================= END DIMSE MESSAGE =======================
I: Final status report from last C-GET message:
"""


def _get(**options: object) -> GetRequest:
    request = parse_request({"op": "get", "output": "out", "options": {"port": 11112, **options}})
    assert isinstance(request, GetRequest)
    return request


def test_get_needs_an_output_folder_and_no_input() -> None:
    with pytest.raises(HarnessError) as exc:
        parse_request({"op": "get", "options": {"port": 104}})
    assert exc.value.field == "output"
    with pytest.raises(HarnessError) as exc:
        parse_request({"op": "get", "input": "a.dcm", "output": "o", "options": {"port": 104}})
    assert exc.value.field == "input"
    assert _get().options.level == "study" and _get().options.model == "study_root"


def test_getscu_argv() -> None:
    request = _get(level="series", called_aet="PACS", query={"SeriesInstanceUID": "1.2.3"}, timeout=5)
    assert get_argv("/usr/bin/getscu", request, "/tmp/in") == [
        "/usr/bin/getscu", "-d", "-aet", "DCMHARNESS", "-aec", "PACS", "-to", "5", "-ta", "5", "-td", "5",
        "-S", "-od", "/tmp/in", "-k", "QueryRetrieveLevel=SERIES", "-k", "SeriesInstanceUID=1.2.3",
        "127.0.0.1", "11112",
    ]  # fmt: skip
    patient = _get(level="patient", model="patient_root", transfer_syntaxes=["jpeg_lossless_sv1"])
    argv = get_argv("getscu", patient, "d")
    assert argv[argv.index("-od") - 1] == "-P" and "+xs" in argv and "QueryRetrieveLevel=PATIENT" in argv


def test_getscu_refuses_two_transfer_syntaxes() -> None:
    with pytest.raises(HarnessError) as exc:
        check_network(_get(transfer_syntaxes=["jpeg_lossless_sv1", "explicit_vr_little_endian"]), None)
    assert exc.value.code == ErrorCode.UNSUPPORTED_OPTION and exc.value.field == "options.transfer_syntaxes"
    assert check_network(_get(transfer_syntaxes=["rle_lossless"]), None) == []
    with pytest.raises(HarnessError) as exc:  # +xi proposes explicit VR LE only (observed, 3.6.7)
        check_network(_get(transfer_syntaxes=["implicit_vr_little_endian"]), None)
    assert exc.value.code == ErrorCode.UNSUPPORTED_OPTION and "+xi" in exc.value.message


def test_get_final_status_and_counts() -> None:
    assert get_final(GETSCU_LOG) == (0xB000, {"remaining": 0, "completed": 2, "failed": 1, "warning": 0})
    assert get_final(GETSCU_LOG.split("I: Received C-GET Response")[1]) is None  # only the pending one
    entry = retrieve_status_entry(0xB000)
    assert entry == {
        "status": "0xB000",
        "meaning": "Warning: sub-operations complete, one or more failures or warnings",
        "category": "warning",
    }


def test_python_ref_retrieve_proposal() -> None:
    default = retrieve_proposal(None)
    assert default[:2] == [EXPLICIT, IMPLICIT] and JPEG_LL in default and len(set(default)) == len(default)
    assert retrieve_proposal([JPEG_LL]) == [JPEG_LL]
    assert len(retrieve_storage_classes()) == 120  # pynetdicom 3.0's storage contexts, under 127
    assert instance_file_name("1.2.3/../x") == "1.2.3.dcm"  # only digits and dots, none at the ends
    assert instance_file_name("1.2.840.1") == "1.2.840.1.dcm"


def test_retrieve_plan_never_overwrites(tmp_path: Path) -> None:
    out = tmp_path / "out"
    plan = retrieve_plan(out, overwrite=False)
    assert plan.created and plan.incoming.parent == out and plan.incoming.name.startswith(".dcmharness-get-")
    (plan.incoming / "1.2.dcm").write_bytes(b"new")
    assert plan.commit() == [str(out / "1.2.dcm")]
    assert sorted(p.name for p in out.iterdir()) == ["1.2.dcm"]  # incoming removed
    again = retrieve_plan(out, overwrite=False)
    (again.incoming / "1.2.dcm").write_bytes(b"newer")
    (again.incoming / "1.3.dcm").write_bytes(b"other")
    with pytest.raises(HarnessError) as exc:
        again.commit()
    assert exc.value.code == ErrorCode.OUTPUT_EXISTS and "1.2.dcm" in exc.value.message
    assert sorted(p.name for p in out.iterdir()) == ["1.2.dcm"] and (out / "1.2.dcm").read_bytes() == b"new"
    forced = retrieve_plan(out, overwrite=True)
    (forced.incoming / "1.2.dcm").write_bytes(b"newer")
    forced.commit()
    assert (out / "1.2.dcm").read_bytes() == b"newer"
    failed = retrieve_plan(tmp_path / "fresh", overwrite=False)
    failed.discard()
    assert not (tmp_path / "fresh").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(HarnessError) as exc:
        retrieve_plan(tmp_path / "file", overwrite=False)
    assert exc.value.code == ErrorCode.OUTPUT_EXISTS
    with pytest.raises(HarnessError) as exc:
        retrieve_plan(tmp_path / "no" / "such", overwrite=False)
    assert exc.value.code == ErrorCode.OUTPUT_DIR_MISSING


def test_folder_store_skips_non_dicom_files(tmp_path: Path) -> None:
    import shutil

    from dcmharness.backends.network import store_input
    from dcmharness.interface.samples import find

    shutil.copy(find("CT_small.dcm"), tmp_path / "a.dcm")
    (tmp_path / "notes.txt").write_text("not DICOM")
    info = store_input(tmp_path)
    assert [f.path.name for f in info.files] == ["a.dcm"]
    assert len(info.warnings) == 1 and "notes.txt" in info.warnings[0] and info.warnings[0].startswith("skipped")
    (tmp_path / "a.dcm").unlink()
    with pytest.raises(HarnessError) as exc:
        store_input(tmp_path)
    assert exc.value.code == ErrorCode.NOT_DICOM and "1 skipped" in exc.value.message
    with pytest.raises(HarnessError) as exc:
        store_input(tmp_path / "notes.txt")  # a single file: refused, not skipped
    assert exc.value.code == ErrorCode.NOT_DICOM


# -- the peers: dcmqrscp's configuration, Orthanc's DICOM keys, the namespace helper --------------------------


def test_dcmqrscp_config_and_argv() -> None:
    from dcmharness.adapters.dcmtk.peer import dcmqrscp_argv, dcmqrscp_config

    text = dcmqrscp_config(11112, "QR-TEST", Path("/tmp/area"))
    lines = text.splitlines()
    assert lines[0] == "NetworkTCPPort  = 11112"
    assert lines[lines.index("AETable BEGIN") + 1] == '"QR-TEST"  /tmp/area  RW  (500, 1024mb)  ANY'
    assert "UserName" not in text and "GroupName" not in text  # it never changes user
    assert dcmqrscp_argv("/usr/bin/dcmqrscp", Path("/w/q.cfg"), 11112) == [
        "/usr/bin/dcmqrscp", "-dhl", "-c", "/w/q.cfg", "11112",
    ]  # fmt: skip


def test_orthanc_peer_config() -> None:
    from dcmharness.adapters.orthanc.peer import INNER_DICOM_PORT, dicom_peer_config

    config = dicom_peer_config(Path("/tmp/o"), "ORTHANC-TEST")
    assert (config["DicomServerEnabled"], config["DicomAet"], config["DicomPort"]) == (True, "ORTHANC-TEST", 4242)
    assert INNER_DICOM_PORT == 4242 and config["DicomCheckCalledAet"] is True
    assert all(config[k] for k in ("DicomAlwaysAllowEcho", "DicomAlwaysAllowStore", "DicomAlwaysAllowFind",
                                   "DicomAlwaysAllowGet"))  # fmt: skip
    assert config["RemoteAccessAllowed"] is False and config["StorageDirectory"] == "/tmp/o/storage"


def test_loopback_ns_usage() -> None:
    from dcmharness.adapters.loopback_ns import main

    assert main([]) == 2 and main(["dcmqrscp"]) == 2
