"""The dicom-rs adapter: ``to_image`` through ``dicom-toimage`` (DICOM-rs; ``make setup`` installs 0.10.1 into
``.tools/dicom-rs/bin``); ``dump`` and ``info`` through ``dicom-dump --format json``, ``transcode`` through
``dicom-transcode`` (found next to ``dicom-toimage``), delegated to ``adapters/cli_ops.py``; their facts are in
``ops.py``.

Where the tool is looked up: ``$DICOM_TOIMAGE`` (the binary or its folder), then the project-local install
``.tools/dicom-rs/bin`` (``make setup``: ``cargo install --locked --root .tools/dicom-rs``), then PATH.

Facts it relies on (dicom-toimage 0.10.1 ``--help`` and source; ``docs/dicom_rs.md`` has the file:line of each):

- ``dicom-toimage [-F N] [--8bit|--16bit] [--overlays --overlay-color RRGGBB] -o OUT FILE``: ``-F`` is
  0-indexed; the output format is chosen by OUT's extension (``image`` crate ``save``: .png, .jpg/.jpeg,
  .tif/.tiff, .pgm/.ppm/.pbm/.pam; no ``.pnm``). JPEG is written at the image crate's fixed quality 75 (no
  flag), so JPEG output is refused (the contract's default is 90).
- Without ``--8bit``/``--16bit`` the depth follows BitsStored, so one of them is always given.
- VOI: the VOI LUT Sequence if present, else the first window (with the file's VOI LUT Function), else
  min-max; so ``voi`` ``lut`` / ``window`` / ``minmax`` (index 0) are honoured exactly when the file makes the
  tool choose that one, and refused otherwise. There is no window, VOI function, presentation or quality
  flag; ``--no-voi-lut`` / ``--no-modality-lut`` write the rescaled values unscaled (not the contract's
  ``voi: none`` or ``modality_lut: false``), so those are refused.
- ``--overlays`` (0.10+) burns in every overlay plane of the file (separate, embedded, multi-frame) in
  ``--overlay-color`` and turns the output RGB when a plane applies to the frame: on a grayscale image the
  adapter asks for the gray colour and stores the (equal-channel) result as grayscale; a subset of planes,
  a 16-bit gray level that is not a multiple of 257, and 16-bit output of a grayscale image with overlays
  are refused. Before 0.10 overlays are not drawn (a warning says so).
- Decoders of the published build: native, RLE, deflate, JPEG (jpeg-decoder: 8-bit DCT, lossless up to 16
  bits), JPEG XL; no JPEG 2000, no JPEG-LS; Bits Allocated 1, 8 or 16 only; packed 1-bit frames must start on a
  byte; native YBR_FULL_422 is read as if it had 3 samples per pixel. Those inputs are refused before the tool
  runs. Files without a File Meta Information group (no ``DICM``) are not read at all.
- Errors are logged on STDOUT (tracing, with ANSI colours), exit status 255/254/253/252.
- One frame per call: ``frame: "all"`` is refused.

``build_to_image_argv`` (and ``build_argv`` for every op) is a pure function of (request, input header,
output plan, tool).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path
from typing import Any

from dcmharness.adapters.base import Capability, ToolAdapter, ToolInfo, verify_images, version_tuple
from dcmharness.adapters.cli_ops import build_ops_argv, check_ops_input, execute_op
from dcmharness.adapters.dicom_rs.decode import build_decode_argv, check_decode_input, execute_decode
from dcmharness.adapters.dicom_rs.ops import DICOM_RS, no_file_meta
from dcmharness.adapters.jvm import decoded_bytes
from dcmharness.adapters.native_memory import address_space_mb, capped_argv
from dcmharness.adapters.runner import ToolError, ToolRun, describe_exit, run_tool
from dcmharness.backends.base import Outcome, unsupported
from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import RequestBase, ToImageRequest
from dcmharness.contract.ops_models import DecodeRequest
from dcmharness.contract.options import ToImageOptions, format_for

#: The version ``make setup`` installs (Makefile ``DICOM_RS_VERSION``).
PINNED_VERSION = "0.10.1"
#: ``make setup`` installs the tools here (``cargo install --root``); git-ignored.
LOCAL_BIN = Path(__file__).resolve().parents[2] / ".tools" / "dicom-rs" / "bin"

#: What the image crate infers from each extension (lower case, with the dot).
EXTENSION_FORMATS = {
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".pgm": "pnm",
    ".ppm": "pnm",
    ".pbm": "pnm",
    ".pam": "pnm",
}

#: Transfer syntaxes the published dicom-toimage 0.10 decodes (default features: dicom-pixeldata/native =
#: jpeg, rle, deflate; jpegxl). JPEG 2000 and JPEG-LS need features the published build leaves off.
DECODABLE: dict[str, str] = {
    "1.2.840.10008.1.2": "Implicit VR Little Endian",
    "1.2.840.10008.1.2.1": "Explicit VR Little Endian",
    "1.2.840.10008.1.2.2": "Explicit VR Big Endian",
    "1.2.840.10008.1.2.1.99": "Deflated Explicit VR Little Endian",
    "1.2.840.10008.1.2.1.98": "Encapsulated Uncompressed Explicit VR Little Endian",
    "1.2.840.10008.1.2.8.1": "Deflated Image Frame Compression",
    "1.2.840.10008.1.2.5": "RLE Lossless",
    "1.2.840.10008.1.2.4.50": "JPEG Baseline",
    "1.2.840.10008.1.2.4.51": "JPEG Extended (8-bit only)",
    "1.2.840.10008.1.2.4.57": "JPEG Lossless",
    "1.2.840.10008.1.2.4.70": "JPEG Lossless SV1",
    "1.2.840.10008.1.2.4.110": "JPEG XL Lossless",
    "1.2.840.10008.1.2.4.111": "JPEG XL Recompression",
    "1.2.840.10008.1.2.4.112": "JPEG XL",
}
NATIVE = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"})
JPEG_DCT = frozenset({"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51"})
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _frame(value: Any, options: Any) -> str | None:
    """single frames only (one -F per call)"""
    del options
    return None if value != "all" else 'dicom-toimage renders one frame per call: frame "all" is not supported'


def _overlays(value: Any, options: Any) -> str | None:
    """true or false (--overlays draws every plane)"""
    del options
    if isinstance(value, list):
        return "dicom-toimage --overlays draws every overlay plane of the file; it cannot select planes"
    return None


def _overlay_value(value: Any, options: Any) -> str | None:
    """a gray level (a multiple of 257 at 16 bits) or a colour"""
    if isinstance(value, int) and options.bit_depth == 16 and value % 257:
        return "--overlay-color is 8 bits per channel (times 257 at 16 bits): 16-bit levels must be multiples of 257"
    return None


def capability_table(version: str | None) -> dict[str, dict[str, Capability]]:
    """What dicom-toimage can be asked, by version: format and depth always; the stored VOI the tool picks
    itself (checked against the input in ``check_input``); overlays from 0.10 (``--overlays``)."""
    caps: dict[str, Capability] = {
        "format": True,
        "bit_depth": True,
        "frame": _frame,
        "voi": ("auto", "window", "lut", "minmax"),
        "voi_index": (None, 0),
    }
    if version_tuple(version) >= (0, 10):
        caps["overlays"] = _overlays
        caps["overlay_value"] = _overlay_value
    return {"to_image": caps}


def tool_output(temp: Path, fmt: str, colour: bool) -> Path:
    """The path dicom-toimage writes: the temp file itself when its extension names ``fmt``, else the temp
    file plus an extension that does (moved onto the temp file afterwards)."""
    if EXTENSION_FORMATS.get(temp.suffix.lower()) == fmt:
        return temp
    ext = {"png": ".png", "jpeg": ".jpg", "tiff": ".tiff", "pnm": ".ppm" if colour else ".pgm"}[fmt]
    return temp.with_name(temp.name + ext)


def overlay_colour(options: ToImageOptions) -> str:
    """The ``--overlay-color`` hex of the contract's ``overlay_value`` (default white). Pure."""
    value = options.overlay_value
    if isinstance(value, str):
        return value.lstrip("#").lower()
    if value is None:
        return "ffffff"
    level = value // 257 if options.bit_depth == 16 else value
    return f"{level:02x}" * 3


