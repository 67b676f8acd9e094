"""Synthetic series for ``volume`` and ``nifti``: geometry no real file in the corpus covers.

Each case is a folder of CT slices (or one enhanced CT multi-frame file) written with pydicom from a few
parameters: the row and column direction cosines X and Y, the pixel spacing, the position S0 of the first
voxel of slice 0 and the step between slices. The expected geometry is computed here, forward, from those
parameters and PS3.3 C.7.6.2.1.1 (P = S + X * column_spacing * i + Y * row_spacing * j, slice k at
S0 + k * step): independent of the python_ref implementation, which reads it back from the files. The
expected voxel values are the generator's own stored values times slope plus intercept.

``generate(out_dir)`` writes ``<case>/`` folders, ``<case>.expected.npy`` (modality values, array axes
(slice, row, column)) and ``manifest.json`` (per case: input, request options, expected shape, affines in
LPS and RAS, or the expected error code).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

CT_IMAGE = UID("1.2.840.10008.5.1.4.1.1.2")
ENHANCED_CT_IMAGE = UID("1.2.840.10008.5.1.4.1.1.2.1")
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def uid_for(*parts: str) -> UID:
    """Deterministic UIDs (same bytes on every run)."""
    return generate_uid(entropy_srcs=["dcmharness-synth-series", *parts])


@dataclass(frozen=True)
class SeriesSpec:
    name: str
    description: str
    rows: int = 40
    columns: int = 32
    slices: int = 12
    row_direction: tuple[float, float, float] = (1.0, 0.0, 0.0)  # X: along a row (column index i grows)
    column_direction: tuple[float, float, float] = (0.0, 1.0, 0.0)  # Y: down a column (row index j grows)
    pixel_spacing: tuple[float, float] = (0.7, 0.7)  # (row spacing, column spacing) as in (0028,0030)
    origin: tuple[float, float, float] = (-11.2, -14.0, 30.0)  # S of slice 0
    slice_step: float = 2.0  # along the normal, unless ``step`` is given
    step: tuple[float, float, float] | None = None  # the position increment between slices (gantry tilt)
    write_order: tuple[int, ...] | None = None  # slice indices in file/instance order (default 0..n-1)
    missing: tuple[int, ...] = ()  # slice indices not written
    patient_position: str = "HFS"
    gantry_tilt: float | None = None
    intercepts: tuple[float, ...] | None = None  # per slice (default -1024 everywhere)
    slope: float = 1.0
    multiframe: bool = False
    series_tag: str = ""  # distinguishes the UIDs of two series in one folder
    expect_error: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def normal(self) -> np.ndarray:
        return np.cross(np.asarray(self.row_direction), np.asarray(self.column_direction))

    def step_vector(self) -> np.ndarray:
        return np.asarray(self.step, dtype=np.float64) if self.step is not None else self.normal() * self.slice_step

    def position(self, k: int) -> np.ndarray:
        out: np.ndarray = np.asarray(self.origin, dtype=np.float64) + k * self.step_vector()
        return out

    def intercept(self, k: int) -> float:
        return -1024.0 if self.intercepts is None else self.intercepts[k]

    def series_uid(self) -> UID:
        return uid_for(self.name, self.series_tag, "series")

    def stored(self, k: int) -> np.ndarray:
        """Stored values of slice k (uint16, 12 bits): a ramp with a bright block in the first rows and
        columns, so that any flip, transposition or slice reordering changes the values."""
        j, i = np.mgrid[0 : self.rows, 0 : self.columns]
        ramp = (3 * i + 7 * j + 50 * k) % 1500
        block = np.where((i < self.columns // 4) & (j < self.rows // 3), 1000, 0)
        out: np.ndarray = (ramp + block + 24).astype(np.uint16)
        return out

    def expected_affine_lps(self) -> np.ndarray:
        """C.7.6.2.1.1, forward: columns X * column spacing, Y * row spacing, the slice step; S0."""
        a = np.eye(4)
        a[:3, 0] = np.asarray(self.row_direction) * self.pixel_spacing[1]
        a[:3, 1] = np.asarray(self.column_direction) * self.pixel_spacing[0]
        a[:3, 2] = self.step_vector()
        a[:3, 3] = self.origin
        if self.step_vector() @ self.normal() < 0:  # volumes run along +normal: start from the far end
            last = self.slices - 1
            a[:3, 2] = -self.step_vector()
            a[:3, 3] = self.position(last)
        return a

    def expected_volume(self) -> np.ndarray:
        """Modality values, axes (slice, row, column), slices in order along the normal."""
        ks = [k for k in range(self.slices) if k not in self.missing]
        if self.step_vector() @ self.normal() < 0:
            ks = ks[::-1]
        return np.stack([self.stored(k).astype(np.float64) * self.slope + self.intercept(k) for k in ks])


def _base(spec: SeriesSpec, sop_class: UID, sop_uid: UID) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = uid_for("study")
    ds.SeriesInstanceUID = spec.series_uid()
    ds.FrameOfReferenceUID = uid_for("frame-of-reference")
    ds.PatientName = "Synthetic^Series"
    ds.PatientID = "SYNTH"
    ds.StudyDate = "20260101"
    ds.StudyTime = "120000"
    ds.Modality = "CT"
    ds.Manufacturer = "dcmharness"
    ds.SeriesDescription = f"{spec.name}{spec.series_tag}"
    ds.SeriesNumber = 2 if spec.series_tag else 1
    ds.PatientPosition = spec.patient_position
    ds.Rows = spec.rows
    ds.Columns = spec.columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    if spec.gantry_tilt is not None:
        ds.GantryDetectorTilt = spec.gantry_tilt
    return ds


def _ds_number(x: float) -> str:
    """A DS value (<= 16 characters) holding x to 1e-6 mm."""
    text = f"{x:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def write_slices(spec: SeriesSpec, folder: Path) -> list[Path]:
    order = spec.write_order or tuple(range(spec.slices))
    paths = []
    for instance, k in enumerate((k for k in order if k not in spec.missing), start=1):
        uid = uid_for(spec.name, spec.series_tag, str(k))
        ds = _base(spec, CT_IMAGE, uid)
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.InstanceNumber = instance
        ds.ImagePositionPatient = [_ds_number(v) for v in spec.position(k)]
        ds.ImageOrientationPatient = [_ds_number(v) for v in (*spec.row_direction, *spec.column_direction)]
        ds.PixelSpacing = [_ds_number(v) for v in spec.pixel_spacing]
        ds.SliceThickness = _ds_number(spec.slice_step)
        ds.RescaleIntercept = _ds_number(spec.intercept(k))
        ds.RescaleSlope = _ds_number(spec.slope)
        ds.RescaleType = "HU"
        ds.PixelData = spec.stored(k).astype("<u2").tobytes()
        path = folder / f"{spec.name}{spec.series_tag}_{instance:03d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def write_multiframe(spec: SeriesSpec, path: Path) -> Path:
    """An Enhanced CT Image (PS3.3 A.38) with per-frame Plane Position and shared orientation, spacing and
    rescale; frames stored in ``write_order``."""
    order = [k for k in (spec.write_order or tuple(range(spec.slices))) if k not in spec.missing]
    ds = _base(spec, ENHANCED_CT_IMAGE, uid_for(spec.name, "multiframe"))
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL", "NONE"]
    ds.InstanceNumber = 1
    ds.ContentDate = "20260101"
    ds.ContentTime = "120000"
    ds.AcquisitionDateTime = "20260101120000"
    ds.NumberOfFrames = len(order)
    shared = Dataset()
    measures = Dataset()
    measures.PixelSpacing = [_ds_number(v) for v in spec.pixel_spacing]
    measures.SliceThickness = _ds_number(spec.slice_step)
    shared.PixelMeasuresSequence = Sequence([measures])
    orientation = Dataset()
    orientation.ImageOrientationPatient = [_ds_number(v) for v in (*spec.row_direction, *spec.column_direction)]
    shared.PlaneOrientationSequence = Sequence([orientation])
    transform = Dataset()
    transform.RescaleIntercept = _ds_number(spec.intercept(0))
    transform.RescaleSlope = _ds_number(spec.slope)
    transform.RescaleType = "HU"
    shared.PixelValueTransformationSequence = Sequence([transform])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    dimension = uid_for(spec.name, "dimension")
    org = Dataset()
    org.DimensionOrganizationUID = dimension
    ds.DimensionOrganizationSequence = Sequence([org])
    index = Dataset()
    index.DimensionOrganizationUID = dimension
    index.DimensionIndexPointer = 0x00209057  # In-Stack Position Number
    index.FunctionalGroupPointer = 0x00209111  # Frame Content Sequence
    ds.DimensionIndexSequence = Sequence([index])
    per_frame = []
    for k in order:
        item = Dataset()
        position = Dataset()
        position.ImagePositionPatient = [_ds_number(v) for v in spec.position(k)]
        item.PlanePositionSequence = Sequence([position])
        content = Dataset()
        content.StackID = "1"
        content.InStackPositionNumber = k + 1
        content.DimensionIndexValues = [k + 1]
        item.FrameContentSequence = Sequence([content])
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    ds.PixelData = np.stack([spec.stored(k) for k in order]).astype("<u2").tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def _rotation(axis: tuple[float, float, float], degrees: float) -> np.ndarray:
    a = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    t = math.radians(degrees)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    out: np.ndarray = np.eye(3) + math.sin(t) * k + (1 - math.cos(t)) * (k @ k)
    return out


def _oblique() -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    r = _rotation((0.3, -0.5, 0.8), 25.0)
    x, y = r @ np.array([1.0, 0, 0]), r @ np.array([0, 1.0, 0])
    return (float(x[0]), float(x[1]), float(x[2])), (float(y[0]), float(y[1]), float(y[2]))


def specs() -> list[SeriesSpec]:
    """Every synthetic series case."""
    tilt = 15.0
    x_obl, y_obl = _oblique()
    c, s = math.cos(math.radians(tilt)), math.sin(math.radians(tilt))
    n = 12
    return [
        SeriesSpec("axial", "axial HFS, square pixels (the baseline)"),
        SeriesSpec(
            "oblique",
            "double-oblique: rotated 25 deg about (0.3, -0.5, 0.8)",
            row_direction=x_obl,
            column_direction=y_obl,
        ),
        SeriesSpec(
            "gantry_tilt",
            f"gantry tilted {tilt:g} deg: columns tilted, positions step along the table (sheared volume)",
            column_direction=(0.0, c, -s),
            step=(0.0, 0.0, 2.0),
            gantry_tilt=tilt,
        ),
        SeriesSpec(
            "reverse_order", "instance numbers run against the slice normal", write_order=tuple(range(n - 1, -1, -1))
        ),
        SeriesSpec(
            "shuffled_order", "files written in no particular order", write_order=(5, 0, 11, 3, 8, 1, 10, 2, 7, 4, 9, 6)
        ),
        SeriesSpec(
            "missing_slice",
            "slice 5 of 12 absent: non-uniform spacing",
            missing=(5,),
            expect_error="inconsistent_series",
        ),
        SeriesSpec(
            "feet_first",
            "FFS: rows run to the patient's right, slices towards the feet",
            row_direction=(-1.0, 0.0, 0.0),
            patient_position="FFS",
        ),
        SeriesSpec(
            "decubitus_left",
            "HFDL: rows run anterior, columns to the patient's left",
            row_direction=(0.0, -1.0, 0.0),
            column_direction=(1.0, 0.0, 0.0),
            patient_position="HFDL",
        ),
        SeriesSpec(
            "non_square",
            "non-square pixels (row spacing 0.5, column spacing 0.8) in a 40x32 matrix",
            pixel_spacing=(0.5, 0.8),
        ),
        SeriesSpec(
            "varying_rescale",
            "Rescale Intercept differs between slices (-1024 / -2048, as in the head CT)",
            intercepts=tuple(-1024.0 if k % 3 else -2048.0 for k in range(n)),
        ),
        SeriesSpec(
            "enhanced_multiframe",
            "Enhanced CT, one file, per-frame positions, frames stored shuffled",
            multiframe=True,
            write_order=(3, 1, 0, 2, 4, 5, 11, 10, 9, 8, 7, 6),
        ),
        SeriesSpec(
            "enhanced_multiframe_ordered",
            "Enhanced CT, one file, frames stored in spatial order, the rescale in the shared functional group",
            multiframe=True,
        ),
    ]


TWO_SERIES = ("two_series", "two series in one folder (axial HFS and FFS)")


def generate(out_dir: Path) -> list[dict[str, Any]]:
    """Write every case under ``out_dir`` and ``manifest.json``; return the manifest's cases."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cases: list[dict[str, Any]] = []
    for spec in specs():
        folder = out_dir / spec.name
        folder.mkdir(exist_ok=True)
        if spec.multiframe:
            target = write_multiframe(spec, folder / f"{spec.name}.dcm")
        else:
            write_slices(spec, folder)
            target = folder
        cases.append(_manifest_entry(spec, target, out_dir, spec.options))
    # two series in one folder: refused without series_uid, each one converted with it
    name, description = TWO_SERIES
    folder = out_dir / name
    folder.mkdir(exist_ok=True)
    first = SeriesSpec(name, description, series_tag="")
    second = SeriesSpec(name, description, series_tag="b", row_direction=(-1.0, 0.0, 0.0), patient_position="FFS")
    for spec in (first, second):
        write_slices(spec, folder)
    refused = replace(first, expect_error="inconsistent_series")
    cases.append(_manifest_entry(refused, folder, out_dir, {}))
    for tag, spec in (("a", first), ("b", second)):
        entry = _manifest_entry(spec, folder, out_dir, {"series_uid": str(spec.series_uid())}, suffix=f"_{tag}")
        cases.append(entry)
    manifest = {"generator": "dcmharness synth-series", "cases": cases}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return cases


def _manifest_entry(
    spec: SeriesSpec, target: Path, out_dir: Path, options: dict[str, Any], suffix: str = ""
) -> dict[str, Any]:
    name = spec.name + suffix
    entry: dict[str, Any] = {
        "name": name,
        "description": spec.description,
        "input": str(target.relative_to(out_dir)),
        "options": options,
        "expect_error": spec.expect_error,
    }
    if spec.expect_error is None:
        volume = spec.expected_volume()
        np.save(out_dir / f"{name}.expected.npy", volume, allow_pickle=False)
        lps = spec.expected_affine_lps()
        entry.update(
            expected=f"{name}.expected.npy",
            shape=list(volume.shape),
            affine_lps=lps.tolist(),
            affine_ras=(LPS_TO_RAS @ lps).tolist(),
            sheared=spec.step is not None,
        )
    return entry
