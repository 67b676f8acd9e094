"""The dcm4che adapter: ``to_image`` through ``dcm2jpg`` (dcm4che 5.x); ``dump`` and ``info`` through
``dcm2json``, ``transcode`` through ``dcm2dcm`` and ``anonymize`` through ``deidentify`` (found next to
``dcm2jpg``, else on PATH), delegated to ``adapters/cli_ops.py``, whose docstring lists their facts.

Facts it relies on (dcm4che's ``Dcm2Jpg.java``, ``messages.properties`` and the ``--help`` text in
dcm4che-tool-dcm2jpg/README.md, and ``../shared/docs/toolkits.md``; dcm2jpg is not installable here, so
they are checked against the source, not the tool):

- ``dcm2jpg [options] <dicom-file> <image-file>`` or ``dcm2jpg [options] <dicom-file>... <outdir>``: with
  several inputs each output is ``<outdir>/<input file name>.<suffix>`` (suffix: the lower-case format
  name), all in ONE JVM. Options apply to every file of a call.
- ``-F PNG|JPEG|TIFF`` (ImageIO writer; JPEG by default), ``-q 0.0..1.0`` (the contract's 1..100 / 100).
- ``--frame n``: 1-based, one frame per call. Without it (frame 1) the file is read through
  DicomInputStream (``--usedis``), which also decodes deflated files; with it through ImageInputStream,
  so deflated input gets ``--usedis`` as well.
- ``--windowCenter=c``/``--windowWidth=w`` (``-c``/``-w``): explicit LINEAR window, in the ``=`` form so
  that a negative centre is never read as an option. ``--window n`` and ``--voilut n``: 1-based; out of
  range silently falls back to the first, so the index is checked here first. ``--uselut``: prefer the
  VOI LUT (dcm2jpg prefers the window). ``--noauto``: no min/max auto-window for files without VOI.
- ``--noshape``: ignore the Presentation LUT Shape, invert by Photometric Interpretation (recent 5.x).
- ``--overlays <hex mask>`` (bit k = plane k, FFFF by default), ``--ovlygray <hex>`` (a 16-bit value,
  shifted right by 8 for 8-bit output), ``--ovlyrgb #rrggbb``.
- Grayscale output is always 8-bit; VOI LUT Function is not implemented (SIGMOID and LINEAR_EXACT render
  LINEAR); the Modality transform cannot be switched off.
- It exits 0 when a conversion fails: it prints ``Failed to convert <file>: <message>`` on stdout, so
  failure is read from stdout and from the missing file.
- What it cannot read is refused from the header before the JVM starts (``limits.py``, causes in its
  docstring): 1-bit and 32-bit samples, 16-bit colour, the VOI it cannot be asked for (min-max or full range
  on files whose functional groups carry a window; min-max after a Modality LUT Sequence), and the transfer
  syntaxes the installed distribution has no reader for (OpenCV codecs present or not: ``install.py``), and
  a window lying wholly outside the stored value range (dcm2jpg's table would be empty: it fails).

``build_argv`` (every op) and ``plan_calls`` are pure functions of the requests and headers (golden-tested).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dcmharness.adapters import header
from dcmharness.adapters.base import Capability, ToolAdapter, ToolInfo, sibling, verify_images
from dcmharness.adapters.cli_ops import build_ops_argv, check_ops_input, execute_op
from dcmharness.adapters.dcm4che import modify
from dcmharness.adapters.dcm4che.install import opencv_installed
from dcmharness.adapters.dcm4che.limits import (
    decodable,
    sample_format_refusal,
    transfer_syntax_refusal,
    voi_refusal,
    window_refusal,
)
from dcmharness.adapters.dcm4che.ops import DCM4CHE
from dcmharness.adapters.jvm import decoded_bytes, heap_env
from dcmharness.adapters.runner import DEFAULT_TIMEOUT, ToolError, run_tool
from dcmharness.backends.base import Outcome, unsupported
from dcmharness.backends.batch import Job, JobResult
from dcmharness.backends.modify import resolve
from dcmharness.backends.outputs import OutputPlan, OutputTarget
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import RequestBase, ToImageRequest
from dcmharness.contract.ops_models import ModifyRequest
from dcmharness.contract.options import ToImageOptions, format_for

#: -F values (ImageIO writer names) of the contract's formats; no PNM writer in the JDK.
FORMATS = {"png": "PNG", "jpeg": "JPEG", "tiff": "TIFF"}
DEFAULT_QUALITY = 90
DEFLATED = "1.2.840.10008.1.2.1.99"
FAILED = re.compile(r"^Failed to convert (.+?): (.*)$")


def _voi_function(value: Any, options: ToImageOptions) -> str | None:
    """linear only (dcm2jpg implements no VOI LUT Function: SIGMOID and LINEAR_EXACT render linear)"""
    if value in (None, "linear"):
        return None
    return f"dcm2jpg renders every window LINEAR; it cannot honour voi_function={value!r}"


def capability_table() -> dict[str, dict[str, Capability]]:
    return {
        "to_image": {
            "format": (None, *FORMATS),  # None: from the extension (pnm refused in check_input)
            "bit_depth": (8,),
            "quality": True,
            "png_compression": False,
            "window_center": True,
            "window_width": True,
            "voi_function": _voi_function,
            "voi": True,  # minmax / none only on files without stored VOI (check_input)
            "voi_index": True,
            "modality_lut": (True,),
            "presentation": True,  # what --noshape cannot reach is refused in check_input
            "overlays": True,
            "overlay_value": True,
        }
    }


# -- pure mapping ---------------------------------------------------------------------------------------
def format_args(fmt: str, options: ToImageOptions) -> list[str]:
    args = ["-F", FORMATS[fmt]]
    if fmt == "jpeg":
        quality = options.quality if options.quality is not None else DEFAULT_QUALITY
        args += ["-q", f"{quality / 100:g}"]
    return args


def voi_args(options: ToImageOptions, ds: Any) -> list[str]:
    """``-c/-w``, ``--window n``, ``--uselut --voilut n``, nothing (auto-window = min/max) or ``--noauto``."""
    source, index = header.resolve_voi(options, ds)
    if source == "explicit":
        c, w = options.explicit_window()  # type: ignore[misc]
        # the "=" form: a negative centre ("-c -600") could be read as an option by commons-cli
        return [f"--windowCenter={header.number(c)}", f"--windowWidth={header.number(w)}"]
    if source == "window":
        # auto on a file with windows and no VOI LUT: dcm2jpg's own default (window 1); saying nothing lets
        # such requests share a call with files without any window
        return [] if options.voi == "auto" else ["--window", str(index + 1)]
    if source == "lut":
        return ["--uselut", "--voilut", str(index + 1)]
    if source == "minmax":
        return []
    return ["--noauto"]


def presentation_args(options: ToImageOptions, ds: Any) -> list[str]:
    """Nothing or ``--noshape``, whichever inverts exactly as the contract says; ``unsupported_option`` else.

    dcm2jpg inverts when the Presentation LUT Shape is INVERSE, or, without a shape, for MONOCHROME1
    (MONOCHROME1 + IDENTITY is not inverted); with ``--noshape`` it inverts MONOCHROME1 only."""
    photometric = header.text(ds, "PhotometricInterpretation")
    shape = header.text(ds, "PresentationLUTShape")
    mono1 = photometric == "MONOCHROME1"
    wanted = {"auto": mono1 or shape == "INVERSE", "identity": False, "inverse": True}[options.presentation]
    by_default = shape == "INVERSE" if shape else mono1
    if by_default == wanted:
        return []
    if mono1 == wanted:
        return ["--noshape"]
    raise unsupported(
        "presentation",
        f"dcm2jpg cannot render {photometric or 'this image'} with shape {shape or 'none'} "
        f"as presentation={options.presentation!r}",
    )


def overlay_args(options: ToImageOptions, colour: bool) -> list[str]:
    """``--overlays <hex mask>`` (bit k = 0-based plane k) and the overlay value (``--ovlygray``/``--ovlyrgb``)."""
    args: list[str] = []
    if options.overlays is False:
        args += ["--overlays", "0"]
    elif isinstance(options.overlays, list):
        args += ["--overlays", f"{sum(1 << p for p in options.overlays):X}"]
    value = options.overlay_value
    if value is None:
        return args
    if colour:
        rgb = value if isinstance(value, str) else f"#{value:02x}{value:02x}{value:02x}"
        return [*args, "--ovlyrgb", rgb.lower()]
    if isinstance(value, str):
        raise unsupported("overlay_value", "a colour overlay value needs colour output; this image is grayscale")
    return [*args, "--ovlygray", f"{value * 257:X}"]  # dcm2jpg shifts the 16-bit value right by 8


def option_args(request: ToImageRequest, info: InputInfo, frame: int) -> list[str]:
    """Every option of one frame's conversion (shared by all files of a batched call)."""
    opts = request.options
    # frame 1 is dcm2jpg's default; without --frame it reads through DicomInputStream (--usedis), which
    # also decodes deflated files; with --frame it reads through ImageInputStream unless told --usedis
    args = [] if frame == 0 else ["--frame", str(frame + 1)]
    if frame and info.transfer_syntax == DEFLATED:
        args.append("--usedis")
    args += format_args(format_for(request.output, opts), opts)
    if not info.is_color:
        args += voi_args(opts, info.dataset)
        args += presentation_args(opts, info.dataset)
    args += overlay_args(opts, info.is_color)
    return args