def draws_overlays(options: ToImageOptions, info: InputInfo) -> bool:
    return options.overlays is True and bool(info.overlay_planes)


def build_to_image_argv(request: ToImageRequest, info: InputInfo, plan: OutputPlan, tool: ToolInfo) -> list[str]:
    """The dicom-toimage command line (pure; absolute paths so that none starts with '-')."""
    opts = request.options
    fmt = format_for(request.output, opts)
    out = tool_output(Path(os.path.abspath(str(plan.targets[0].temp))), fmt, info.is_color)
    argv = [tool.path, "-F", str(int(opts.frame)), "--16bit" if opts.bit_depth == 16 else "--8bit"]
    if draws_overlays(opts, info) and version_tuple(tool.version) >= (0, 10):
        argv += ["--overlays", "--overlay-color", overlay_colour(opts)]
    return [*argv, "-o", str(out), os.path.abspath(str(info.path))]


def _has_functional_groups(info: InputInfo) -> bool:
    ds = info.dataset
    return ds is not None and ("SharedFunctionalGroupsSequence" in ds or "PerFrameFunctionalGroupsSequence" in ds)


def check_voi(options: ToImageOptions, info: InputInfo) -> None:
    """``voi`` other than ``auto`` only when the file makes dicom-toimage pick that transform itself."""
    voi = options.voi
    stored = "the tool uses the VOI LUT Sequence if present, else the first window, else min-max"
    if voi == "lut" and info.n_voi_luts == 0:
        raise unsupported("voi", f"dicom-toimage has no VOI flag and this file has no VOI LUT ({stored})")
    if voi == "window" and (info.n_voi_luts > 0 or (info.n_windows == 0 and not _has_functional_groups(info))):
        raise unsupported("voi", f"dicom-toimage has no VOI flag and would not pick a stored window here ({stored})")
    if voi == "minmax" and (info.n_voi_luts > 0 or info.n_windows > 0 or _has_functional_groups(info)):
        raise unsupported("voi", f"dicom-toimage has no VOI flag and would not use min-max here ({stored})")


