"""dcmharness: one JSON contract in front of every major DICOM toolkit.

The public Python API (the CLI is ``dcmharness``)::

    import dcmharness
    resp = dcmharness.run({"op": "to_image", "input": "ct.dcm", "output": "ct.png"})
    resps = dcmharness.run({"op": "to_image", "input": "series/", "output": "pngs/"}, jobs=2)  # a folder: a list
    pixels = dcmharness.render("ct.dcm", window_center=40, window_width=400)   # numpy, no file
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "render", "run"]


def run(request: Any, jobs: int = 1, **context: Any) -> Any:
    """Run one request (a dict or a request model) and return its ``Response``. Never raises on user input.

    A request whose input is a folder returns a list: one ``Response`` per file (in the order of their relative
    paths), then the summary (counts per status, skipped entries in its warnings); ``jobs`` worker processes.
    """
    from dcmharness.interface.api import RunContext
    from dcmharness.interface.api import run as _run

    ctx = RunContext(**context)
    from dcmharness.interface.folders import folder_input

    if folder_input(request, ctx):
        from dcmharness.interface.answers import run_folder

        return run_folder(request, ctx, jobs)
    return _run(request, ctx)


def render(path: str, frame: int = 0, **options: Any) -> Any:
    """The python_ref rendering of one frame as a numpy array (nothing written). Raises ``HarnessError``."""
    from dcmharness.interface.api import render as _render

    return _render(path, frame, **options)
