"""The sample images the benchmarks draw from: each read once by the shared preflight."""

from __future__ import annotations

import warnings

from dcmharness.backends.preflight import InputInfo


def sample_infos() -> list[InputInfo]:
    """Every sample image (``dcmharness.interface.samples.image_files`` order) that the shared input checks accept."""
    from dcmharness.backends.preflight import inspect
    from dcmharness.contract.errors import HarnessError
    from dcmharness.interface.samples import image_files

    warnings.filterwarnings("ignore", category=UserWarning)  # pydicom on the damaged sample files
    infos = []
    for path in image_files():
        try:
            infos.append(inspect(str(path)))
        except HarnessError:
            continue
    return infos
