"""The dcmtk adapter: ``to_image`` through ``dcmj2pnm``/``dcml2pnm`` (dcmtk <= 3.6.8) or ``dcm2img`` (>= 3.6.9).

Facts it relies on (checked against ``dcmj2pnm --help`` 3.6.7 on Debian 12 and dcmtk's man pages):

- ``dcmj2pnm`` decodes uncompressed, RLE and JPEG (baseline, extended, lossless); JPEG-LS needs its
  sibling ``dcml2pnm`` (same options). ``dcm2img`` (3.6.9+) decodes all of these itself and takes the same
  options; ``dcmj2pnm`` is then a deprecated alias of it. No tool decodes JPEG 2000 or HTJ2K.
- dcmtk's default VOI is ``-W`` (the theoretical range), not the file's window: the contract's ``auto``
  (first VOI LUT, else first stored window, else min-max) is resolved here from the header.
- Indices on the command line are 1-based: ``+F n`` frame, ``+Wi n`` window, ``+Wl n`` VOI LUT,
  ``+O n`` overlay plane (``+O 0`` means all).
- The default output format of 3.6.7 is PNM whatever the file name says, so the format flag is always given.
- An input path starting with ``-`` is taken as an option (``--`` is not honoured: "Unknown option --"),
  so every path on the command line is absolute.
- Found by running it (3.6.7): ``dcml2pnm`` writes no JPEG ("Unknown option +oj"); ``+Wm`` takes a file's
  SIGMOID VOI LUT Function (so ``+Wfl`` goes with it); with ``+Fa`` the min-max spans every frame (so
  ``frame: "all"`` + min-max runs once per frame); windows in the functional groups of enhanced objects are
  not read by ``+Wi`` (so they go as ``+Ww c w``); ``+Piv`` inverts MONOCHROME1 exactly once.
  Known rendering differences are in ``interface/conform/divergences.toml`` (ids ``dcmtk-*``).

``build_argv`` is a pure function of (request, input header, output plan, tool path and version).
"""

from __future__ import annotations

import contextlib
import glob
import os
from dataclasses import dataclass
from typing import Any

from dcmharness.adapters.base import Capability, ToolAdapter, ToolInfo, verify_images, version_tuple
from dcmharness.adapters.dcmtk.network import with_network  # echo, store: adapters/dcmtk/network.py
from dcmharness.adapters.dcmtk.ops import with_ops  # dump, info, transcode: adapters/dcmtk/ops.py
from dcmharness.adapters.runner import ToolError, ToolRun
from dcmharness.backends.base import Outcome, unsupported
from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import RequestBase, ToImageRequest
from dcmharness.contract.options import ToImageOptions, format_for

#: dcm2img replaced dcmj2pnm/dcml2pnm/dcm2pnm in this release.
DCM2IMG_SINCE = (3, 6, 9)

UNCOMPRESSED = frozenset(
    {
        "1.2.840.10008.1.2",  # Implicit VR Little Endian
        "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
        "1.2.840.10008.1.2.2",  # Explicit VR Big Endian
        "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian
        "1.2.840.10008.1.2.5",  # RLE Lossless
    }
)
JPEG = frozenset(
    {
        "1.2.840.10008.1.2.4.50",  # baseline
        "1.2.840.10008.1.2.4.51",  # extended (12-bit)
        "1.2.840.10008.1.2.4.57",  # lossless
        "1.2.840.10008.1.2.4.70",  # lossless, first-order prediction
    }
)
JPEG_LS = frozenset({"1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"})
DECODABLE = UNCOMPRESSED | JPEG | JPEG_LS

#: Output flags by (format, bit depth). dcmtk writes TIFF at 8 bits per sample only.
FORMAT_FLAGS: dict[tuple[str, int], tuple[str, ...]] = {
    ("png", 8): ("+on",),
    ("png", 16): ("+on2",),
    ("jpeg", 8): ("+oj",),
    ("tiff", 8): ("+ot",),
    ("pnm", 8): ("+op",),
    ("pnm", 16): ("+opw",),  # 16-bit ASCII PGM (P2, maxval 65535)
}
DEFAULT_QUALITY = 90


