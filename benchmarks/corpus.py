"""The sample images the benchmarks draw from: each read once by the shared preflight."""

from __future__ import annotations

import warnings

from backends.preflight import InputInfo


def sample_infos() -> list[InputInfo]:
    """Every sample image (``interface.samples.image_files`` order) that the shared input checks accept."""
    from backends.preflight import inspect
    from contract.errors import HarnessError
    from interface.samples import image_files

    warnings.filterwarnings("ignore", category=UserWarning)  # pydicom on the damaged sample files
    infos = []
    for path in image_files():
        try:
            infos.append(inspect(str(path)))
        except HarnessError:
            continue
    return infos
