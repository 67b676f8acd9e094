"""The ``cornerstone`` backend: Cornerstone3D, the renderer of OHIF and most web PACS viewers.

Cornerstone3D (``@cornerstonejs/core`` + ``@cornerstonejs/dicom-image-loader``, pinned in package.json and
package-lock.json, installed by ``npm ci`` and bundled by ``node build.mjs``: ``make setup``) renders in a
page of Debian's headless Chromium (session.py: one browser per process, pages reused, loopback only,
stopped by PID). Each frame goes through Cornerstone's own path: the ``wadouri`` image loader (its decode
worker and WebAssembly codecs) and ``utilities.renderToCanvasCPU``; the canvas pixels are read back and
written by the harness as PNG (python_ref's encoder: the pixels are Cornerstone's, the file is ours).

``decode`` (``decode.py``): the loader's decoded frame without pre-scaling, masked by the harness.

What it can be asked (``capability_table``): the default VOI (Cornerstone's: the file's window, else the
pixel range), an explicit LINEAR window, 8-bit PNG, any frame. Everything else is ``unsupported_option``.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import numpy as np

from dcmharness.adapters.base import Capability, ToolAdapter, ToolInfo, verify_images
from dcmharness.adapters.cornerstone.decode import check_decode_input, decode_request_line, result_of
from dcmharness.adapters.cornerstone.session import DRIVER, HERE, BrowserSession, driver_argv
from dcmharness.backends.base import Availability, Outcome
from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo, check_frame
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import RequestBase, ToImageRequest
from dcmharness.contract.ops_models import DecodeRequest
from dcmharness.contract.options import ToImageOptions, format_for, palette_name

CHROMIUM_ENV = "DCMHARNESS_CHROMIUM"
CHROMIUM = "/usr/bin/chromium"
BUILD = HERE / "build"
PACKAGES = HERE / "node_modules"
DEFAULT_TIMEOUT = float(os.environ.get("DCMHARNESS_TIMEOUT", "60"))
CODES = {"timeout": ErrorCode.TIMEOUT, "decode_failed": ErrorCode.DECODE_FAILED}


def capability_table() -> dict[str, dict[str, Capability]]:
    """What a request may ask of Cornerstone's CPU path (the rest is refused before anything runs)."""
    return {
        "to_image": {
            "format": (None, "png"),
            "bit_depth": (8,),
            "png_compression": True,  # the PNG is written by the harness
            "window_center": True,
            "window_width": True,
            "voi_function": (None, "linear"),
            "voi": ("auto",),
            "modality_lut": (True,),
            "presentation": ("auto",),
            "overlays": (True, False),  # it draws none: overlays true on a file with overlays is refused
            "colormap": _colormap,
        },
        "decode": {"color_space": True},  # refusals per input: decode.py
    }


#: Transfer syntaxes its wadouri loader does not read, as observed (dcmharness conform --backends cornerstone):
#: Explicit VR Big Endian ends in "TypeError: Cannot read properties of undefined (reading 'length')" or a
#: black image; Deflated Explicit VR Little Endian in "loadImageFromNaturalizedMetadata: no pixel data".
UNREAD_SYNTAXES = {
    "1.2.840.10008.1.2.2": "Explicit VR Big Endian",
    "1.2.840.10008.1.2.1.99": "Deflated Explicit VR Little Endian",
}


def refusals(options: ToImageOptions, info: InputInfo) -> None:
    """What this input makes unaskable, before anything runs (pure; raises ``HarnessError``)."""
    if info.transfer_syntax in UNREAD_SYNTAXES:
        raise HarnessError(
            ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
            f"cornerstone's loader does not read {UNREAD_SYNTAXES[info.transfer_syntax]} files",
            "input",
        )
    if info.bits_allocated in (1, 32):
        # 1-bit: "The calculated length 9 does not match the actual length 10" or wrong frames; 32-bit: the
        # page never answers (60 s) or the RLE decoder refuses ("unsupported pixel format for RLE")
        raise HarnessError(
            ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
            f"cornerstone does not render {info.bits_allocated}-bit Bits Allocated images",
            "input",
        )
    if options.colormap is not None and info.is_color:
        raise HarnessError(
            ErrorCode.UNSUPPORTED_OPTION,
            "colormap applies to grayscale images only; this image is colour",
            "options.colormap",
        )
    if options.colormap is not None and not _integer_rescale(info):
        # observed: the pseudo-colour path never answers (60 s) on non-integer modality values
        raise HarnessError(
            ErrorCode.UNSUPPORTED_OPTION,
            "cornerstone's pseudo-colour path does not render non-integer modality values (Rescale Slope/Intercept)",
            "options.colormap",
        )
    if options.overlays is not False and info.overlay_planes:
        # no overlay code in @cornerstonejs/core's CPU renderer (dist/esm/RenderingEngine/helpers/cpuFallback/)
        raise HarnessError(
            ErrorCode.UNSUPPORTED_OPTION,
            "cornerstone draws no overlays: this file has overlay planes (ask overlays: false)",
            "options.overlays",
        )


