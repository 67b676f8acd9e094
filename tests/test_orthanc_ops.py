"""Orthanc's dump, info, transcode and anonymize (adapters/orthanc/ops.py).

Without a server: golden request building (paths, headers, JSON bodies), bulk data shaping, multipart
parsing and the refusal table. Live (``live``; skipped, saying why, without /usr/sbin/Orthanc): dump
against python_ref's through ``conform/ops_compare.py`` (differences only where the registry explains them),
transcode to every supported lossless target (transfer syntax, SOP Instance UID, bit-identical pixels),
anonymize checked with ``verify_anonymize`` (pixel data untouched, the input unmodified), and the server
left empty after each request and stopped at the end.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

from dcmharness.adapters.orthanc.adapter import OrthancAdapter
from dcmharness.adapters.orthanc.ops import (
    REFUSED_TARGETS,
    TRANSCODE_TARGETS,
    anonymize_body,
    anonymize_call,
    bulk_call,
    bulk_uris,
    metadata_call,
    modify_body,
    modify_call,
    ops_capabilities,
    parse_multipart,
    profile_fixes,
    shape_dump,
)
from dcmharness.backends.preflight import inspect
from dcmharness.contract.errors import HarnessError
from dcmharness.contract.ops_models import (
    LOSSLESS_TARGETS,
    TRANSFER_SYNTAXES,
    AnonymizeOptions,
    DumpOptions,
    TranscodeOptions,
)
from dcmharness.contract.validation import parse_request
from dcmharness.interface.api import run
from dcmharness.interface.conform import divergence
from dcmharness.interface.conform.ops import compare_json, verify
from dcmharness.interface.samples import find

BASE = "http://127.0.0.1:8042"
UIDS = ("1.2.3", "1.2.3.4", "1.2.3.4.5")


# -- request building (golden) ---------------------------------------------------------------------------
def test_metadata_call() -> None:
    call = metadata_call(UIDS)
    assert call.describe(BASE) == (
        "GET http://127.0.0.1:8042/dicom-web/studies/1.2.3/series/1.2.3.4/instances/1.2.3.4.5/metadata"
        " [Accept: application/dicom+json]"
    )


def test_bulk_call_strips_our_base_and_keeps_foreign_paths() -> None:
    uri = BASE + "/dicom-web/studies/1/series/2/instances/3/bulk/00431028"
    assert bulk_call(uri, BASE).path == "/dicom-web/studies/1/series/2/instances/3/bulk/00431028"
    assert bulk_call("http://other:1/x/bulk/7fe00010?a=b", BASE).path == "/x/bulk/7fe00010?a=b"
    assert dict(bulk_call(uri, BASE).headers)["Accept"].startswith("multipart/related")


def test_modify_bodies() -> None:
    assert modify_body(TranscodeOptions(transfer_syntax="jpeg_ls_lossless")) == {
        "Transcode": "1.2.840.10008.1.2.4.80",
        "Keep": ["SOPInstanceUID"],
        "Force": True,
    }
    assert modify_body(TranscodeOptions(transfer_syntax="jpeg_baseline")) == {"Transcode": "1.2.840.10008.1.2.4.50"}
    call = modify_call("ab-cd")
    assert (call.method, call.path) == ("POST", "/instances/ab-cd/modify")


def test_anonymize_body() -> None:
    tags = frozenset({0x00080012, 0x00100010, 0x60003000, 0x60004000, 0x60000010})
    body = anonymize_body(AnonymizeOptions(remove_private_tags=False), "ANON-1", tags)
    assert body["DicomVersion"] == "2021b" and body["Force"] is True and body["KeepPrivateTags"] is True
    assert body["Remove"] == ["6000,3000", "6000,4000"]
    replace = body["Replace"]
    assert replace["PatientID"] == "ANON-1" and replace["PatientName"] == ""
    assert replace["InstanceCreationDate"] == "19000101" and "InstanceCreationTime" not in replace
    assert [c["CodeValue"] for c in replace["DeidentificationMethodCodeSequence"]] == ["113100", "113111"]
    plain = anonymize_body(AnonymizeOptions(), "P")
    assert "KeepPrivateTags" not in plain and "Remove" not in plain
    assert anonymize_call("x").path == "/instances/x/anonymize"


def test_profile_fixes_only_name_present_attributes() -> None:
    assert profile_fixes(frozenset()) == ({}, [])
    assert profile_fixes(frozenset({0x00080013, 0x601E3000, 0x60013000})) == (
        {"InstanceCreationTime": "000000"},
        ["601E,3000"],  # 6001 is private, not an overlay group
    )


# -- bulk data --------------------------------------------------------------------------------------------
MODEL: dict[str, Any] = {
    "00100010": {"vr": "PN", "Value": [{"Alphabetic": "A^B"}]},
    "00431028": {"vr": "OB", "BulkDataURI": "u1"},
    "7FE00010": {"vr": "OW", "BulkDataURI": "u2"},
    "00540016": {"vr": "SQ", "Value": [{"00181071": {"vr": "OB", "BulkDataURI": "u3"}}]},
}


def test_shape_dump_omit_and_inline() -> None:
    bulk: dict[str, bytes | None] = {"u1": b"ab", "u2": b"x" * 2000, "u3": b"c"}
    assert list(bulk_uris(MODEL)) == ["u1", "u2", "u3"]
    omit = shape_dump(MODEL, bulk, DumpOptions())
    assert omit["00431028"] == {"vr": "OB", "InlineBinary": base64.b64encode(b"ab").decode()}
    assert omit["7FE00010"] == {"vr": "OW"}
    assert omit["00540016"]["Value"][0]["00181071"]["InlineBinary"] == "Yw=="
    inline = shape_dump(MODEL, bulk, DumpOptions(bulk_data="inline"))
    assert base64.b64decode(inline["7FE00010"]["InlineBinary"]) == b"x" * 2000
    none = shape_dump(MODEL, {}, DumpOptions(bulk_threshold=0))
    assert "BulkDataURI" not in json.dumps(none)


def test_parse_multipart() -> None:
    body = b"--B\r\nContent-Type: application/octet-stream\r\nContent-Length: 4\r\n\r\n\x00\r\n\x01\r\n--B--\r\n"
    assert parse_multipart(body, 'multipart/related; type="application/octet-stream"; boundary=B') == [b"\x00\r\n\x01"]
    assert parse_multipart(b"raw", "application/octet-stream") == [b"raw"]


# -- refusals ---------------------------------------------------------------------------------------------
def test_capability_table() -> None:
    caps = ops_capabilities()
    assert set(TRANSCODE_TARGETS) | set(REFUSED_TARGETS) == set(
        TranscodeOptions.model_fields["transfer_syntax"].annotation.__args__  # type: ignore[union-attr]
    )
    assert caps["dump"]["include_meta"] == (False,)
    assert caps["anonymize"]["uid_secret"] is False and caps["anonymize"]["date_shift_days"] is False
    assert caps["anonymize"]["retain_uids"] == (False,)


REFUSALS = [
    ("dump", "CT_small.dcm", {"include_meta": True}, "options.include_meta"),
    ("dump", "JPEG2000.dcm", {"bulk_data": "inline"}, "options.bulk_data"),
    ("transcode", "CT_small.dcm", {"transfer_syntax": "rle_lossless"}, "options.transfer_syntax"),
    ("transcode", "CT_small.dcm", {"transfer_syntax": "jpeg_2000_lossless"}, "options.transfer_syntax"),
    ("transcode", "CT_small.dcm", {"transfer_syntax": "jpeg_2000"}, "options.transfer_syntax"),
    ("transcode", "CT_small.dcm", {"transfer_syntax": "jpeg_baseline"}, "options.transfer_syntax"),
    ("transcode", "CT_small.dcm", {"transfer_syntax": "jpeg_ls_near_lossless"}, "options.transfer_syntax"),
    ("transcode", "OT-PAL-8-face.dcm", {"transfer_syntax": "jpeg_baseline"}, "options.transfer_syntax"),
    ("transcode", "US1_UNCR.dcm", {"transfer_syntax": "jpeg_baseline", "quality": 50}, "options.quality"),
    ("transcode", "JPEG2000.dcm", {"transfer_syntax": "explicit_vr_little_endian"}, "input"),
    ("anonymize", "CT_small.dcm", {"uid_secret": "k"}, "options.uid_secret"),
    ("anonymize", "CT_small.dcm", {"retain_uids": True}, "options.retain_uids"),
    ("anonymize", "CT_small.dcm", {"date_shift_days": 3}, "options.date_shift_days"),
]


@pytest.mark.parametrize(("op", "name", "options", "field"), REFUSALS)
def test_refusals(op: str, name: str, options: dict[str, Any], field: str) -> None:
    adapter = OrthancAdapter()
    request = parse_request({"op": op, "input": str(find(name)), "backend": "orthanc", "options": options})
    info = inspect(str(find(name)))
    with pytest.raises(HarnessError) as caught:
        adapter.check(request, info)
    assert caught.value.code.value in ("unsupported_option", "unsupported_transfer_syntax"), caught.value
    assert caught.value.field == field


def test_input_without_uids_is_refused() -> None:
    resp = run({"op": "anonymize", "input": str(find("nested_priv_SQ.dcm")), "backend": "orthanc", "output": "x.dcm"})
    assert not resp.ok and resp.error is not None
    code = str(getattr(resp.error.code, "value", resp.error.code))
    if code != "backend_unavailable":
        assert (code, resp.error.field) == ("unsupported_option", "input")
        assert "StudyInstanceUID" in resp.error.message


# -- live -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def orthanc() -> Iterator[OrthancAdapter]:
    from dcmharness.adapters.orthanc.server import orthanc_pids
    from dcmharness.interface import registry

    if not os.path.exists("/usr/sbin/Orthanc") and not os.environ.get("DCMHARNESS_ORTHANC_URL"):
        pytest.skip("/usr/sbin/Orthanc is missing (apt-get install orthanc orthanc-dicomweb orthanc-gdcm)")
    adapter = registry.get("orthanc")
    assert isinstance(adapter, OrthancAdapter)
    avail = adapter.availability()
    if not avail.available:
        pytest.skip(f"orthanc not available: {avail.reason}")
    yield adapter
    adapter.close()
    assert orthanc_pids(parent=os.getpid()) == [], "an Orthanc started by this test process is still running"


def _stored(adapter: OrthancAdapter, transcoding: bool = False) -> list[str]:
    import urllib.request

    server = adapter.transcoding_server() if transcoding else adapter.server()
    with urllib.request.urlopen(server.base_url + "/instances", timeout=30) as resp:
        ids: list[str] = json.loads(resp.read())
    return ids


def _req(op: str, name: str, out: Path | None, backend: str, **options: Any) -> Any:
    request: dict[str, Any] = {"op": op, "input": str(find(name)), "backend": backend, "options": options}
    if out is not None:
        request.update(output=str(out), overwrite=True)
    return run(request)


DUMP_FILES = ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "SC_rgb.dcm", "test-SR.dcm", "OT-PAL-8-face.dcm")


@pytest.mark.live
@pytest.mark.parametrize("name", DUMP_FILES)
def test_live_dump_agrees_with_python_ref(orthanc: OrthancAdapter, tmp_path: Path, name: str) -> None:
    ref = _req("dump", name, tmp_path / "ref.json", "python_ref")
    got = _req("dump", name, tmp_path / "oc.json", "orthanc")
    assert ref.ok and got.ok, got.error
    a, b = compare_json.load_json(ref.outputs[0]), compare_json.load_json(got.outputs[0])
    diffs = compare_json.compare_dicom_json(a, b)
    if diffs:
        case = divergence.Case(
            backend="orthanc",
            profile="dump",
            input=str(find(name)),
            options={},
            dataset=pydicom.dcmread(find(name), stop_before_pixels=True, force=True),
            transfer_syntax=None,
        )
        entries = [e for e in divergence.load(None) if e.profiles is not None and "dump" in e.profiles]
        assert divergence.find_explanation(entries, case, float("inf"), False).entry is not None, diffs[:5]
    info_ref, info_got = _req("info", name, None, "python_ref"), _req("info", name, None, "orthanc")
    assert info_got.ok, info_got.error
    if not diffs:
        assert compare_json.compare_info(info_ref.result, info_got.result) == []
    assert _stored(orthanc) == []


@pytest.mark.live
def test_live_dump_inlines_small_binary_values(orthanc: OrthancAdapter, tmp_path: Path) -> None:
    ref = _req("dump", "CT_small.dcm", tmp_path / "r.json", "python_ref", bulk_data="inline")
    got = _req("dump", "CT_small.dcm", tmp_path / "o.json", "orthanc", bulk_data="inline")
    assert ref.ok and got.ok, got.error
    a, b = compare_json.load_json(ref.outputs[0]), compare_json.load_json(got.outputs[0])
    assert "InlineBinary" in b["7FE00010"]
    assert compare_json.compare_dicom_json(a, b) == []


LOSSLESS_OK = [t for t in TRANSCODE_TARGETS if t in LOSSLESS_TARGETS]


@pytest.mark.live
@pytest.mark.parametrize("name", ["CT_small.dcm", "US1_UNCR.dcm", "MR_small_RLE.dcm", "ExplVR_BigEnd.dcm"])
def test_live_transcode_lossless(orthanc: OrthancAdapter, tmp_path: Path, name: str) -> None:
    reference = verify.read_pixels(find(name))
    sop = str(pydicom.dcmread(find(name), stop_before_pixels=True).SOPInstanceUID)
    for target in LOSSLESS_OK:
        out = tmp_path / f"{target}.dcm"
        resp = _req("transcode", name, out, "orthanc", transfer_syntax=target)
        assert resp.ok, (target, resp.error)
        uid = TRANSFER_SYNTAXES[target]
        ds = pydicom.dcmread(out)
        assert str(ds.file_meta.TransferSyntaxUID) == uid
        assert str(ds.SOPInstanceUID) == sop
        assert np.array_equal(verify.read_pixels(out), reference), target
        assert verify.verify_transcode(find(name), out, uid, True)["problems"] == []
    assert _stored(orthanc, transcoding=True) == []


@pytest.mark.live
def test_live_transcode_lossy_gets_a_new_sop_instance_uid(orthanc: OrthancAdapter, tmp_path: Path) -> None:
    out = tmp_path / "b.dcm"
    resp = _req("transcode", "US1_UNCR.dcm", out, "orthanc", transfer_syntax="jpeg_baseline")
    assert resp.ok, resp.error
    ds = pydicom.dcmread(out)
    assert str(ds.file_meta.TransferSyntaxUID) == "1.2.840.10008.1.2.4.50"
    assert ds.SOPInstanceUID != pydicom.dcmread(find("US1_UNCR.dcm"), stop_before_pixels=True).SOPInstanceUID


@pytest.mark.live
@pytest.mark.parametrize(
    "name", ["CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "MR-SIEMENS-DICOM-WithOverlays.dcm", "JPEG2000.dcm"]
)
def test_live_anonymize(orthanc: OrthancAdapter, tmp_path: Path, name: str) -> None:
    digest = verify.file_digest(find(name))
    out = tmp_path / "anon.dcm"
    resp = _req("anonymize", name, out, "orthanc")
    assert resp.ok, resp.error
    assert verify.verify_anonymize(find(name), out, {})["problems"] == []
    assert verify.file_digest(find(name)) == digest
    ds = pydicom.dcmread(out)
    assert ds.PatientIdentityRemoved == "YES" and str(ds.PatientID).startswith("ANON-")
    assert not any(elem.tag.is_private for elem in ds)
    kept = _req("anonymize", name, tmp_path / "kept.dcm", "orthanc", remove_private_tags=False, patient_id="P1")
    assert kept.ok, kept.error
    before = pydicom.dcmread(find(name))
    after = pydicom.dcmread(tmp_path / "kept.dcm")
    assert after.PatientID == "P1"
    assert sum(e.tag.is_private for e in after) == sum(e.tag.is_private for e in before)
    assert _stored(orthanc) == []
