"""dcm4che's and dicom-rs' dump / info / transcode / anonymize: golden argv, output interpretation, refusals,
the whole request path against stand-in tools, and live runs wherever the real tools are found.

Neither toolkit is installable here. The stand-in (one Python script installed under every tool name)
behaves as the real tool does where the adapter depends on it: dcm2json prints the file meta group and the
data set with every value inline and encapsulated Pixel Data as ``DataFragment`` items; dicom-dump prints a
``<file>: `` line before its JSON and panics on encapsulated pixel data; dcm2dcm / deidentify print
``Failed to ...`` and exit 0 on an input named ``bad*``; the transcoders convert with pydicom.
"""

from __future__ import annotations

import base64
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest

from dcmharness.adapters.base import ToolInfo
from dcmharness.adapters.cli_ops import (
    build_ops_argv,
    failed_line,
    fragments_to_inline,
    normalise_model,
    parse_json_stdout,
)
from dcmharness.adapters.dcm4che.ops import (
    DCM4CHE,
    dcm4che_anonymize_argv,
    dcm4che_dump_argv,
    dcm4che_transcode_argv,
)
from dcmharness.adapters.dcm4che.render import Dcm4cheAdapter
from dcmharness.adapters.dicom_rs.ops import (
    DICOM_RS,
    dicom_rs_dump_argv,
    dicom_rs_transcode_argv,
    near_lossless_quality,
)
from dcmharness.adapters.dicom_rs.render import DicomRsAdapter
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import HarnessError
from dcmharness.contract.ops_models import (
    AnonymizeOptions,
    AnonymizeRequest,
    DumpOptions,
    DumpRequest,
    InfoRequest,
    TranscodeOptions,
    TranscodeRequest,
)
from dcmharness.interface import registry
from dcmharness.interface.api import run
from dcmharness.interface.conform.ops.compare_json import compare_dicom_json, compare_info, load_json
from dcmharness.interface.conform.ops.verify import verify_anonymize, verify_transcode
from dcmharness.interface.samples import find

EXPLICIT = "1.2.840.10008.1.2.1"


def opts(target: str, **kw: Any) -> TranscodeOptions:
    return TranscodeOptions.model_validate({"transfer_syntax": target, **kw})


def info_for(path: str = "/in/a.dcm", ts: str = EXPLICIT, **kw: Any) -> InputInfo:
    return InputInfo(path=Path(path), dataset=None, transfer_syntax=ts, has_pixel_data=True, **kw)


def refused(call: Any, field: str) -> HarnessError:
    with pytest.raises(HarnessError) as err:
        call()
    assert (err.value.code.value, err.value.field) == ("unsupported_option", field)
    return err.value


# -- golden argv: dcm4che ----------------------------------------------------------------------------------
def test_dcm2json_always_inlines_and_filters_afterwards() -> None:
    assert dcm4che_dump_argv("dcm2json", "/a.dcm", DumpOptions()) == ["dcm2json", "-b", "/a.dcm"]
    assert dcm4che_dump_argv("dcm2json", "/a.dcm", DumpOptions(bulk_data="inline", include_meta=True)) == [
        "dcm2json",
        "-b",
        "/a.dcm",
    ]


@pytest.mark.parametrize(
    ("target", "extra", "flags"),
    [
        ("explicit_vr_little_endian", {}, ["-t", "1.2.840.10008.1.2.1"]),
        ("implicit_vr_little_endian", {}, ["-t", "1.2.840.10008.1.2"]),
        ("jpeg_lossless_sv1", {}, ["--jpll"]),
        ("jpeg_ls_lossless", {}, ["--jpls"]),
        ("jpeg_2000_lossless", {}, ["--j2kr"]),
        ("jpeg_baseline", {}, ["--jpeg"]),
        ("jpeg_baseline", {"quality": 85}, ["--jpeg", "-q", "0.85"]),
        ("jpeg_baseline", {"quality": 100}, ["--jpeg", "-q", "1"]),
        ("jpeg_2000", {}, ["--j2ki", "-Q", "1.6"]),  # 16 bits x 1 sample / ratio 10
        ("jpeg_2000", {"compression_ratio": 20.0}, ["--j2ki", "-Q", "0.8"]),
    ],
)
def test_dcm2dcm_argv(target: str, extra: dict[str, Any], flags: list[str]) -> None:
    info = info_for(bits_allocated=16, samples_per_pixel=1)
    assert dcm4che_transcode_argv("dcm2dcm", "/a", "/b", opts(target, **extra), info) == ["dcm2dcm", *flags, "/a", "/b"]


