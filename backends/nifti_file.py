"""NIfTI-1 files as every ``nifti`` backend's output: the result read back from the written file, and the
sidecar. One function for every backend, so a difference in the results is a difference of the files.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from dcmharness.backends.series import Series
from dcmharness.contract.errors import ErrorCode, HarnessError


def finite(value: Any, default: float) -> float:
    """``value`` as a finite float, else ``default`` (nibabel gives nan or None for an absent scaling)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return default
    return v if math.isfinite(v) else default


def describe(path: Path) -> dict[str, Any]:
    """``shape, dtype, scl_slope, scl_inter, qform_code, sform_code, affine_ras, pixdim, compressed`` of a
    NIfTI file (header only; ``backend_failed`` when it is not a readable NIfTI-1 file)."""
    import gzip

    import nibabel as nib

    with path.open("rb") as fh:
        compressed = fh.read(2) == b"\x1f\x8b"
    # read from a stream: the file's name (a temporary one) need not end with .nii / .nii.gz
    with gzip.open(path, "rb") if compressed else path.open("rb") as stream:
        try:
            holder = nib.FileHolder(fileobj=stream)
            img = nib.Nifti1Image.from_file_map({"image": holder, "header": holder})
        except Exception as exc:
            raise HarnessError(
                ErrorCode.BACKEND_FAILED, f"the output is not a readable NIfTI-1 file: {exc}"[:500]
            ) from None
        hdr = img.header
        slope = finite(img.dataobj.slope, 1.0)  # nibabel moves scl_slope/scl_inter into the array proxy
        inter = finite(img.dataobj.inter, 0.0)
    return {
        "shape": [int(s) for s in img.shape],
        "dtype": str(hdr.get_data_dtype()),
        "scl_slope": 1.0 if slope == 0 else slope,
        "scl_inter": inter,
        "qform_code": int(hdr["qform_code"]),
        "sform_code": int(hdr["sform_code"]),
        "affine_ras": np.asarray(img.affine, dtype=np.float64).round(9).tolist(),
        "pixdim": [float(v) for v in hdr["pixdim"][1 : 1 + len(img.shape)]],
        "compressed": compressed,
    }


def nifti_result(path: Path, series: Series) -> dict[str, Any]:
    """The ``nifti`` result: the written file's description plus what the series was."""
    return {**describe(path), "series_uid": series.series_uid, "slices": len(series.geometry.planes)}


def slice_list(series: Series) -> list[dict[str, Any]]:
    """The planes in volume order: file, frame, position (LPS mm)."""
    return [{"file": p.source, "frame": p.frame, "position": list(p.position)} for p in series.geometry.planes]


def write_sidecar(path: Path, result: dict[str, Any], series: Series, backend: str, warnings: list[str]) -> None:
    doc = {**result, "backend": backend, "slice_order": slice_list(series), "warnings": warnings}
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


def sidecar_path(output: Path) -> Path:
    """``x.nii.gz`` / ``x.nii`` / ``x.npy`` -> ``x.json``."""
    name = output.name
    for ending in (".nii.gz", ".nii", ".npy"):
        if name.lower().endswith(ending):
            return output.with_name(name[: -len(ending)] + ".json")
    return output.with_name(name + ".json")
