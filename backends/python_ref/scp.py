"""The harness's own DICOM peer (pynetdicom): Verification and Storage SCP of every storage SOP class in every
transfer syntax pynetdicom knows, writing each instance as received (File Meta Information + the data set's
bytes as sent) to ``<store>/<SOP Instance UID>.dcm``. Binds 127.0.0.1 unless told otherwise; rejects
associations calling another AE title (A-ASSOCIATE-RJ, called-AE-title-not-recognized).

Run as its own process (``python -m dcmharness.backends.python_ref.scp --port P --aet A --store DIR``), started
and stopped by PID through ``python_scp()`` or ``dcmharness scp --backend python_ref``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dcmharness.backends.network import Peer, free_port, started_peer

#: The SCP's address space limit (bytes): a peer sending an absurd data set cannot exhaust the machine.
MEMORY_LIMIT = 4 << 30


def _safe_name(uid: str) -> str:
    cleaned = "".join(c for c in uid if c.isdigit() or c == ".").strip(".")
    return cleaned or "instance"


def serve(host: str, port: int, aet: str, store: Path) -> None:
    """Serve until SIGTERM / SIGINT (blocking)."""
    from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, _config, evt
    from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

    # received data sets go to a file as they arrive (never whole in memory), in a hidden folder of the store,
    # and are renamed into place once complete
    _config.STORE_RECV_CHUNKED_DATASET = True
    incoming = store / ".incoming"
    incoming.mkdir(exist_ok=True)
    tempfile.tempdir = str(incoming)

    def on_store(event: Any) -> int:
        uid = _safe_name(str(event.request.AffectedSOPInstanceUID))
        try:
            os.replace(event.dataset_path, store / f"{uid}.dcm")
        except OSError:
            return 0xA700  # Refused: out of resources
        return 0x0000

    ae = AE(ae_title=aet)
    ae.require_called_aet = True
    ae.maximum_pdu_size = 0  # no limit on what we receive per PDU (the peer's choice), as storescp
    for cx in AllStoragePresentationContexts:
        if cx.abstract_syntax is not None:
            ae.add_supported_context(cx.abstract_syntax, ALL_TRANSFER_SYNTAXES)
    ae.add_supported_context(Verification, ALL_TRANSFER_SYNTAXES)
    server = ae.start_server((host, port), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)])
    assert server is not None  # block=False returns the server

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        signal.pause()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.shutdown()
        with contextlib.suppress(OSError):
            incoming.rmdir()


@contextlib.contextmanager
def python_scp(
    store: str | os.PathLike[str], aet: str = "DCMHARNESS-SCP", port: int | None = None, host: str = "127.0.0.1"
) -> Iterator[Peer]:
    """A pynetdicom SCP in its own process, listening on ``host:port`` (a free loopback port by default)."""
    port = port or free_port(host)
    argv = [sys.executable, "-m", "dcmharness.backends.python_ref.scp", "--host", host, "--port", str(port)]
    argv += ["--aet", aet, "--store", str(store)]
    with started_peer(argv, host, port, aet, str(store)) as peer:
        yield peer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--aet", default="DCMHARNESS-SCP")
    parser.add_argument("--store", required=True)
    args = parser.parse_args(argv)
    with contextlib.suppress(ValueError, OSError):
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    store = Path(args.store)
    if not store.is_dir():
        print(f"scp: {store} is not a folder", file=sys.stderr)
        return 2
    serve(args.host, args.port, args.aet, store)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
