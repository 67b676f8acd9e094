"""dicom2nifti (icometrix; PyPI ``dicom2nifti``) as a ``nifti`` backend, run in a child process
(``adapters/pylib.py``, ``adapters/pylib_worker.py``).

``convert`` is what the child runs: ``dicom2nifti.dicom_series_to_nifti(folder, output,
reorient_nifti=False)`` with the library's default settings (its validations on, gantry-tilt resampling
off; the settings are module globals, set nowhere else). Facts (2.6.2, read in its source and observed):

- it refuses a gantry-tilted series ("Orthogonality check failed: non cubical image",
  ``ConversionValidationError('NON_CUBICAL_IMAGE/GANTRY_TILT')``) unless resampling is enabled, which would
  change the voxel grid: refused here before running (``unsupported_option``, field ``input``);
- it refuses 3 slices or fewer (common.py ``validate_slicecount``: ``TOO_FEW_SLICES/LOCALIZER``): refused here too;
- its voxels are float64 whenever a rescale is present: ``common.apply_scaling`` is pydicom's
  ``apply_modality_lut`` (common.py, ``apply_scaling``), which returns float64;
- the image is written by nibabel with its defaults: sform code 2 (aligned), qform code 0, units mm.
"""

from __future__ import annotations

from typing import Any

from dcmharness.adapters.pylib import PythonLibraryBackend
from dcmharness.adapters.series_run import series_of
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import RequestBase

MIN_SLICES = 4  # common.validate_slicecount: "if len(dicoms) <= 3: raise ... TOO_FEW_SLICES/LOCALIZER"


def convert(folder: str, output: str) -> dict[str, Any]:
    """Run in the worker process: the conversion itself."""
    from importlib import metadata

    import dicom2nifti
    import dicom2nifti.exceptions as d2n_errors

    from dcmharness.adapters.pylib_worker import Refused

    try:
        dicom2nifti.dicom_series_to_nifti(folder, output, reorient_nifti=False)
    except (d2n_errors.ConversionValidationError, d2n_errors.ConversionError) as exc:
        raise Refused(f"{type(exc).__name__}: {exc}") from None
    return {"version": metadata.version("dicom2nifti")}


def refused(message: str) -> HarnessError:
    """``unsupported_option`` on ``input``: this series is one the library declines (decided before running)."""
    return HarnessError(ErrorCode.UNSUPPORTED_OPTION, message, "input")


class Dicom2niftiAdapter(PythonLibraryBackend):
    name = "dicom2nifti"
    description = "dicom2nifti (Python): DICOM series to NIfTI, run in a child process."
    distribution = "dicom2nifti"
    module = "dcmharness.adapters.dicom2nifti"

    def check_input(self, request: RequestBase, info: InputInfo | None) -> list[str]:
        series = series_of(info)
        if series.geometry.sheared:
            raise refused(
                "dicom2nifti refuses a gantry-tilted series (NON_CUBICAL_IMAGE/GANTRY_TILT) unless it resamples "
                "it, which changes the voxel grid",
            )
        if len(series.geometry.planes) < MIN_SLICES:
            raise refused(f"dicom2nifti needs at least {MIN_SLICES} slices (TOO_FEW_SLICES/LOCALIZER)")
        return []
