"""The PixelMed adapter: ``to_image`` through ``com.pixelmed.display.ConsumerFormatImageMaker``.

Facts it relies on (checked against Debian's pixelmed 20220618 jar with ``javap -c`` and by running it):

- ``java -Djava.awt.headless=true -cp pixelmed.jar com.pixelmed.display.ConsumerFormatImageMaker IN OUT
  [format [wc [ww [width [height [quality [annotation [rx ry rw rh [firstFrame lastFrame]]]]]]]]]``:
  the region is read only when there are more than 12 arguments, the frames only with 15. Defaults:
  jpeg, the file's window (ww = 0), native size (0 0), quality -1 (the writer's default), annotation
  ``all_color`` (burns patient text into the image: this adapter always passes ``none``), frames 0 .. -1
  (all). ``quality`` 0..100 is divided by 100 for the ImageIO writer.
- Frames are 0-based. One frame rendered: written to OUT itself; several: ``<OUT stem>_<1-based frame,
  10 digits>.<ext>`` (``emri.png`` -> ``emri_0000000001.png``), mapped back here to the contract's names.
- The window is the file's first window of that frame after rescale (explicit wc/ww replace it), always
  LINEAR (``makeEightBitFrame`` never takes the logistic branch: a file's SIGMOID / LINEAR_EXACT function
  is rendered LINEAR); no window: a window from the image's min/max. VOI LUT Sequences, Modality LUT
  Sequences, Presentation LUT Shape and overlays are not applied; MONOCHROME1 is inverted. 8-bit only.
- Decodes uncompressed, deflated, RLE and baseline JPEG; not JPEG extended / lossless, JPEG-LS or
  JPEG 2000 (no codecs in Debian's jar); 16/32-bit colour fails.
- It exits 0 when a conversion fails (``main`` prints the stack trace): failure is detected from the
  missing output and the exception on stderr.

Many requests run in one JVM through the project's launcher ``adapters/pixelmed/PixelMedBatch.java`` (built by
``adapters/pixelmed/build.sh``): the same argument list per job, the same ``convertFileToEightBitImage`` call.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import threading
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dcmharness.adapters import header
from dcmharness.adapters.base import Capability, ToolAdapter, ToolInfo, verify_images
from dcmharness.adapters.jvm import decoded_bytes, heap_flag, max_heap_mb
from dcmharness.adapters.network_client import with_client
from dcmharness.adapters.pixelmed.from_json import (
    FROM_JSON_CLASS,
    JSONP_JAR,
    WRITABLE,
    first_at_value,
    from_json_argv,
    from_json_job,
)
from dcmharness.adapters.pixelmed.launcher import (
    BATCH_CLASS,
    BATCH_CLASSES,
    JVM_FLAGS,
    batch_argv,
    batch_line,
    parse_answers,
)
from dcmharness.adapters.pixelmed.network import NETWORK_CLASS, PIXELMED_CLIENT  # echo, store, find: network.py
from dcmharness.adapters.pixelmed.validate import (
    KNOWN_SOP_CLASSES,
    VALIDATE_CLASS,
    XPATH_FLAGS,
    parse_output,
    validate_argv,
)
from dcmharness.adapters.pixelmed.worker import ValidatorWorker
from dcmharness.adapters.runner import DEFAULT_TIMEOUT, ToolError, run_tool
from dcmharness.backends.base import Availability, Outcome, unsupported
from dcmharness.backends.batch import Job, JobResult
from dcmharness.backends.findings import validate_result
from dcmharness.backends.outputs import OutputPlan, OutputTarget
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import RequestBase, ToImageRequest
from dcmharness.contract.ops_models import FromJsonRequest, ValidateRequest
from dcmharness.contract.options import ToImageOptions, format_for

MAIN_CLASS = "com.pixelmed.display.ConsumerFormatImageMaker"
VALIDATOR_CLASS = "com.pixelmed.validate.DicomInstanceValidator"
DEFAULT_JAR = "/usr/share/java/pixelmed.jar"
DEFAULT_QUALITY = 90

#: ImageIO writer names of the contract's formats (no PNM writer in the JDK).
FORMATS = {"png": "png", "jpeg": "jpeg", "tiff": "tiff"}

#: Transfer syntaxes Debian's jar decodes (checked on the sample files).
DECODABLE = frozenset(
    {
        "1.2.840.10008.1.2",  # Implicit VR Little Endian
        "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
        "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian
        "1.2.840.10008.1.2.2",  # Explicit VR Big Endian
        "1.2.840.10008.1.2.5",  # RLE Lossless
        "1.2.840.10008.1.2.4.50",  # JPEG baseline (the JDK's reader)
    }
)


def _voi_function(value: Any, options: ToImageOptions) -> str | None:
    """linear only (ConsumerFormatImageMaker always applies the LINEAR window)"""
    if value in (None, "linear"):
        return None
    return f"PixelMed renders every window LINEAR; it cannot honour voi_function={value!r}"


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
            "voi": ("auto", "window"),
            "voi_index": True,
            "modality_lut": (True,),
            "presentation": ("auto",),
            "overlays": True,  # refused in check_input when the file has a plane the request shows
            "overlay_value": False,
        }
    }


# -- pure mapping -------------------------------------------------------------------------------------
def window_args(options: ToImageOptions, ds: Any) -> list[str]:
    """``wc ww``: the explicit window, the stored window asked for (read from the header), or ``0 0``
    (PixelMed's own choice: the first stored window, else one from min/max)."""
    source, index = header.resolve_voi(options, ds)
    if source == "explicit":
        c, w = options.explicit_window()  # type: ignore[misc]
        return [header.number(c), header.number(w)]
    if source == "window":
        c, w = header.stored_windows(ds)[index]
        return [header.number(c), header.number(max(w, 1.0))]  # the contract's LINEAR needs w >= 1
    return ["0", "0"]


def frame_range(options: ToImageOptions) -> tuple[int, int]:
    """firstFrame, lastFrame (0-based, -1 = the last)."""
    if options.frame == "all":
        return 0, -1
    return int(options.frame), int(options.frame)


def multi_frame_output(plan: OutputPlan) -> Path:
    """The OUT given to PixelMed for several frames: next to the first temp file, never a final name."""
    first = plan.targets[0].temp
    return first.with_name(first.stem + ".frames" + first.suffix)


def frame_file(out: Path, frame: int) -> Path:
    """PixelMed's name for 0-based ``frame`` of a multi-frame OUT: ``<stem>_<frame+1, 10 digits><suffix>``."""
    return out.with_name(f"{out.stem}_{frame + 1:010d}{out.suffix}")


def per_frame(request: ToImageRequest, info: InputInfo) -> bool:
    """Whether each frame must be its own ConsumerFormatImageMaker job: ``frame: "all"`` of a multi-frame
    file windowed by min/max (PixelMed windows a frame range by the first frame's min/max)."""
    opts = request.options
    if opts.frame != "all" or info.frames < 2 or info.is_color:
        return False
    return header.resolve_voi(opts, info.dataset)[0] == "minmax"


def tool_args(
    request: ToImageRequest, info: InputInfo, plan: OutputPlan, target: OutputTarget | None = None
) -> list[str]:
    """ConsumerFormatImageMaker's positional arguments for a request (pure; golden-tested); with ``target``,
    only that target's frame, written straight to its temp file."""
    opts = request.options
    fmt = FORMATS[format_for(request.output, opts)]
    if target is not None:
        out = target.temp
        first = last = target.frame if target.frame is not None else 0
    else:
        out = multi_frame_output(plan) if len(plan.targets) > 1 else plan.targets[0].temp
        first, last = frame_range(opts)
    quality = (opts.quality if opts.quality is not None else DEFAULT_QUALITY) if fmt == "jpeg" else -1
    wc_ww = ["0", "0"] if info.is_color else window_args(opts, info.dataset)
    return [
        os.path.abspath(str(info.path)),
        os.path.abspath(str(out)),
        fmt,
        *wc_ww,
        "0",  # width: native
        "0",  # height: native
        str(quality),
        "none",  # annotation: never burn patient text in
        *("0", "0", "0", "0"),  # region: the whole image
        str(first),
        str(last),
    ]


def job_args(request: ToImageRequest, info: InputInfo, plan: OutputPlan) -> list[list[str]]:
    """The launcher jobs of one request: one, or one per frame (``per_frame``)."""
    if per_frame(request, info):
        return [tool_args(request, info, plan, target) for target in plan.targets]
    return [tool_args(request, info, plan)]


def build_to_image_argv(request: ToImageRequest, info: InputInfo, plan: OutputPlan, java: str, jar: str) -> list[str]:
    """The full command line of one ConsumerFormatImageMaker call (pure; golden-tested); the JVM's heap is
    capped by the input's declared size (``adapters/jvm.py``)."""
    heap = heap_flag(decoded_bytes(info))
    return [java, *JVM_FLAGS, heap, "-cp", jar, MAIN_CLASS, *tool_args(request, info, plan)]


def build_validate_argv(java: str, jar: str, path: str, heap: str) -> list[str]:
    """One file through DicomInstanceValidator's own main (when the launcher is not built). Pure."""
    return [java, *JVM_FLAGS, heap, *XPATH_FLAGS, "-cp", jar, VALIDATOR_CLASS, path]


def java_error(stderr: str) -> str | None:
    """The first Java exception line of a stack trace (``pkg.SomeException: message``)."""
    for line in stderr.splitlines():
        m = re.match(r"^\s*([\w$.]+(?:Exception|Error))(?::\s*(.*))?$", line)
        if m:
            return f"{m.group(1).rsplit('.', 1)[-1]}: {m.group(2) or ''}".strip().rstrip(":")
    return None


def jar_version(jar: str) -> str | None:
    """The jar's release: Implementation-Version of its manifest, else the date in its file name."""
    with contextlib.suppress(OSError, KeyError, zipfile.BadZipFile):
        with zipfile.ZipFile(jar) as zf:
            manifest = zf.read("META-INF/MANIFEST.MF").decode("utf-8", "replace")
        m = re.search(r"^Implementation-Version:\s*(\S+)", manifest, re.M)
        if m:
            return m.group(1)
    m = re.search(r"(\d{8})", os.path.basename(os.path.realpath(jar)))
    return m.group(1) if m else None


# -- the adapter ----------------------------------------------------------------------------------------
@with_client(PIXELMED_CLIENT)
class PixelMedAdapter(ToolAdapter):
    name = "pixelmed"
    description = (
        "PixelMed (Debian pixelmed-apps): com.pixelmed.display.ConsumerFormatImageMaker, "
        "com.pixelmed.validate.DicomInstanceValidator, com.pixelmed.dicom.JSONRepresentationOfDicomObjectFactory."
    )
    tools = ("java",)
    env_var = "PIXELMED_JAR"
    install_hint = "apt-get install pixelmed-apps default-jre-headless"
    ops = ("to_image", "validate", "from_json")

    def __init__(self) -> None:
        super().__init__()
        self.jar: str | None = None
        self._validator: ValidatorWorker | None = None
        self._validator_lock = threading.Lock()

    # discovery: java (JAVA_HOME or PATH) + the jar ($PIXELMED_JAR or Debian's); the version is the jar's
    def find(self) -> str | None:
        jar = os.environ.get("PIXELMED_JAR") or DEFAULT_JAR
        if not os.path.isfile(jar):
            return None
        java = None
        if os.environ.get("JAVA_HOME"):
            cand = os.path.join(os.environ["JAVA_HOME"], "bin", "java")
            java = cand if os.access(cand, os.X_OK) else None
        java = java or shutil.which("java")
        if java:
            self.jar = jar
        return java

    def _discover(self) -> None:
        """java and the jar; the version is the jar's (no JVM started for it)."""
        java = self.find()
        if java and self.jar:
            self._tool = ToolInfo(java, jar_version(self.jar))
        self._searched = True

    def availability(self) -> Availability:
        info = self.tool()
        if info is None:
            return Availability(
                False, None, f"java or {os.environ.get('PIXELMED_JAR') or DEFAULT_JAR} not found; {self.install_hint}"
            )
        return Availability(True, info.version, location=f"{info.path} -cp {self.jar}")

    def launcher_classes(self) -> str | None:
        """The folder of the compiled batch launcher, when ``adapters/pixelmed/build.sh`` has built it."""
        return str(BATCH_CLASSES) if (BATCH_CLASSES / f"{BATCH_CLASS}.class").is_file() else None

    def network_classes(self) -> str | None:
        """The folder of the compiled network launcher (``PixelMedNetwork.java``), when build.sh has built it."""
        return str(BATCH_CLASSES) if (BATCH_CLASSES / f"{NETWORK_CLASS}.class").is_file() else None

    def capabilities_for(self, version: str | None) -> dict[str, dict[str, Capability]]:
        return {**capability_table(), "validate": {"include_warnings": True}, "from_json": {"transfer_syntax": True}}

    def capabilities(self) -> dict[str, Any]:
        caps = super().capabilities()
        caps["to_image"]["transfer_syntaxes"] = sorted(DECODABLE)
        caps["to_image"]["batch"] = "PixelMedBatch (one JVM)" if self.launcher_classes() else "not built"
        caps["validate"]["sop_classes"] = sorted(KNOWN_SOP_CLASSES)
        caps["validate"]["batch"] = f"{VALIDATE_CLASS} (one JVM per run)" if self.launcher_classes() else "not built"
        caps["from_json"]["transfer_syntaxes"] = sorted(WRITABLE)
        caps["from_json"]["batch"] = (
            f"{FROM_JSON_CLASS} (one JVM per batch)" if self.launcher_classes() else "not built"
        )
        return caps

    def check_input(self, request: RequestBase, info: InputInfo | None) -> list[str]:
        if isinstance(request, FromJsonRequest):
            return self.check_from_json(request, info)
        if isinstance(request, ValidateRequest) and info is not None:
            sop_class = header.text(info.dataset, "SOPClassUID")
            tool = self.tool()
            if sop_class not in KNOWN_SOP_CLASSES:
                raise HarnessError(
                    ErrorCode.UNSUPPORTED_OPTION,
                    f"PixelMed's DicomInstanceValidator ({tool.version if tool else '?'}) knows "
                    f"{len(KNOWN_SOP_CLASSES)} IODs ({', '.join(sorted(set(KNOWN_SOP_CLASSES.values())))}); "
                    f"not SOP Class {sop_class or '(absent)'}",
                    "input",
                )
            return []
        if not isinstance(request, ToImageRequest) or info is None:
            return []
        opts = request.options
        ds = info.dataset
        fmt = format_for(request.output, opts)
        if fmt not in FORMATS:
            raise unsupported("format", f"PixelMed (ImageIO) cannot write {fmt}; use png, jpeg or tiff")
        if info.transfer_syntax not in DECODABLE:
            raise HarnessError(
                ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
                f"PixelMed (Debian's jar) cannot decode transfer syntax {info.transfer_syntax}",
                "input",
            )
        shown = set(info.overlay_planes) if opts.overlays is True else set(opts.overlays or [])
        if shown & set(info.overlay_planes):
            raise unsupported(
                "overlays",
                "PixelMed's ConsumerFormatImageMaker does not burn overlays in; "
                f'this file has overlay plane(s) {sorted(info.overlay_planes)}: use "overlays": false',
            )
        if info.is_color:
            from dcmharness.backends.python_ref.pipeline import check_color_options

            check_color_options(opts)
            return []
        if header.has_modality_lut_sequence(ds) and opts.modality_lut:
            raise unsupported("modality_lut", "PixelMed does not apply a Modality LUT Sequence (rescale only)")
        if header.text(ds, "PresentationLUTShape") == "INVERSE" and info.photometric != "MONOCHROME1":
            raise unsupported("presentation", "PixelMed ignores the file's Presentation LUT Shape INVERSE")
        source, _ = header.resolve_voi(opts, ds)
        if source == "lut":
            raise unsupported("voi", "PixelMed does not apply VOI LUT Sequences (this file's auto VOI is its LUT)")
        if per_frame(request, info) and self.launcher_classes() is None:
            raise unsupported(
                "voi",
                "PixelMed windows a frame range by its first frame's min/max; rendering each frame on its own "
                "needs the batch launcher (bash adapters/pixelmed/build.sh)",
            )
        function = header.window_function(opts, ds, source)
        if source in ("explicit", "window") and function != "linear":
            raise unsupported(
                "voi_function", f"PixelMed renders the stored window LINEAR, not the file's {function.upper()}"
            )
        return []

    def build_argv(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan, tool: ToolInfo) -> list[str]:
        if isinstance(request, ValidateRequest) and info is not None and self.jar is not None:
            return build_validate_argv(tool.path, self.jar, str(info.path), heap_flag(decoded_bytes(info)))
        if not isinstance(request, ToImageRequest) or info is None or self.jar is None:
            raise HarnessError(ErrorCode.UNSUPPORTED_OPTION, f"pixelmed does not implement op {request.op!r}", "op")  # type: ignore[attr-defined]
        return build_to_image_argv(request, info, plan, tool.path, self.jar)

    # -- from_json --------------------------------------------------------------------------------------
    def check_from_json(self, request: FromJsonRequest, info: object) -> list[str]:
        from dcmharness.backends.dicom_json import JsonDocument

        assert isinstance(info, JsonDocument)
        if self.launcher_classes() is None or not os.path.isfile(JSONP_JAR):
            raise HarnessError(
                ErrorCode.BACKEND_UNAVAILABLE,
                f"pixelmed from_json needs the launcher (bash adapters/pixelmed/build.sh) and {JSONP_JAR} "
                "(libjsonp-java)",
                "backend",
            )
        if info.transfer_syntax not in WRITABLE:
            raise HarnessError(
                ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
                f"PixelMed's JSON reader makes Pixel Data one plain value: it cannot write the encapsulated "
                f"transfer syntax {info.transfer_syntax}",
                "options.transfer_syntax" if request.options.transfer_syntax else "input",
            )
        at_value = first_at_value(info.model)
        if at_value is not None:
            raise HarnessError(
                ErrorCode.UNSUPPORTED_OPTION,
                "PixelMed's JSON reader parses an AT value only as '(0xgggg,0xeeee)' (AttributeTag(String)), not as "
                "PS3.18's 'ggggeeee': this document has one",
                f"input:{at_value}",
            )
        return []

    def from_json_jobs(self, jobs: Sequence[Job], tool: ToolInfo) -> list[JobResult]:
        """Every document through ONE launcher JVM (heap from the largest inlined document)."""
        import tempfile

        from dcmharness.backends.dicom_json import JsonDocument, verify_written, write_inlined

        classes = self.launcher_classes()
        assert self.jar is not None and classes is not None
        with tempfile.TemporaryDirectory(prefix="dcmharness-pixelmed-json-") as tmp:
            lines: list[str] = []
            sizes: list[int] = []
            for k, job in enumerate(jobs):
                doc = job.info
                assert isinstance(doc, JsonDocument)
                inlined = write_inlined(doc, Path(tmp), f"document{k}.json")
                sizes.append(inlined.stat().st_size)
                lines.append(from_json_job(inlined, job.plan.targets[0].temp, doc.transfer_syntax))
            argv = from_json_argv(tool.path, self.jar, classes, heap_flag(max(sizes)))
            timeout = sum(job.request.timeout or DEFAULT_TIMEOUT for job in jobs)
            try:
                run = run_tool(argv, timeout=timeout, stdin="".join(line + "\n" for line in lines).encode("utf-8"))
            except HarnessError as exc:
                return [exc for _ in jobs]
        answers = parse_answers(run.stdout_text)
        results: list[JobResult] = []
        for k, job in enumerate(jobs):
            ok, payload = answers.get(k, (False, [f"the launcher did not answer ({run.stderr_text[-300:]})"]))
            try:
                if not ok:
                    message = payload[0] if payload else "no message"
                    raise ToolError(ErrorCode.BACKEND_FAILED, f"PixelMed failed: {message}"[:600], argv, None)
                assert isinstance(job.info, JsonDocument)
                result = verify_written(job.info, job.plan.targets[0].temp)
                if len(jobs) > 1:
                    result["batch"] = {"launcher": FROM_JSON_CLASS, "jobs": len(jobs), "job": k}
                results.append(Outcome(result=result, command=argv))
            except HarnessError as exc:
                if not isinstance(exc, ToolError):
                    exc = ToolError(exc.code, f"PixelMed: {exc.message}", argv, run.stderr_text[-2000:] or None)
                results.append(exc)
        return results

    # -- running one request -------------------------------------------------------------------------
    def execute(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan) -> Outcome:
        tool = self.tool()
        if tool is None:
            raise HarnessError(ErrorCode.BACKEND_UNAVAILABLE, "pixelmed: java or the jar not found", "backend")
        if isinstance(request, FromJsonRequest):
            outcome = self.from_json_jobs([Job(request, info, plan)], tool)[0]  # type: ignore[arg-type]
            if isinstance(outcome, HarnessError):
                raise outcome
            return outcome
        if isinstance(request, ValidateRequest) and info is not None:
            return self.validate(request, info, tool)
        if isinstance(request, ToImageRequest) and info is not None and per_frame(request, info):
            outcome = self.execute_batch([Job(request, info, plan)])[0]  # one JVM, one job per frame
            if isinstance(outcome, HarnessError):
                raise outcome
            return outcome
        argv = self.build_argv(request, info, plan, tool)
        try:
            run = run_tool(argv, timeout=request.timeout)
            self.interpret(run, plan)
            self.gather_frames(plan, argv, run.stderr_text)
            result = verify_images(plan, argv, run)
        finally:
            self.clean(plan)
        return Outcome(result=result, command=argv, stderr=run.stderr_text or None)

    # -- validate -------------------------------------------------------------------------------------------
    def validate(self, request: ValidateRequest, info: InputInfo, tool: ToolInfo) -> Outcome:
        """One file through the run's validator JVM (the launcher), or DicomInstanceValidator's own main."""
        assert self.jar is not None
        timeout = request.timeout or DEFAULT_TIMEOUT
        classes = self.launcher_classes()
        if classes is None:
            argv = build_validate_argv(tool.path, self.jar, str(info.path), heap_flag(decoded_bytes(info)))
            run = run_tool(argv, timeout=timeout + 60)
            text, command = run.stdout_text, argv
            if run.returncode != 0 or not text.strip():
                cause = java_error(run.stderr_text) or "no output"
                raise ToolError(
                    ErrorCode.BACKEND_FAILED, f"PixelMed's validator failed: {cause}", argv, run.stderr_text
                )
        else:
            command = validate_argv(tool.path, self.jar, classes, f"-Xmx{max_heap_mb()}m")
            ok, text = self._ask(command, str(info.path), timeout)
            if not ok:
                raise ToolError(ErrorCode.BACKEND_FAILED, f"PixelMed's validator failed: {text}", command, None)
        findings, iod, recognised = parse_output(text)
        if not recognised:
            raise ToolError(ErrorCode.BACKEND_FAILED, "PixelMed: IOD (SOP Class) unrecognized", command, None)
        result = validate_result(
            findings,
            validator=f"pixelmed {tool.version or '?'} DicomInstanceValidator",
            iod=iod,
            sop_class_uid=header.text(info.dataset, "SOPClassUID") or None,
            include_warnings=request.options.include_warnings,
        )
        return Outcome(result=result, command=command)

    def _ask(self, argv: list[str], path: str, timeout: float) -> tuple[bool, str]:
        with self._validator_lock:
            if self._validator is None or not self._validator.alive():
                self._validator = ValidatorWorker(argv)
            worker = self._validator
        try:
            return worker.ask(path, timeout)
        except TimeoutError:
            self._stop_validator(worker)
            raise ToolError(
                ErrorCode.TIMEOUT, f"PixelMed's validator did not answer within {timeout:g} s; killed", argv, None
            ) from None
        except (EOFError, OSError) as exc:
            self._stop_validator(worker)
            raise ToolError(ErrorCode.BACKEND_FAILED, f"PixelMed's validator JVM ended: {exc!r}", argv, None) from None

    def _stop_validator(self, worker: ValidatorWorker) -> None:
        worker.close()
        with self._validator_lock:
            if self._validator is worker:
                self._validator = None

    def close(self) -> None:
        with self._validator_lock:
            worker, self._validator = self._validator, None
        if worker is not None:
            worker.close()

    def gather_frames(self, plan: OutputPlan, argv: list[str], stderr: str | None) -> None:
        """Move PixelMed's multi-frame files onto the plan's temps; a missing file is ``backend_failed``."""
        if len(plan.targets) > 1:
            out = multi_frame_output(plan)
            for target in plan.targets:
                produced = frame_file(out, target.frame or 0)
                if produced.is_file():
                    os.replace(produced, target.temp)
        missing = [t for t in plan.targets if not t.temp.is_file()]
        if missing:
            cause = java_error(stderr or "") or "no message"
            raise ToolError(
                ErrorCode.BACKEND_FAILED,
                f"PixelMed wrote no output ({missing[0].final.name}): {cause}",
                argv,
                stderr,
            )

    def clean(self, plan: OutputPlan) -> None:
        if len(plan.targets) > 1:
            out = multi_frame_output(plan)
            for k in range(len(plan.targets) + 1):
                with contextlib.suppress(OSError):
                    frame_file(out, k).unlink()

    # -- running many ----------------------------------------------------------------------------------
    def execute_batch(self, jobs: Sequence[Job]) -> list[JobResult]:
        """All jobs in one JVM through PixelMedBatch; one call per job when the launcher is not built."""
        tool = self.tool()
        classes = self.launcher_classes()
        if tool is None or self.jar is None:
            err = HarnessError(ErrorCode.BACKEND_UNAVAILABLE, "pixelmed: java or the jar not found", "backend")
            return [err for _ in jobs]
        if any(isinstance(job.request, FromJsonRequest) for job in jobs):
            documents = [k for k, job in enumerate(jobs) if isinstance(job.request, FromJsonRequest)]
            others = [k for k in range(len(jobs)) if k not in documents]
            answered: dict[int, JobResult] = dict(
                zip(documents, self.from_json_jobs([jobs[k] for k in documents], tool), strict=True)
            )
            if others:
                answered.update(zip(others, self.execute_batch([jobs[k] for k in others]), strict=True))
            return [answered[k] for k in range(len(jobs))]
        split = [job_args(job.request, job.info, job.plan) for job in jobs]
        if classes is None or (len(jobs) < 2 and len(split[0]) < 2):
            return [self._one(job) for job in jobs]
        heap = heap_flag(max(decoded_bytes(job.info) for job in jobs))  # one job at a time: the largest
        argv = batch_argv(tool.path, self.jar, classes, heap)
        owner = [k for k, lines in enumerate(split) for _ in lines]
        text = "".join(batch_line(args) + "\n" for lines in split for args in lines)
        timeout = sum(job.request.timeout or DEFAULT_TIMEOUT for job in jobs)
        try:
            run = run_tool(argv, timeout=timeout, stdin=text.encode("utf-8"))
        except HarnessError as exc:
            for job in jobs:
                self.clean(job.plan)
            return [exc for _ in jobs]
        answers = parse_answers(run.stdout_text)
        failed: dict[int, str] = {}
        for line, k in enumerate(owner):
            ok, payload = answers.get(line, (False, [f"the launcher did not answer ({run.stderr_text[-300:]})"]))
            if not ok:
                failed.setdefault(k, payload[0] if payload else "no message")
        results: list[JobResult] = []
        for k, job in enumerate(jobs):
            single = build_to_image_argv(job.request, job.info, job.plan, tool.path, self.jar)
            command = argv if len(split[k]) > 1 else single
            try:
                if k in failed:
                    raise ToolError(ErrorCode.BACKEND_FAILED, f"PixelMed failed: {failed[k]}", command, None)
                self.gather_frames(job.plan, command, None)
                result = verify_images(job.plan, command)
                if len(jobs) > 1:
                    result["batch"] = {"launcher": BATCH_CLASS, "jobs": len(jobs), "job": k, "command": argv}
                results.append(Outcome(result=result, command=command))
            except HarnessError as exc:
                results.append(exc)
            finally:
                self.clean(job.plan)
        return results

    def _one(self, job: Job) -> JobResult:
        try:
            return self.execute(job.request, job.info, job.plan)
        except HarnessError as exc:
            return exc