def test_dcm2dcm_j2k_rate_counts_every_sample() -> None:
    rgb = info_for(bits_allocated=8, samples_per_pixel=3)
    assert dcm4che_transcode_argv("d", "/a", "/b", opts("jpeg_2000", compression_ratio=12.0), rgb)[1:4] == [
        "--j2ki",
        "-Q",
        "2",
    ]


@pytest.mark.parametrize("target", ["rle_lossless", "deflated_explicit_vr_little_endian", "jpeg_ls_near_lossless"])
def test_dcm2dcm_refuses_targets_it_cannot_encode(target: str) -> None:
    err = refused(lambda: dcm4che_transcode_argv("d", "/a", "/b", opts(target)), "options.transfer_syntax")
    assert target in err.message


def test_deidentify_argv() -> None:
    assert dcm4che_anonymize_argv("deidentify", "/a", "/b", AnonymizeOptions()) == ["deidentify", "--", "/a", "/b"]
    both = AnonymizeOptions(retain_uids=True, patient_id="P 7")
    assert dcm4che_anonymize_argv("deidentify", "/a", "/b", both) == [
        "deidentify",
        "--retain-uid",
        "-s",
        "PatientID=P 7",
        "--",
        "/a",
        "/b",
    ]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"date_shift_days": 3}, "options.date_shift_days"),
        ({"uid_secret": "k"}, "options.uid_secret"),
        ({"remove_private_tags": False}, "options.remove_private_tags"),
        ({"patient_id": "a=b"}, "options.patient_id"),
        ({"patient_id": ""}, "options.patient_id"),
    ],
)
def test_deidentify_refusals(options: dict[str, Any], field: str) -> None:
    refused(lambda: dcm4che_anonymize_argv("d", "/a", "/b", AnonymizeOptions.model_validate(options)), field)


# -- golden argv: dicom-rs ------------------------------------------------------------------------------------
def test_dicom_dump_argv() -> None:
    assert dicom_rs_dump_argv("dicom-dump", "/a") == ["dicom-dump", "--format", "json", "/a"]


@pytest.mark.parametrize(
    ("target", "extra", "bits", "tail"),
    [
        ("explicit_vr_little_endian", {}, 16, ["--ts", "1.2.840.10008.1.2.1", "/a", "-o", "/b"]),
        ("implicit_vr_little_endian", {}, 16, ["--ts", "1.2.840.10008.1.2", "/a", "-o", "/b"]),
        ("deflated_explicit_vr_little_endian", {}, 16, ["--ts", "1.2.840.10008.1.2.1.99", "/a", "-o", "/b"]),
        ("jpeg_baseline", {}, 8, ["--ts", "1.2.840.10008.1.2.4.50", "/a", "-o", "/b"]),
        ("jpeg_baseline", {"quality": 70}, 8, ["--ts", "1.2.840.10008.1.2.4.50", "/a", "-o", "/b", "--quality", "70"]),
        ("jpeg_ls_lossless", {}, 16, ["--ts", "1.2.840.10008.1.2.4.80", "/a", "-o", "/b"]),
        # NEAR 2 (default) on 8 bits: 16 * (100 - 87) // 100 = 2
        ("jpeg_ls_near_lossless", {}, 8, ["--ts", "1.2.840.10008.1.2.4.81", "/a", "-o", "/b", "--quality", "87"]),
        # NEAR 5 on 12 bits: 256 * (100 - 98) // 100 = 5
        ("jpeg_ls_near_lossless", {"near_lossless": 5}, 12,
         ["--ts", "1.2.840.10008.1.2.4.81", "/a", "-o", "/b", "--quality", "98"]),
    ],
)  # fmt: skip
def test_dicom_transcode_argv(target: str, extra: dict[str, Any], bits: int, tail: list[str]) -> None:
    assert dicom_rs_transcode_argv("dicom-transcode", "/a", "/b", opts(target, **extra), bits) == [
        "dicom-transcode",
        *tail,
    ]