def build_to_image_argv(request: ToImageRequest, info: InputInfo, target: OutputTarget, tool: str) -> list[str]:
    """One file, one frame: ``dcm2jpg [options] <dicom-file> <image-file>`` (pure; golden-tested)."""
    frame = target.frame if target.frame is not None else 0
    return [
        tool,
        *option_args(request, info, frame),
        os.path.abspath(str(info.path)),
        os.path.abspath(str(target.temp)),
    ]


@dataclass(frozen=True)
class Unit:
    """One output file to produce: job ``job``'s target ``target`` (one frame of one input)."""

    job: int
    target: OutputTarget
    input: str
    options: tuple[str, ...]


@dataclass(frozen=True)
class Call:
    """One dcm2jpg process and where each of its units' images appears."""

    argv: list[str]
    outputs: list[tuple[Unit, Path]]  # (unit, file dcm2jpg writes for it)
    outdir: Path | None  # the folder of a multi-file call (removed afterwards)


def units_of(jobs: Sequence[Job]) -> list[Unit]:
    out: list[Unit] = []
    for k, job in enumerate(jobs):
        for target in job.plan.targets:
            frame = target.frame if target.frame is not None else 0
            args = tuple(option_args(job.request, job.info, frame))
            out.append(Unit(k, target, os.path.abspath(str(job.info.path)), args))
    return out