def refuse_input(message: str) -> HarnessError:
    """``unsupported_option`` on ``input``: the tool cannot read this file (decided from its header)."""
    return HarnessError(ErrorCode.UNSUPPORTED_OPTION, message, "input")


def check_decodable(info: InputInfo) -> None:
    """The inputs dicom-toimage 0.10 cannot decode, refused before it runs (``docs/dicom_rs.md``)."""
    ts = info.transfer_syntax or ""
    if ts not in DECODABLE:
        raise HarnessError(
            ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
            f"dicom-toimage (published build) has no decoder for transfer syntax {ts}",
            "input",
        )
    if ts in JPEG_DCT and info.bits_stored > 8:
        raise HarnessError(
            ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
            f"dicom-toimage's JPEG decoder (jpeg-decoder) reads 8-bit DCT JPEG only; Bits Stored is {info.bits_stored}",
            "input",
        )
    if info.bits_allocated not in (1, 8, 16):
        raise refuse_input(f"dicom-toimage reads Bits Allocated 1, 8 or 16 only (not {info.bits_allocated})")
    if info.bits_allocated == 1 and (info.rows * info.columns * info.samples_per_pixel) % 8:
        raise refuse_input("dicom-toimage reads packed 1-bit frames only when each frame starts on a byte")
    if ts in NATIVE and info.photometric == "YBR_FULL_422":
        raise refuse_input("dicom-toimage reads native YBR_FULL_422 as if it had 3 samples per pixel")


def memory_cap_mb(info: InputInfo | None) -> int:
    """The address-space cap (MiB) of a DICOM-rs tool run on this input (``adapters/native_memory.py``)."""
    size = 0
    if info is not None:
        with contextlib.suppress(OSError):
            size = os.path.getsize(info.path)
    return address_space_mb(size, decoded_bytes(info))


def tool_message(run: ToolRun) -> str:
    """The last line dicom-toimage logged (on stdout, ANSI colours removed), else stderr's. Pure."""
    for text in (run.stdout_text, run.stderr_text):
        lines = [ANSI.sub("", line).strip() for line in (text or "").splitlines()]
        lines = [line for line in lines if line]
        if lines:
            return lines[-1]
    return "no message"


def as_grayscale(path: Path) -> None:
    """Store an 8-bit RGB output whose three channels are equal (a gray image with overlays burnt in by
    ``--overlays``) as grayscale, in its own format; anything else is left as written."""
    from PIL import Image, ImageChops

    with Image.open(path) as img:
        if img.mode != "RGB":
            return
        img.load()
        red, green, blue = img.split()
        if ImageChops.difference(red, green).getbbox() or ImageChops.difference(red, blue).getbbox():
            return
        fmt = img.format
    red.save(path, format=fmt)


