"""Geometry of a series of image planes (PS3.3 C.7.6.2.1.1): slice order, spacing, affine. Pure functions.

A plane is one slice file or one frame of a multi-frame file, with its Image Position (Patient) ``S``,
Image Orientation (Patient) row direction ``X`` and column direction ``Y``, and Pixel Spacing
``[row spacing, column spacing]``. The standard maps pixel (column i, row j) of a plane to
``P = S + X * column_spacing * i + Y * row_spacing * j`` (LPS, mm). Planes are sorted by their position along
the slice normal ``N = X x Y`` (never by Instance Number); the slice axis of the volume is the mean step
between consecutive positions, so the affine maps voxel (i, j, k) exactly even when the slices are sheared
(gantry tilt).

Checks (``GeometryError`` naming the files): mixed sizes, orientations or pixel spacings; duplicate
positions; non-uniform spacing (a missing slice). A gantry tilt (step not along the normal) is a warning.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

#: Positions come from DS strings (at most 16 characters): rounding stays far below this (mm).
POSITION_TOLERANCE_MM = 0.01
#: Spacing is uniform when every step is within this fraction of the mean step (or within the tolerance above).
SPACING_TOLERANCE = 0.01
#: Direction cosines of two planes agree within this (per component).
ORIENTATION_TOLERANCE = 1e-4
#: LPS (DICOM patient coordinates) -> RAS (NIfTI scanner coordinates): x and y change sign.
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


class GeometryError(ValueError):
    """The planes do not form one volume (the message says why and names files)."""


@dataclass(frozen=True)
class Plane:
    source: str  # the file (relative name for messages)
    frame: int  # 0 for a single-frame file
    position: tuple[float, float, float]
    orientation: tuple[float, float, float, float, float, float]
    pixel_spacing: tuple[float, float]  # (row spacing, column spacing), as in Pixel Spacing (0028,0030)
    rows: int
    columns: int

    @property
    def label(self) -> str:
        return self.source if self.frame == 0 and "#" not in self.source else f"{self.source} frame {self.frame}"


@dataclass(frozen=True)
class VolumeGeometry:
    planes: tuple[Plane, ...]  # sorted along the normal
    normal: tuple[float, float, float]
    step: tuple[float, float, float]  # mean position increment between consecutive slices (mm, LPS)
    slice_spacing: float  # the step's length along the normal (mm)
    tilt_degrees: float  # angle between the step and the normal (gantry tilt)
    affine_lps: tuple[tuple[float, ...], ...]  # 4x4: (column i, row j, slice k, 1) -> LPS mm
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(slices, rows, columns): the array layout of the volume."""
        first = self.planes[0]
        return len(self.planes), first.rows, first.columns

    @property
    def sheared(self) -> bool:
        return any("gantry tilt" in w for w in self.warnings)

    def affine(self, space: str = "LPS") -> np.ndarray:
        a = np.asarray(self.affine_lps, dtype=np.float64)
        return LPS_TO_RAS @ a if space == "RAS" else a

    @property
    def spacing(self) -> tuple[float, float, float]:
        """(column spacing, row spacing, |step|): the lengths of the affine's columns."""
        first = self.planes[0]
        return first.pixel_spacing[1], first.pixel_spacing[0], float(np.linalg.norm(self.step))

    @property
    def direction(self) -> list[list[float]]:
        """3x3, columns the unit vectors of the i, j, k axes in LPS (k along the step, not the normal)."""
        a = self.affine()[:3, :3]
        return (a / np.linalg.norm(a, axis=0)).tolist()  # type: ignore[no-any-return]


def unit_normal(orientation: Sequence[float]) -> np.ndarray:
    """``X x Y`` normalised; ``GeometryError`` for a degenerate Image Orientation (Patient)."""
    x, y = np.asarray(orientation[:3], dtype=np.float64), np.asarray(orientation[3:6], dtype=np.float64)
    n = np.cross(x, y)
    norm = float(np.linalg.norm(n))
    unit = abs(float(np.linalg.norm(x)) - 1) <= 0.01 and abs(float(np.linalg.norm(y)) - 1) <= 0.01
    if not math.isfinite(norm) or norm < 0.5 or not unit:
        raise GeometryError(f"Image Orientation (Patient) {list(orientation)} is not two unit vectors")
    return n / norm


