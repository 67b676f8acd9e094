"""``dcmharness scp``: run a DICOM peer (Verification + Storage SCP) for your own tests until Ctrl-C / SIGTERM.

It binds 127.0.0.1 on a free port unless ``--port`` / ``--host`` say otherwise, stores what it receives under
``--store`` (a temporary folder, removed at the end, by default) and is stopped by its PID on exit, also on
error and Ctrl-C. Once it listens, one JSON line on stdout says where: ``{"backend", "host", "port", "aet",
"store", "pid"}``.

Backends: ``python_ref`` (pynetdicom, every storage SOP class in every transfer syntax). ``dcmtk`` is refused:
its ``storescp`` (3.6.7) has no option to bind one address and would listen on every interface.
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

SCP_BACKENDS = ("python_ref", "dcmtk")
DCMTK_REFUSAL = (
    "dcmtk's storescp 3.6.7 has no option to bind one address: it would listen on every interface, and the "
    "harness starts peers on 127.0.0.1 only; use --backend python_ref"
)


def register(sub: Any) -> None:
    p = sub.add_parser("scp", help="run a DICOM storage SCP on 127.0.0.1 until Ctrl-C")
    p.add_argument("--backend", choices=SCP_BACKENDS, default="python_ref")
    p.add_argument("--port", type=int, default=0, help="TCP port (default: a free one)")
    p.add_argument(
        "--aet", default="DCMHARNESS-SCP", help="the SCP's AE title (associations calling another one are rejected)"
    )
    p.add_argument("--store", help="folder for received files (default: a temporary folder, removed at the end)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: loopback only)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from dcmharness.contract.errors import HarnessError

    if args.backend == "dcmtk":
        print(f"dcmharness scp: {DCMTK_REFUSAL}", file=sys.stderr)
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
        from dcmharness.backends.python_ref.scp import python_scp

        previous = signal.signal(signal.SIGTERM, _terminate)
        try:
            peer = stack.enter_context(python_scp(store, args.aet, args.port or None, args.host))
        except HarnessError as exc:
            print(f"dcmharness scp: {exc.message}", file=sys.stderr)
            return 1
        finally:
            signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGTERM, _terminate)
        print(
            json.dumps(
                {
                    "backend": args.backend,
                    "host": peer.host,
                    "port": peer.port,
                    "aet": peer.aet,
                    "store": str(store),
                    "pid": peer.pid,
                }
            ),
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt, SystemExit):
            signal.pause()
    return 0


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(0)
