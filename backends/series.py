"""A series as the input of ``volume`` and ``nifti``: a folder of slices or one multi-frame file.

The shared checks every backend gets before it runs (as ``preflight`` does for one file): the folder's
DICOM files (hidden files skipped; non-DICOM files and files without pixel data skipped with a warning
each), grouped by Series Instance UID and one series chosen (``options.series_uid``; several series without
it is ``inconsistent_series`` listing them), the image planes read from the headers (Image Position /
Orientation (Patient), Pixel Spacing; the per-frame and shared functional groups of a multi-frame file,
PS3.3 C.7.6.16), their geometry checked (``backends.geometry``), the volume's dtype chosen and its size
bounded before anything is allocated.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dcmharness.backends.geometry import GeometryError, Plane, VolumeGeometry, volume_geometry
from dcmharness.backends.preflight import MAX_DECODED_BYTES, InputInfo, inspect
from dcmharness.contract.errors import ErrorCode, HarnessError

#: A folder with more files than this is refused before their headers are read.
MAX_SERIES_FILES = int(os.environ.get("DCMHARNESS_MAX_SERIES_FILES", "20000"))
#: Integer dtypes a volume may use, smallest first (else float64).
INTEGER_DTYPES = ("uint8", "int8", "uint16", "int16", "uint32", "int32")


@dataclass
class Member:
    """One file of the series (its header; pixel data deferred)."""

    path: Path
    name: str  # relative to the series folder (the file name for a multi-frame file)
    info: InputInfo


@dataclass
class Series:
    """The chosen series: its files, its planes in volume order, their geometry and the volume's dtype."""

    root: Path  # the folder, or the multi-frame file
    series_uid: str
    members: dict[str, Member]  # by name
    geometry: VolumeGeometry
    dtype: str
    modality: str
    multiframe: bool
    warnings: list[str] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.geometry.shape

    @property
    def paths(self) -> list[Path]:
        """The files of the series, in volume order (each once)."""
        seen: dict[str, Path] = {}
        for plane in self.geometry.planes:
            seen.setdefault(plane.source, self.members[plane.source].path)
        return list(seen.values())

    def member(self, plane: Plane) -> Member:
        return self.members[plane.source]

    def nbytes(self) -> int:
        k, j, i = self.shape
        return k * j * i * np.dtype(self.dtype).itemsize


@dataclass
class SeriesInfo(InputInfo):
    """``InputInfo`` of the series' first file, plus the series (what a series op's backend receives)."""

    series: Series | None = None


def _error(message: str, field: str = "input") -> HarnessError:
    return HarnessError(ErrorCode.INCONSISTENT_SERIES, message, field)


def _floats(value: Any, n: int, what: str, where: str) -> tuple[float, ...]:
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise _error(f"{where}: {what} is not {n} numbers: {value!r}") from None
    if len(out) != n or not all(np.isfinite(out)):
        raise _error(f"{where}: {what} is not {n} finite numbers: {value!r}")
    return out


def functional_group(ds: Any, frame: int, macro: str) -> Any:
    """The item of a functional group macro for a frame: per-frame, else shared (PS3.3 C.7.6.16)."""
    for name, index in (("PerFrameFunctionalGroupsSequence", frame), ("SharedFunctionalGroupsSequence", 0)):
        groups = ds.get(name)
        if groups and index < len(groups):
            item = groups[index].get(macro)
            if item:
                return item[0]
    return None


def _plane(name: str, frame: int, position: Any, orientation: Any, spacing: Any, info: InputInfo) -> Plane:
    where = name if frame == 0 else f"{name} frame {frame}"
    pos = _floats(position, 3, "Image Position (Patient)", where)
    ori = _floats(orientation, 6, "Image Orientation (Patient)", where)
    pix = _floats(spacing, 2, "Pixel Spacing", where)
    if min(pix) <= 0:
        raise _error(f"{where}: Pixel Spacing {list(pix)} is not positive")
    return Plane(name, frame, pos, ori, pix, info.rows, info.columns)  # type: ignore[arg-type]


