"""``volume``, ``nifti`` and ``split_multiframe`` on python_ref: geometry against the synthetic series'
independent expectations (interface/synth/series.py, PS3.3 C.7.6.2.1.1), the shared series checks, the head CT.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

from dcmharness.backends.geometry import GeometryError, Plane, volume_geometry
from dcmharness.interface.api import run
from dcmharness.interface.synth.series import generate

HEAD_CT = Path("/work/shared/data/ct-head-series")
needs_head_ct = pytest.mark.skipif(not HEAD_CT.is_dir(), reason=f"the head CT series is not at {HEAD_CT}")


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("series")
    return {"root": out, "cases": {c["name"]: c for c in generate(out)}}


def _plane(z: float, source: str = "a", orientation: tuple[float, ...] = (1, 0, 0, 0, 1, 0)) -> Plane:
    return Plane(source, 0, (0.0, 0.0, z), orientation, (0.5, 0.8), 4, 3)  # type: ignore[arg-type]


# -- geometry, pure -----------------------------------------------------------------------------------
def test_planes_sorted_along_the_normal_not_by_input_order() -> None:
    g = volume_geometry([_plane(4.0, "c"), _plane(0.0, "a"), _plane(2.0, "b")])
    assert [p.source for p in g.planes] == ["a", "b", "c"]
    assert g.slice_spacing == 2.0
    assert g.affine("LPS").tolist() == [[0.8, 0, 0, 0], [0, 0.5, 0, 0], [0, 0, 2.0, 0], [0, 0, 0, 1]]
    assert g.affine("RAS")[:2, :2].tolist() == [[-0.8, 0], [0, -0.5]]
    assert g.spacing == (0.8, 0.5, 2.0)


def test_feet_first_normal_sorts_towards_the_feet() -> None:
    ffs = (-1.0, 0.0, 0.0, 0.0, 1.0, 0.0)  # normal (0, 0, -1)
    g = volume_geometry([_plane(z, str(z), ffs) for z in (10.0, 8.0, 6.0)])
    assert [p.position[2] for p in g.planes] == [10.0, 8.0, 6.0]
    assert g.step == (0.0, 0.0, -2.0)


@pytest.mark.parametrize(
    ("planes", "message"),
    [
        ([_plane(0.0), _plane(2.0), _plane(6.0)], "non-uniform slice spacing"),
        ([_plane(0.0, "a"), _plane(0.0, "b")], "duplicate slice positions"),
        ([_plane(0.0), _plane(2.0, orientation=(0, 1, 0, 1, 0, 0))], "mixed orientations"),
    ],
)
def test_geometry_errors(planes: list[Plane], message: str) -> None:
    with pytest.raises(GeometryError, match=message):
        volume_geometry(planes)


def test_gantry_tilt_is_a_warning_with_the_sheared_affine() -> None:
    planes = [Plane(str(k), 0, (0.0, 0.0, 2.0 * k), (1, 0, 0, 0, 0.8, -0.6), (1.0, 1.0), 2, 2) for k in range(3)]
    g = volume_geometry(planes)
    assert g.sheared and "gantry tilt" in g.warnings[0]
    assert g.affine("LPS")[:3, 2].tolist() == [0.0, 0.0, 2.0]  # the table step, not the normal
    assert round(g.tilt_degrees, 4) == 36.8699  # acos(0.8)


# -- volume / nifti on the synthetic series -------------------------------------------------------------
SYNTHETIC_OK = [
    "axial",
    "oblique",
    "gantry_tilt",
    "reverse_order",
    "shuffled_order",
    "feet_first",
    "decubitus_left",
    "non_square",
    "varying_rescale",
    "enhanced_multiframe",
    "enhanced_multiframe_ordered",
    "two_series_a",
    "two_series_b",
]


@pytest.mark.parametrize("name", SYNTHETIC_OK)
def test_volume_matches_the_independent_expectation(synthetic: dict[str, Any], name: str, tmp_path: Path) -> None:
    case = synthetic["cases"][name]
    root: Path = synthetic["root"]
    resp = run(
        {
            "op": "volume",
            "input": str(root / case["input"]),
            "output": str(tmp_path / "v.npy"),
            "options": case["options"],
        }
    )
    assert resp.ok, resp.error
    got = np.load(tmp_path / "v.npy")
    expected = np.load(root / case["expected"])
    assert got.shape == tuple(case["shape"]) == (12, 40, 32)
    assert np.array_equal(got.astype(np.float64), expected)
    assert resp.result is not None
    assert np.abs(np.asarray(resp.result["affine_lps"]) - np.asarray(case["affine_lps"])).max() < 1e-5
    sidecar = json.loads((tmp_path / "v.json").read_text())
    assert sidecar["affine_ras"] == resp.result["affine_ras"] and len(sidecar["slices"]) == 12
    assert ("gantry tilt" in " ".join(resp.warnings)) == (name == "gantry_tilt")


def test_volume_dtype_holds_every_value(synthetic: dict[str, Any], tmp_path: Path) -> None:
    root: Path = synthetic["root"]
    resp = run({"op": "volume", "input": str(root / "varying_rescale"), "output": str(tmp_path / "v.npy")})
    assert resp.ok and resp.result is not None
    # 12-bit stored 0..4095 with intercepts -1024 and -2048: -2048 .. 3071 -> int16
    assert resp.result["dtype"] == "int16" and np.load(tmp_path / "v.npy").dtype == np.int16


@pytest.mark.parametrize(("name", "field"), [("missing_slice", "input"), ("two_series", "options.series_uid")])
def test_series_refused_before_any_backend_runs(
    synthetic: dict[str, Any], name: str, field: str, tmp_path: Path
) -> None:
    root: Path = synthetic["root"]
    for op, out in (("volume", "v.npy"), ("nifti", "v.nii")):
        resp = run({"op": op, "input": str(root / name), "output": str(tmp_path / out)})
        assert not resp.ok and resp.error is not None
        assert (resp.error.code, resp.error.field) == ("inconsistent_series", field)
    assert list(tmp_path.iterdir()) == []
    if name == "two_series":
        assert resp.error is not None and resp.error.message.count("12 files") == 2  # both series listed


def test_unknown_series_uid_lists_the_series(synthetic: dict[str, Any], tmp_path: Path) -> None:
    resp = run(
        {
            "op": "volume",
            "input": str(synthetic["root"] / "axial"),
            "output": str(tmp_path / "v.npy"),
            "options": {"series_uid": "1.2.3"},
        }
    )
    assert resp.error is not None and resp.error.code == "invalid_request" and "12 files" in resp.error.message


def test_output_inside_the_input_folder_is_refused(synthetic: dict[str, Any]) -> None:
    folder = synthetic["root"] / "axial"
    resp = run({"op": "nifti", "input": str(folder), "output": str(folder / "x.nii")})
    assert resp.error is not None and (resp.error.code, resp.error.field) == ("invalid_request", "output")


def test_non_dicom_and_hidden_files_are_skipped_with_warnings(synthetic: dict[str, Any], tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "in"
    shutil.copytree(synthetic["root"] / "axial", folder)
    (folder / "notes.txt").write_text("not DICOM")
    (folder / ".hidden").write_text("x")
    resp = run({"op": "volume", "input": str(folder), "output": str(tmp_path / "v.npy")})
    assert resp.ok
    assert any("notes.txt: skipped (not_dicom" in w for w in resp.warnings)
    assert any(".hidden: hidden file skipped" in w for w in resp.warnings)


def test_nifti_header_of_the_sheared_series(synthetic: dict[str, Any], tmp_path: Path) -> None:
    import nibabel as nib

    case = synthetic["cases"]["gantry_tilt"]
    resp = run({"op": "nifti", "input": str(synthetic["root"] / case["input"]), "output": str(tmp_path / "t.nii.gz")})
    assert resp.ok and resp.result is not None
    img = nib.load(tmp_path / "t.nii.gz")
    assert (int(img.header["qform_code"]), int(img.header["sform_code"])) == (1, 1)
    assert np.abs(img.get_sform() - np.asarray(case["affine_ras"])).max() < 1e-5  # the shear is kept
    q = img.get_qform()[:3, :3]
    assert np.allclose((q / np.linalg.norm(q, axis=0)).T @ (q / np.linalg.norm(q, axis=0)), np.eye(3), atol=1e-5)
    data = np.asanyarray(img.dataobj)
    expected = np.load(synthetic["root"] / case["expected"])
    assert np.array_equal(data.transpose(2, 1, 0), expected)
    assert resp.result["compressed"] is True and resp.result["dtype"] == "int16"


# -- the real head CT -------------------------------------------------------------------------------------
@needs_head_ct
def test_head_ct_volume_and_nifti(tmp_path: Path) -> None:
    resp = run({"op": "volume", "input": str(HEAD_CT), "output": str(tmp_path / "head.npy")})
    assert resp.ok, resp.error
    r = resp.result
    assert r is not None
    assert r["shape"] == [174, 512, 512] and r["dtype"] == "int16"
    assert r["spacing"] == [0.48828125, 0.48828125, 1.0]  # Slice Thickness says 2: the positions say 1
    assert r["origin"] == [-124.755859375, -335.755859375, 30.5]
    assert r["affine_ras"][0][3] == 124.755859375 and r["affine_ras"][2][3] == 30.5
    sidecar = json.loads((tmp_path / "head.json").read_text())
    assert sidecar["slices"][0]["file"] == "IM-0001-0001.dcm" and sidecar["slices"][-1]["position"][2] == 203.5
    volume = np.load(tmp_path / "head.npy")
    assert (int(volume.min()), int(volume.max())) == (-1024, 3071)
    # slice 173's own Rescale Intercept (-2042) applied, not the first slice's (-1024)
    last = pydicom.dcmread(HEAD_CT / "IM-0001-0174.dcm")
    assert np.array_equal(volume[173], last.pixel_array.astype(np.int32) - 2042)
    resp = run(
        {"op": "nifti", "input": str(HEAD_CT), "output": str(tmp_path / "head.nii"), "options": {"sidecar": False}}
    )
    assert resp.ok and resp.result is not None
    assert resp.result["shape"] == [512, 512, 174] and resp.result["pixdim"] == [0.48828125, 0.48828125, 1.0]


# -- split_multiframe ----------------------------------------------------------------------------------------
def test_split_multiframe_moves_functional_groups_to_the_top(synthetic: dict[str, Any], tmp_path: Path) -> None:
    source = synthetic["root"] / "enhanced_multiframe" / "enhanced_multiframe.dcm"
    out = tmp_path / "frames"
    resp = run({"op": "split_multiframe", "input": str(source), "output": str(out), "options": {"frames": [0, 6]}})
    assert resp.ok, resp.error
    assert [Path(p).name for p in resp.outputs] == ["enhanced_multiframe_0000.dcm", "enhanced_multiframe_0006.dcm"]
    mf = pydicom.dcmread(source)
    one = pydicom.dcmread(out / "enhanced_multiframe_0006.dcm")
    assert one.SOPClassUID == "1.2.840.10008.5.1.4.1.1.2"  # Enhanced CT -> CT Image
    assert one.SeriesInstanceUID == mf.SeriesInstanceUID and one.SOPInstanceUID != mf.SOPInstanceUID
    assert "PerFrameFunctionalGroupsSequence" not in one and "NumberOfFrames" not in one
    frame6 = mf.PerFrameFunctionalGroupsSequence[6].PlanePositionSequence[0].ImagePositionPatient
    assert list(one.ImagePositionPatient) == list(frame6)
    assert (float(one.RescaleIntercept), list(one.PixelSpacing)) == (-1024.0, [0.7, 0.7])
    assert np.array_equal(one.pixel_array, mf.pixel_array[6])
    assert one.InstanceNumber == 7


def test_split_multiframe_frame_out_of_range_writes_nothing(synthetic: dict[str, Any], tmp_path: Path) -> None:
    source = synthetic["root"] / "enhanced_multiframe" / "enhanced_multiframe.dcm"
    out = tmp_path / "frames"
    resp = run({"op": "split_multiframe", "input": str(source), "output": str(out), "options": {"frames": [12]}})
    assert resp.error is not None and resp.error.code == "frame_out_of_range"
    assert not out.exists()


@pytest.mark.parametrize(
    "name", ["emri_small_RLE.dcm", "liver.dcm", "emri_small_jpeg_2k_lossless.dcm", "color3d_jpeg_baseline.dcm"]
)
def test_split_multiframe_frames_decode_as_the_input_frames(name: str, tmp_path: Path) -> None:
    """Encapsulated frames are re-encapsulated as they are, 1-bit frames repacked: pixels identical."""
    from dcmharness.interface.samples import find

    source = find(name)
    resp = run(
        {"op": "split_multiframe", "input": str(source), "output": str(tmp_path / "f"), "options": {"frames": [0, 2]}}
    )
    assert resp.ok, resp.error
    multi = pydicom.dcmread(source)
    for frame, path in zip((0, 2), resp.outputs, strict=True):
        one = pydicom.dcmread(path)
        assert one.file_meta.TransferSyntaxUID == multi.file_meta.TransferSyntaxUID
        assert np.array_equal(one.pixel_array, multi.pixel_array[frame])


def test_a_damaged_slice_is_named_and_nothing_is_written(synthetic: dict[str, Any], tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "in"
    shutil.copytree(synthetic["root"] / "axial", folder)
    victim = folder / "axial_004.dcm"
    victim.write_bytes(victim.read_bytes()[:-1000])  # Pixel Data cut short
    resp = run({"op": "volume", "input": str(folder), "output": str(tmp_path / "v.npy")})
    assert resp.error is not None and resp.error.code == "decode_failed"
    assert resp.error.message.startswith("axial_004.dcm: ") and not (tmp_path / "v.npy").exists()