@pytest.mark.parametrize(
    ("near", "bits", "quality"),
    [
        (2, 8, 87),
        (1, 8, 93),
        (16, 8, 0),
        (2, 12, 99),
        (5, 12, 98),
        (3, 12, None),
        (17, 8, None),
        (2, 16, None),
        (1, 4, None),
    ],
)
def test_near_lossless_maps_to_the_quality_dicom_rs_turns_into_that_near(
    near: int, bits: int, quality: int | None
) -> None:
    assert near_lossless_quality(near, bits) == quality


@pytest.mark.parametrize(
    "target",
    ["rle_lossless", "jpeg_lossless_sv1", "jpeg_2000_lossless", "jpeg_2000"],
)
def test_dicom_transcode_refuses_targets_it_cannot_encode(target: str) -> None:
    refused(lambda: dicom_rs_transcode_argv("t", "/a", "/b", opts(target), 16), "options.transfer_syntax")


def test_dicom_transcode_refuses_an_unreachable_near() -> None:
    err = refused(
        lambda: dicom_rs_transcode_argv("t", "/a", "/b", opts("jpeg_ls_near_lossless", near_lossless=2), 16),
        "options.near_lossless",
    )
    assert "16 bits stored" in err.message


def test_build_ops_argv_uses_sibling_tools_and_the_plan_temp(tmp_path: Path) -> None:
    folder = tmp_path / "bin"
    folder.mkdir()
    for name in ("dcm2jpg", "dcm2json", "dcm2dcm", "deidentify"):
        (folder / name).write_text("#!/bin/sh\n")
        (folder / name).chmod(0o755)
    tool = ToolInfo(str(folder / "dcm2jpg"), "5.34.1")
    info = info_for(bits_allocated=16, bits_stored=12)
    dump = DumpRequest(op="dump", input="/in/a.dcm")
    assert build_ops_argv(DCM4CHE, dump, info, None, tool) == [str(folder / "dcm2json"), "-b", "/in/a.dcm"]
    info_req = InfoRequest(op="info", input="/in/a.dcm")
    assert build_ops_argv(DCM4CHE, info_req, info, None, tool)[0] == str(folder / "dcm2json")
    tr = TranscodeRequest(op="transcode", input="/in/a.dcm", options=opts("jpeg_ls_lossless"))
    assert build_ops_argv(DCM4CHE, tr, info, "/o/.t.tmp", tool) == [
        str(folder / "dcm2dcm"),
        "--jpls",
        "/in/a.dcm",
        "/o/.t.tmp",
    ]
    an = AnonymizeRequest(op="anonymize", input="/in/a.dcm")
    assert build_ops_argv(DCM4CHE, an, info, "/o/.t.tmp", tool)[0] == str(folder / "deidentify")
    with pytest.raises(HarnessError) as err:
        build_ops_argv(DICOM_RS, an, info, "/o/.t.tmp", ToolInfo("/x/dicom-toimage", None))
    assert (err.value.code.value, err.value.field) == ("unsupported_option", "op")


# -- output interpretation --------------------------------------------------------------------------------------
def test_normalise_model_meta_fragments_and_bulk() -> None:
    frag = base64.b64encode(b"\xff\xd8abcd").decode()
    model = {
        "00020010": {"vr": "UI", "Value": ["1.2.840.10008.1.2.4.50"]},
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": "A^B"}]},
        "7FE00010": {"vr": "OB", "DataFragment": [None, {"InlineBinary": frag}]},
        "00091001": {"vr": "OB", "InlineBinary": "AAE="},
        "00081115": {"vr": "SQ", "Value": [{"00291010": {"vr": "OW", "InlineBinary": "AAAAAAAA"}}]},
    }
    encapsulated = b"\xfe\xff\x00\xe0\x00\x00\x00\x00" + b"\xfe\xff\x00\xe0\x06\x00\x00\x00\xff\xd8abcd"
    inline = normalise_model(model, DumpOptions(bulk_data="inline", include_meta=True))
    assert inline["00020010"] == model["00020010"]
    assert base64.b64decode(inline["7FE00010"]["InlineBinary"]) == encapsulated
    assert inline["00081115"] == model["00081115"]
    omitted = normalise_model(model, DumpOptions(bulk_threshold=4))
    assert "00020010" not in omitted
    assert omitted["7FE00010"] == {"vr": "OB"}  # 22 bytes > 4
    assert omitted["00091001"] == {"vr": "OB", "InlineBinary": "AAE="}  # 2 bytes
    assert omitted["00081115"] == {"vr": "SQ", "Value": [{"00291010": {"vr": "OW"}}]}
    assert omitted["00100010"] == model["00100010"]


