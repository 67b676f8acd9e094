"""Orthanc as a DICOM peer the harness starts: its DICOM server (storage, C-FIND, C-GET) with the AE title
given, accepting any calling AE title, storage and index in a temporary folder; its REST API kept for the
harness (``Peer.store_dir`` is the folder; ``OrthancPeer.http_url`` the API).

Orthanc 1.10 has no option to bind one address for its DICOM port (nor for HTTP; ``server.py``): the
configuration keys it knows (``strings Orthanc | grep ^Dicom``) name a port, none an address. So it runs in a
network namespace of its own whose only interface is its loopback, reached through the harness's relays on
127.0.0.1 (``adapters/loopback_ns.py``): one for DICOM, one for HTTP.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dcmharness.backends.network import Peer, free_port
from dcmharness.contract.errors import ErrorCode, HarnessError

INNER_DICOM_PORT = 4242
INNER_HTTP_PORT = 8042


def dicom_peer_config(folder: Path, aet: str, plugins: Sequence[str] = ()) -> dict[str, Any]:
    """The configuration of a private Orthanc with its DICOM server on (inside its namespace): the private
    server's configuration (``server_config``, HTTP loopback-only; DICOMweb at ``/dicom-web/`` when its plugin
    is given) plus the DICOM keys. Pure."""
    from dcmharness.adapters.orthanc.server import server_config

    config = server_config(INNER_HTTP_PORT, folder, plugins)
    config.update(
        {
            "Name": "dcmharness-peer",
            "DicomServerEnabled": True,
            "DicomAet": aet,
            "DicomPort": INNER_DICOM_PORT,
            "DicomCheckCalledAet": True,  # another called AE title is rejected, as the harness's own SCP does
            "DicomCheckModalityHost": False,
            "DicomAlwaysAllowEcho": True,
            "DicomAlwaysAllowStore": True,
            "DicomAlwaysAllowFind": True,
            "DicomAlwaysAllowGet": True,
            "UnknownSopClassAccepted": True,
            "DicomScpTimeout": 30,
            "DicomModalities": {},
            "StorageCompression": False,
            "OverwriteInstances": True,
        }
    )
    return config


@dataclass(frozen=True)
class OrthancPeer(Peer):
    http_url: str = ""
    dicomweb_url: str = ""  # its DICOMweb service (the same store), when the plugin is installed


def orthanc_binary() -> str:
    from dcmharness.adapters.orthanc.adapter import OrthancAdapter

    found = OrthancAdapter().find()
    if found is None:
        raise HarnessError(
            ErrorCode.BACKEND_UNAVAILABLE, "Orthanc is not installed (apt-get install orthanc)", "backend"
        )
    return found


@contextlib.contextmanager
def orthanc_peer(aet: str = "ORTHANC-PEER", port: int | None = None) -> Iterator[OrthancPeer]:
    """A private Orthanc until the block ends: DICOM at 127.0.0.1:``port`` (a free one by default), its REST API
    at ``http_url``; storage in a temporary folder (removed at the end); stopped by PID."""
    from dcmharness.adapters.loopback_ns import isolated_peer
    from dcmharness.adapters.orthanc.server import cap_memory, find_plugins

    binary = orthanc_binary()
    plugin = find_plugins().get("dicomweb")
    plugins = [plugin] if plugin else []
    with tempfile.TemporaryDirectory(prefix="dcmharness-orthanc-peer-") as work:
        folder = Path(work)
        config = folder / "orthanc.json"
        config.write_text(json.dumps(dicom_peer_config(folder, aet, plugins), indent=2))
        host_port = port or free_port()
        extra = {INNER_HTTP_PORT: 0}
        with isolated_peer(
            [binary, str(config)], host_port, INNER_DICOM_PORT, aet, str(folder / "storage"), extra, cwd=work,
            log=str(folder / "orthanc.log"),
        ) as (peer, ports):  # fmt: skip
            cap_memory(peer.pid)
            http_url = f"http://127.0.0.1:{ports[INNER_HTTP_PORT]}"
            dicomweb = f"{http_url}/dicom-web" if plugins else ""
            yield OrthancPeer(peer.host, peer.port, aet, peer.pid, peer.store_dir, http_url, dicomweb)
