"""The Orthanc backend: a private server (``server.py``) per process, ``to_image`` through the DICOMweb
plugin's WADO-RS ``/rendered`` route (what is asked and refused: ``rendering.py``, with the facts it relies
on), ``dump``, ``info``, ``transcode`` and ``anonymize`` through its REST API (``ops.py``).

Per request: upload the file (``POST /instances``), fetch each frame from
``/dicom-web/studies/{study}/series/{series}/instances/{sop}/frames/{n}/rendered`` (``n`` 1-based) with
``Accept: image/png`` or ``image/jpeg``, then delete the instance (Orthanc derives the instance ID from the
UIDs and does not replace a stored instance on re-upload, so one left behind would be served again).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

from dcmharness.adapters.base import Capability, ToolAdapter, verify_images
from dcmharness.adapters.network_client import with_client
from dcmharness.adapters.orthanc.client import (
    delete_call,
    http,
    instance_uids,
    json_body,
    server_failure,
    upload_call,
)
from dcmharness.adapters.orthanc.dicomweb import with_dicomweb
from dcmharness.adapters.orthanc.network import ORTHANC_CLIENT  # echo, store, find as SCU: network.py
from dcmharness.adapters.orthanc.ops import check_op_input, execute_op, ops_capabilities
from dcmharness.adapters.orthanc.rendering import MIME, VoiPlan, capability_table, plan_voi, refusals, rendered_call
from dcmharness.adapters.orthanc.server import URL_ENV, OrthancServer, find_plugins
from dcmharness.adapters.runner import DEFAULT_TIMEOUT, ToolError
from dcmharness.backends.base import Availability, Outcome
from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import RequestBase, ToImageRequest
from dcmharness.contract.options import format_for


# -- the backend ------------------------------------------------------------------------------------------
@with_client(ORTHANC_CLIENT)  # echo, store, find: Orthanc as a DIMSE client (network.py)
@with_dicomweb  # stow, qido, wado: Orthanc as a DICOMweb client (dicomweb.py)
class OrthancAdapter(ToolAdapter):
    name = "orthanc"
    kind = "http"
    description = (
        "Orthanc + its DICOMweb plugin over HTTP (a private server per run): WADO-RS /rendered and /metadata, "
        "/modify (Transcode; modify), /anonymize."
    )
    tools = ("Orthanc",)
    env_var = "ORTHANC_HOME"
    install_hint = "apt-get install orthanc orthanc-dicomweb orthanc-gdcm, or set DCMHARNESS_ORTHANC_URL"
    ops = ("to_image", "dump", "info", "transcode", "anonymize", "modify", "decode")

    def __init__(self) -> None:
        super().__init__()
        self._server: OrthancServer | None = None
        self._transcoder: OrthancServer | None = None
        self._availability: Availability | None = None
        self._server_lock = threading.Lock()
        self._uid_locks: dict[tuple[str, str, str], threading.Lock] = {}
        self._uid_locks_guard = threading.Lock()

    # -- discovery ----------------------------------------------------------------------------------
    def find(self) -> str | None:
        found = super().find()
        if found is None and not os.environ.get(self.env_var or ""):
            for folder in ("/usr/sbin", "/usr/local/sbin"):  # Debian installs it outside a user's PATH
                cand = os.path.join(folder, "Orthanc")
                if os.access(cand, os.X_OK):
                    return cand
        return found

    def availability(self) -> Availability:
        """Installed binary and DICOMweb plugin (or a server answering at ``$DCMHARNESS_ORTHANC_URL``); a
        positive answer is kept for the process (every request asks)."""
        if self._availability is not None:
            return self._availability
        url = os.environ.get(URL_ENV)
        if url:
            probe = OrthancServer.from_url(url)
            try:
                probe.start()
            except HarnessError as exc:
                return Availability(False, None, exc.message)
            avail = Availability(True, probe.version, location=url)
        else:
            avail = super().availability()
            if avail.available and "dicomweb" not in find_plugins():
                avail = Availability(
                    False, avail.version, "the Orthanc DICOMweb plugin (libOrthancDicomWeb.so) is missing"
                )
        if avail.available:
            self._availability = avail
        return avail

    def capabilities_for(self, version: str | None) -> dict[str, dict[str, Capability]]:

        return capability_table(version) | ops_capabilities()

    def check_input(self, request: RequestBase, info: InputInfo | None) -> list[str]:
        if isinstance(request, ToImageRequest):
            if info is not None:
                refusals(request, info)
            return []

        check_op_input(request, info)
        return []

    # -- the server ---------------------------------------------------------------------------------
    def server(self) -> OrthancServer:
        """The server of this run, started on first use (and again if it died)."""
        with self._server_lock:
            if self._server is not None and (self._server.external or self._server.running):
                return self._server
            if self._server is not None:
                self._server.stop()
            url = os.environ.get(URL_ENV)
            if url:
                server = OrthancServer.from_url(url)
            else:
                tool = self.tool()
                plugins = find_plugins()
                server = OrthancServer(binary=tool.path if tool else None, plugins=list(plugins.values()))
            server.start()
            self._server = server
            return server

    def transcoding_server(self) -> OrthancServer:
        """The server ``transcode`` runs on: ours without the GDCM plugin, whose transcoder crashes the server
        (``adapters/orthanc/ops.py``); started on first use (and again if it died). A server given by URL is
        used for everything."""
        if os.environ.get(URL_ENV):
            return self.server()
        with self._server_lock:
            if self._transcoder is not None and self._transcoder.running:
                return self._transcoder
            if self._transcoder is not None:
                self._transcoder.stop()
            tool = self.tool()
            server = OrthancServer(binary=tool.path if tool else None, plugins=[])
            server.start()
            self._transcoder = server
            return server

    def close(self) -> None:
        with self._server_lock:
            for server in (self._server, self._transcoder):
                if server is not None:
                    server.stop()
            self._server = self._transcoder = None

    @contextlib.contextmanager
    def _same_uids(self, uids: tuple[str, str, str]) -> Iterator[None]:
        """Serialize requests on one instance (upload, render, delete must not interleave)."""
        with self._uid_locks_guard:
            lock = self._uid_locks.setdefault(uids, threading.Lock())
        with lock:
            yield

    # -- running ------------------------------------------------------------------------------------
    def execute(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan) -> Outcome:
        if not isinstance(request, ToImageRequest):
            return execute_op(self, request, info, plan)
        assert info is not None
        opts = request.options
        fmt = format_for(request.output, opts)
        frames = [t.frame if t.frame is not None else 0 for t in plan.targets]
        vois = [VoiPlan(None, "color") if info.is_color else plan_voi(opts, info.dataset, f) for f in frames]
        uids = instance_uids(info.dataset)
        timeout = request.timeout or DEFAULT_TIMEOUT
        server = self.server()
        commands: list[str] = []
        data = info.path.read_bytes()
        log_offset = server.log_offset()
        try:
            with self._same_uids(uids):
                warnings = self._render(server, data, uids, fmt, opts.quality, vois, plan, timeout, commands)
        except ToolError as exc:
            raise server_failure(exc, server, log_offset, commands) from None
        result = verify_images(plan, commands)
        voi = vois[0]
        result["voi"] = {"source": voi.source} | (
            {"center": voi.window.center, "width": voi.window.width, "function": voi.window.function}
            if voi.window
            else {}
        )
        if voi.index is not None:
            result["voi"]["index"] = voi.index
        return Outcome(result=result, command=commands, warnings=warnings)

    def _render(
        self,
        server: OrthancServer,
        data: bytes,
        uids: tuple[str, str, str],
        fmt: str,
        quality: int | None,
        vois: list[VoiPlan],
        plan: OutputPlan,
        timeout: float,
        commands: list[str],
    ) -> list[str]:
        """Upload, fetch every planned frame (with its VOI plan) into its temp file, delete (also on failure).

        Returns the warnings (an instance of someone else's server that was already there is rendered as
        stored and left in place).
        """
        base = server.base_url
        warnings: list[str] = []
        with self._stored(server, data, timeout, commands, warnings, "rendered"):
            for target, voi in zip(plan.targets, vois, strict=True):
                frame = target.frame if target.frame is not None else 0
                call = rendered_call(uids, frame, fmt, quality, voi)
                commands.append(call.describe(base))
                body, ctype = http(call, base, None, timeout, commands)
                if not ctype.startswith(MIME[fmt]):
                    raise ToolError(
                        ErrorCode.BACKEND_FAILED,
                        f"orthanc answered {ctype or 'no type'}, not {MIME[fmt]}",
                        commands,
                        None,
                    )
                target.temp.write_bytes(body)
        return warnings

    @contextlib.contextmanager
    def _stored(
        self, server: OrthancServer, data: bytes, timeout: float, commands: list[str], warnings: list[str], use: str
    ) -> Iterator[str]:
        """The file stored on ``server`` for the duration of the block (its instance ID), deleted afterwards,
        also on failure (ours only: an instance someone else's server already held is ``use``d as stored, left
        in place, and said in ``warnings``)."""
        base = server.base_url
        instance_id, ours = self._upload(base, data, timeout, commands, replace=not server.external)
        if not ours:
            warnings.append(
                f"{base} already stored an instance with these UIDs: it was {use} as stored and left in place"
            )
        try:
            yield instance_id
        finally:
            if ours:
                with contextlib.suppress(HarnessError):
                    call = delete_call(instance_id)
                    commands.append(call.describe(base))
                    http(call, base, None, timeout, commands)

    def _upload(self, base: str, data: bytes, timeout: float, commands: list[str], replace: bool) -> tuple[str, bool]:
        """POST the file: (instance ID, whether it is ours to delete).

        On our own server an instance already stored under the same UIDs (Orthanc would keep it and ignore
        the upload) is deleted and the file sent again; on someone else's server it is left alone.
        """
        call = upload_call()
        for _attempt in range(2):
            commands.append(call.describe(base))
            body, _ = http(call, base, data, timeout, commands)
            answer = json_body(body, commands)
            instance_id = str(answer.get("ID", ""))
            if not instance_id:
                raise ToolError(ErrorCode.BACKEND_FAILED, f"orthanc stored nothing: {answer}", commands, None)
            if answer.get("Status") != "AlreadyStored":
                return instance_id, True
            if not replace:
                return instance_id, False
            stale = delete_call(instance_id)
            commands.append(stale.describe(base))
            http(stale, base, None, timeout, commands)
        raise ToolError(ErrorCode.BACKEND_FAILED, "orthanc kept an older instance with the same UIDs", commands, None)
