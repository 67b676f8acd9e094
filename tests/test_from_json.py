"""from_json: DICOM JSON (PS3.18 F.2) -> DICOM file, the inverse of dump (python_ref; the document checks).

The round trip: every DICOM file of pydicom's test files (the conformance corpus) is dumped with inline bulk
data and the file meta, rebuilt with from_json (inline, and with every binary value moved to a file named by a
relative BulkDataURI), and compared with the original element by element (pixel data included). The files that
cannot round-trip are listed below with their cause, and the test checks each fails for exactly that cause.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pydicom
import pydicom.data
import pytest

from dcmharness.backends.dicom_json import externalise
from dcmharness.interface.api import run
from dcmharness.interface.conform.ops.compare_datasets import compare_files
from dcmharness.interface.samples import find

TEST_FILES = Path(pydicom.data.__file__).parent / "test_files"
#: pydicom's test files and its character-set files, as the conformance's dump corpus takes them.
CORPUS = sorted(TEST_FILES.rglob("*.dcm")) + sorted(Path(p) for p in pydicom.data.get_charset_files("*.dcm"))

#: Files dump itself refuses (so there is no document to rebuild from).
DUMP_REFUSES = {"no_meta.dcm": "not_dicom"}  # no preamble, no meta, and no image attribute pydicom can sniff
#: Files whose data set has no SOP Class UID and whose meta has no Media Storage SOP Class UID: a Part 10 file
#: needs one (PS3.10 7.1, Type 1), so from_json refuses them (invalid_dicom_json naming 00080016).
NO_SOP_CLASS = {"empty_charset_LEI.dcm", "meta_missing_tsyntax.dcm", "nested_priv_SQ.dcm"}
#: Attributes dump leaves out because pydicom's to_json_dict (strict reading under suppress_invalid_tags) finds
#: their values invalid: IS '1A' (badVR.dcm), and the Referenced RT Plan Sequence whose UID has a component
#: with a leading zero ('...0123.4567...', PS3.5 9.1) in the RT Dose files.
DUMP_DROPS = {
    "badVR.dcm": {"00280008", "300C0002"},
    "rtdose.dcm": {"300C0002"},
    "rtdose_1frame.dcm": {"300C0002"},
    "rtdose_expb.dcm": {"300C0002"},
    "rtdose_expb_1frame.dcm": {"300C0002"},
    "rtdose_rle.dcm": {"300C0002"},
    "rtdose_rle_1frame.dcm": {"300C0002"},
}


def _dump(path: Path, out: Path, **options: Any) -> Any:
    opts = {"bulk_data": "inline", "include_meta": True, **options}
    return run({"op": "dump", "input": str(path), "output": str(out), "options": opts})


def _from_json(doc: Path, out: Path, **options: Any) -> Any:
    return run({"op": "from_json", "input": str(doc), "output": str(out), "options": options})


def _by_uri(doc: Path, folder: Path) -> Path:
    """The document with every InlineBinary moved to a file beside it (relative BulkDataURI)."""
    folder.mkdir()
    model = json.loads(doc.read_text(encoding="utf-8"))
    (folder / "doc.json").write_text(json.dumps(externalise(model, folder)), encoding="utf-8")
    return folder / "doc.json"


def test_corpus_is_the_sample_files() -> None:
    assert len(CORPUS) >= 90
    assert {"CT_small.dcm", "JPEG2000.dcm", "ExplVR_BigEnd.dcm", "rtdose_rle.dcm", "chrH32.dcm"} <= {
        p.name for p in CORPUS
    }


@pytest.mark.parametrize("mode", ["inline", "uri"])
@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_round_trip(path: Path, mode: str, tmp_path: Path) -> None:
    doc = tmp_path / "doc.json"
    if mode == "uri":  # dump's own BulkDataURI mode: every binary value in a file beside the document
        (tmp_path / "uri").mkdir()
        doc = tmp_path / "uri" / "doc.json"
    dumped = _dump(path, doc, **({"bulk_data": "uri", "bulk_threshold": 0} if mode == "uri" else {}))
    if path.name in DUMP_REFUSES:
        assert not dumped.ok and dumped.error.code == DUMP_REFUSES[path.name]
        return
    assert dumped.ok, dumped.error
    built = _from_json(doc, tmp_path / "out.dcm")
    if path.name in NO_SOP_CLASS:
        assert not built.ok
        assert (built.error.code, built.error.field) == ("invalid_dicom_json", "input:00080016")
        assert not (tmp_path / "out.dcm").exists()
        return
    assert built.ok, built.error
    if mode == "uri":  # every binary value is a BulkDataURI now, one file each
        assert built.result["inline_binaries"] == 0
        assert built.result["bulk_data_uris"] == dumped.result["bulk_files"]
        assert len(list((tmp_path / "uri").glob("doc.bulk*.bin"))) == dumped.result["bulk_files"]
    diffs = compare_files(path, tmp_path / "out.dcm")
    dropped = DUMP_DROPS.get(path.name, set())
    assert {(d.kind, d.path) for d in diffs} == {("missing", tag) for tag in dropped}


def test_round_trip_keeps_pixel_bytes_and_meta(tmp_path: Path) -> None:
    src = find("JPEG2000.dcm")
    assert _dump(src, tmp_path / "j.json").ok
    built = _from_json(_by_uri(tmp_path / "j.json", tmp_path / "u"), tmp_path / "j.dcm")
    assert built.ok, built.error
    a, b = pydicom.dcmread(src), pydicom.dcmread(tmp_path / "j.dcm")
    assert built.result["transfer_syntax"] == a.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.91"
    assert built.result["meta_from_document"] and built.result["bulk_data_uris"] >= 2
    assert b.PixelData == a.PixelData and len(b.PixelData) == len(a.PixelData) == 266
    assert b["PixelData"].is_undefined_length
    assert b.file_meta.ImplementationClassUID == a.file_meta.ImplementationClassUID
    assert b.pixel_array.tolist() == a.pixel_array.tolist()


def test_meta_built_when_the_document_has_none(tmp_path: Path) -> None:
    src = find("CT_small.dcm")
    assert _dump(src, tmp_path / "ct.json", include_meta=False).ok
    built = _from_json(tmp_path / "ct.json", tmp_path / "ct.dcm")
    assert built.ok and built.result["meta_from_document"] is False
    b = pydicom.dcmread(tmp_path / "ct.dcm")
    assert b.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    assert b.file_meta.MediaStorageSOPClassUID == "1.2.840.10008.5.1.4.1.1.2"
    assert b.file_meta.MediaStorageSOPInstanceUID == b.SOPInstanceUID
    assert b.preamble == b"\x00" * 128
    implicit = _from_json(tmp_path / "ct.json", tmp_path / "ct_i.dcm", transfer_syntax="implicit_vr_little_endian")
    assert implicit.ok
    c = pydicom.dcmread(tmp_path / "ct_i.dcm")
    assert c.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2" and c.original_encoding == (True, True)
    assert c.PixelData == b.PixelData == pydicom.dcmread(src).PixelData


def test_compressed_pixel_data_needs_a_transfer_syntax(tmp_path: Path) -> None:
    assert _dump(find("JPEG2000.dcm"), tmp_path / "j.json", include_meta=False).ok
    refused = _from_json(tmp_path / "j.json", tmp_path / "j.dcm")
    assert (refused.error.code, refused.error.field) == ("invalid_request", "options.transfer_syntax")
    assert "encapsulated" in refused.error.message and not (tmp_path / "j.dcm").exists()
    done = _from_json(tmp_path / "j.json", tmp_path / "j.dcm", transfer_syntax="jpeg_2000")
    assert done.ok and pydicom.dcmread(tmp_path / "j.dcm").PixelData == pydicom.dcmread(find("JPEG2000.dcm")).PixelData
    native = _from_json(tmp_path / "j.json", tmp_path / "n.dcm", transfer_syntax="explicit_vr_little_endian")
    assert (native.error.code, native.error.field) == ("invalid_dicom_json", "input:7FE00010")


def test_transfer_syntax_option_contradicting_the_document(tmp_path: Path) -> None:
    assert _dump(find("CT_small.dcm"), tmp_path / "ct.json").ok
    got = _from_json(tmp_path / "ct.json", tmp_path / "x.dcm", transfer_syntax="implicit_vr_little_endian")
    assert (got.error.code, got.error.field) == ("invalid_request", "options.transfer_syntax")


def _doc(tmp_path: Path, model: Any, name: str = "d.json") -> Path:
    path = tmp_path / name
    path.write_text(model if isinstance(model, str) else json.dumps(model), encoding="utf-8")
    return path


BASE = {
    "00080016": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.7"]},
    "00080018": {"vr": "UI", "Value": ["1.2.3.4"]},
}


@pytest.mark.parametrize(
    ("model", "code", "field"),
    [
        ("{not json", "invalid_dicom_json", "input"),
        ('{"00100010": {"vr": "PN", "Value": [NaN]}}', "invalid_dicom_json", "input"),
        ([BASE, BASE], "invalid_dicom_json", "input"),
        ({**BASE, "0010001": {"vr": "LO"}}, "invalid_dicom_json", "input:0010001"),
        ({**BASE, "0010001g": {"vr": "LO"}}, "invalid_dicom_json", "input:0010001g"),
        ({**BASE, "00100020": {"vr": "XX", "Value": ["a"]}}, "invalid_dicom_json", "input:00100020"),
        ({**BASE, "00100020": {"vr": "lo", "Value": ["a"]}}, "invalid_dicom_json", "input:00100020"),
        ({**BASE, "00100020": {"Value": ["a"]}}, "invalid_dicom_json", "input:00100020"),
        ({**BASE, "00100020": {"vr": "LO", "Value": "a"}}, "invalid_dicom_json", "input:00100020"),
        ({**BASE, "00100020": {"vr": "LO", "Value": [3]}}, "invalid_dicom_json", "input:00100020"),
        ({**BASE, "00100020": {"vr": "LO", "Value": ["a\\b"]}}, "invalid_dicom_json", "input:00100020"),
        ({**BASE, "00280010": {"vr": "US", "Value": [70000]}}, "invalid_dicom_json", "input:00280010"),
        ({**BASE, "00280010": {"vr": "US", "Value": [1.5]}}, "invalid_dicom_json", "input:00280010"),
        ({**BASE, "00200013": {"vr": "IS", "Value": ["1A"]}}, "invalid_dicom_json", "input:00200013"),
        ({**BASE, "00100010": {"vr": "PN", "Value": ["Doe^J"]}}, "invalid_dicom_json", "input:00100010"),
        ({**BASE, "00100010": {"vr": "PN", "Value": [{"Alfabetic": "x"}]}}, "invalid_dicom_json", "input:00100010"),
        ({**BASE, "7FE00010": {"vr": "OW", "InlineBinary": "a$=="}}, "invalid_dicom_json", "input:7FE00010"),
        ({**BASE, "7FE00010": {"vr": "OW", "Value": [1]}}, "invalid_dicom_json", "input:7FE00010"),
        (
            {**BASE, "00081140": {"vr": "SQ", "Value": [{"0008115": {"vr": "UI"}}]}},
            "invalid_dicom_json",
            "input:00081140[0].0008115",
        ),
        ({**BASE, "00100020": {"vr": "LO", "Value": ["a"], "Extra": 1}}, "invalid_dicom_json", "input:00100020"),
        ({"00020010": {"vr": "UI", "Value": ["1.2.840.10008.1.2.1"]}}, "invalid_dicom_json", "input"),
        ({"00100020": {"vr": "LO", "Value": ["x"]}}, "invalid_dicom_json", "input:00080016"),
    ],
)
def test_bad_documents_are_structured_errors(tmp_path: Path, model: Any, code: str, field: str) -> None:
    got = _from_json(_doc(tmp_path, model), tmp_path / "out.dcm")
    assert not got.ok
    assert (got.error.code, got.error.field) == (code, field), got.error
    assert not (tmp_path / "out.dcm").exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "d.json"]  # no partial output, no temp file left


@pytest.mark.parametrize(
    ("uri", "code"),
    [
        ("http://example.org/bulk/1", "remote_bulk_data"),
        ("https://example.org/bulk/1", "remote_bulk_data"),
        ("ftp://example.org/x", "remote_bulk_data"),
        ("file://example.org/x.bin", "remote_bulk_data"),
        ("../outside.bin", "path_outside_root"),
        ("file:///etc/hostname", "path_outside_root"),
        ("missing.bin", "input_not_found"),
        ("pix.bin?offset=2&length=100", "invalid_dicom_json"),
    ],
)
def test_bulk_data_uris_are_local_and_confined(tmp_path: Path, uri: str, code: str) -> None:
    folder = tmp_path / "doc"
    folder.mkdir()
    (tmp_path / "outside.bin").write_bytes(b"\x00\x01")
    (folder / "pix.bin").write_bytes(b"\x01\x00\x02\x00")
    model = {**BASE, "00091010": {"vr": "OB", "BulkDataURI": uri}}
    got = _from_json(_doc(folder, model), tmp_path / "out.dcm")
    assert (got.error.code, got.error.field) == (code, "input:00091010.BulkDataURI"), got.error
    assert not (tmp_path / "out.dcm").exists()


def test_bulk_data_uri_forms(tmp_path: Path) -> None:
    (tmp_path / "pix.bin").write_bytes(b"\xaa\xbb\x01\x00\x02\x00\xcc")
    model = {
        **BASE,
        "00091010": {"vr": "OB", "BulkDataURI": "pix.bin?offset=2&length=4"},
        "00091011": {"vr": "OB", "BulkDataURI": (tmp_path / "pix.bin").as_uri()},
        "00091012": {"vr": "OB", "BulkDataURI": "file:pix.bin"},
        "00091013": {"vr": "OB", "InlineBinary": base64.b64encode(b"\x05\x06").decode()},
    }
    got = _from_json(_doc(tmp_path, model), tmp_path / "out.dcm")
    assert got.ok, got.error
    assert (got.result["bulk_data_uris"], got.result["inline_binaries"]) == (3, 1)
    ds = pydicom.dcmread(tmp_path / "out.dcm")
    assert ds[0x00091010].value == b"\x01\x00\x02\x00"
    assert ds[0x00091011].value == b"\xaa\xbb\x01\x00\x02\x00\xcc\x00"  # padded to even length
    assert ds[0x00091012].value == ds[0x00091011].value
    assert ds[0x00091013].value == b"\x05\x06"


def test_one_element_array_and_values(tmp_path: Path) -> None:
    model = [
        {
            **BASE,
            "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^Jane", "Ideographic": "X"}]},
            "00280010": {"vr": "US", "Value": [512]},
            "00200032": {"vr": "DS", "Value": [-1.5, "2.25", 3]},
            "00200013": {"vr": "IS", "Value": [7]},
            "00209165": {"vr": "AT", "Value": ["00100020"]},
            "00081140": {"vr": "SQ", "Value": [{"00081150": {"vr": "UI", "Value": ["1.2.3"]}}]},
            "00101010": {"vr": "AS"},
        }
    ]
    got = _from_json(_doc(tmp_path, model), tmp_path / "out.dcm")
    assert got.ok, got.error
    assert got.result["attributes"] == 9
    ds = pydicom.dcmread(tmp_path / "out.dcm")
    assert str(ds.PatientName) == "Doe^Jane=X"
    assert ds.Rows == 512 and ds.InstanceNumber == 7
    assert [float(v) for v in ds.ImagePositionPatient] == [-1.5, 2.25, 3.0]
    assert ds[0x00209165].value == 0x00100020
    assert ds.ReferencedImageSequence[0].ReferencedSOPClassUID == "1.2.3"
    assert ds.PatientAge == ""


def test_output_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = _doc(tmp_path, BASE, "scan.json")
    monkeypatch.chdir(tmp_path)
    first = run({"op": "from_json", "input": str(doc)})
    assert first.ok and first.outputs == [str(tmp_path / "scan.dcm")]
    again = run({"op": "from_json", "input": str(doc)})
    assert again.error is not None and again.error.code == "output_exists"
    same = run({"op": "from_json", "input": str(doc), "output": str(doc), "overwrite": True})
    assert same.error is not None and (same.error.code, same.error.field) == ("invalid_request", "output")
    assert json.loads(doc.read_text()) == BASE


# -- the adapters: golden argv and refusals ----------------------------------------------------------------------
def test_dcmtk_refuses_by_version_and_builds_json2dcm_argv() -> None:
    from dcmharness.adapters.dcmtk.from_json import check_json2dcm, json2dcm_argv
    from dcmharness.contract.errors import HarnessError

    with pytest.raises(HarnessError) as refused:
        check_json2dcm("3.6.7", "1.2.840.10008.1.2.1")
    assert (refused.value.code, refused.value.field) == ("unsupported_option", "op")
    assert "3.6.7 has no json2dcm" in refused.value.message and "3.7.0" in refused.value.message
    check_json2dcm("3.7.0", "1.2.840.10008.1.2.1")  # accepted
    with pytest.raises(HarnessError) as encapsulated:
        check_json2dcm("3.7.0", "1.2.840.10008.1.2.4.90")
    assert (encapsulated.value.code, encapsulated.value.field) == ("unsupported_transfer_syntax", "input")
    golden = {
        "1.2.840.10008.1.2": "+ti",
        "1.2.840.10008.1.2.1": "+te",
        "1.2.840.10008.1.2.2": "+tb",
        "1.2.840.10008.1.2.1.99": "+td",
    }
    for uid, switch in golden.items():
        assert json2dcm_argv("/opt/dcmtk/bin/json2dcm", "/t/d.json", "/o/x.dcm", uid) == [
            "/opt/dcmtk/bin/json2dcm",
            "+f",
            "-c",
            switch,
            "/t/d.json",
            "/o/x.dcm",
        ]


def test_dcmtk_backend_refuses_from_json_before_running(tmp_path: Path) -> None:
    from dcmharness.interface import registry

    if not registry.get("dcmtk").availability().available:
        pytest.skip("dcmtk not installed")
    doc = _doc(tmp_path, BASE)
    got = run({"op": "from_json", "input": str(doc), "output": str(tmp_path / "o.dcm"), "backend": "dcmtk"})
    version = got.backend_version or ""
    if version.startswith("3.6."):
        assert got.error is not None and (got.error.code, got.error.field) == ("unsupported_option", "op")
        assert f"dcmtk {version} has no json2dcm" in got.error.message
        assert got.command is None and not (tmp_path / "o.dcm").exists()


def test_dcm4che_json2dcm_argv() -> None:
    from dcmharness.adapters.dcm4che.ops import dcm4che_from_json_argv
    from dcmharness.contract.errors import HarnessError

    assert dcm4che_from_json_argv("json2dcm", "/t/d.json", "/o/x.dcm", "1.2.840.10008.1.2.1") == [
        "json2dcm",
        "-f",
        "-t",
        "1.2.840.10008.1.2.1",
        "-j",
        "/t/d.json",
        "-o",
        "/o/x.dcm",
    ]
    assert dcm4che_from_json_argv("j", "d", "o", "1.2.840.10008.1.2")[2:4] == ["-t", "1.2.840.10008.1.2"]
    with pytest.raises(HarnessError) as refused:
        dcm4che_from_json_argv("j", "d", "o", "1.2.840.10008.1.2.4.50")
    assert refused.value.code == "unsupported_transfer_syntax"


def test_pixelmed_launcher_argv_and_refusals() -> None:
    from dcmharness.adapters.pixelmed.from_json import first_at_value, from_json_argv, from_json_job

    assert from_json_argv("/usr/bin/java", "/j/pixelmed.jar", "/b", "-Xmx300m") == [
        "/usr/bin/java",
        "-Djava.awt.headless=true",
        "-Xmx300m",
        "-cp",
        "/j/pixelmed.jar:/usr/share/java/javax.json.jar:/b",
        "PixelMedFromJson",
    ]
    assert from_json_job(Path("/t/a\tb.json"), Path("/o/x.dcm"), "1.2.840.10008.1.2") == (
        "/t/a\\tb.json\t/o/x.dcm\t1.2.840.10008.1.2"
    )
    nested = {"00081140": {"vr": "SQ", "Value": [{}, {"00209165": {"vr": "AT", "Value": ["00100020"]}}]}}
    assert first_at_value(nested) == "00081140[1].00209165"
    assert first_at_value({"00209165": {"vr": "AT"}}) is None


def test_inlined_document_for_external_tools(tmp_path: Path) -> None:
    from dcmharness.backends.dicom_json import load_document, write_inlined

    (tmp_path / "v.bin").write_bytes(b"\x00\x01")
    (tmp_path / "p.bin").write_bytes(b"\x01\x02\x03\x04")
    model = {
        "00020001": {"vr": "OB", "BulkDataURI": "v.bin"},
        **BASE,
        "00540016": {"vr": "SQ", "Value": [{"00091010": {"vr": "OB", "BulkDataURI": "p.bin"}}]},
    }
    doc = load_document(_doc(tmp_path, model), None)
    out = tmp_path / "out"
    out.mkdir()
    inlined = json.loads(write_inlined(doc, out).read_text())
    assert list(inlined)[:1] == ["00020001"]
    assert inlined["00020001"] == {"vr": "OB", "InlineBinary": "AAE="}
    assert inlined["00540016"]["Value"][0]["00091010"] == {"vr": "OB", "InlineBinary": "AQIDBA=="}
    assert "BulkDataURI" not in json.dumps(inlined)


def test_dcmjs_from_json_request_and_refusals(tmp_path: Path) -> None:
    from dcmharness.adapters.dcmjs.adapter import FROM_JSON_SYNTAXES, from_json_request

    assert from_json_request(7, Path("/t/d.json"), Path("/o/.x.dcm"), "1.2.840.10008.1.2") == {
        "id": 7,
        "op": "from_json",
        "input": "/t/d.json",
        "output": "/o/.x.dcm",
        "transfer_syntax": "1.2.840.10008.1.2",
    }
    assert {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"} == FROM_JSON_SYNTAXES
    from dcmharness.interface import registry

    if not registry.get("dcmjs").availability().available:
        pytest.skip("node or the dcmjs packages are not installed")
    assert _dump(find("ExplVR_BigEnd.dcm"), tmp_path / "be.json").ok
    got = run(
        {"op": "from_json", "input": str(tmp_path / "be.json"), "output": str(tmp_path / "o.dcm"), "backend": "dcmjs"}
    )
    assert got.error is not None and (got.error.code, got.error.field) == ("unsupported_transfer_syntax", "input")
    assert "Big Endian" in got.error.message and got.command is None


def test_folder_of_documents(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    assert _dump(find("CT_small.dcm"), folder / "ct.json").ok
    by_uri = _by_uri(folder / "ct.json", folder / "mr")
    (folder / "notes.txt").write_text("not a document")
    from dcmharness.interface.answers import run_folder

    *files, got = run_folder(
        {"op": "from_json", "input": str(folder), "output": str(tmp_path / "out"), "recursive": True}
    )
    assert [r.id for r in files] == ["ct.json", "mr/doc.json"] and all(r.ok for r in files)
    assert got.ok and got.result is not None
    assert got.result["files"] == 2 and got.result["counts"] == {"ok": 2}
    assert "skipped notes.txt: not a .json document" in got.warnings
    assert (tmp_path / "out" / "ct.dcm").is_file() and (tmp_path / "out" / "mr" / "doc.dcm").is_file()
    assert by_uri.parent == folder / "mr"
    assert compare_files(find("CT_small.dcm"), tmp_path / "out" / "mr" / "doc.dcm") == []


def test_dump_uri_mode_writes_bulk_files_all_or_nothing(tmp_path: Path) -> None:
    """dump's "uri" mode: CT_small's two binary values over 1024 bytes (a private OB element, then the Pixel Data)
    in ct.bulk0001.bin and ct.bulk0002.bin, referred to by name;
    an existing bulk file is output_exists and nothing is written; only python_ref offers the mode."""
    src = find("CT_small.dcm")
    got = _dump(src, tmp_path / "ct.json", bulk_data="uri")
    assert got.ok, got.error
    model = json.loads((tmp_path / "ct.json").read_text())
    assert model["7FE00010"] == {"vr": "OW", "BulkDataURI": "ct.bulk0002.bin"}
    assert (tmp_path / "ct.bulk0002.bin").read_bytes() == pydicom.dcmread(src).PixelData
    assert len((tmp_path / "ct.bulk0002.bin").read_bytes()) == 128 * 128 * 2
    assert got.result["bulk_files"] == 2 and (tmp_path / "ct.bulk0001.bin").is_file()
    again = _dump(src, tmp_path / "ct2.json", bulk_data="uri")
    assert again.ok
    (tmp_path / "c3.bulk0002.bin").write_bytes(b"mine")
    refused = _dump(src, tmp_path / "c3.json", bulk_data="uri")
    assert refused.error is not None and refused.error.code == "output_exists"
    assert not (tmp_path / "c3.json").exists() and not (tmp_path / "c3.bulk0001.bin").exists()
    assert (tmp_path / "c3.bulk0002.bin").read_bytes() == b"mine"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    other = run({"op": "dump", "backend": "dcmtk", "input": str(src), "output": str(tmp_path / "d.json"),
                 "options": {"bulk_data": "uri"}})
    assert other.error is not None and (other.error.code, other.error.field) == (
        "unsupported_option", "options.bulk_data")