def test_fragments_to_inline_empty() -> None:
    assert fragments_to_inline({"vr": "OB", "DataFragment": []}) == {"vr": "OB", "InlineBinary": ""}


def test_parse_json_stdout() -> None:
    assert parse_json_stdout(b'/data/a.dcm: \n{"00100020": {"vr": "LO"}}\n', "dicom-dump") == {"00100020": {"vr": "LO"}}
    for bad in (b"no json here", b"[1, 2]", b"{broken"):
        with pytest.raises(ValueError):
            parse_json_stdout(bad, "t")


def test_failed_line() -> None:
    assert failed_line("a -> b\n") is None
    assert failed_line("Failed to transcode /a: boom\n  at x") == "Failed to transcode /a: boom"


# -- capabilities ------------------------------------------------------------------------------------------------
def test_both_backends_declare_the_new_ops_and_capabilities() -> None:
    d4, rs = Dcm4cheAdapter(), DicomRsAdapter()
    assert d4.ops == ("to_image", "dump", "info", "transcode", "anonymize", "modify")
    assert rs.ops == ("to_image", "dump", "info", "transcode", "decode")
    caps = d4.capabilities()
    assert set(caps) == set(d4.ops)
    assert caps["transcode"]["transfer_syntax"] == [
        "explicit_vr_little_endian",
        "implicit_vr_little_endian",
        "jpeg_lossless_sv1",
        "jpeg_ls_lossless",
        "jpeg_2000_lossless",
        "jpeg_baseline",
        "jpeg_2000",
    ]
    assert caps["anonymize"] == {"retain_uids": "any", "remove_private_tags": [True], "patient_id": "any"}
    rcaps = rs.capabilities()
    assert set(rcaps) == set(rs.ops)
    assert "near_lossless" in rcaps["transcode"] and "compression_ratio" not in rcaps["transcode"]


# -- the whole request path against stand-in tools ------------------------------------------------------------
STAND_IN = r"""#!{python}
import base64, json, os, sys
import pydicom
from pydicom.uid import UID

name = os.path.basename(sys.argv[0])
args = sys.argv[1:]
with open(os.environ["FAKE_TOOLS_LOG"], "a") as log:
    log.write(json.dumps([name, *args]) + "\n")
if args in (["-V"], ["--version"]):
    print(name + " 5.34.1" if name.startswith("dcm") or name == "deidentify" else name + " 0.10.0"); sys.exit(0)
NEVER = 1 << 62

def model(path):
    ds = pydicom.dcmread(path)
    out = ds.file_meta.to_json_dict(NEVER, lambda e: "")
    out.update(ds.to_json_dict(NEVER, lambda e: ""))
    return ds, out

def encapsulated(ds):
    return "PixelData" in ds and UID(ds.file_meta.TransferSyntaxUID).is_compressed

def convert(src, out, uid, lossless=True):
    if "bad" in os.path.basename(src):
        print("Failed to transcode " + src + ": cannot read it"); sys.exit(0)
    ds = pydicom.dcmread(src)
    uid = UID(uid)
    if uid.is_compressed:
        ds.compress(uid, generate_instance_uid=False)
    else:
        if UID(ds.file_meta.TransferSyntaxUID).is_compressed:
            ds.decompress()
        ds.file_meta.TransferSyntaxUID = uid
    ds.save_as(out, implicit_vr=uid.is_implicit_VR, little_endian=True, enforce_file_format=True)

if name == "dcm2json":
    ds, out = model(args[-1])
    if encapsulated(ds):
        # every item, the Basic Offset Table first (null when empty), as dcm4che's JSONWriter does
        items = [{{"InlineBinary": base64.b64encode(f).decode()}} if f else None
                 for f in pydicom.encaps.generate_fragments(ds.PixelData)]
        out["7FE00010"] = {{"vr": "OB", "DataFragment": items}}
    print(json.dumps(out))
elif name == "dicom-dump":
    ds, out = model(args[-1])
    if encapsulated(ds):
        sys.stderr.write("thread 'main' panicked at json/src/ser/mod.rs:\n"
                         "serialization of encapsulated pixel data is not supported\n")
        sys.exit(101)
    print(args[-1] + ": ")
    print(json.dumps(out, indent=2))
elif name == "dcm2dcm":
    switches = {{"--jpll": "1.2.840.10008.1.2.4.70", "--jpls": "1.2.840.10008.1.2.4.80",
                 "--j2kr": "1.2.840.10008.1.2.4.90", "--jpeg": "1.2.840.10008.1.2.4.50"}}
    uid = args[args.index("-t") + 1] if "-t" in args else next(v for k, v in switches.items() if k in args)
    convert(args[-2], args[-1], uid)
    print(args[-2] + " -> " + args[-1])
elif name == "dicom-transcode":
    convert(args[args.index("--ts") + 2], args[args.index("-o") + 1], args[args.index("--ts") + 1])
elif name == "deidentify":
    src, out = args[-2], args[-1]
    if "bad" in os.path.basename(src):
        print("Failed to deidentify " + src + ": cannot read it"); sys.exit(0)
    ds = pydicom.dcmread(src)
    ds.remove_private_tags()
    ds.PatientName = ""
    ds.PatientID = args[args.index("-s") + 1].split("=", 1)[1] if "-s" in args else "ANON"
    ds.PatientIdentityRemoved = "YES"
    ds.save_as(out)
    print(src + " -> " + out)
"""