@dataclass(frozen=True)
class Generation:
    """What differs between dcmtk releases, as far as this adapter cares."""

    main_tool: str  # the executable found first: dcm2img or dcmj2pnm
    jpeg_ls_tool: str | None  # sibling executable for JPEG-LS input, None when the main tool decodes it

    @staticmethod
    def of(tool_path: str, version: str | None) -> Generation:
        name = os.path.basename(tool_path)
        if name == "dcm2img" or version_tuple(version) >= DCM2IMG_SINCE:
            return Generation(name, None)
        return Generation(name, "dcml2pnm")


def _overlay_value(value: Any, options: ToImageOptions) -> str | None:
    """only the default (white: the output's maximum, or #ffffff)"""
    ymax = 255 if options.bit_depth == 8 else 65535
    if value is None or value == ymax or (isinstance(value, str) and value.lower() == "#ffffff"):
        return None
    return f"dcmtk cannot set the overlay gray level (overlay_value={value!r}); only the default white ({ymax})"


def capability_table(version: str | None) -> dict[str, dict[str, Capability]]:
    """What dcmtk honours, per op. The same for 3.6.7 and 3.6.9+ (dcm2img kept dcmj2pnm's options)."""
    del version  # no option differs between the generations this adapter knows
    return {
        "to_image": {
            "format": True,
            "bit_depth": True,  # 16-bit TIFF is refused in check_input (needs the output name)
            "quality": True,
            "png_compression": False,  # no zlib level option
            "window_center": True,
            "window_width": True,
            "voi_function": (None, "linear", "sigmoid"),  # no LINEAR_EXACT (+Wfl / +Wfs only)
            "voi": True,
            "voi_index": True,
            "modality_lut": True,
            "presentation": True,
            "overlays": True,
            "overlay_value": _overlay_value,
        }
    }


# -- pure mapping helpers ---------------------------------------------------------------------------
@dataclass(frozen=True)
class StoredWindows:
    """The stored windows that apply to one frame, where they were found, and their VOI LUT Function."""

    centers: tuple[float, ...] = ()
    widths: tuple[float, ...] = ()
    function: str = ""  # the file's VOI LUT Function, upper case ("" when absent)
    top_level: bool = True  # VOI LUT module (dcmtk's +Wi reads these) or functional groups (+Wi does not)

    @property
    def count(self) -> int:
        return min(len(self.centers), len(self.widths))


def stored_windows(ds: Any, frame: int = 0) -> StoredWindows:
    """As the contract (and python_ref) reads them: the top-level Window Center/Width, else the Frame VOI LUT
    Sequence of the frame's per-frame functional group, else of the shared one (enhanced multi-frame)."""
    centers, widths = _floats(ds.get("WindowCenter")), _floats(ds.get("WindowWidth"))
    if centers and widths:
        return StoredWindows(centers, widths, _first_text(ds.get("VOILUTFunction")), True)
    for seq_name, index in (("PerFrameFunctionalGroupsSequence", frame), ("SharedFunctionalGroupsSequence", 0)):
        seq = ds.get(seq_name)
        if not seq or index >= len(seq):
            continue
        fvoi = seq[index].get("FrameVOILUTSequence")
        if fvoi:
            item = fvoi[0]
            c, w = _floats(item.get("WindowCenter")), _floats(item.get("WindowWidth"))
            if c and w:
                return StoredWindows(c, w, _first_text(item.get("VOILUTFunction")), False)
    return StoredWindows(function=_first_text(ds.get("VOILUTFunction")))


def _floats(value: Any) -> tuple[float, ...]:
    if value is None or value == "":
        return ()
    items = [value] if isinstance(value, str | bytes | int | float) or not hasattr(value, "__iter__") else value
    out = []
    for v in items:
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            continue
    return tuple(out)


def stored_luts(ds: Any) -> int:
    seq = ds.get("VOILUTSequence")
    return len(seq) if seq else 0


def _first_text(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) and hasattr(value, "__getitem__"):
        try:
            return str(value[0]).strip().upper()
        except (IndexError, TypeError):
            return ""
    return str(value).strip().upper()


