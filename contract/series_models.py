"""Options and requests of the series ops: ``volume``, ``nifti`` and ``split_multiframe``.

``volume`` and ``nifti`` take a series: a folder of single-frame slices (or one multi-frame file with
per-frame positions). Slices are ordered by their position along the slice normal (PS3.3 C.7.6.2.1.1),
never by Instance Number. The semantics (geometry, checks, the result of each op) are in ``contract/OPS.md``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dcmharness.contract.models import RequestBase
from dcmharness.contract.options import OptionError

#: A UID: digits and dots, at most 64 characters (PS3.5 9.1).
UID_PATTERN = r"^[0-9]+(\.[0-9]+)*$"
#: Output file name endings of ``nifti`` (compressed or not).
NIFTI_EXTENSIONS = (".nii", ".nii.gz")


class _SeriesOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    series_uid: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        pattern=UID_PATTERN,
        description="The Series Instance UID to use when the folder holds several series (default: the only one).",
    )
    recursive: bool = Field(False, description="Also read the folder's sub-folders.")


class VolumeOptions(_SeriesOptions):
    """Options of ``volume``: a series -> one 3-D array of modality values (``.npy``) and a JSON sidecar.

    (python_ref; simpleitk writes SimpleITK's array and geometry with the same fields.)

    The array's axes are (slice, row, column), slices in order along the normal; its dtype is the smallest of
    uint8, int8, uint16, int16, uint32, int32 that holds every modality value the stored bits and each slice's
    Rescale Slope/Intercept can produce, else float64. The sidecar (``<output stem>.json``) and the result:
    ``{"shape", "dtype", "spacing" ([column, row, slice] mm), "origin", "direction" (3x3, columns the i, j, k
    axes in LPS), "affine_lps", "affine_ras" (4x4 over (column, row, slice)), "slice_spacing", "tilt_degrees",
    "series_uid", "modality", "slices": [{"file", "frame", "position"}], "warnings"}``.
    """


class NiftiOptions(_SeriesOptions):
    """Options of ``nifti``: a series -> NIfTI-1 (``.nii`` or ``.nii.gz``, by the output's name).

    python_ref writes the modality values (dtype as ``volume``, scl_slope 1, scl_inter 0) in the DICOM order
    (i = column, j = row, k = slice along the normal), sform = qform = the RAS affine (code 1, scanner), the
    qform being the nearest rigid transform when the series is sheared (gantry tilt). Result:
    ``{"shape", "dtype", "scl_slope", "scl_inter", "qform_code", "sform_code", "affine_ras" (the sform),
    "pixdim", "series_uid", "slices", "compressed"}``, read back from the written file for every backend.
    """

    sidecar: bool = Field(
        True, description="Also write <output without .nii/.nii.gz>.json (the result plus the slice list)."
    )


class SplitMultiframeOptions(BaseModel):
    """Options of ``split_multiframe``: a multi-frame file -> one single-frame file per frame in the ``output``
    folder (``<input stem>_<frame:04d>.dcm``).

    Each output keeps the input's attributes and Series Instance UID, gets a new SOP Instance UID, Number of
    Frames 1 (removed), Instance Number = frame + 1, the frame's per-frame functional groups and the shared
    ones moved to the top level (Image Position/Orientation (Patient), Pixel Spacing, Slice Thickness, Rescale,
    Window), the functional group sequences removed. Result: ``{"frames": [..], "files": [..],
    "sop_instance_uids": [..], "series_instance_uid"}``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    frames: list[int] | None = Field(
        None, min_length=1, max_length=65536, description="0-based frames to write (default: every frame)."
    )

    @model_validator(mode="after")
    def _check(self) -> SplitMultiframeOptions:
        if self.frames is not None:
            if any(isinstance(f, bool) or f < 0 for f in self.frames):
                raise OptionError("frames", "frames are 0-based integers >= 0")
            if len(set(self.frames)) != len(self.frames):
                raise OptionError("frames", "frames must not repeat")
        return self


class VolumeRequest(RequestBase):
    """A series (folder or multi-frame file) -> a 3-D array of modality values (.npy) and a JSON sidecar."""

    op: Literal["volume"]
    options: VolumeOptions = Field(default_factory=VolumeOptions)


class NiftiRequest(RequestBase):
    """A series (folder or multi-frame file) -> NIfTI-1 (.nii / .nii.gz) and a JSON sidecar."""

    op: Literal["nifti"]
    options: NiftiOptions = Field(default_factory=NiftiOptions)


class SplitMultiframeRequest(RequestBase):
    """A multi-frame file -> one single-frame file per frame."""

    op: Literal["split_multiframe"]
    options: SplitMultiframeOptions = Field(default_factory=SplitMultiframeOptions)
