"""The reference backend: pydicom + numpy + Pillow, stage by stage as the standard names them.

Stages (one module each, pure functions over numpy arrays): ``decode`` (stored values), ``modality``
(Modality LUT), ``voi`` (VOI LUT / windows), ``presentation`` (Presentation LUT, MONOCHROME1),
``overlays``, ``color``; ``pipeline`` composes them and ``encode`` writes the file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dcmharness.backends.base import Availability, Backend, Outcome

if TYPE_CHECKING:
    import numpy as np

    from dcmharness.backends.outputs import OutputPlan
    from dcmharness.backends.preflight import InputInfo
    from dcmharness.contract.models import RequestBase


class PythonRefBackend(Backend):
    name = "python_ref"
    kind = "in-process"
    description = "The reference renderer (pydicom + numpy + Pillow), to the letter of PS3.3."
    ops = (
        "to_image",
        "dump",
        "info",
        "stats",
        "histogram",
        "transcode",
        "anonymize",
        "volume",
        "nifti",
        "split_multiframe",
        "validate",
        "decode",
        "from_json",
        "echo",
        "store",
        "find",
        "get",
        "stow",
        "qido",
        "wado",
        "modify",
    )

    def availability(self) -> Availability:
        import pydicom

        return Availability(True, f"dcmharness-ref (pydicom {pydicom.__version__})", location="in-process")

    def capabilities(self) -> dict[str, Any]:
        network = {"options": "all", "client": "pynetdicom"}
        return {
            "to_image": {"options": "all", "formats": ["png", "jpeg", "tiff", "pnm"], "bit_depth": [8, 16]},
            "echo": network,
            "store": network,
            "find": network,
            "get": network,
            "stow": {"options": "all", "client": "requests"},
            "qido": {"options": "all", "client": "dicomweb-client"},
            "wado": {"options": "all", "client": "requests"},
        }

    def execute(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan) -> Outcome:
        from dcmharness.backends.python_ref import ops

        return ops.execute(request, info, plan)


def render_array(path: str, frame: int = 0, **options: Any) -> np.ndarray:
    """Render one frame in-process and return the pixels (no file written). Raises ``HarnessError``."""
    from dcmharness.backends.preflight import check_frame, inspect
    from dcmharness.backends.python_ref.pipeline import render_frame
    from dcmharness.contract.options import ToImageOptions

    opts = ToImageOptions.model_validate({"frame": frame, **options})
    info = inspect(path)
    check_frame(info, frame)
    return render_frame(info.dataset, frame, opts, info.transfer_syntax).image