def _num(value: float) -> str:
    """A number as dcmtk's float parser reads it: integers without a trailing .0."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def resolve_voi(options: ToImageOptions, ds: Any, frame: int = 0) -> tuple[str, int]:
    """The contract's VOI choice for this file: (source, 0-based index). Source: explicit/window/lut/minmax/none.

    ``invalid_request`` (as python_ref) when the file lacks the stored window or LUT asked for.
    """
    if options.explicit_window() is not None:
        return "explicit", 0
    source = options.voi
    index = options.voi_index or 0
    n_luts, n_windows = stored_luts(ds), stored_windows(ds, frame).count
    if source == "auto":
        source = "lut" if n_luts else "window" if n_windows else "minmax"
    field = "options.voi_index" if options.voi_index is not None else "options.voi"
    if source == "lut" and index >= n_luts:
        raise HarnessError(
            ErrorCode.INVALID_REQUEST, f"VOI LUT {index} requested but the file has {n_luts} VOI LUT(s)", field
        )
    if source == "window" and index >= n_windows:
        raise HarnessError(
            ErrorCode.INVALID_REQUEST, f"stored window {index} requested but the file has {n_windows} window(s)", field
        )
    return source, index


FUNCTION_FLAGS = {"linear": "+Wfl", "sigmoid": "+Wfs"}


def window_function(options: ToImageOptions, file_function: str) -> str:
    """The contract's function for a stored window: the request's, else the file's; LINEAR_EXACT is refused."""
    fn = options.voi_function or {"SIGMOID": "sigmoid", "LINEAR_EXACT": "linear_exact"}.get(file_function, "linear")
    if fn not in FUNCTION_FLAGS:
        raise unsupported(
            "voi_function", "the file's window uses VOI LUT Function LINEAR_EXACT, which dcmtk cannot apply"
        )
    return fn


def voi_args(options: ToImageOptions, ds: Any, frames: list[int] | None = None) -> list[str]:
    """``+Ww c w`` / ``+Wi n`` / ``+Wl n`` / ``+Wm`` / ``-W``, with the window function wherever a window applies.

    Stored windows of the VOI LUT module go as ``+Wi n``; those of enhanced objects' functional groups
    (which dcmtk 3.6.7 does not read: "only 0 window(s) in file") go as the explicit ``+Ww c w`` they hold.
    """
    frames = frames or [0]
    source, index = resolve_voi(options, ds, frames[0])
    if source == "explicit":
        c, w = options.explicit_window()  # type: ignore[misc]
        # explicit windows are LINEAR unless asked otherwise: never the file's VOI LUT Function
        fn = options.voi_function or "linear"
        if fn not in FUNCTION_FLAGS:
            raise unsupported("voi_function", f"dcmtk has no {fn.upper()} window function (+Wfl / +Wfs only)")
        return ["+Ww", _num(c), _num(w), FUNCTION_FLAGS[fn]]
    if source == "window":
        stored = stored_windows(ds, frames[0])
        flag = FUNCTION_FLAGS[window_function(options, stored.function)]
        if stored.top_level:
            return ["+Wi", str(index + 1), flag]
        if any(stored_windows(ds, f) != stored for f in frames[1:]):
            raise unsupported("frame", 'per-frame windows differ between frames: dcmtk takes one window for "all"')
        return ["+Ww", _num(stored.centers[index]), _num(stored.widths[index]), flag]
    if source == "lut":
        return ["+Wl", str(index + 1)]
    if source == "minmax":
        return ["+Wm", "+Wfl"]  # linear, as the contract's min-max: dcmtk would apply a file's SIGMOID to it
    return ["-W"]


def presentation_args(options: ToImageOptions, ds: Any) -> list[str]:
    """``+Pid`` / ``+Piv``; for ``auto`` the contract's rule, which dcmtk's default follows except for
    MONOCHROME1 with an explicit IDENTITY shape (dcmtk shows it raw, the contract inverts): ``+Piv`` there."""
    if options.presentation == "identity":
        return ["+Pid"]
    if options.presentation == "inverse":
        return ["+Piv"]
    photometric = _first_text(ds.get("PhotometricInterpretation"))
    shape = _first_text(ds.get("PresentationLUTShape"))
    if photometric == "MONOCHROME1" and shape == "IDENTITY":
        return ["+Piv"]
    return []


def overlay_args(options: ToImageOptions) -> list[str]:
    """All planes (dcmtk's default), none (``-O``) or the listed 0-based planes (``+O plane+1`` each)."""
    if options.overlays is True:
        return []
    if options.overlays is False or not options.overlays:
        return ["-O"]
    args: list[str] = []
    for plane in sorted(options.overlays):
        args += ["+O", str(plane + 1)]
    return args


