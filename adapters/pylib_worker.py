"""The child process that runs a Python converter library on one staged series (``python -m`` this module).

dicom2nifti and SimpleITK are libraries, not tools: run inside the harness, a crash (a C++ exception
escaping ITK, a segfault in GDCM), a hang or a runaway allocation would take the run down with it. So each
conversion runs here, in a child started like any external tool (``adapters.runner.run_tool``: argv,
timeout, process group killed), which first caps its own address space (RLIMIT_AS).

argv: ``MODULE INPUT_FOLDER OUTPUT_FILE --memory BYTES [--op volume]``, MODULE the adapter module whose
``convert(folder, output)`` (``convert_volume`` for ``--op volume``) runs the library
(``dcmharness.adapters.dicom2nifti``, ``dcmharness.adapters.simpleitk``).
stdout: one JSON line, ``{"ok": true, ...}`` or ``{"ok": false, "kind": "refused"|"failed", "error": ...}``;
exit status 0, ``EXIT_REFUSED`` (the library refused the series: a validation error) or ``EXIT_FAILED``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import sys
from typing import Any

EXIT_REFUSED = 3
EXIT_FAILED = 4
#: The modules a worker may load (nothing else is imported from an argument).
MODULES = ("dcmharness.adapters.dicom2nifti", "dcmharness.adapters.simpleitk")


class Refused(Exception):
    """The library declined the series (e.g. dicom2nifti's ConversionValidationError)."""


def limit_memory(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="pylib_worker")
    p.add_argument("module", choices=MODULES)
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--memory", type=int, required=True)
    p.add_argument("--op", choices=("nifti", "volume"), default="nifti")
    args = p.parse_args(argv)
    limit_memory(args.memory)
    answer: dict[str, Any]
    try:
        module = importlib.import_module(args.module)
        convert = module.convert_volume if args.op == "volume" else module.convert
        answer = {"ok": True, **convert(args.input, args.output)}
    except Refused as exc:
        answer = {"ok": False, "kind": "refused", "error": str(exc)[:2000]}
    except MemoryError:
        answer = {"ok": False, "kind": "failed", "error": f"out of memory (limit {args.memory} bytes)"}
    except Exception as exc:  # the library's own failure: reported as such, never a traceback
        answer = {"ok": False, "kind": "failed", "error": f"{type(exc).__name__}: {exc}"[:2000]}
    print(json.dumps(answer), flush=True)
    if answer["ok"]:
        return 0
    return EXIT_REFUSED if answer["kind"] == "refused" else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
