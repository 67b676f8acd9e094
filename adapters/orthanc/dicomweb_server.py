"""A DICOMweb server for the harness's own tests: a private Orthanc (``server.py``: 127.0.0.1 only, temporary
storage, stopped by PID, also at exit, on SIGTERM and Ctrl-C) with the DICOMweb plugin loaded, whose base URL
is ``http://127.0.0.1:<port>/dicom-web`` (the plugin's ``Root``, ``server_config``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from dcmharness.adapters.orthanc.server import OrthancServer, find_plugins
from dcmharness.contract.errors import ErrorCode, HarnessError

DICOMWEB_ROOT = "/dicom-web"


@dataclass(frozen=True)
class DicomwebPeer:
    """A DICOMweb server the harness started: its base URL, the server's REST root, PID and storage folder."""

    url: str
    rest_url: str
    pid: int
    storage: str
    version: str | None


def orthanc_binary() -> str | None:
    from dcmharness.adapters.orthanc.adapter import OrthancAdapter

    tool = OrthancAdapter().tool()
    return tool.path if tool else None


@contextlib.contextmanager
def orthanc_dicomweb_server(binary: str | None = None) -> Iterator[DicomwebPeer]:
    """A private Orthanc with its DICOMweb plugin, for the block; ``backend_unavailable`` without the binary or
    the plugin (``apt-get install orthanc orthanc-dicomweb``)."""
    plugin = find_plugins().get("dicomweb")
    if plugin is None:
        raise HarnessError(
            ErrorCode.BACKEND_UNAVAILABLE, "the Orthanc DICOMweb plugin (libOrthancDicomWeb.so) is missing", "backend"
        )
    server = OrthancServer(binary=binary or orthanc_binary(), plugins=[plugin])
    server.start()
    try:
        assert server.pid is not None and server.folder is not None
        yield DicomwebPeer(
            server.base_url + DICOMWEB_ROOT, server.base_url, server.pid, str(server.folder / "storage"), server.version
        )
    finally:
        server.stop()
