"""``dcmharness scp``: run a DICOM peer (Verification, Storage, C-FIND and C-GET SCP) for your own tests until
Ctrl-C / SIGTERM.

It listens on 127.0.0.1 on a free port unless ``--port`` says otherwise, stores what it receives under
``--store`` (a temporary folder, removed at the end, by default) and is stopped by its PID on exit, also on
error and Ctrl-C. Once it listens, one JSON line on stdout says where: ``{"backend", "host", "port", "aet",
"store", "pid"}`` (orthanc adds ``http_url``, its REST API, and ``dicomweb_url``, its DICOMweb service).

Backends: ``python_ref`` (pynetdicom, every storage SOP class in every transfer syntax; ``--host`` may name
another address); ``orthanc`` (a private Orthanc, DICOM server on) and ``dcmtk`` (``dcmqrscp`` with a generated
configuration): neither can bind one address, so each runs in a network namespace of its own (only its loopback)
reached through a relay on 127.0.0.1 (``adapters/loopback_ns.py``; needs root); ``--host`` is refused for them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

SCP_BACKENDS = ("python_ref", "orthanc", "dcmtk")
DEFAULT_AETS = {"python_ref": "DCMHARNESS-SCP", "orthanc": "ORTHANC-PEER", "dcmtk": "DCMHARNESS-QR"}


def register(sub: Any) -> None:
    p = sub.add_parser("scp", help="run a DICOM storage SCP on 127.0.0.1 until Ctrl-C")
    p.add_argument("--backend", choices=SCP_BACKENDS, default="python_ref")
    p.add_argument("--port", type=int, default=0, help="TCP port (default: a free one)")
    p.add_argument(
        "--aet",
        help="the SCP's AE title (associations calling another one are rejected; default DCMHARNESS-SCP, "
        "ORTHANC-PEER, DCMHARNESS-QR)",
    )
    p.add_argument(
        "--store",
        help="folder for received files (default: a temporary folder, removed at the end; orthanc: always its "
        "own temporary storage)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: loopback only)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from dcmharness.contract.errors import HarnessError

    aet = args.aet or DEFAULT_AETS[args.backend]
    if args.backend != "python_ref" and args.host != "127.0.0.1":
        print(f"dcmharness scp: --host: the {args.backend} peer is reached on 127.0.0.1 only", file=sys.stderr)
        return 2
    if args.backend == "orthanc" and args.store:
        print("dcmharness scp: --store: Orthanc keeps its own storage (a temporary folder)", file=sys.stderr)
        return 2
    if not 0 <= args.port <= 65535:
        print("dcmharness scp: --port must be 0..65535", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        if args.store:
            store = Path(args.store)
            if not store.is_dir():
                print(f"dcmharness scp: {store} is not a folder", file=sys.stderr)
                return 2
        else:
            store = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dcmharness-scp-")))
        previous = signal.signal(signal.SIGTERM, _terminate)
        try:
            peer = stack.enter_context(_peer(args.backend, store, aet, args.port or None, args.host))
        except HarnessError as exc:
            print(f"dcmharness scp: {exc.message}", file=sys.stderr)
            return 1
        finally:
            signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGTERM, _terminate)
        where = {"backend": args.backend, "host": peer.host, "port": peer.port, "aet": peer.aet}
        where.update({"store": peer.store_dir if args.backend == "orthanc" else str(store), "pid": peer.pid})
        if getattr(peer, "http_url", None):
            where["http_url"] = peer.http_url
        if getattr(peer, "dicomweb_url", None):
            where["dicomweb_url"] = peer.dicomweb_url
        print(json.dumps(where), flush=True)
        with contextlib.suppress(KeyboardInterrupt, SystemExit):
            signal.pause()
    return 0


def _peer(backend: str, store: Path, aet: str, port: int | None, host: str) -> Any:
    """The context manager starting the chosen peer."""
    if backend == "orthanc":
        from dcmharness.adapters.orthanc.peer import orthanc_peer

        return orthanc_peer(aet, port)
    if backend == "dcmtk":
        from dcmharness.adapters.dcmtk.peer import dcmqrscp_peer

        return dcmqrscp_peer(store, aet, port)
    from dcmharness.backends.python_ref.scp import python_scp

    return python_scp(store, aet, port, host)


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(0)
