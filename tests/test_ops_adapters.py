"""dcmtk's and GDCM's ops beyond to_image: golden argv (no tool needed), refusals before running, live runs."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pydicom
import pytest

from dcmharness.adapters.base import ToolInfo
from dcmharness.adapters.dcmtk.ops import DcmtkOpsAdapter, build_ops_argv, omit_bulk, transcode_step
from dcmharness.adapters.gdcm.adapter import GdcmAdapter, build_anonymize_argvs, build_transcode_argv, transcode_flags
from dcmharness.backends.outputs import OutputPlan, OutputTarget
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
from dcmharness.interface.api import run
from dcmharness.interface.conform.ops.compare_json import compare_dicom_json, compare_info, load_json
from dcmharness.interface.conform.ops.verify import verify_anonymize, verify_transcode

EXPLICIT, JPEG_BASELINE, RLE = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.5"


@pytest.fixture()
def dcmtk_bin(tmp_path: Path) -> ToolInfo:
    """A fake dcmtk folder holding every tool the ops use, so argv names are stable."""
    folder = tmp_path / "dcmtk" / "bin"
    folder.mkdir(parents=True)
    for name in (
        "dcmj2pnm",
        "dcm2json",
        "dcmconv",
        "dcmcrle",
        "dcmcjpeg",
        "dcmcjpls",
        "dcmdjpeg",
        "dcmdrle",
        "dcmdjpls",
    ):
        exe = folder / name
        exe.write_text("#!/bin/sh\nexit 0\n")
        exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return ToolInfo(str(folder / "dcmj2pnm"), "3.6.7")


def info_for(path: str, ts: str, **kw: object) -> InputInfo:
    return InputInfo(path=Path(path), dataset=None, transfer_syntax=ts, has_pixel_data=True, **kw)  # type: ignore[arg-type]


def plan_for(out: str) -> OutputPlan:
    return OutputPlan([OutputTarget(final=Path(out), temp=Path(out + ".tmp"))])


def transcode(target: str, **kw: object) -> TranscodeRequest:
    return TranscodeRequest(op="transcode", input="/in/a.dcm", options=TranscodeOptions(transfer_syntax=target, **kw))  # type: ignore[arg-type]


# -- dcmtk golden argv ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("target", "extra", "tool", "flags"),
    [
        ("explicit_vr_little_endian", {}, "dcmconv", ["+te"]),
        ("implicit_vr_little_endian", {}, "dcmconv", ["+ti"]),
        ("deflated_explicit_vr_little_endian", {}, "dcmconv", ["+td"]),
        ("rle_lossless", {}, "dcmcrle", ["+un"]),
        ("jpeg_lossless_sv1", {}, "dcmcjpeg", ["+e1", "+un"]),
        ("jpeg_baseline", {"quality": 75}, "dcmcjpeg", ["+eb", "+q", "75"]),
        ("jpeg_ls_lossless", {}, "dcmcjpls", ["+el", "+un"]),
        ("jpeg_ls_near_lossless", {"near_lossless": 3}, "dcmcjpls", ["+en", "+md", "3"]),
    ],
)
def test_dcmtk_transcode_argv(
    target: str, extra: dict[str, object], tool: str, flags: list[str], dcmtk_bin: ToolInfo
) -> None:
    argv = build_ops_argv(
        transcode(target, **extra), info_for("/in/a.dcm", EXPLICIT), plan_for("/out/b.dcm"), dcmtk_bin
    )
    folder = os.path.dirname(dcmtk_bin.path)
    assert argv == [os.path.join(folder, tool), *flags, "/in/a.dcm", "/out/b.dcm.tmp"]


def test_dcmtk_compressed_input_goes_through_its_decoder() -> None:
    assert transcode_step(TranscodeOptions(transfer_syntax="implicit_vr_little_endian"), JPEG_BASELINE) == (
        "dcmdjpeg",
        ["+ti"],
    )
    assert transcode_step(TranscodeOptions(transfer_syntax="explicit_vr_little_endian"), RLE) == ("dcmdrle", ["+te"])
    with pytest.raises(HarnessError) as err:
        transcode_step(TranscodeOptions(transfer_syntax="rle_lossless"), JPEG_BASELINE)
    assert err.value.code.value == "unsupported_transfer_syntax"
    with pytest.raises(HarnessError) as err:
        transcode_step(TranscodeOptions(transfer_syntax="jpeg_2000_lossless"), EXPLICIT)
    assert (err.value.code.value, err.value.field) == ("unsupported_option", "options.transfer_syntax")


def test_dcmtk_dump_and_info_argv(dcmtk_bin: ToolInfo) -> None:
    folder = os.path.dirname(dcmtk_bin.path)
    info = info_for("/in/a.dcm", EXPLICIT)
    dump = DumpRequest(op="dump", input="/in/a.dcm", options=DumpOptions(include_meta=True))
    assert build_ops_argv(dump, info, plan_for("/out/a.json"), dcmtk_bin) == [
        os.path.join(folder, "dcm2json"),
        "+m",
        "/in/a.dcm",
        "/out/a.json.tmp",
    ]
    assert build_ops_argv(InfoRequest(op="info", input="/in/a.dcm"), info, OutputPlan(), dcmtk_bin) == [
        os.path.join(folder, "dcm2json"),
        "+m",
        "-fc",
        "/in/a.dcm",
    ]


def test_omit_bulk_drops_large_inline_binary_only() -> None:
    model = {
        "7FE00010": {"vr": "OW", "InlineBinary": "AAAAAAAA"},  # 6 bytes
        "00091001": {"vr": "OB", "InlineBinary": "AAE="},  # 2 bytes
        "00081115": {"vr": "SQ", "Value": [{"00291010": {"vr": "OB", "InlineBinary": "AAAAAAAA"}}]},
    }
    assert omit_bulk(model, 4) == {
        "7FE00010": {"vr": "OW"},
        "00091001": {"vr": "OB", "InlineBinary": "AAE="},
        "00081115": {"vr": "SQ", "Value": [{"00291010": {"vr": "OB"}}]},
    }


def test_dcmtk_refusals_before_running() -> None:
    adapter = DcmtkOpsAdapter()
    signed = info_for("/in/a.dcm", EXPLICIT, pixel_representation=1, bits_stored=12)
    with pytest.raises(HarnessError) as err:
        adapter.check_input(transcode("jpeg_ls_near_lossless"), signed)
    assert err.value.field == "options.transfer_syntax"
    with pytest.raises(HarnessError) as err:
        adapter.check_input(transcode("jpeg_baseline"), signed)
    assert "8-bit" in err.value.message
    with pytest.raises(HarnessError) as err:
        adapter.check_input(InfoRequest(op="info", input="/in/a.dcm"), info_for("/in/a.dcm", JPEG_BASELINE))
    assert err.value.code.value == "unsupported_transfer_syntax"


# -- gdcm golden argv ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("target", "extra", "flags"),
    [
        ("explicit_vr_little_endian", {}, ["-w", "-X"]),
        ("implicit_vr_little_endian", {}, ["-w", "-M"]),
        ("deflated_explicit_vr_little_endian", {}, ["-d"]),
        ("rle_lossless", {}, ["-R"]),
        ("jpeg_lossless_sv1", {}, ["-J"]),
        ("jpeg_ls_lossless", {}, ["-L"]),
        ("jpeg_2000_lossless", {}, ["-K"]),
        ("jpeg_baseline", {"quality": 70}, ["-J", "-Y", "-q", "70"]),
        ("jpeg_ls_near_lossless", {}, ["-L", "-Y", "-e", "2"]),
        ("jpeg_2000", {"compression_ratio": 20.0}, ["-K", "-Y", "-r", "20"]),
    ],
)
def test_gdcm_transcode_argv(target: str, extra: dict[str, object], flags: list[str]) -> None:
    req = transcode(target, **extra)
    assert transcode_flags(req.options) == flags
    argv = build_transcode_argv(
        req, info_for("/in/a.dcm", EXPLICIT), plan_for("/out/b.dcm"), ToolInfo("/g/gdcmconv", "3.0.21")
    )
    assert argv == ["/g/gdcmconv", *flags, "-i", "/in/a.dcm", "-o", "/out/b.dcm.tmp"]


def test_gdcm_anonymize_argvs() -> None:
    tool = ToolInfo("/nowhere/gdcmconv", "3.0.21")
    req = AnonymizeRequest(op="anonymize", input="/in/a.dcm")
    argvs = build_anonymize_argvs(req, info_for("/in/a.dcm", EXPLICIT), plan_for("/out/b.dcm"), tool, "/c/cert.pem")
    anon = shutil.which("gdcmanon") or "gdcmanon"
    assert argvs == [
        [anon, "-e", "-c", "/c/cert.pem", "-i", "/in/a.dcm", "-o", "/out/b.dcm.tmp"],
        ["/nowhere/gdcmconv", "--remove-private-tags", "-i", "/out/b.dcm.tmp", "-o", "/out/b.dcm.tmp"],
    ]
    keep = AnonymizeRequest(op="anonymize", input="/in/a.dcm", options=AnonymizeOptions(remove_private_tags=False))
    assert len(build_anonymize_argvs(keep, info_for("/in/a.dcm", EXPLICIT), plan_for("/out/b.dcm"), tool, "c")) == 1


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"uid_secret": "k"}, "options.uid_secret"),
        ({"retain_uids": True}, "options.retain_uids"),
        ({"date_shift_days": 3}, "options.date_shift_days"),
        ({"patient_id": "P"}, "options.patient_id"),
    ],
)
def test_gdcm_refuses_anonymize_options_it_lacks(
    options: dict[str, object], field: str, ct_small: Path, tmp_path: Path
) -> None:
    if GdcmAdapter().tool() is None:
        pytest.skip("gdcmconv not on PATH: apt-get install libgdcm-tools")
    resp = run(
        {
            "op": "anonymize",
            "backend": "gdcm",
            "input": str(ct_small),
            "output": str(tmp_path / "a.dcm"),
            "options": options,
        }
    )
    assert resp.error is not None and (resp.error.code, resp.error.field) == ("unsupported_option", field)
    assert resp.command is None and list(tmp_path.iterdir()) == []


# -- live -------------------------------------------------------------------------------------------------
def need(tool: str, package: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} not on PATH: apt-get install {package}")


@pytest.mark.live
def test_live_dcmtk_dump_and_info_match_python_ref(ct_small: Path, tmp_path: Path) -> None:
    need("dcm2json", "dcmtk")
    a, b = tmp_path / "ref.json", tmp_path / "dcmtk.json"
    assert run({"op": "dump", "input": str(ct_small), "output": str(a)}).ok
    resp = run({"op": "dump", "backend": "dcmtk", "input": str(ct_small), "output": str(b)})
    assert resp.ok and resp.command is not None and os.path.basename(resp.command[0]) == "dcm2json"
    assert compare_dicom_json(load_json(a), load_json(b)) == []
    ref, got = (
        run({"op": "info", "input": str(ct_small)}),
        run({"op": "info", "backend": "dcmtk", "input": str(ct_small)}),
    )
    assert ref.result and got.result and compare_info(ref.result, got.result) == []


@pytest.mark.live
@pytest.mark.parametrize(
    "target", ["rle_lossless", "jpeg_lossless_sv1", "jpeg_ls_lossless", "deflated_explicit_vr_little_endian"]
)
def test_live_dcmtk_transcode_lossless(target: str, mr_small: Path, tmp_path: Path) -> None:
    need("dcmcjpeg", "dcmtk")
    out = tmp_path / "x.dcm"
    resp = run(
        {
            "op": "transcode",
            "backend": "dcmtk",
            "input": str(mr_small),
            "output": str(out),
            "options": {"transfer_syntax": target},
        }
    )
    assert resp.ok, resp.error
    check = verify_transcode(mr_small, out, TranscodeOptions(transfer_syntax=target).uid, True)  # type: ignore[arg-type]
    assert check["problems"] == []


@pytest.mark.live
@pytest.mark.parametrize(
    "target", ["rle_lossless", "jpeg_2000_lossless", "jpeg_ls_lossless", "implicit_vr_little_endian"]
)
def test_live_gdcm_transcode_lossless(target: str, mr_small: Path, tmp_path: Path) -> None:
    need("gdcmconv", "libgdcm-tools")
    out = tmp_path / "x.dcm"
    resp = run(
        {
            "op": "transcode",
            "backend": "gdcm",
            "input": str(mr_small),
            "output": str(out),
            "options": {"transfer_syntax": target},
        }
    )
    assert resp.ok, resp.error
    check = verify_transcode(mr_small, out, TranscodeOptions(transfer_syntax=target).uid, True)  # type: ignore[arg-type]
    assert check["problems"] == []


@pytest.mark.live
def test_live_gdcm_anonymize(ct_small: Path, tmp_path: Path) -> None:
    need("gdcmanon", "libgdcm-tools")
    need("openssl", "openssl")
    before = ct_small.read_bytes()
    out = tmp_path / "a.dcm"
    resp = run({"op": "anonymize", "backend": "gdcm", "input": str(ct_small), "output": str(out)})
    assert resp.ok, resp.error
    assert ct_small.read_bytes() == before
    ds, orig = pydicom.dcmread(out), pydicom.dcmread(ct_small)
    assert ds.SOPInstanceUID != orig.SOPInstanceUID and ds.PatientName == "" and ds.PixelData == orig.PixelData
    assert not [e for e in ds if e.tag.is_private]
    problems = verify_anonymize(ct_small, out)["problems"]
    # gdcmanon keeps what PS3.15-2008 did not list (registry: gdcmanon-ps315-2008-table), e.g. Study Date
    assert "00080020: attribute the profile empties (Z) has a value" in problems
    assert not any("UID not remapped" in p or "private" in p or "Pixel Data" in p for p in problems)


# -- dcm4che / dicom-rs: wired into their adapters; golden argv, stand-in runs and live tests are in
# tests/test_java_rust_ops.py ----------------------------------------------------------------------------------


@pytest.mark.live
def test_live_dcmtk_dump_of_an_unconvertible_character_set(tmp_path: Path) -> None:
    need("dcm2json", "dcmtk")
    from pydicom.data import get_charset_files

    src = get_charset_files("chrH31.dcm")[0]  # ISO 2022 IR 87: Debian's dcmtk (glibc iconv) cannot convert it
    ref, out = tmp_path / "ref.json", tmp_path / "dcmtk.json"
    assert run({"op": "dump", "input": src, "output": str(ref)}).ok
    resp = run({"op": "dump", "backend": "dcmtk", "input": src, "output": str(out)})
    if resp.ok:  # a dcmtk built with ICU converts it: then it must agree with the reference
        assert compare_dicom_json(load_json(ref), load_json(out)) == []
    else:
        assert resp.error is not None and (resp.error.code, resp.error.field) == ("unsupported_option", "input")
        assert "ISO 2022 IR 87" in resp.error.message and not out.exists()