def format_args(fmt: str, options: ToImageOptions) -> list[str]:
    flags = FORMAT_FLAGS.get((fmt, options.bit_depth))
    if flags is None:
        raise unsupported("bit_depth", f"dcmtk cannot write {options.bit_depth}-bit {fmt}")
    args = list(flags)
    if fmt == "jpeg":
        args += ["+Jq", str(options.quality if options.quality is not None else DEFAULT_QUALITY)]
    return args


def frames_prefix(plan: OutputPlan) -> str:
    """Where ``+Fa`` writes (``<prefix>.<0-based counter>.<ext>``): next to the first temp, never a final name."""
    first = plan.targets[0].temp
    return os.path.abspath(str(first.with_name(first.name.rsplit(".", 1)[0] + ".frames")))


def tool_for(info: InputInfo | None, tool: ToolInfo) -> str:
    """The executable for this input: the main tool, or its JPEG-LS sibling (dcml2pnm) on dcmtk <= 3.6.8."""
    gen = Generation.of(tool.path, tool.version)
    if info is not None and info.transfer_syntax in JPEG_LS and gen.jpeg_ls_tool:
        return os.path.join(os.path.dirname(tool.path), gen.jpeg_ls_tool)
    return tool.path


def runs_per_frame(options: ToImageOptions, info: InputInfo) -> bool:
    """``frame: "all"`` with min-max VOI needs one run per frame: with ``+Fa`` dcmtk loads every frame and
    ``+Wm`` takes the min and max of them all, while the contract's min-max is of the rendered frame."""
    if options.frame != "all" or info.is_color or info.frames < 2:
        return False
    return resolve_voi(options, info.dataset, 0)[0] == "minmax"


def check_route(executable: str, fmt: str) -> None:
    """dcml2pnm (JPEG-LS input on dcmtk <= 3.6.8) writes no JPEG: it answers "Unknown option +oj"."""
    if os.path.basename(executable) == "dcml2pnm" and fmt == "jpeg":
        raise unsupported("format", "dcml2pnm (dcmtk 3.6.7's JPEG-LS decoder) cannot write JPEG; dcm2img 3.6.9+ can")


def build_to_image_argv(request: ToImageRequest, info: InputInfo, plan: OutputPlan, tool: ToolInfo) -> list[str]:
    """The dcmtk command line for a to_image request (pure: no file system access, golden-tested)."""
    opts = request.options
    ds = info.dataset
    argv = [tool_for(info, tool)]
    if opts.frame == "all":
        argv += ["+Fa"]
    else:
        argv += ["+F", str(int(opts.frame) + 1)]
    if not opts.modality_lut:
        argv += ["-M"]
    if not info.is_color:
        argv += voi_args(opts, ds, list(range(info.frames)) if opts.frame == "all" else [int(opts.frame)])
        argv += presentation_args(opts, ds)
    argv += overlay_args(opts)
    fmt = format_for(request.output, opts)
    check_route(argv[0], fmt)
    argv += format_args(fmt, opts)
    output = frames_prefix(plan) if opts.frame == "all" else os.path.abspath(str(plan.targets[0].temp))
    argv += [os.path.abspath(str(info.path)), output]
    return argv