def check_consistent(planes: Sequence[Plane]) -> None:
    """Every plane has the first one's size, orientation and pixel spacing."""
    first = planes[0]
    for p in planes[1:]:
        if (p.rows, p.columns) != (first.rows, first.columns):
            raise GeometryError(
                f"mixed sizes: {first.label} is {first.rows}x{first.columns}, {p.label} is {p.rows}x{p.columns}"
            )
        if max(abs(a - b) for a, b in zip(p.orientation, first.orientation, strict=True)) > ORIENTATION_TOLERANCE:
            raise GeometryError(
                f"mixed orientations: {first.label} {list(first.orientation)}, {p.label} {list(p.orientation)}"
            )
        if max(abs(a - b) for a, b in zip(p.pixel_spacing, first.pixel_spacing, strict=True)) > 1e-4:
            raise GeometryError(
                f"mixed pixel spacing: {first.label} {list(first.pixel_spacing)}, {p.label} {list(p.pixel_spacing)}"
            )


def sort_planes(planes: Sequence[Plane]) -> list[Plane]:
    """Sorted by the position along the normal (ties by file name and frame, for a stable order)."""
    n = unit_normal(planes[0].orientation)
    return sorted(planes, key=lambda p: (float(np.dot(p.position, n)), p.source, p.frame))


def volume_geometry(planes: Sequence[Plane], single_slice_spacing: float = 1.0) -> VolumeGeometry:
    """The geometry of the volume the planes form; ``GeometryError`` when they form none."""
    if not planes:
        raise GeometryError("no image planes")
    check_consistent(planes)
    ordered = sort_planes(planes)
    first = ordered[0]
    n = unit_normal(first.orientation)
    pos = np.asarray([p.position for p in ordered], dtype=np.float64)
    warnings: list[str] = []
    if len(ordered) > 1:
        along = pos @ n
        gaps = np.diff(along)
        dup = np.flatnonzero(gaps < POSITION_TOLERANCE_MM)
        if dup.size:
            a, b = ordered[int(dup[0])], ordered[int(dup[0]) + 1]
            raise GeometryError(f"duplicate slice positions: {a.label} and {b.label} at {list(a.position)}")
        mean = float((along[-1] - along[0]) / (len(ordered) - 1))
        worst = int(np.argmax(np.abs(gaps - mean)))
        if abs(gaps[worst] - mean) > max(POSITION_TOLERANCE_MM, SPACING_TOLERANCE * mean):
            raise GeometryError(
                f"non-uniform slice spacing (a missing slice?): {gaps[worst]:.4g} mm between "
                f"{ordered[worst].label} and {ordered[worst + 1].label}, {mean:.4g} mm on average"
            )
        step = (pos[-1] - pos[0]) / (len(ordered) - 1)
    else:
        mean = single_slice_spacing
        step = n * single_slice_spacing
    drift = float(np.linalg.norm(step - float(step @ n) * n)) * max(len(ordered) - 1, 1)
    tilt = math.degrees(math.acos(min(1.0, abs(float(step @ n)) / float(np.linalg.norm(step)))))
    if drift > POSITION_TOLERANCE_MM:
        warnings.append(
            f"gantry tilt {tilt:.3f} deg: the slices are sheared (drift {drift:.3g} mm across the volume); "
            "the affine keeps the shear (NIfTI sform), the qform is its nearest rigid approximation"
        )
    x = np.asarray(first.orientation[:3], dtype=np.float64)
    y = np.asarray(first.orientation[3:6], dtype=np.float64)
    affine = np.eye(4)
    affine[:3, 0] = x * first.pixel_spacing[1]
    affine[:3, 1] = y * first.pixel_spacing[0]
    affine[:3, 2] = step
    affine[:3, 3] = pos[0]
    return VolumeGeometry(
        planes=tuple(ordered),
        normal=(float(n[0]), float(n[1]), float(n[2])),
        step=(float(step[0]), float(step[1]), float(step[2])),
        slice_spacing=float(mean),
        tilt_degrees=tilt,
        affine_lps=tuple(tuple(float(v) for v in row) for row in affine),
        warnings=tuple(warnings),
    )
