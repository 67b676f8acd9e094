"""``dcmharness dicomweb-server``: run a DICOMweb server for your own tests until Ctrl-C / SIGTERM.

A private Orthanc with its DICOMweb plugin (``adapters/orthanc/dicomweb_server.py``): it answers only the
loopback address, stores into a temporary folder (removed at the end) and is stopped by its PID on exit, also on
error and Ctrl-C. Once it answers, one JSON line on stdout says where: ``{"backend", "url" (the DICOMweb base
URL), "rest_url" (Orthanc's REST API), "pid", "storage", "version"}``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
from typing import Any

SERVER_BACKENDS = ("orthanc",)


def register(sub: Any) -> None:
    p = sub.add_parser("dicomweb-server", help="run a DICOMweb server (Orthanc) on 127.0.0.1 until Ctrl-C")
    p.add_argument("--backend", choices=SERVER_BACKENDS, default="orthanc")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from dcmharness.adapters.orthanc.dicomweb_server import orthanc_dicomweb_server
    from dcmharness.contract.errors import HarnessError

    with contextlib.ExitStack() as stack:
        previous = signal.signal(signal.SIGTERM, _terminate)
        try:
            peer = stack.enter_context(orthanc_dicomweb_server())
        except HarnessError as exc:
            print(f"dcmharness dicomweb-server: {exc.message}", file=sys.stderr)
            return 1
        finally:
            signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGTERM, _terminate)
        print(
            json.dumps(
                {
                    "backend": args.backend,
                    "url": peer.url,
                    "rest_url": peer.rest_url,
                    "pid": peer.pid,
                    "storage": peer.storage,
                    "version": peer.version,
                }
            ),
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt, SystemExit):
            signal.pause()
    return 0


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(0)