def suffix_of(options: Sequence[str]) -> str:
    """dcm2jpg's default suffix of a multi-file call: the lower-case -F value."""
    return options[list(options).index("-F") + 1].lower()


def plan_calls(units: Sequence[Unit], tool: str, workdir: Path) -> list[Call]:
    """Group units by identical options; each group is one call with several files (``<outdir>``), split
    where two inputs share a file name (dcm2jpg names outputs by it); a lone unit is a single-file call."""
    groups: dict[tuple[str, ...], list[list[Unit]]] = {}
    for unit in units:
        chunks = groups.setdefault(unit.options, [])
        name = os.path.basename(unit.input)
        for chunk in chunks:
            if all(os.path.basename(u.input) != name for u in chunk):
                chunk.append(unit)
                break
        else:
            chunks.append([unit])
    calls: list[Call] = []
    for options, chunks in groups.items():
        for chunk in chunks:
            if len(chunk) == 1:
                unit = chunk[0]
                calls.append(
                    Call([tool, *options, unit.input, str(unit.target.temp)], [(unit, unit.target.temp)], None)
                )
                continue
            outdir = workdir / f"call-{len(calls)}"
            suffix = suffix_of(options)
            outputs = [(u, outdir / f"{os.path.basename(u.input)}.{suffix}") for u in chunk]
            calls.append(Call([tool, *options, *(u.input for u in chunk), str(outdir)], outputs, outdir))
    return calls


def parse_failures(stdout: str) -> dict[str, str]:
    """``Failed to convert <file>: <message>`` lines: input path -> message."""
    out: dict[str, str] = {}
    for line in stdout.splitlines():
        m = FAILED.match(line.strip())
        if m:
            out[m.group(1)] = m.group(2) or "no message"
    return out