def planes_of(name: str, info: InputInfo) -> list[Plane]:
    """The planes of one file: one for a single-frame image, one per frame for a multi-frame one."""
    ds = info.dataset
    if "PerFrameFunctionalGroupsSequence" in ds:
        planes = []
        for f in range(info.frames):
            pos = functional_group(ds, f, "PlanePositionSequence")
            ori = functional_group(ds, f, "PlaneOrientationSequence")
            pm = functional_group(ds, f, "PixelMeasuresSequence")
            if pos is None or ori is None or pm is None:
                raise _error(f"{name} frame {f}: no Plane Position, Plane Orientation or Pixel Measures group")
            planes.append(
                _plane(
                    name,
                    f,
                    pos.get("ImagePositionPatient"),
                    ori.get("ImageOrientationPatient"),
                    pm.get("PixelSpacing"),
                    info,
                )
            )
        return planes
    if info.frames > 1:
        raise _error(f"{name}: {info.frames} frames without per-frame functional groups: no position per frame")
    for keyword in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing"):
        if ds.get(keyword) in (None, ""):
            raise _error(f"{name}: no {keyword}: the image has no position in the patient")
    return [_plane(name, 0, ds.ImagePositionPatient, ds.ImageOrientationPatient, ds.PixelSpacing, info)]


def list_files(folder: Path, recursive: bool) -> tuple[list[Path], list[str]]:
    """The folder's regular files (sorted; hidden files and folders skipped) and the warnings about them."""
    files: list[Path] = []
    warnings: list[str] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")) if recursive else []
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if name.startswith("."):
                warnings.append(f"{path.relative_to(folder)}: hidden file skipped")
            elif path.is_file():
                files.append(path)
            if len(files) > MAX_SERIES_FILES:
                raise HarnessError(
                    ErrorCode.INPUT_TOO_LARGE,
                    f"the folder holds more than {MAX_SERIES_FILES} files (set DCMHARNESS_MAX_SERIES_FILES)",
                    "input",
                )
    return files, warnings


def read_members(folder: Path, files: list[Path]) -> tuple[list[Member], list[str]]:
    """Each file's shared checks (``preflight.inspect``); non-DICOM files and files without pixel data are
    skipped with a warning, any other failure names the file."""
    members: list[Member] = []
    warnings: list[str] = []
    for path in files:
        name = str(path.relative_to(folder))
        try:
            info = inspect(str(path))
        except HarnessError as exc:
            if exc.code in (ErrorCode.NOT_DICOM, ErrorCode.NO_PIXEL_DATA):
                warnings.append(f"{name}: skipped ({exc.code.value}: {exc.message})")
                continue
            raise HarnessError(exc.code, f"{name}: {exc.message}", exc.field) from None
        members.append(Member(path, name, info))
    return members, warnings


def series_uid_of(member: Member) -> str:
    return str(member.info.dataset.get("SeriesInstanceUID", "") or "")


def choose_series(members: list[Member], wanted: str | None) -> tuple[str, list[Member], list[str]]:
    """The chosen series' members; ``inconsistent_series`` / ``invalid_request`` listing the series found."""
    groups: dict[str, list[Member]] = {}
    for m in members:
        groups.setdefault(series_uid_of(m), []).append(m)

    def listing() -> str:
        parts = []
        for uid, ms in groups.items():
            ds = ms[0].info.dataset
            desc = str(ds.get("SeriesDescription", "") or "")
            parts.append(
                f"{uid or '(no Series Instance UID)'} ({len(ms)} files, {ms[0].info.modality or '?'}"
                + (f", {desc!r}" if desc else "")
                + ")"
            )
        return "; ".join(parts)

    if wanted is not None:
        if wanted not in groups:
            raise HarnessError(
                ErrorCode.INVALID_REQUEST,
                f"series {wanted} is not in the input; found: {listing()}",
                "options.series_uid",
            )
        others = sum(len(ms) for uid, ms in groups.items() if uid != wanted)
        notes = [f"{others} files of {len(groups) - 1} other series ignored"] if others else []
        return wanted, groups[wanted], notes
    if len(groups) > 1:
        raise _error(
            f"the input holds {len(groups)} series: {listing()}; choose one with series_uid", "options.series_uid"
        )
    uid = next(iter(groups))
    return uid, groups[uid], []