#: The well-known palettes Cornerstone's CPU renderer has under its own ids (core/dist/esm/constants/
#: cpuColormaps.js: hotIron, pet, hotMetalBlue, pet20Step); its Spring, Summer, Autumn and Winter are other maps.
CPU_COLORMAPS = {"hot_iron": "hotIron", "pet": "pet", "hot_metal_blue": "hotMetalBlue", "pet_20_step": "pet20Step"}


def _colormap(value: Any, options: ToImageOptions) -> str | None:
    """hot_iron, pet, hot_metal_blue, pet_20_step (by name or UID): Cornerstone has no other of PS3.6 Annex B."""
    if value is None or palette_name(value) in CPU_COLORMAPS:
        return None
    return "its CPU colormaps hold Hot Iron, PET, Hot Metal Blue and PET 20 Step only (PS3.6 B.1.1-B.1.4)"


def _integer_rescale(info: InputInfo) -> bool:
    """Whether the top-level Rescale Slope and Intercept (absent: 1 and 0) are integers."""
    ds = info.dataset
    try:
        values = [float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0)]
    except (TypeError, ValueError):
        return False
    return all(v.is_integer() for v in values)


def driver_request(ident: int, options: ToImageOptions, info: InputInfo, frame: int) -> dict[str, Any]:
    """One request line for driver.mjs (pure): the file, the 0-based frame, the explicit window if any, the
    Cornerstone colormap id if any."""
    window = options.explicit_window()
    colormap = CPU_COLORMAPS[palette_name(options.colormap)] if options.colormap is not None else None
    return {
        "id": ident,
        "input": os.path.abspath(str(info.path)),
        "frame": frame,
        "window": list(window) if window is not None else None,
        "colormap": colormap,
    }


def pixels_of(answer: dict[str, Any]) -> np.ndarray:
    """The canvas read back: rows x cols (gray, when every pixel has R = G = B and the image is not colour)
    or rows x cols x 3, uint8."""
    width, height = int(answer["width"]), int(answer["height"])
    rgb = np.frombuffer(base64.b64decode(answer["pixels"]), dtype=np.uint8)
    if rgb.size != width * height * 3:
        raise HarnessError(ErrorCode.BACKEND_FAILED, f"cornerstone: {rgb.size} samples for {width}x{height} RGB")
    rgb = rgb.reshape(height, width, 3)
    gray = not answer.get("color") and bool(np.all(rgb[..., 0] == rgb[..., 1]) and np.all(rgb[..., 1] == rgb[..., 2]))
    return np.ascontiguousarray(rgb[..., 0]) if gray else rgb


def core_version(packages: Path = PACKAGES) -> str | None:
    """The installed @cornerstonejs/core version (its package.json)."""
    try:
        data = json.loads((packages / "@cornerstonejs" / "core" / "package.json").read_text())
    except (OSError, ValueError):
        return None
    version = data.get("version")
    return str(version) if version else None


