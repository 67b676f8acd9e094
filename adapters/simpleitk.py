"""SimpleITK (ITK + GDCM; PyPI ``SimpleITK``) as a ``nifti`` backend: ``ImageSeriesReader`` over the
series' files then ``WriteImage``, run in a child process (``adapters/pylib.py``).

Facts (2.5.7, observed with the commands in ``docs/nifti.md``): the per-slice rescale is applied (GDCM
ImageIO), the pixel type is the smallest holding the rescaled values (int16 for the head CT); the image is
stored in the DICOM order with qform = sform, code 1. ITK has no shear: a gantry-tilted series is written
with the slice axis along the normal (the image moved by up to the tilt's drift). A missing slice only
warns ("Non uniform sampling or missing slices detected") and the mean spacing is used: the harness
refuses such a series before any backend runs.

``volume``: ``GetArrayFromImage`` of the same image saved as ``.npy``; the sidecar's affine is the image's
direction times spacing with its origin (ITK's physical space is LPS, like DICOM's).
"""

from __future__ import annotations

from typing import Any

from dcmharness.adapters.pylib import PythonLibraryBackend


def read_series(folder: str) -> tuple[Any, int]:
    """Run in the worker process: the staged series as an ITK image (GDCM orders the files) and its file count."""
    import SimpleITK as sitk

    from dcmharness.adapters.pylib_worker import Refused

    reader = sitk.ImageSeriesReader()
    names = reader.GetGDCMSeriesFileNames(folder)
    if not names:
        raise Refused("GDCM found no DICOM series in the folder")
    reader.SetFileNames(names)
    return reader.Execute(), len(names)


def convert(folder: str, output: str) -> dict[str, Any]:
    """Run in the worker process: the conversion itself."""
    import SimpleITK as sitk

    image, files = read_series(folder)
    sitk.WriteImage(image, output)
    return {"version": sitk.Version_VersionString(), "files": files}


def convert_volume(folder: str, output: str) -> dict[str, Any]:
    """Run in the worker process: the series as a .npy array (GetArrayFromImage: axes slice, row, column) and
    the image's geometry (spacing, origin, direction: row-major 3x3, columns the i, j, k axes, LPS)."""
    import numpy as np
    import SimpleITK as sitk

    from dcmharness.adapters.pylib_worker import Refused

    image, _ = read_series(folder)
    array = sitk.GetArrayFromImage(image)
    dim = image.GetDimension()
    while array.ndim > 3 and array.shape[0] == 1:  # a multi-frame file read as a 4-D image of one volume
        array = array[0]
    if array.ndim != 3:
        raise Refused(f"SimpleITK read a {array.ndim}-D image, not one volume")
    direction = np.asarray(image.GetDirection(), dtype=np.float64).reshape(dim, dim)[:3, :3]
    with open(output, "wb") as fh:
        np.save(fh, array, allow_pickle=False)
    return {
        "version": sitk.Version_VersionString(),
        "spacing": list(image.GetSpacing())[:3],
        "origin": list(image.GetOrigin())[:3],
        "direction": direction.ravel().tolist(),
        "dtype": str(array.dtype),
        "shape": list(array.shape),
    }


class SimpleItkAdapter(PythonLibraryBackend):
    name = "simpleitk"
    description = "SimpleITK (ITK/GDCM): ImageSeriesReader + WriteImage, run in a child process."
    distribution = "SimpleITK"
    module = "dcmharness.adapters.simpleitk"
    ops = ("nifti", "volume")

    def library_warnings(self, stderr: str) -> list[str]:
        """ITK's warnings (printed on stderr by its output window), one line each."""
        out = []
        for block in stderr.split("WARNING:")[1:]:
            text = " ".join(block.split())
            out.append(f"simpleitk: {text[:300]}")
        return out
