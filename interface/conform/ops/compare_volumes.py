"""Comparing two volumes (NIfTI files, or a volume's .npy + sidecar) as the conformance run of ``nifti`` and
``volume`` does: both brought to one canonical orientation, then voxels, geometry, dimensions, data type.

The canonical orientation is the closest RAS+ axis order of each volume's own affine (flips and axis
permutations only, never resampling: ``nibabel.orientations``), so a converter that stores rows bottom-up
(dcm2niix) and one that keeps the DICOM order (SimpleITK) compare voxel for voxel. Voxel values are the
scaled values (``scl_slope * stored + scl_inter``). The geometry difference is the largest distance, in mm,
between the world positions of the 8 corner voxels (after both are in canonical order).

Aspects, each its own conformance profile so a registry entry can explain one without hiding the others:
``geometry`` (dimensions, corner displacement in mm), ``voxels`` (max and mean absolute difference),
``dtype`` (data type and scaling: how the values are stored), ``header`` (qform/sform codes, units).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dcmharness.backends.nifti_file import finite

#: Geometry agrees when no corner moves more than this (mm): above DS rounding (1e-6 mm) and float32 affines.
CORNER_TOLERANCE_MM = 0.01
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


@dataclass
class Volume:
    """A volume to compare: raw array (x, y, z) as stored, the scaling, the voxel -> RAS mm affine."""

    raw: np.ndarray
    slope: float
    inter: float
    affine: np.ndarray
    dtype: str
    header: dict[str, Any]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.raw.shape)


def load_nifti(path: str | Path) -> Volume:
    import nibabel as nib

    img = nib.load(str(path))
    hdr = img.header
    slope = finite(img.dataobj.slope, 1.0)  # nibabel moves scl_* into the array proxy on load
    inter = finite(img.dataobj.inter, 0.0)
    raw = np.asanyarray(img.dataobj.get_unscaled())
    while raw.ndim > 3 and raw.shape[-1] == 1:
        raw = raw[..., 0]
    header = {
        "qform_code": int(hdr["qform_code"]),
        "sform_code": int(hdr["sform_code"]),
        "xyz_units": hdr.get_xyzt_units()[0],
        "qform_sform_mm": None,
    }
    if header["qform_code"] > 0 and header["sform_code"] > 0:
        header["qform_sform_mm"] = corner_displacement(img.get_qform(), img.get_sform(), raw.shape)
    return Volume(
        raw,
        1.0 if slope == 0 else slope,
        inter,
        np.asarray(img.affine, dtype=np.float64),
        str(hdr.get_data_dtype()),
        header,
    )


def volume_from_array(kji: np.ndarray, affine_lps: np.ndarray) -> Volume:
    """A ``volume`` output (axes slice, row, column; affine over column, row, slice in LPS) as a Volume."""
    return Volume(
        kji.transpose(2, 1, 0), 1.0, 0.0, LPS_TO_RAS @ np.asarray(affine_lps, dtype=np.float64), str(kji.dtype), {}
    )


def corners(affine: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    s = np.asarray(shape[:3], dtype=np.float64) - 1
    idx = np.array([[i, j, k, 1.0] for i in (0, s[0]) for j in (0, s[1]) for k in (0, s[2])])
    out: np.ndarray = (np.asarray(affine) @ idx.T).T[:, :3]
    return out


def corner_displacement(a: np.ndarray, b: np.ndarray, shape: tuple[int, ...]) -> float:
    """Largest distance (mm) between the corner voxels' positions under two affines of one grid. Pure."""
    return float(np.linalg.norm(corners(a, shape) - corners(b, shape), axis=1).max())


def canonical(vol: Volume) -> tuple[np.ndarray, np.ndarray]:
    """The raw array (a view: flips and transposes only) and the affine in closest RAS+ axis order."""
    from nibabel.orientations import apply_orientation, inv_ornt_aff, io_orientation, ornt_transform

    ornt = ornt_transform(io_orientation(vol.affine), np.array([[0, 1], [1, 1], [2, 1]], dtype=np.float64))
    data = apply_orientation(vol.raw, ornt)
    return data, vol.affine @ inv_ornt_aff(ornt, vol.raw.shape[:3])