@with_network
@with_ops
class DcmtkAdapter(ToolAdapter):
    name = "dcmtk"
    description = "OFFIS dcmtk: dcmj2pnm/dcml2pnm (3.6.7, Debian 12) or dcm2img (3.6.9+)."
    tools = ("dcm2img", "dcmj2pnm")
    env_var = "DCMTK_HOME"
    install_hint = "apt-get install dcmtk"
    ops = ("to_image",)

    def capabilities_for(self, version: str | None) -> dict[str, dict[str, Capability]]:
        return capability_table(version)

    def capabilities(self) -> dict[str, Any]:
        caps = super().capabilities()
        tool = self.tool()
        if tool is not None and "to_image" in caps:
            gen = Generation.of(tool.path, tool.version)
            caps["to_image"]["formats"] = sorted({f"{fmt}/{bits}" for fmt, bits in FORMAT_FLAGS})
            caps["to_image"]["transfer_syntaxes"] = sorted(DECODABLE)
            caps["to_image"]["tools"] = [gen.main_tool] + ([gen.jpeg_ls_tool] if gen.jpeg_ls_tool else [])
        return caps

    def check_input(self, request: RequestBase, info: InputInfo | None) -> list[str]:
        if not isinstance(request, ToImageRequest) or info is None:
            return []
        opts = request.options
        if info.transfer_syntax not in DECODABLE:
            raise HarnessError(
                ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
                f"dcmtk cannot decode transfer syntax {info.transfer_syntax} (no JPEG 2000 / HTJ2K / video codecs)",
                "input",
            )
        tool = self.tool()
        if tool is not None and info.transfer_syntax in JPEG_LS:
            path = tool_for(info, tool)
            if not (os.path.isfile(path) and os.access(path, os.X_OK)):
                raise HarnessError(
                    ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
                    f"JPEG-LS input needs {os.path.basename(path)} next to {tool.path}; it is not there",
                    "input",
                )
        fmt = format_for(request.output, opts)
        if tool is not None:
            check_route(tool_for(info, tool), fmt)
        if (fmt, opts.bit_depth) not in FORMAT_FLAGS:
            raise unsupported("bit_depth", f"dcmtk cannot write {opts.bit_depth}-bit {fmt}")
        if info.is_color:
            from dcmharness.backends.python_ref.pipeline import check_color_options

            check_color_options(opts)  # the same refusals as the reference, before running anything
            if opts.bit_depth == 16:
                raise unsupported(
                    "bit_depth",
                    "16-bit colour output is not mapped for dcmtk (its 48-bit PNG reads back as 8-bit RGB in Pillow)",
                )
        else:
            # a missing stored window / LUT (invalid_request), LINEAR_EXACT (unsupported_option): before running
            voi_args(opts, info.dataset, list(range(info.frames)) if opts.frame == "all" else [int(opts.frame)])
        return []

    def build_argv(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan, tool: ToolInfo) -> list[str]:
        if not isinstance(request, ToImageRequest) or info is None:
            raise HarnessError(ErrorCode.UNSUPPORTED_OPTION, f"dcmtk does not implement op {request.op!r}", "op")  # type: ignore[attr-defined]
        return build_to_image_argv(request, info, plan, tool)

    def collect(self, request: RequestBase, plan: OutputPlan, argv: list[str], run: ToolRun) -> None:
        """``+Fa`` wrote ``<prefix>.<k>.<ext>``: move frame k onto the plan's k-th temp file."""
        if not isinstance(request, ToImageRequest) or request.options.frame != "all":
            return
        prefix = frames_prefix(plan)
        try:
            for k, target in enumerate(plan.targets):
                found = sorted(glob.glob(glob.escape(f"{prefix}.{k}") + ".*"))
                if not found:
                    raise ToolError(
                        ErrorCode.BACKEND_FAILED,
                        f"{os.path.basename(argv[0])} wrote no file for frame {k}",
                        argv,
                        run.stderr_text or None,
                    )
                os.replace(found[0], target.temp)
        finally:
            for leftover in glob.glob(glob.escape(prefix) + ".*"):
                with contextlib.suppress(OSError):
                    os.unlink(leftover)

    def execute(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan) -> Outcome:
        if isinstance(request, ToImageRequest) and info is not None and runs_per_frame(request.options, info):
            return self._execute_per_frame(request, info, plan)
        try:
            return super().execute(request, info, plan)
        finally:
            if isinstance(request, ToImageRequest) and request.options.frame == "all" and plan.targets:
                for leftover in glob.glob(glob.escape(frames_prefix(plan)) + ".*"):  # a failed or timed-out +Fa
                    with contextlib.suppress(OSError):
                        os.unlink(leftover)

    def _execute_per_frame(self, request: ToImageRequest, info: InputInfo, plan: OutputPlan) -> Outcome:
        """One run per frame (``+F k``), each writing its own target; see ``runs_per_frame``."""
        commands: list[list[str]] = []
        stderr: list[str] = []
        for target in plan.targets:
            one = request.model_copy(update={"options": request.options.model_copy(update={"frame": target.frame})})
            outcome = ToolAdapter.execute(self, one, info, OutputPlan(targets=[target], overwrite=plan.overwrite))
            commands.append(outcome.command or [])
            if outcome.stderr:
                stderr.append(f"frame {target.frame}: {outcome.stderr}")
        result = verify_images(plan, commands[0])
        note = f"min-max is per frame: dcmtk ran once per frame ({len(commands)} runs); command is the first run"
        return Outcome(result=result, warnings=[note], command=commands[0], stderr="\n".join(stderr) or None)
