"""SimpleITK (ITK + GDCM; PyPI ``SimpleITK``) as a ``nifti`` backend: ``ImageSeriesReader`` over the
series' files then ``WriteImage``, run in a child process (``adapters/pylib.py``).

Facts (2.5.7, observed with the commands in ``docs/nifti.md``): the per-slice rescale is applied (GDCM
ImageIO), the pixel type is the smallest holding the rescaled values (int16 for the head CT); the image is
stored in the DICOM order with qform = sform, code 1. ITK has no shear: a gantry-tilted series is written
with the slice axis along the normal (the image moved by up to the tilt's drift). A missing slice only
warns ("Non uniform sampling or missing slices detected") and the mean spacing is used: the harness
refuses such a series before any backend runs.
"""

from __future__ import annotations

from typing import Any

from dcmharness.adapters.pylib import PythonLibraryBackend


def convert(folder: str, output: str) -> dict[str, Any]:
    """Run in the worker process: the conversion itself."""
    import SimpleITK as sitk

    from dcmharness.adapters.pylib_worker import Refused

    reader = sitk.ImageSeriesReader()
    names = reader.GetGDCMSeriesFileNames(folder)
    if not names:
        raise Refused("GDCM found no DICOM series in the folder")
    reader.SetFileNames(names)
    image = reader.Execute()
    sitk.WriteImage(image, output)
    return {"version": sitk.Version_VersionString(), "files": len(names)}


class SimpleItkAdapter(PythonLibraryBackend):
    name = "simpleitk"
    description = "SimpleITK (ITK/GDCM): ImageSeriesReader + WriteImage, run in a child process."
    distribution = "SimpleITK"
    module = "dcmharness.adapters.simpleitk"

    def library_warnings(self, stderr: str) -> list[str]:
        """ITK's warnings (printed on stderr by its output window), one line each."""
        out = []
        for block in stderr.split("WARNING:")[1:]:
            text = " ".join(block.split())
            out.append(f"simpleitk: {text[:300]}")
        return out
