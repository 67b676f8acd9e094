"""A folder as the input of every op: one answer per file, then a summary; skipped entries; bad inputs; the one
anonymize mapping of a folder; inputs never modified; the live dcmtk backend over a folder."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from PIL import Image

import dcmharness
from dcmharness.contract.catalog import OPS
from dcmharness.contract.models import Response
from dcmharness.interface import registry
from dcmharness.interface.answers import run_folder
from dcmharness.interface.api import RunContext, run
from dcmharness.interface.samples import find

OPS_PER_FILE = ("to_image", "dump", "info", "stats", "histogram", "transcode", "anonymize")
#: the name each op gives a file's output (``None``: the op writes nothing)
OUTPUT_NAMES = {
    "to_image": "{}.png",
    "dump": "{}.json",
    "transcode": "{}.explicit_vr_little_endian.dcm",
    "anonymize": "{}.anon.dcm",
    "info": None,
    "stats": None,
    "histogram": None,
}


def digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    """CT_small and MR_small, MR_small again in sub/, a text file and a hidden file."""
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    shutil.copy(find("CT_small.dcm"), src / "CT_small.dcm")
    shutil.copy(find("MR_small.dcm"), src / "MR_small.dcm")
    shutil.copy(find("MR_small.dcm"), src / "sub" / "MR_again.dcm")
    (src / "notes.txt").write_text("not DICOM\n" * 30)
    (src / ".hidden.dcm").write_bytes((src / "CT_small.dcm").read_bytes())
    return src


def by_id(responses: list[Response]) -> dict[Any, Response]:
    return {r.id: r for r in responses}


def test_the_contract_has_recursive_on_every_request_and_the_series_ops_read_folders_themselves() -> None:
    for spec in OPS.values():
        assert "recursive" in spec.request_model.model_fields
    for op in ("volume", "nifti", "store"):  # read the folder as one input (store: one association): never split
        if op in OPS:
            assert OPS[op].input_kind == "series", op


def test_a_folder_to_png_answers_each_file_then_a_summary(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "pngs"
    before = digests(folder)
    responses = dcmharness.run({"id": "r1", "op": "to_image", "input": str(folder), "output": str(out)})
    assert [r.id for r in responses] == ["r1/CT_small.dcm", "r1/MR_small.dcm", "r1"]
    ct, mr, summary = responses
    assert ct.ok and mr.ok and summary.ok
    assert ct.outputs == [str(out / "CT_small.png")]
    assert mr.outputs == [str(out / "MR_small.png")]
    assert Image.open(out / "CT_small.png").size == (128, 128)
    assert Image.open(out / "MR_small.png").size == (64, 64)
    assert sorted(p.name for p in out.iterdir()) == ["CT_small.png", "MR_small.png"]
    assert summary.result == {
        "folder": str(folder),
        "output": str(out),
        "files": 2,
        "counts": {"ok": 2},
        "skipped": 3,
    }
    assert summary.warnings == [
        "skipped .hidden.dcm: hidden",
        "skipped sub/: a sub-folder (set recursive to include it)",
        "skipped notes.txt: not a DICOM file",
    ]
    assert run({"op": "to_image", "input": str(folder / "CT_small.dcm"), "output": str(tmp_path / "one.png")}).ok
    assert np.array_equal(np.asarray(Image.open(tmp_path / "one.png")), np.asarray(Image.open(out / "CT_small.png")))
    assert digests(folder) == before


def test_recursive_mirrors_the_relative_paths(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "pngs"
    responses = run_folder({"op": "to_image", "input": str(folder), "output": str(out), "recursive": True})
    assert [r.id for r in responses] == ["CT_small.dcm", "MR_small.dcm", "sub/MR_again.dcm", None]
    assert responses[2].outputs == [str(out / "sub" / "MR_again.png")]
    assert responses[-1].result is not None and responses[-1].result["counts"] == {"ok": 3}
    assert responses[-1].warnings == ["skipped .hidden.dcm: hidden", "skipped notes.txt: not a DICOM file"]


@pytest.mark.parametrize("op", OPS_PER_FILE)
def test_every_op_over_a_folder_answers_as_on_each_file(op: str, folder: Path, tmp_path: Path) -> None:
    before = digests(folder)
    request: dict[str, Any] = {"op": op, "input": str(folder)}
    name = OUTPUT_NAMES[op]
    out = tmp_path / "out"
    if name is not None:
        request["output"] = str(out)
    if op == "anonymize":
        request["options"] = {"uid_secret": "k"}  # the same key as the single-file runs below: same UIDs
    responses = run_folder(request)
    assert [r.id for r in responses] == ["CT_small.dcm", "MR_small.dcm", None]
    for resp, stem in zip(responses, ("CT_small", "MR_small"), strict=False):
        assert resp.ok, resp.error
        single_request = {**request, "input": str(folder / f"{stem}.dcm")}
        if name is not None:
            assert resp.outputs == [str(out / name.format(stem))]
            single_request["output"] = str(tmp_path / f"single_{stem}")
        single = run(single_request)
        assert single.ok, single.error
        if op in ("info", "stats", "histogram", "anonymize"):
            assert resp.result == single.result
        if op in ("dump", "transcode"):
            assert Path(resp.outputs[0]).read_bytes() == Path(single.outputs[0]).read_bytes()
    assert responses[-1].result is not None and responses[-1].result["counts"] == {"ok": 2}
    assert digests(folder) == before


def test_ops_that_write_nothing_refuse_an_output_folder(folder: Path, tmp_path: Path) -> None:
    (summary,) = run_folder({"op": "stats", "input": str(folder), "output": str(tmp_path / "x")})
    assert summary.error is not None
    assert (summary.error.code, summary.error.field) == ("invalid_request", "output")
    assert not (tmp_path / "x").exists()


def test_the_default_output_folder_is_named_after_the_input_and_the_op(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    responses = run_folder({"op": "dump", "input": "in"})
    assert responses[0].outputs == [str(tmp_path / "in.dump" / "CT_small.json")]
    monkeypatch.chdir(folder)  # the default output would be inside the input: refused
    (refused,) = run_folder({"op": "dump", "input": "."})
    assert refused.error is not None and (refused.error.code, refused.error.field) == ("invalid_request", "output")


# -- bad inputs --------------------------------------------------------------------------------------------


def test_an_empty_folder_is_one_structured_answer(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    request = {"id": 7, "op": "to_image", "input": str(tmp_path / "empty"), "output": str(tmp_path / "o")}
    (summary,) = run_folder(request)
    assert summary.id == 7 and summary.ok is False
    assert summary.error is not None and (summary.error.code, summary.error.field) == ("input_not_found", "input")
    assert summary.result is not None and summary.result["files"] == 0
    assert not (tmp_path / "o").exists()  # the output folder made for the run is removed again


def test_a_folder_of_non_dicom_files_lists_each_and_runs_nothing(tmp_path: Path) -> None:
    src = tmp_path / "docs"
    src.mkdir()
    (src / "a.txt").write_text("hello")
    (src / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    (src / "c.dcm").write_bytes(b"")
    (summary,) = run_folder({"op": "info", "input": str(src)})
    assert summary.error is not None and summary.error.code == "input_not_found"
    assert summary.warnings == [
        "skipped a.txt: not a DICOM file",
        "skipped b.png: not a DICOM file",
        "skipped c.dcm: empty, not DICOM",
    ]


@pytest.mark.parametrize("where", ["inside", "same"])
def test_an_output_folder_inside_the_input_is_refused(folder: Path, where: str) -> None:
    before = digests(folder)
    output = folder / "pngs" if where == "inside" else folder
    (resp,) = run_folder({"op": "to_image", "input": str(folder), "output": str(output)})
    assert resp.error is not None and (resp.error.code, resp.error.field) == ("invalid_request", "output")
    assert "inside the input folder" in resp.error.message
    assert digests(folder) == before and not (folder / "pngs").exists()


def test_an_output_folder_whose_parent_is_missing(folder: Path, tmp_path: Path) -> None:
    (resp,) = run_folder({"op": "to_image", "input": str(folder), "output": str(tmp_path / "no" / "such")})
    assert resp.error is not None and (resp.error.code, resp.error.field) == ("output_dir_missing", "output")
    assert not (tmp_path / "no").exists()


def test_an_output_that_is_a_file_is_refused(folder: Path, tmp_path: Path) -> None:
    (tmp_path / "f.png").write_bytes(b"x")
    (resp,) = run_folder({"op": "to_image", "input": str(folder), "output": str(tmp_path / "f.png")})
    assert resp.error is not None and (resp.error.code, resp.error.field) == ("invalid_request", "output")


def test_unreadable_entries_among_good_files(folder: Path, tmp_path: Path) -> None:
    """Root reads a chmod 000 file, so unreadability is a broken link, a FIFO and a truncated DICOM file."""
    (folder / "broken.dcm").symlink_to(tmp_path / "gone.dcm")
    os.mkfifo(folder / "pipe.dcm")
    ct = (folder / "CT_small.dcm").read_bytes()
    (folder / "truncated.dcm").write_bytes(ct[: len(ct) - 20000])
    before = digests(folder)
    out = tmp_path / "out"
    responses = run_folder({"op": "to_image", "input": str(folder), "output": str(out)})
    answers = by_id(responses)
    assert list(answers) == ["CT_small.dcm", "MR_small.dcm", "broken.dcm", "truncated.dcm", None]
    assert answers["CT_small.dcm"].ok and answers["MR_small.dcm"].ok
    broken, truncated = answers["broken.dcm"].error, answers["truncated.dcm"].error
    assert broken is not None and (broken.code, broken.field) == ("input_not_found", "input")
    assert truncated is not None and truncated.code == "decode_failed"
    summary = answers[None]
    assert summary.result is not None
    assert summary.result["counts"] == {"decode_failed": 1, "input_not_found": 1, "ok": 2}
    assert "skipped pipe.dcm: a FIFO, never opened" in summary.warnings
    assert sorted(p.name for p in out.iterdir()) == ["CT_small.png", "MR_small.png"]  # no partial output
    assert digests(folder) == before


def test_outputs_are_not_overwritten_unless_asked(folder: Path, tmp_path: Path) -> None:
    request = {"op": "to_image", "input": str(folder), "output": str(tmp_path / "o")}
    assert run_folder(request)[-1].ok
    again = run_folder(request)
    assert [r.error.code for r in again[:2] if r.error] == ["output_exists", "output_exists"]
    assert again[-1].result is not None and again[-1].result["counts"] == {"output_exists": 2}
    assert run_folder({**request, "overwrite": True})[-1].ok


def test_paths_outside_root_are_refused_per_file(folder: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.dcm"
    shutil.copy(find("CT_small.dcm"), outside)
    (folder / "link.dcm").symlink_to(outside)
    ctx = RunContext(root=folder)
    answers = by_id(run_folder({"op": "info", "input": str(folder)}, ctx))
    link = answers["link.dcm"].error
    assert link is not None and link.code == "path_outside_root"
    assert answers["CT_small.dcm"].ok


# -- anonymize: one mapping for the folder -------------------------------------------------------------------


def study_folder(tmp_path: Path, n: int = 3) -> Path:
    """``n`` slices of one study and series (CT_small with new SOP Instance UIDs)."""
    src = tmp_path / "study"
    src.mkdir()
    for k in range(n):
        ds = pydicom.dcmread(find("CT_small.dcm"))
        ds.SOPInstanceUID = f"1.2.3.4.5.{k + 1}"
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = k + 1
        ds.save_as(src / f"slice{k + 1}.dcm")
    return src


def hmac_uid(secret: str, uid: str) -> str:
    """PS3.5 B.2 UID from the keyed hash, computed here (not with the backend's function)."""
    return "2.25." + str(int.from_bytes(hmac.new(secret.encode(), uid.encode(), hashlib.sha256).digest()[:16], "big"))


def anonymized(responses: list[Response]) -> list[Any]:
    return [pydicom.dcmread(r.outputs[0]) for r in responses[:-1]]


def test_anonymize_keeps_one_mapping_for_the_whole_folder(tmp_path: Path) -> None:
    src = study_folder(tmp_path)
    original = pydicom.dcmread(src / "slice1.dcm")
    before = digests(src)
    responses = run_folder(
        {"op": "anonymize", "input": str(src), "output": str(tmp_path / "a"), "options": {"date_shift_days": 10}},
        jobs=2,  # on two processes: the mapping does not depend on which process anonymizes which file
    )
    assert responses[-1].ok, responses[-1]
    files = anonymized(responses)
    assert len({ds.StudyInstanceUID for ds in files}) == 1
    assert len({ds.SeriesInstanceUID for ds in files}) == 1
    assert len({ds.FrameOfReferenceUID for ds in files}) == 1
    assert len({ds.PatientID for ds in files}) == 1
    assert files[0].StudyInstanceUID != original.StudyInstanceUID
    assert files[0].PatientID != original.PatientID and files[0].PatientID.startswith("ANON-")
    assert len({ds.SOPInstanceUID for ds in files}) == 3
    assert {ds.SOPInstanceUID for ds in files}.isdisjoint({f"1.2.3.4.5.{k}" for k in (1, 2, 3)})
    shifted = datetime.datetime.strptime(original.StudyDate, "%Y%m%d") + datetime.timedelta(days=10)
    assert {ds.StudyDate for ds in files} == {shifted.strftime("%Y%m%d")}
    maps = [r.result["uid_map"] for r in responses[:-1] if r.result is not None]
    assert maps[0][original.StudyInstanceUID] == maps[1][original.StudyInstanceUID] == files[0].StudyInstanceUID
    assert digests(src) == before
    # a second folder run without a key draws another key: another mapping (the same within that run)
    other = anonymized(run_folder({"op": "anonymize", "input": str(src), "output": str(tmp_path / "b")}))
    assert len({ds.StudyInstanceUID for ds in other}) == 1
    assert other[0].StudyInstanceUID != files[0].StudyInstanceUID


def test_anonymize_with_a_given_key_maps_as_the_standard_formula(tmp_path: Path) -> None:
    src = study_folder(tmp_path, 2)
    original = pydicom.dcmread(src / "slice1.dcm")
    files = anonymized(
        run_folder(
            {"op": "anonymize", "input": str(src), "output": str(tmp_path / "a"), "options": {"uid_secret": "s3"}}
        )
    )
    assert {ds.StudyInstanceUID for ds in files} == {hmac_uid("s3", original.StudyInstanceUID)}
    assert [ds.SOPInstanceUID for ds in files] == [hmac_uid("s3", "1.2.3.4.5.1"), hmac_uid("s3", "1.2.3.4.5.2")]


def test_anonymize_on_a_backend_without_a_uid_key_is_refused_for_a_folder(tmp_path: Path) -> None:
    if "gdcm" not in registry.names() or not registry.get("gdcm").availability().available:
        pytest.skip("gdcm is not installed here")
    src = study_folder(tmp_path, 2)
    (resp,) = run_folder({"op": "anonymize", "input": str(src), "output": str(tmp_path / "a"), "backend": "gdcm"})
    assert resp.error is not None and (resp.error.code, resp.error.field) == ("unsupported_option", "input")
    assert not (tmp_path / "a").exists()


# -- dcmtk, live -----------------------------------------------------------------------------------------------


def _dcmtk_or_skip() -> None:
    if not registry.get("dcmtk").availability().available:
        pytest.skip("dcmtk is not installed here (apt-packages.txt)")


@pytest.mark.live
@pytest.mark.parametrize("op", ["to_image", "dump", "info", "transcode"])
def test_a_folder_on_dcmtk_answers_as_each_file(op: str, folder: Path, tmp_path: Path) -> None:
    _dcmtk_or_skip()
    before = digests(folder)
    request: dict[str, Any] = {"op": op, "input": str(folder), "backend": "dcmtk"}
    if OUTPUT_NAMES[op] is not None:
        request["output"] = str(tmp_path / "out")
    responses = run_folder(request, jobs=2)
    assert [r.id for r in responses] == ["CT_small.dcm", "MR_small.dcm", None]
    assert responses[-1].ok and responses[-1].result is not None
    assert responses[-1].result["counts"] == {"ok": 2}
    for resp, stem in zip(responses, ("CT_small", "MR_small"), strict=False):
        assert resp.command is not None and resp.backend == "dcmtk"
        single_request = {**request, "input": str(folder / f"{stem}.dcm")}
        if OUTPUT_NAMES[op] is not None:
            assert resp.outputs == [str(tmp_path / "out" / OUTPUT_NAMES[op].format(stem))]  # type: ignore[union-attr]
            single_request["output"] = str(tmp_path / f"single_{stem}{Path(resp.outputs[0]).suffix}")
        single = run(single_request)
        if op == "info":
            assert resp.result == single.result
        elif op == "to_image":
            assert np.array_equal(np.asarray(Image.open(resp.outputs[0])), np.asarray(Image.open(single.outputs[0])))
        else:
            assert Path(resp.outputs[0]).read_bytes() == Path(single.outputs[0]).read_bytes()
    assert digests(folder) == before


def test_the_cli_answers_a_folder_line_by_line(folder: Path, tmp_path: Path) -> None:
    from tests.conftest import responses, run_cli

    status, out, err = run_cli(
        "run", "--op", "info", "--input", str(folder), "--id", "q", "--recursive", cwd=tmp_path
    )
    lines = responses(out)
    assert [r["id"] for r in lines] == ["q/CT_small.dcm", "q/MR_small.dcm", "q/sub/MR_again.dcm", "q"], err
    assert lines[-1]["result"]["counts"] == {"ok": 3}
    assert lines[0]["result"]["rows"] == 128 and lines[1]["result"]["rows"] == 64
    assert status == 0
    status, out, _ = run_cli("run", stdin=json.dumps({"op": "info", "input": str(tmp_path)}), cwd=tmp_path)
    assert status == 1 and responses(out)[-1]["error"]["code"] == "input_not_found"


def test_split_multiframe_and_decode_over_a_folder(tmp_path: Path) -> None:
    """The ops writing a folder per file (split_multiframe: ``<stem>_frames/``) or an .npy (decode) mirror too."""
    import numpy as np
    import pydicom
    from pydicom.data import get_testdata_file

    src = tmp_path / "in"
    src.mkdir()
    (src / "a.dcm").write_bytes(Path(str(get_testdata_file("emri_small.dcm"))).read_bytes())  # 10 frames, 64 x 64
    (src / "b.dcm").write_bytes(Path(str(get_testdata_file("CT_small.dcm"))).read_bytes())  # 1 frame, 128 x 128
    before = digests(src)
    request = {"id": "s", "op": "split_multiframe", "input": str(src), "output": str(tmp_path / "f")}
    split = by_id(dcmharness.run(request))
    summary = split["s"].result
    assert split["s/a.dcm"].ok and split["s/b.dcm"].ok and summary is not None and summary["counts"] == {"ok": 2}
    frames = sorted((tmp_path / "f" / "a_frames").iterdir())
    assert [p.name for p in frames] == [f"a_{i:04d}.dcm" for i in range(10)]
    assert {int(pydicom.dcmread(p).get("NumberOfFrames", 1)) for p in frames} == {1}
    assert [p.name for p in (tmp_path / "f" / "b_frames").iterdir()] == ["b_0000.dcm"]
    decoded = by_id(dcmharness.run({"id": "d", "op": "decode", "input": str(src), "output": str(tmp_path / "n")}))
    assert decoded["d/a.dcm"].ok and decoded["d/b.dcm"].ok
    assert np.load(tmp_path / "n" / "a.npy").shape == (10, 64, 64)
    assert np.load(tmp_path / "n" / "b.npy").shape == (128, 128)
    assert digests(src) == before