class CornerstoneAdapter(ToolAdapter):
    name = "cornerstone"
    description = (
        "Cornerstone3D (OHIF's renderer): its wadouri loader and CPU renderer in Debian's headless Chromium, "
        "driven by puppeteer-core; the canvas read back."
    )
    tools = ("node",)
    install_hint = "make setup (npm ci and node build.mjs in adapters/cornerstone; Debian's chromium)"
    ops = ("to_image", "decode")

    def __init__(self) -> None:
        super().__init__()
        self._session: BrowserSession | None = None
        self._session_lock = threading.Lock()
        self._ids = 0

    @staticmethod
    def chromium() -> str | None:
        path = os.environ.get(CHROMIUM_ENV) or CHROMIUM
        return path if os.path.isfile(path) and os.access(path, os.X_OK) else None

    def _discover(self) -> None:
        path = self.find()
        self._tool = ToolInfo(path, core_version()) if path else None
        self._searched = True

    def availability(self) -> Availability:
        avail = super().availability()
        if not avail.available:
            return avail
        if self.chromium() is None:
            return Availability(
                False, None, f"chromium not found at ${CHROMIUM_ENV} or {CHROMIUM}; {self.install_hint}"
            )
        if not (BUILD / "page.js").is_file() or not (PACKAGES / "puppeteer-core").is_dir():
            return Availability(False, None, f"the page is not built ({BUILD}); {self.install_hint}")
        return Availability(True, avail.version, location=f"{avail.location} {DRIVER} + {self.chromium()}")

    def capabilities_for(self, version: str | None) -> dict[str, dict[str, Capability]]:
        return capability_table()

    def check_input(self, request: RequestBase, info: InputInfo | None) -> list[str]:
        if isinstance(request, ToImageRequest) and info is not None:
            refusals(request.options, info)
        if isinstance(request, DecodeRequest) and info is not None:
            check_decode_input(request, info)
        return []

    def build_argv(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan, tool: ToolInfo) -> list[str]:
        return driver_argv(tool.path, "<browser endpoint>")

    def session(self) -> BrowserSession:
        """This process's browser session, started on first use (and again when it died)."""
        if self._session is not None and self._session.running:
            return self._session
        if self._session is not None:
            self._session.stop()
        tool, chromium = self.tool(), self.chromium()
        if tool is None or chromium is None:
            raise HarnessError(ErrorCode.BACKEND_UNAVAILABLE, "cornerstone: node or chromium not found", "backend")
        session = BrowserSession(chromium, tool.path)
        session.start()
        self._session = session
        return session

    def _decode(self, request: DecodeRequest, info: InputInfo, plan: OutputPlan) -> Outcome:
        """One driver request per frame (``window.dcmhDecode``), then the contract's masking and the .npy."""
        timeout = request.timeout or DEFAULT_TIMEOUT
        answers = []
        with self._session_lock:
            session = self.session()
            for frame in check_frame(info, request.options.frame):
                self._ids += 1
                answer = session.ask(decode_request_line(self._ids, info, frame), timeout)
                if not answer.get("ok"):
                    code = CODES.get(str(answer.get("code")), ErrorCode.BACKEND_FAILED)
                    raise HarnessError(code, f"cornerstone: {answer.get('message') or 'no message'}")
                answers.append(answer)
        tool = self.tool()
        result = result_of(answers, request, info, plan, tool.version if tool else None)
        return Outcome(result=result, command=driver_argv(session.node, "<browser endpoint>"))

    def execute(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan) -> Outcome:
        if isinstance(request, DecodeRequest) and info is not None:
            return self._decode(request, info, plan)
        if not isinstance(request, ToImageRequest) or info is None:
            raise HarnessError(ErrorCode.UNSUPPORTED_OPTION, "cornerstone implements to_image and decode only", "op")
        from dcmharness.backends.python_ref.encode import encode

        fmt = format_for(request.output, request.options)
        timeout = request.timeout or DEFAULT_TIMEOUT
        answers = []
        with self._session_lock:  # one page: requests of this process take turns
            session = self.session()
            for target in plan.targets:
                self._ids += 1
                answer = session.ask(driver_request(self._ids, request.options, info, target.frame or 0), timeout)
                if not answer.get("ok"):
                    code = CODES.get(str(answer.get("code")), ErrorCode.BACKEND_FAILED)
                    raise HarnessError(code, f"cornerstone: {answer.get('message') or 'no message'}")
                encode(pixels_of(answer), target.temp, fmt, png_level=request.options.png_compression)
                answers.append(answer)
        command = driver_argv(session.node, "<browser endpoint>")
        result = verify_images(plan, command)
        first = answers[0]
        if first.get("windowCenter") is not None and first.get("windowWidth") is not None:
            result["voi"] = {"center": first["windowCenter"], "width": first["windowWidth"]}
        if os.environ.get("DCMHARNESS_CORNERSTONE_DEBUG"):
            result["debug"] = first.get("debug")
        return Outcome(result=result, command=command)

    def close(self) -> None:
        with self._session_lock:
            if self._session is not None:
                self._session.stop()
                self._session = None


def installed() -> bool:
    """Whether ``make setup`` built the page here (for tests that skip without it)."""
    return (BUILD / "page.js").is_file() and shutil.which("node") is not None