class DicomRsAdapter(ToolAdapter):
    name = "dicom_rs"
    description = (
        "DICOM-rs: dicom-toimage (one frame to PNG/JPEG/TIFF/PNM, its own VOI choice, overlays), "
        "dicom-dump (JSON), dicom-transcode."
    )
    tools = ("dicom-toimage",)
    env_var = "DICOM_TOIMAGE"
    install_hint = (
        f"make setup installs dicom-toimage/dicom-dump {PINNED_VERSION} and dicom-pixeldata's dicom-transcode "
        f"into {LOCAL_BIN} (cargo install --locked, needs crates.io)"
    )
    ops = ("to_image", *DICOM_RS.ops, "decode")

    def find(self) -> str | None:
        """``$DICOM_TOIMAGE``, else the project-local install (``make setup``), else PATH."""
        if self.env_var and os.environ.get(self.env_var):
            return super().find()
        local = LOCAL_BIN / self.tools[0]
        if local.is_file() and os.access(local, os.X_OK):
            return str(local)
        return super().find()

    def capabilities_for(self, version: str | None) -> dict[str, dict[str, Capability]]:
        return {**capability_table(version), **DICOM_RS.capabilities(), "decode": {"color_space": True}}

    def check_input(self, request: RequestBase, info: InputInfo | None) -> list[str]:
        if info is not None and no_file_meta(info.path):
            raise refuse_input("dicom-rs opens only files with a File Meta Information group (DICM prefix)")
        if getattr(request, "op", "") in DICOM_RS.ops:
            return check_ops_input(DICOM_RS, request, info)
        if isinstance(request, DecodeRequest):
            check_decode_input(request, info)
            return []
        if not isinstance(request, ToImageRequest) or info is None:
            return []
        opts = request.options
        reason = _frame(opts.frame, opts)
        if reason:
            raise unsupported("frame", reason)
        check_decodable(info)
        fmt = format_for(request.output, opts)
        if fmt == "jpeg":
            raise unsupported(
                "format", "dicom-toimage writes JPEG at the image crate's fixed quality 75, not the contract's 90"
            )
        warnings: list[str] = []
        tool = self.tool()
        if draws_overlays(opts, info) and tool is not None and version_tuple(tool.version) < (0, 10):
            warnings.append(f"dicom-toimage {tool.version} cannot draw overlays (0.10 can); they are not shown")
        if info.is_color:
            from dcmharness.backends.python_ref.pipeline import check_color_options

            check_color_options(opts)
        else:
            check_voi(opts, info)
            if draws_overlays(opts, info) and opts.bit_depth == 16:
                raise unsupported(
                    "bit_depth",
                    "dicom-toimage burns overlays into an RGB image; the adapter restores grayscale for 8-bit "
                    "output only (or ask overlays: false)",
                )
        return warnings

    def run_argv(self, argv: list[str], info: InputInfo | None) -> list[str]:
        """Behind an address-space cap: DICOM-rs reserves a damaged declared length before reading it."""
        return capped_argv(argv, memory_cap_mb(info), shutil.which("prlimit"))

    def build_argv(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan, tool: ToolInfo) -> list[str]:
        if getattr(request, "op", "") in DICOM_RS.ops:
            out = str(plan.targets[0].temp) if plan.targets else None
            return build_ops_argv(DICOM_RS, request, info, out, tool)
        if isinstance(request, DecodeRequest) and info is not None:
            return build_decode_argv(tool, info, str(plan.targets[0].temp) + ".native.dcm")
        if not isinstance(request, ToImageRequest) or info is None:
            raise HarnessError(ErrorCode.UNSUPPORTED_OPTION, f"dicom_rs does not implement op {request.op!r}", "op")  # type: ignore[attr-defined]
        return build_to_image_argv(request, info, plan, tool)

    def interpret(self, run: ToolRun, plan: OutputPlan) -> None:
        if run.returncode != 0:
            message = tool_message(run)
            code = ErrorCode.BACKEND_FAILED
            if "unsupported transfersyntax" in message.lower():
                code = ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX
            detail = "\n".join(filter(None, (ANSI.sub("", run.stdout_text), run.stderr_text)))
            raise ToolError(
                code, f"dicom-toimage failed ({describe_exit(run.returncode)}): {message}", run.argv, detail or None
            )

    def collect(self, request: RequestBase, plan: OutputPlan, argv: list[str], run: ToolRun) -> None:
        """Move an output written under a format-naming extension onto the plan's temp file."""
        written = Path(argv[argv.index("-o") + 1])
        temp = Path(os.path.abspath(str(plan.targets[0].temp)))
        if written != temp and written.exists():
            os.replace(written, temp)

    def _render(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan) -> Outcome:
        """The base run (argv, runner, exit check, collect), then a grayscale image the tool turned RGB to
        draw overlays stored as grayscale again, then the output check."""
        tool = self.tool()
        if tool is None:
            raise HarnessError(ErrorCode.BACKEND_UNAVAILABLE, f"{self.name}: tool not found", "backend")
        argv = self.build_argv(request, info, plan, tool)
        run = run_tool(self.run_argv(argv, info), timeout=request.timeout)
        self.interpret(run, plan)
        self.collect(request, plan, argv, run)
        if info is not None and not info.is_color and "--overlays" in argv:
            as_grayscale(Path(os.path.abspath(str(plan.targets[0].temp))))
        result = verify_images(plan, argv, run)
        return Outcome(result=result, command=argv, stderr=run.stderr_text or None)

    def execute(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan) -> Outcome:
        if getattr(request, "op", "") in DICOM_RS.ops:
            return execute_op(DICOM_RS, self, request, info, plan)
        if isinstance(request, DecodeRequest) and info is not None:
            return execute_decode(self, request, info, plan)
        try:
            return self._render(request, info, plan)
        finally:
            if isinstance(request, ToImageRequest) and info is not None and plan.targets:
                temp = Path(os.path.abspath(str(plan.targets[0].temp)))
                side = tool_output(temp, format_for(request.output, request.options), info.is_color)
                if side != temp:
                    with contextlib.suppress(OSError):
                        side.unlink()