def volume_dtype(members: list[Member]) -> str:
    """The smallest integer dtype holding every modality value the members' stored bits and rescale (or
    Modality LUT) can produce; float64 when a rescale is not integral."""
    from dcmharness.backends.python_ref.modality import rescale_params, theoretical_range

    lo, hi = 0.0, 0.0
    integral = True
    for m in members:
        ds = m.info.dataset
        for f in range(m.info.frames):
            params = rescale_params(ds, f)
            if params is not None and not all(float(v).is_integer() for v in params):
                integral = False
            a, b = theoretical_range(ds, f)
            lo, hi = min(lo, a), max(hi, b)
            if "PerFrameFunctionalGroupsSequence" not in ds:
                break
    if integral:
        for name in INTEGER_DTYPES:
            limits = np.iinfo(np.dtype(name))
            if limits.min <= lo and hi <= limits.max:
                return name
    return "float64"


def inspect_series(path: Path, series_uid: str | None = None, recursive: bool = False) -> SeriesInfo:
    """Check and describe the series at ``path`` (a folder, or a multi-frame file)."""
    if not path.exists():
        raise HarnessError(ErrorCode.INPUT_NOT_FOUND, f"input not found: {path}", "input")
    warnings: list[str] = []
    if path.is_dir():
        files, warnings = list_files(path, recursive)
        members, skipped = read_members(path, files)
        warnings += skipped
        if not members:
            raise HarnessError(
                ErrorCode.INPUT_NOT_FOUND, f"no DICOM image in the folder {path} ({len(files)} files read)", "input"
            )
        root, multiframe = path, False
    else:
        info = inspect(str(path))
        members = [Member(path, path.name, info)]
        root, multiframe = path, True
    uid, chosen, notes = choose_series(members, series_uid)
    warnings += notes
    for m in chosen:
        if m.info.is_color:
            raise HarnessError(
                ErrorCode.INVALID_REQUEST,
                f"{m.name}: a volume holds grayscale modality values; this image is {m.info.photometric}",
                "input",
            )
    planes = [p for m in chosen for p in planes_of(m.name, m.info)]
    try:
        geometry = volume_geometry(planes, _single_slice_spacing(chosen[0].info.dataset))
    except GeometryError as exc:
        raise _error(str(exc)) from None
    series = Series(
        root=root,
        series_uid=uid,
        members={m.name: m for m in chosen},
        geometry=geometry,
        dtype=volume_dtype(chosen),
        modality=chosen[0].info.modality,
        multiframe=multiframe and chosen[0].info.frames > 1,
        warnings=warnings + list(geometry.warnings),
    )
    if series.nbytes() > MAX_DECODED_BYTES:
        raise HarnessError(
            ErrorCode.INPUT_TOO_LARGE,
            f"the volume would need {series.nbytes()} bytes ({'x'.join(map(str, series.shape))} {series.dtype}; "
            f"limit {MAX_DECODED_BYTES}, set DCMHARNESS_MAX_DECODED_BYTES to change it)",
            "input",
        )
    first = chosen[0].info
    return SeriesInfo(**{k: getattr(first, k) for k in InputInfo.__dataclass_fields__}, series=series)


def _single_slice_spacing(ds: Any) -> float:
    for keyword in ("SpacingBetweenSlices", "SliceThickness"):
        try:
            value = float(ds.get(keyword) or 0)
        except (TypeError, ValueError):
            continue
        if value > 0:
            return value
    return 1.0