def _scaled_slices(data: np.ndarray, vol: Volume) -> Iterator[np.ndarray]:
    for k in range(data.shape[2]):
        yield np.asarray(data[:, :, k], dtype=np.float64) * vol.slope + vol.inter


def compare(ref: Volume, got: Volume) -> dict[str, Any]:
    """Metrics and problems per aspect (``geometry``, ``voxels``, ``dtype``, ``header``). Memory: the two raw
    arrays plus one slice in float64."""
    a, aff_a = canonical(ref)
    b, aff_b = canonical(got)
    out: dict[str, Any] = {
        "shape": [list(ref.shape), list(got.shape)],
        "canonical_shape": [list(a.shape), list(b.shape)],
        "dtype": [ref.dtype, got.dtype],
        "scaling": [[ref.slope, ref.inter], [got.slope, got.inter]],
        "header": [ref.header, got.header],
        "problems": {"geometry": [], "voxels": [], "dtype": [], "header": []},
    }
    problems = out["problems"]
    if a.shape != b.shape:
        problems["geometry"].append(f"dimensions {list(a.shape)} vs {list(b.shape)} (canonical order)")
        out["corner_mm"] = None
        return out
    out["corner_mm"] = corner_displacement(aff_a, aff_b, a.shape)
    if out["corner_mm"] > CORNER_TOLERANCE_MM:
        problems["geometry"].append(f"corner voxels {out['corner_mm']:.4g} mm apart")
    worst, total = 0.0, 0.0
    for sa, sb in zip(_scaled_slices(a, ref), _scaled_slices(b, got), strict=True):
        d = np.abs(sa - sb)
        worst = max(worst, float(d.max()))
        total += float(d.sum())
    out["voxel_max_diff"] = worst
    out["voxel_mean_diff"] = total / max(a.size, 1)
    if worst > 0:
        problems["voxels"].append(f"voxels differ: max {worst:.6g}, mean {out['voxel_mean_diff']:.6g}")
    if ref.dtype != got.dtype:
        problems["dtype"].append(f"data type {ref.dtype} vs {got.dtype}")
    if (ref.slope, ref.inter) != (got.slope, got.inter):
        problems["dtype"].append(f"scaling (slope, intercept) {(ref.slope, ref.inter)} vs {(got.slope, got.inter)}")
    for key in ("qform_code", "sform_code", "xyz_units"):
        if key in ref.header and key in got.header and ref.header[key] != got.header[key]:
            problems["header"].append(f"{key} {ref.header[key]} vs {got.header[key]}")
    q = got.header.get("qform_sform_mm")
    if q is not None and q > CORNER_TOLERANCE_MM and (ref.header.get("qform_sform_mm") or 0) <= CORNER_TOLERANCE_MM:
        problems["header"].append(f"qform and sform disagree by {q:.4g} mm")
    return out


def middle_slices(vol: Volume) -> list[np.ndarray]:
    """The middle slice of each canonical axis (sagittal, coronal, axial), scaled, for the report (rows up:
    superior / anterior)."""
    data, _ = canonical(vol)
    x, y, z = (s // 2 for s in data.shape[:3])
    views = [data[x, :, :], data[:, y, :], data[:, :, z]]
    return [np.rot90(np.asarray(v, dtype=np.float64) * vol.slope + vol.inter) for v in views]


def middle_slice_spacings(vol: Volume) -> list[tuple[float, float]]:
    """(row, column) spacing in mm of each view of ``middle_slices`` (for drawing them in proportion)."""
    _, affine = canonical(vol)
    sx, sy, sz = (float(v) for v in np.linalg.norm(affine[:3, :3], axis=0))
    return [(sz, sy), (sz, sx), (sy, sx)]
