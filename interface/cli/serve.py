"""``dcmharness serve``: the contract over HTTP on 127.0.0.1, guarded by a token printed at start."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

DEFAULT_PORT = 8765


def register(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="serve the contract over HTTP (POST /run, POST /compare, the comparison page at /)",
        description="An HTTP server for requests confined to --root. Binds 127.0.0.1 unless --host says "
        "otherwise; every request must carry the token printed at start (header 'Authorization: Bearer T', "
        "'X-Dcmharness-Token: T', or '?token=T'). Ctrl-C or SIGTERM stops it and every tool it started.",
    )
    p.add_argument("--root", metavar="DIR", required=True, help="confine every input and output path to DIR")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any free port)")
    p.add_argument("--token", help="the token to require (default: a random one; or $DCMHARNESS_TOKEN)")
    p.add_argument(
        "--max-upload",
        type=int,
        default=256 * 1024 * 1024,
        metavar="BYTES",
        help="largest request body accepted (default 256 MiB)",
    )
    p.add_argument("--cors", metavar="ORIGIN", help="allow this browser origin (default: no CORS headers at all)")
    p.add_argument("--workers", type=int, default=4, help="requests run at once (worker threads, default 4)")
    p.add_argument("--timeout", type=float, default=120.0, help="default timeout (s) of external backends")
    p.add_argument(
        "--out",
        metavar="DIR",
        help="folder for outputs not named by a request (default: a private temp folder removed at stop)",
    )
    p.set_defaults(func=main)


def _stop_tools() -> None:
    """Stop every backend (servers, JVMs, Node workers) and every tool still running in a worker thread."""
    from dcmharness.adapters import runner
    from dcmharness.interface import registry

    registry.close_all()
    runner._kill_leftovers()  # noqa: SLF001 - the runner's own exit hook, called now rather than at exit


def _loopback(host: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def main(args: argparse.Namespace) -> int:
    import socket

    import uvicorn

    from dcmharness.interface.server.app import Settings, create_app
    from dcmharness.interface.server.security import new_token

    root = Path(args.root)
    if not root.is_dir():
        print(f"dcmharness serve: --root is not a folder: {args.root}", file=sys.stderr)
        return 2
    if args.max_upload <= 0 or args.workers <= 0:
        print("dcmharness serve: --max-upload and --workers must be positive", file=sys.stderr)
        return 2
    token = args.token or os.environ.get("DCMHARNESS_TOKEN") or new_token()
    settings = Settings(
        root=root,
        token=token,
        out_dir=Path(args.out) if args.out else None,
        max_upload=args.max_upload,
        cors_origin=args.cors,
        workers=args.workers,
        timeout=args.timeout,
    )
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    # proto IPPROTO_TCP (not 0): asyncio sets TCP_NODELAY only on sockets that say so; without it every
    # keep-alive response waits ~40 ms for the client's delayed ACK (Nagle)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
        sock.listen(2048)  # listening before the URL is printed: a client may connect as soon as it reads it
    except OSError as exc:
        print(f"dcmharness serve: cannot bind {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        sock.close()
        return 2
    host, port = sock.getsockname()[:2]
    app = create_app(settings)
    shown = f"[{host}]" if ":" in host else host
    if not _loopback(host):
        print(
            f"dcmharness serve: WARNING: bound to {host}: reachable from other machines (the token still guards it; "
            "the traffic is plain HTTP)",
            file=sys.stderr,
        )
    print(f"dcmharness serve: root {root.resolve()}", file=sys.stderr)
    print(f"dcmharness serve: open http://{shown}:{port}/?token={token}", file=sys.stderr, flush=True)
    if threading.current_thread() is threading.main_thread():
        # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal: SIGTERM then unwinds like
        # Ctrl-C (exit 143) so that the tools still running are stopped below, not orphaned
        signal.signal(signal.SIGTERM, _terminate)
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5, lifespan="on")
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        _stop_tools()
        sock.close()
    return 0 if server.started else 1
