"""dcmharness: one JSON contract in front of every major DICOM toolkit.

The public Python API (the CLI is ``dcmharness``)::

    import dcmharness
    resp = dcmharness.run({"op": "to_image", "input": "ct.dcm", "output": "ct.png"})
    pixels = dcmharness.render("ct.dcm", window_center=40, window_width=400)   # numpy, no file
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "render", "run"]


def run(request: Any, **context: Any) -> Any:
    """Run one request (a dict or a request model) and return its ``Response``. Never raises on user input."""
    from dcmharness.interface.api import RunContext
    from dcmharness.interface.api import run as _run

    return _run(request, RunContext(**context) if context else None)


def render(path: str, frame: int = 0, **options: Any) -> Any:
    """The python_ref rendering of one frame as a numpy array (nothing written). Raises ``HarnessError``."""
    from dcmharness.interface.api import render as _render

    return _render(path, frame, **options)
