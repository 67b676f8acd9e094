"""dcmtk's ``dcmqrscp`` as a DICOM peer the harness starts: storage, C-FIND and C-GET (patient and study root)
over a generated configuration (one AE title, one storage area in a temporary folder).

dcmqrscp 3.6.7 has no option to bind one address (its port is opened by the DICOM upper layer on every
interface; neither the command line, ``dcmqrscp --help``, nor the configuration file's ``NetworkTCPPort`` name an
address), so it runs in a network namespace of its own whose only interface is its loopback, reached through the
harness's relay on 127.0.0.1 (``adapters/loopback_ns.py``): nothing listens on another interface of the host.
It runs in its default fork mode: in single-process mode (``-s``) 3.6.7 ended with SIGSEGV after its first
association (observed: the child's wait status 11 after one C-ECHO).

Facts (3.6.7): it accepts the uncompressed transfer syntaxes only (its ``+x=`` default: no option accepts every
compressed one), so a file in a compressed transfer syntax cannot be stored into it as it is; a C-FIND below the
study level needs the unique keys of the levels above it (hierarchical query, PS3.4 C.4.1.2.2.1).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from dcmharness.backends.network import Peer, free_port
from dcmharness.contract.errors import ErrorCode, HarnessError

#: The studies dcmqrscp keeps in its storage area (it deletes the oldest beyond its quota; it caps this at 500).
MAX_STUDIES = 500
MAX_BYTES_PER_STUDY = "1024mb"


def dcmqrscp_config(port: int, aet: str, storage: Path) -> str:
    """The configuration file of a dcmqrscp with one AE title (read/write, any peer) storing under ``storage``
    (no UserName/GroupName: it does not change user). Pure."""
    return "\n".join(
        [
            f"NetworkTCPPort  = {port}",
            "MaxPDUSize      = 16384",
            "MaxAssociations = 16",
            "",
            "HostTable BEGIN",
            "HostTable END",
            "",
            "VendorTable BEGIN",
            "VendorTable END",
            "",
            "AETable BEGIN",
            f'"{aet}"  {storage}  RW  ({MAX_STUDIES}, {MAX_BYTES_PER_STUDY})  ANY',
            "AETable END",
            "",
        ]
    )


def dcmqrscp_argv(tool: str, config: Path, port: int) -> list[str]:
    """The argv of dcmqrscp: the generated configuration, host names not looked up (``-dhl``). Pure."""
    return [tool, "-dhl", "-c", str(config), str(port)]


def dcmqrscp_tool() -> str:
    tool = shutil.which("dcmqrscp")
    if tool is None:
        raise HarnessError(
            ErrorCode.BACKEND_UNAVAILABLE, "dcmtk's dcmqrscp is not installed (apt-get install dcmtk)", "backend"
        )
    return tool


@contextlib.contextmanager
def dcmqrscp_peer(
    store: str | Path | None = None, aet: str = "DCMHARNESS-QR", port: int | None = None
) -> Iterator[Peer]:
    """A dcmqrscp until the block ends, reached at 127.0.0.1:``port`` (a free one by default), its storage area
    ``store`` (a temporary folder by default, removed at the end), stopped by PID (its process group)."""
    from dcmharness.adapters.loopback_ns import isolated_peer

    tool = dcmqrscp_tool()
    if "\\" in aet or '"' in aet:
        raise HarnessError(ErrorCode.INVALID_REQUEST, f"AE title {aet!r}: no quote or backslash", "aet")
    with tempfile.TemporaryDirectory(prefix="dcmharness-dcmqrscp-") as work:
        storage = Path(store) if store is not None else Path(work) / "storage"
        storage.mkdir(exist_ok=True)
        inner = 11112
        config = Path(work) / "dcmqrscp.cfg"
        config.write_text(dcmqrscp_config(inner, aet, storage.resolve()))
        argv = dcmqrscp_argv(tool, config, inner)
        host_port = port or free_port()
        with isolated_peer(argv, host_port, inner, aet, str(storage), cwd=work, log=str(Path(work) / "log")) as (
            peer,
            _,
        ):
            yield peer