# -- the adapter ----------------------------------------------------------------------------------------
class Dcm4cheAdapter(ToolAdapter):
    name = "dcm4che"
    description = (
        "dcm4che 5.x: dcm2jpg (many files per JVM when requests share options), dcm2json, dcm2dcm, deidentify."
    )
    tools = ("dcm2jpg",)
    env_var = "DCM4CHE_HOME"
    version_args = ("-V",)
    install_hint = "see adapters/dcm4che/README.md (unpack dcm4che-5.x-bin.zip, set DCM4CHE_HOME)"
    ops = ("to_image", *DCM4CHE.ops, "modify")

    def __init__(self) -> None:
        super().__init__()
        self._opencv: dict[str, bool] = {}  # tool path -> OpenCV codecs installed

    def capabilities_for(self, version: str | None) -> dict[str, dict[str, Capability]]:
        return {**capability_table(), **DCM4CHE.capabilities(), "modify": modify.modify_capabilities()}

    def opencv(self) -> bool:
        """Whether the found dcm2jpg has its OpenCV codecs (``install.py``); False when none is found."""
        tool = self.tool()
        if tool is None:
            return False
        if tool.path not in self._opencv:
            self._opencv[tool.path] = opencv_installed(tool.path)
        return self._opencv[tool.path]

    def capabilities(self) -> dict[str, Any]:
        caps = super().capabilities()
        if "to_image" in caps:
            opencv = self.opencv()
            caps["to_image"]["transfer_syntaxes"] = sorted(decodable(opencv))
            caps["to_image"]["codecs"] = "OpenCV (lib/<os-arch>/libopencv_java)" if opencv else "JDK and RLE only"
        return caps

    def tool_env(self, info: InputInfo | None) -> dict[str, str] | None:
        """dcm4che's scripts start a JVM: its heap is capped through JAVA_TOOL_OPTIONS."""
        return heap_env(decoded_bytes(info))

    def check_input(self, request: RequestBase, info: InputInfo | None) -> list[str]:
        if isinstance(request, ModifyRequest) and info is not None:
            modify.check_modify(resolve(request.options, info.dataset))
            return []
        if getattr(request, "op", "") in DCM4CHE.ops:
            return check_ops_input(DCM4CHE, request, info)
        if not isinstance(request, ToImageRequest) or info is None:
            return []
        opts = request.options
        ds = info.dataset
        fmt = format_for(request.output, opts)
        if fmt not in FORMATS:
            raise unsupported("format", f"dcm2jpg (ImageIO) cannot write {fmt}; use png, jpeg or tiff")
        refusal = transfer_syntax_refusal(info.transfer_syntax, info.bits_stored, self.opencv())
        refusal = refusal or sample_format_refusal(info.bits_allocated, info.samples_per_pixel)
        if refusal is not None:
            raise refusal
        if info.is_color:
            from dcmharness.backends.python_ref.pipeline import check_color_options

            check_color_options(opts)
            return []
        source, index = header.resolve_voi(opts, ds)  # a missing stored window / LUT: invalid_request
        stored = bool(header.stored_windows(ds)) or header.voi_lut_count(ds) > 0
        if source in ("minmax", "none") and stored:
            what = "min-max auto-window" if source == "minmax" else "--noauto (full range)"
            raise unsupported("voi", f"dcm2jpg applies {what} only to files without stored windows or VOI LUTs")
        refusal = voi_refusal(source, opts.voi, ds) or self._window_refusal(source, index, opts, info)
        if refusal is not None:
            raise refusal
        if source == "window" and header.window_function(opts, ds, source) != "linear":
            raise unsupported(
                "voi_function",
                f"dcm2jpg renders the stored window LINEAR, not the file's {header.file_voi_function(ds).upper()}",
            )
        presentation_args(opts, ds)  # refuses what --noshape cannot reach
        overlay_args(opts, False)
        return []

    @staticmethod
    def _window_refusal(source: str, index: int, opts: ToImageOptions, info: InputInfo) -> HarnessError | None:
        """The explicit or stored window dcm2jpg will use, refused when its table would be empty."""
        if source == "explicit":
            (center, width), option = opts.explicit_window(), "window_center"  # type: ignore[misc]
        elif source == "window":
            (center, width), option = header.stored_windows(info.dataset)[index], "voi"
        else:
            return None
        signed = bool(info.pixel_representation)
        return window_refusal(center, width, info.dataset, info.bits_stored, signed, option)

    def build_argv(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan, tool: ToolInfo) -> list[str]:
        if getattr(request, "op", "") in DCM4CHE.ops:
            out = str(plan.targets[0].temp) if plan.targets else None
            return build_ops_argv(DCM4CHE, request, info, out, tool)
        if not isinstance(request, ToImageRequest) or info is None:
            raise HarnessError(ErrorCode.UNSUPPORTED_OPTION, f"dcm4che does not implement op {request.op!r}", "op")  # type: ignore[attr-defined]
        return build_to_image_argv(request, info, plan.targets[0], tool.path)

    def execute(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan) -> Outcome:
        if isinstance(request, ModifyRequest) and info is not None:
            tool = self.tool()
            if tool is None:
                raise HarnessError(ErrorCode.BACKEND_UNAVAILABLE, "dcm4che: tool not found", "backend")
            return modify.execute_modify(sibling(tool, "json2dcm"), request, info, plan, self.tool_env(info))
        if getattr(request, "op", "") in DCM4CHE.ops:
            return execute_op(DCM4CHE, self, request, info, plan)
        if not isinstance(request, ToImageRequest) or info is None:
            raise HarnessError(ErrorCode.UNSUPPORTED_OPTION, f"dcm4che does not implement op {request.op!r}", "op")  # type: ignore[attr-defined]
        result = self.execute_batch([Job(request, info, plan)])[0]
        if isinstance(result, HarnessError):
            raise result
        return result

    def execute_batch(self, jobs: Sequence[Job]) -> list[JobResult]:
        """Every job's frames, grouped into as few dcm2jpg calls as their options allow."""
        tool = self.tool()
        if tool is None:
            err = HarnessError(ErrorCode.BACKEND_UNAVAILABLE, "dcm4che: dcm2jpg not found", "backend")
            return [err for _ in jobs]
        errors: dict[int, HarnessError] = {}
        commands: dict[int, list[str]] = {}
        stderrs: dict[int, str] = {}
        with tempfile.TemporaryDirectory(prefix="dcmharness-dcm2jpg-") as work:
            calls = plan_calls(units_of(jobs), tool.path, Path(work))
            for call in calls:
                members = {unit.job for unit, _ in call.outputs}
                timeout = sum(jobs[j].request.timeout or DEFAULT_TIMEOUT for j in members)
                try:
                    if call.outdir is not None:
                        call.outdir.mkdir(parents=True, exist_ok=True)
                    decoded = max(decoded_bytes(jobs[j].info) for j in members)
                    run = run_tool(call.argv, timeout=timeout, env=heap_env(decoded))
                    self.interpret(run, jobs[0].plan)  # exit 2: bad options (e.g. no --noshape)
                except HarnessError as exc:
                    for j in members:
                        errors.setdefault(j, exc)
                    continue
                failures = parse_failures(run.stdout_text)
                for unit, produced in call.outputs:
                    commands.setdefault(unit.job, call.argv)
                    if run.stderr_text:
                        stderrs.setdefault(unit.job, run.stderr_text)
                    if unit.input in failures or not produced.is_file():
                        why = failures.get(unit.input, "no output written")
                        errors.setdefault(
                            unit.job,
                            ToolError(
                                ErrorCode.BACKEND_FAILED,
                                f"dcm2jpg failed on {os.path.basename(unit.input)}: {why}",
                                call.argv,
                                run.stderr_text or None,
                            ),
                        )
                    elif produced != unit.target.temp:
                        shutil.move(str(produced), str(unit.target.temp))
        results: list[JobResult] = []
        for k, job in enumerate(jobs):
            if k in errors:
                job.plan.discard()
                results.append(errors[k])
                continue
            argv = commands[k]
            try:
                result = verify_images(job.plan, argv)
            except HarnessError as exc:
                results.append(exc)
                continue
            if len(jobs) > 1:
                result["batch"] = {"jobs": len(jobs), "calls": len(calls)}
            results.append(Outcome(result=result, command=argv, stderr=stderrs.get(k)))
        return results