@pytest.fixture()
def stand_ins(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every tool of both backends in one folder, pointed at by $DCM4CHE_HOME and $DICOM_TOIMAGE (outside the
    test's tmp_path, so that tests can check it holds nothing but the outputs)."""
    home = tmp_path_factory.mktemp("tools")
    folder = home / "bin"
    folder.mkdir(parents=True)
    for name in ("dcm2jpg", "dcm2json", "dcm2dcm", "deidentify", "dicom-toimage", "dicom-dump", "dicom-transcode"):
        script = folder / name
        script.write_text(STAND_IN.format(python=sys.executable))
        script.chmod(0o755)
    log = home / "calls.jsonl"
    monkeypatch.setenv("DCM4CHE_HOME", str(home))
    monkeypatch.setenv("DICOM_TOIMAGE", str(folder / "dicom-toimage"))
    monkeypatch.setenv("FAKE_TOOLS_LOG", str(log))
    registry.close_all()
    yield folder
    registry.close_all()


@pytest.mark.parametrize("backend", ["dcm4che", "dicom_rs"])
@pytest.mark.parametrize("options", [{}, {"bulk_data": "inline", "include_meta": True}])
def test_dump_and_info_through_stand_ins_match_python_ref(
    backend: str, options: dict[str, Any], stand_ins: Path, ct_small: Path, tmp_path: Path
) -> None:
    ref, got = tmp_path / "ref.json", tmp_path / "got.json"
    assert run({"op": "dump", "input": str(ct_small), "output": str(ref), "options": options}).ok
    resp = run({"op": "dump", "backend": backend, "input": str(ct_small), "output": str(got), "options": options})
    assert resp.ok, resp.error
    assert resp.command is not None and resp.command[0].startswith(str(stand_ins))
    assert resp.result is not None and resp.result["bulk_data"] == options.get("bulk_data", "omit")
    assert compare_dicom_json(load_json(ref), load_json(got)) == []
    assert any(k.startswith("0002") for k in load_json(got)) == bool(options.get("include_meta"))
    assert not list(tmp_path.glob(".*tmp*"))
    a = run({"op": "info", "input": str(ct_small)})
    b = run({"op": "info", "backend": backend, "input": str(ct_small)})
    assert b.ok and a.result and b.result and compare_info(a.result, b.result) == []


def test_dcm2json_fragments_become_the_encapsulated_value(stand_ins: Path, tmp_path: Path) -> None:
    src = str(find("JPEG2000.dcm"))
    ref, got = tmp_path / "ref.json", tmp_path / "got.json"
    inline = {"bulk_data": "inline"}
    assert run({"op": "dump", "input": src, "output": str(ref), "options": inline}).ok
    resp = run({"op": "dump", "backend": "dcm4che", "input": src, "output": str(got), "options": inline})
    assert resp.ok, resp.error
    assert load_json(got)["7FE00010"] == load_json(ref)["7FE00010"]
    assert compare_dicom_json(load_json(ref), load_json(got)) == []


def test_dicom_dump_panic_on_encapsulated_pixel_data(stand_ins: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.json"
    resp = run({"op": "dump", "backend": "dicom_rs", "input": str(find("JPEG2000.dcm")), "output": str(out)})
    assert resp.error is not None and (resp.error.code, resp.error.field) == ("unsupported_transfer_syntax", "input")
    assert resp.command is not None and resp.stderr and "panicked" in resp.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("backend", "target"),
    [
        ("dcm4che", "implicit_vr_little_endian"),
        ("dcm4che", "jpeg_ls_lossless"),
        ("dicom_rs", "explicit_vr_little_endian"),
        ("dicom_rs", "jpeg_ls_lossless"),
    ],
)
def test_transcode_through_stand_ins(
    backend: str, target: str, stand_ins: Path, mr_small: Path, tmp_path: Path
) -> None:
    out = tmp_path / "x.dcm"
    resp = run(
        {"op": "transcode", "backend": backend, "input": str(mr_small), "output": str(out),
         "options": {"transfer_syntax": target}}
    )  # fmt: skip
    assert resp.ok, resp.error
    uid = opts(target).uid
    assert resp.result is not None and resp.result["transfer_syntax"] == uid and resp.result["lossless"]
    assert resp.result["size_bytes"] == out.stat().st_size
    assert verify_transcode(mr_small, out, uid, True)["problems"] == []
    assert [p.name for p in tmp_path.iterdir()] == ["x.dcm"]


def test_dcm2dcm_failure_with_exit_0_is_detected(stand_ins: Path, mr_small: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.dcm"
    shutil.copy(mr_small, bad)
    out = tmp_path / "x.dcm"
    resp = run({"op": "transcode", "backend": "dcm4che", "input": str(bad), "output": str(out)})
    assert resp.error is not None and resp.error.code == "backend_failed"
    assert "Failed to transcode" in resp.error.message and not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.dcm"]


@pytest.mark.parametrize(
    ("backend", "options", "field"),
    [
        ("dcm4che", {"transfer_syntax": "rle_lossless"}, "options.transfer_syntax"),
        ("dcm4che", {"transfer_syntax": "jpeg_ls_near_lossless"}, "options.transfer_syntax"),
        ("dicom_rs", {"transfer_syntax": "jpeg_2000_lossless"}, "options.transfer_syntax"),
        ("dicom_rs", {"transfer_syntax": "jpeg_ls_near_lossless", "near_lossless": 2}, "options.near_lossless"),
        ("dcm4che", {"transfer_syntax": "jpeg_baseline"}, "options.transfer_syntax"),  # CT_small: 16 bits stored
        ("dicom_rs", {"transfer_syntax": "jpeg_baseline"}, "options.transfer_syntax"),
    ],
)
def test_transcode_refusals_run_nothing(
    backend: str, options: dict[str, Any], field: str, stand_ins: Path, ct_small: Path, tmp_path: Path
) -> None:
    if field == "options.near_lossless" and pydicom.dcmread(ct_small).BitsStored != 16:
        pytest.skip("the sample's Bits Stored changed")
    resp = run({"op": "transcode", "backend": backend, "input": str(ct_small), "output": str(tmp_path / "x.dcm"),
                "options": options})  # fmt: skip
    assert resp.error is not None and (resp.error.code, resp.error.field) == ("unsupported_option", field)
    assert resp.command is None and list(tmp_path.iterdir()) == []


def test_anonymize_through_the_stand_in(stand_ins: Path, ct_small: Path, tmp_path: Path) -> None:
    out = tmp_path / "a.dcm"
    resp = run({"op": "anonymize", "backend": "dcm4che", "input": str(ct_small), "output": str(out),
                "options": {"retain_uids": True, "patient_id": "P-1"}})  # fmt: skip
    assert resp.ok, resp.error
    assert resp.command is not None and resp.command[1:5] == ["--retain-uid", "-s", "PatientID=P-1", "--"]
    ds = pydicom.dcmread(out)
    assert ds.PatientID == "P-1" and ds.PatientIdentityRemoved == "YES"
    resp = run({"op": "anonymize", "backend": "dcm4che", "input": str(ct_small), "output": str(tmp_path / "b.dcm"),
                "options": {"date_shift_days": 2}})  # fmt: skip
    assert resp.error is not None and resp.error.field == "options.date_shift_days" and resp.command is None
    assert not (tmp_path / "b.dcm").exists()


def test_anonymize_is_not_a_dicom_rs_op(stand_ins: Path, ct_small: Path) -> None:
    resp = run({"op": "anonymize", "backend": "dicom_rs", "input": str(ct_small), "output": "/tmp/never.dcm"})
    assert resp.error is not None and (resp.error.code, resp.error.field) == ("unsupported_option", "op")


def test_timeout_kills_the_tool(stand_ins: Path, ct_small: Path, tmp_path: Path) -> None:
    slow = stand_ins / "dcm2json"
    slow.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(30)\n")
    slow.chmod(0o755)
    resp = run({"op": "info", "backend": "dcm4che", "input": str(ct_small), "timeout": 0.5})
    assert resp.error is not None and resp.error.code == "timeout"


# -- live -------------------------------------------------------------------------------------------------------
def live_tool(adapter: Any, name: str) -> str:
    """The real tool next to the backend's main binary or on PATH; skip (saying why) when absent."""
    avail = adapter.availability()
    if not avail.available:
        pytest.skip(f"{adapter.name} not available: {avail.reason}")
    path = os.path.join(os.path.dirname(avail.location or ""), name)
    found = path if os.access(path, os.X_OK) else shutil.which(name)
    if not found:
        pytest.skip(f"{name} not next to {avail.location} nor on PATH")
    return found


@pytest.mark.live
@pytest.mark.parametrize(("backend", "adapter", "tool"), [("dcm4che", Dcm4cheAdapter, "dcm2json"),
                                                          ("dicom_rs", DicomRsAdapter, "dicom-dump")])  # fmt: skip
def test_live_dump_and_info_match_python_ref(
    backend: str, adapter: Any, tool: str, ct_small: Path, tmp_path: Path
) -> None:
    live_tool(adapter(), tool)
    ref, got = tmp_path / "ref.json", tmp_path / "got.json"
    assert run({"op": "dump", "input": str(ct_small), "output": str(ref)}).ok
    resp = run({"op": "dump", "backend": backend, "input": str(ct_small), "output": str(got)})
    assert resp.ok, resp.error
    assert compare_dicom_json(load_json(ref), load_json(got)) == []
    a, b = run({"op": "info", "input": str(ct_small)}), run({"op": "info", "backend": backend, "input": str(ct_small)})
    assert a.result and b.result and compare_info(a.result, b.result) == []


@pytest.mark.live
@pytest.mark.parametrize(
    ("backend", "adapter", "tool", "target"),
    [
        ("dcm4che", Dcm4cheAdapter, "dcm2dcm", "implicit_vr_little_endian"),
        ("dcm4che", Dcm4cheAdapter, "dcm2dcm", "jpeg_lossless_sv1"),
        ("dcm4che", Dcm4cheAdapter, "dcm2dcm", "jpeg_ls_lossless"),
        ("dicom_rs", DicomRsAdapter, "dicom-transcode", "implicit_vr_little_endian"),
        ("dicom_rs", DicomRsAdapter, "dicom-transcode", "deflated_explicit_vr_little_endian"),
        ("dicom_rs", DicomRsAdapter, "dicom-transcode", "jpeg_ls_lossless"),
    ],
)
def test_live_transcode_lossless(
    backend: str, adapter: Any, tool: str, target: str, mr_small: Path, tmp_path: Path
) -> None:
    live_tool(adapter(), tool)
    out = tmp_path / "x.dcm"
    resp = run({"op": "transcode", "backend": backend, "input": str(mr_small), "output": str(out),
                "options": {"transfer_syntax": target}})  # fmt: skip
    assert resp.ok, resp.error
    # registry entry dicom-rs-transcode-adds-frame-count-and-total-length: what dicom-transcode adds when it
    # encapsulates; the pixels stay identical
    added = ["2 metadata difference(s): 00280008, 7FE00003"] if backend == "dicom_rs" and "jpeg" in target else []
    assert verify_transcode(mr_small, out, opts(target).uid, True)["problems"] == added


@pytest.mark.live
def test_live_dcm4che_anonymize(ct_small: Path, tmp_path: Path) -> None:
    live_tool(Dcm4cheAdapter(), "deidentify")
    out = tmp_path / "a.dcm"
    resp = run({"op": "anonymize", "backend": "dcm4che", "input": str(ct_small), "output": str(out)})
    assert resp.ok, resp.error
    problems = verify_anonymize(ct_small, out)["problems"]
    assert not any("private" in p or "Pixel Data" in p or "UID not remapped" in p for p in problems), problems
