"""The dcmjs adapter: ``to_image`` through the npm package ``dcmjs-imaging`` (the rendering of many web viewers)
in Node.js, run as long-lived workers (``worker.mjs``: JSON Lines requests in, one answer line each).

Facts it relies on (dcmjs-imaging 0.2.5 as pinned in ``package-lock.json``; the package ships one minified
file, cited as ``build/dcmjs-imaging.min.js:1:<column>``; details in ``docs/dcmjs.md``):

- ``new DicomImage(buffer).render({frame, windowLevel, renderOverlays})`` gives 8-bit RGBA: grayscale through a
  256-entry palette (MONOCHROME1: the inverted palette), colour as RGB. No 16-bit output. The worker writes
  one channel for MONOCHROME1/2, RGB otherwise, as PNG (Up-filtered rows, zlib) or PNM.
- Transfer syntaxes: ``RENDERABLE`` (its RenderableTransferSyntaxes); anything else is refused.
- Modality: top-level Rescale Slope/Intercept only; no Modality LUT Sequence, no functional groups.
- VOI: an explicit window, or the file's top-level windows (``WindowLevel.fromDicomImageElements``, which drops
  widths below 1), else its own min-max window. The window function is always the element VOILUTFunction:
  the worker sets it for an explicit window (LINEAR unless ``voi_function`` says otherwise) or an override.
  No VOI LUT Sequence; Presentation LUT Shape is never read.
- Refused before the worker runs: what it cannot be asked (table below), and per file: a Modality LUT
  Sequence or functional-group rescale, a VOI LUT Sequence the request would use, stored windows only in
  functional groups, Presentation LUT Shape INVERSE on MONOCHROME2, stored windows it would skip or renumber.
- Where it accepts and renders differently (truncation in its LUTs, LINEAR_EXACT without +0.5, overlays
  never drawn, ...): entries of interface/conform/divergences.toml with the column they come from.

Workers: ``node --max-old-space-size=N worker.mjs``, started on the first request, one per concurrent caller,
killed by process group and replaced when a request times out or the worker dies, stopped by PID on
``close()``, at exit and on Ctrl-C. ``build_worker_request`` is a pure function (golden-tested).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dcmharness.adapters import header
from dcmharness.adapters.base import Capability, ToolAdapter, ToolInfo, verify_images
from dcmharness.adapters.jsonl_workers import WorkerGone, WorkerPool
from dcmharness.adapters.runner import DEFAULT_TIMEOUT, ToolError
from dcmharness.backends.base import Availability, Outcome, unsupported
from dcmharness.backends.batch import Job, JobResult
from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import RequestBase, ToImageRequest
from dcmharness.contract.ops_models import FromJsonRequest
from dcmharness.contract.options import format_for

HERE = Path(__file__).resolve().parent
WORKER = HERE / "worker.mjs"
PACKAGE = HERE / "node_modules" / "dcmjs-imaging" / "package.json"
#: V8 heap limit of a worker (MiB); pixel buffers are bounded by the preflight's size checks.
HEAP_MB = int(os.environ.get("DCMHARNESS_DCMJS_HEAP_MB", "1024"))
#: Seconds a new worker may take to load the library and its WebAssembly codecs.
STARTUP_TIMEOUT = 30.0

#: dcmjs-imaging's RenderableTransferSyntaxes (build/dcmjs-imaging.min.js:1:65909).
RENDERABLE = frozenset(
    {
        "1.2.840.10008.1.2",  # Implicit VR Little Endian
        "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
        "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian
        "1.2.840.10008.1.2.2",  # Explicit VR Big Endian
        "1.2.840.10008.1.2.5",  # RLE Lossless
        "1.2.840.10008.1.2.4.50",  # JPEG baseline
        "1.2.840.10008.1.2.4.51",  # JPEG extended
        "1.2.840.10008.1.2.4.57",  # JPEG lossless
        "1.2.840.10008.1.2.4.70",  # JPEG lossless SV1
        "1.2.840.10008.1.2.4.80",  # JPEG-LS lossless
        "1.2.840.10008.1.2.4.81",  # JPEG-LS near-lossless
        "1.2.840.10008.1.2.4.90",  # JPEG 2000 lossless
        "1.2.840.10008.1.2.4.91",  # JPEG 2000
        "1.2.840.10008.1.2.4.110",  # JPEG XL lossless
        "1.2.840.10008.1.2.4.111",  # JPEG XL JPEG recompression
        "1.2.840.10008.1.2.4.112",  # JPEG XL
        "1.2.840.10008.1.2.4.201",  # HTJ2K lossless
        "1.2.840.10008.1.2.4.202",  # HTJ2K lossless RPCL
        "1.2.840.10008.1.2.4.203",  # HTJ2K
    }
)

#: What the worker writes (the library renders pixels; the worker encodes them).
FORMATS = ("png", "pnm")


def capability_table() -> dict[str, dict[str, Capability]]:
    return {
        "to_image": {
            "format": (None, *FORMATS),  # None: from the extension (checked in check_input)
            "bit_depth": (8,),  # RGBA 8-bit out
            "quality": False,  # no jpeg
            "png_compression": True,
            "window_center": True,
            "window_width": True,
            "voi_function": True,  # the VOILUTFunction element the library reads
            "voi": ("auto", "window"),  # no VOI LUT Sequence; no way to ask for min-max or none
            "voi_index": True,
            "modality_lut": (True,),  # rescale always applied
            "presentation": ("auto",),  # no way to ask for an inversion
            "overlays": (True, False),  # renderOverlays: all or none
            "overlay_value": False,  # its overlay colour is fixed
        }
    }


def _functional_group_has(ds: Any, keyword: str) -> bool:
    """Whether a shared or per-frame functional group item carries ``keyword``."""
    for groups in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        for item in ds.get(groups) or []:
            if item.get(keyword):
                return True
    return False


def _multiplicity(ds: Any, keyword: str) -> int:
    value = ds.get(keyword)
    if value is None or value == "":
        return 0
    if isinstance(value, str | bytes | int | float):
        return 1
    return len(list(value))


def grayscale_refusal(request: ToImageRequest, ds: Any, photometric: str) -> HarnessError | None:
    """The refusal of a grayscale request dcmjs-imaging cannot honour on this file (pure), or None."""
    opts = request.options
    if opts.modality_lut and header.has_modality_lut_sequence(ds):
        return unsupported("modality_lut", "dcmjs-imaging does not apply a Modality LUT Sequence (rescale only)")
    if opts.modality_lut and _functional_group_has(ds, "PixelValueTransformationSequence"):
        return unsupported("modality_lut", "dcmjs-imaging reads the top-level rescale only, not functional groups")
    if header.text(ds, "PresentationLUTShape") == "INVERSE" and photometric != "MONOCHROME1":
        return unsupported("presentation", "dcmjs-imaging ignores the file's Presentation LUT Shape INVERSE")
    source, index = header.resolve_voi(opts, ds)
    if source == "lut":
        return unsupported("voi", "dcmjs-imaging does not apply VOI LUT Sequences (this file's auto VOI is its LUT)")
    if source == "minmax" and _functional_group_has(ds, "FrameVOILUTSequence"):
        return unsupported("voi", "dcmjs-imaging reads top-level windows only; this file's are in functional groups")
    if source == "window":
        field = "voi_index" if opts.voi_index is not None else "voi"
        if _multiplicity(ds, "WindowCenter") != _multiplicity(ds, "WindowWidth"):
            return unsupported(field, "dcmjs-imaging ignores stored windows whose centre and width counts differ")
        if any(w < 1 for _, w in header.stored_windows(ds)[: index + 1]):
            return unsupported(field, "dcmjs-imaging skips stored windows narrower than 1 (and renumbers the rest)")
    return None


#: from_json: what dcmjs 0.50's DicomDict.write writes faithfully from a JSON model (observed over pydicom's test
#: files, the worker given the dumped documents): Implicit and Explicit VR Little Endian.
FROM_JSON_SYNTAXES = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"})
ENCAPSULATED = "it wraps the encapsulated Pixel Data value in a new item of its own (20 bytes more than the original)"
FROM_JSON_REFUSED = {
    "1.2.840.10008.1.2.2": "it throws on Explicit VR Big Endian (observed with ExplVR_BigEnd.dcm)",
    "1.2.840.10008.1.2.1.99": "its deflated output does not inflate (observed with image_dfl.dcm: "
    "'invalid stored block lengths')",
}


def from_json_request(ident: int, document: Path, output: Path, transfer_syntax: str) -> dict[str, Any]:
    """One JSON Lines request of ``worker.mjs``'s from_json (pure; paths absolute)."""
    return {
        "id": ident,
        "op": "from_json",
        "input": os.path.abspath(str(document)),
        "output": os.path.abspath(str(output)),
        "transfer_syntax": transfer_syntax,
    }


def worker_argv(node: str) -> list[str]:
    return [node, f"--max-old-space-size={HEAP_MB}", str(WORKER)]


def build_worker_request(request: ToImageRequest, info: InputInfo, plan: OutputPlan, ident: int) -> dict[str, Any]:
    """One JSON Lines request of ``worker.mjs`` (pure; paths absolute; the worker writes the plan's temps)."""
    opts = request.options
    default_frame = 0 if opts.frame == "all" else int(opts.frame)
    return {
        "id": ident,
        "input": os.path.abspath(str(info.path)),
        "outputs": [
            {"frame": t.frame if t.frame is not None else default_frame, "path": os.path.abspath(str(t.temp))}
            for t in plan.targets
        ],
        "format": format_for(request.output, opts),
        "png_compression": opts.png_compression,
        "window": list(opts.explicit_window() or ()) or None,
        "voi": opts.voi,
        "voi_index": opts.voi_index,
        "voi_function": opts.voi_function,
        "overlays": opts.overlays is not False,
    }


def answer_error(answer: dict[str, Any], command: list[str]) -> ToolError:
    """The contract error of a failed answer (codes the worker may not claim become backend_failed)."""
    err = answer.get("error") or {}
    message = str(err.get("message") or "no message")
    try:
        code = ErrorCode(str(err.get("code")))
    except ValueError:
        code = ErrorCode.BACKEND_FAILED
    if code not in (ErrorCode.DECODE_FAILED, ErrorCode.OUTPUT_EXISTS, ErrorCode.INPUT_NOT_FOUND):
        code = ErrorCode.BACKEND_FAILED
    return ToolError(code, f"dcmjs-imaging: {message}", command, None)


def package_version(path: Path = PACKAGE) -> str | None:
    try:
        version = json.loads(path.read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError):
        return None
    return str(version) if version else None


class DcmjsAdapter(ToolAdapter):
    name = "dcmjs"
    description = (
        "dcmjs-imaging (npm) in Node.js: the rendering of web viewers, as long-lived JSON Lines workers; "
        "from_json with dcmjs's DicomDict."
    )
    tools = ("node",)
    env_var = "DCMHARNESS_NODE"
    install_hint = "make setup (npm ci in adapters/dcmjs; needs Node.js >= 20)"
    ops = ("to_image", "from_json")

    def __init__(self) -> None:
        super().__init__()
        self._pool: WorkerPool | None = None
        self._ids = 0

    def find(self) -> str | None:
        node = os.environ.get(self.env_var or "") or shutil.which("node")
        if not node or not os.access(node, os.X_OK) or not WORKER.is_file() or not PACKAGE.is_file():
            return None
        return node

    def _discover(self) -> None:
        """node and the installed package; the version is dcmjs-imaging's (no process started)."""
        node = self.find()
        if node:
            self._tool = ToolInfo(node, package_version())
        self._searched = True

    def availability(self) -> Availability:
        info = self.tool()
        if info is None:
            missing = "node" if not (os.environ.get(self.env_var or "") or shutil.which("node")) else str(PACKAGE)
            return Availability(False, None, f"{missing} not found; {self.install_hint}")
        return Availability(True, info.version, location=f"{info.path} {WORKER}")

    def capabilities_for(self, version: str | None) -> dict[str, dict[str, Capability]]:
        return {**capability_table(), "from_json": {"transfer_syntax": True}}

    def capabilities(self) -> dict[str, Any]:
        caps = super().capabilities()
        caps["to_image"]["transfer_syntaxes"] = sorted(RENDERABLE)
        caps["to_image"]["formats"] = ["png/8", "pnm/8"]
        caps["from_json"]["transfer_syntaxes"] = sorted(FROM_JSON_SYNTAXES)
        return caps

    def check_input(self, request: RequestBase, info: InputInfo | None) -> list[str]:
        if isinstance(request, FromJsonRequest):
            tsyntax = str(getattr(info, "transfer_syntax", ""))
            if tsyntax not in FROM_JSON_SYNTAXES:
                raise HarnessError(
                    ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
                    f"dcmjs's DicomDict.write cannot write {tsyntax} from JSON: "
                    + FROM_JSON_REFUSED.get(tsyntax, ENCAPSULATED),
                    "options.transfer_syntax" if request.options.transfer_syntax else "input",
                )
            return []
        if not isinstance(request, ToImageRequest) or info is None:
            return []
        fmt = format_for(request.output, request.options)
        if fmt not in FORMATS:
            raise unsupported("format", f"the dcmjs worker writes png or pnm, not {fmt}")
        if info.transfer_syntax not in RENDERABLE:
            raise HarnessError(
                ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
                f"dcmjs-imaging cannot render transfer syntax {info.transfer_syntax}",
                "input",
            )
        if info.is_color:
            from dcmharness.backends.python_ref.pipeline import check_color_options

            check_color_options(request.options)
            return []
        refusal = grayscale_refusal(request, info.dataset, info.photometric)
        if refusal is not None:
            raise refusal
        return []

    def build_argv(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan, tool: ToolInfo) -> list[str]:
        return worker_argv(tool.path)

    def pool(self, node: str) -> WorkerPool:
        with self._lock:
            if self._pool is None:
                env = {k: v for k, v in os.environ.items() if k != "NODE_OPTIONS"}
                self._pool = WorkerPool(worker_argv(node), cwd=str(HERE), env=env, startup=STARTUP_TIMEOUT)
            return self._pool

    def execute(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan) -> Outcome:
        tool = self.tool()
        if tool is None:
            raise HarnessError(
                ErrorCode.BACKEND_UNAVAILABLE, f"{self.name}: node or dcmjs-imaging not found", "backend"
            )
        if isinstance(request, FromJsonRequest):
            return self.from_json(request, info, plan, tool)
        if not isinstance(request, ToImageRequest) or info is None:
            raise HarnessError(ErrorCode.UNSUPPORTED_OPTION, f"dcmjs does not implement op {request.op!r}", "op")  # type: ignore[attr-defined]
        with self._lock:
            self._ids += 1
            ident = self._ids
        line = build_worker_request(request, info, plan, ident)
        answer, command = self.ask(tool, line, request.timeout)
        result = verify_images(plan, command)
        tool_result = answer.get("result") or {}
        result["dcmjs"] = {
            "window": tool_result.get("window"),
            "voi_function": tool_result.get("voi_function"),
            "ms": answer.get("ms"),
        }
        return Outcome(result=result, command=command)

    def from_json(self, request: FromJsonRequest, doc: object, plan: OutputPlan, tool: ToolInfo) -> Outcome:
        """The document, every bulk value inline, through the worker's dcmjs DicomDict."""
        import tempfile

        from dcmharness.backends.dicom_json import JsonDocument, verify_written, write_inlined

        assert isinstance(doc, JsonDocument)
        with self._lock:
            self._ids += 1
            ident = self._ids
        with tempfile.TemporaryDirectory(prefix="dcmharness-dcmjs-json-") as tmp:
            document = write_inlined(doc, Path(tmp))
            line = from_json_request(ident, document, plan.targets[0].temp, doc.transfer_syntax)
            answer, command = self.ask(tool, line, request.timeout)
        try:
            result = verify_written(doc, plan.targets[0].temp)
        except HarnessError as exc:
            raise ToolError(exc.code, f"dcmjs: {exc.message}", command, None) from None
        result["dcmjs"] = {**(answer.get("result") or {}), "ms": answer.get("ms")}
        return Outcome(result=result, command=command)

    def ask(
        self, tool: ToolInfo, line: dict[str, Any], request_timeout: float | None
    ) -> tuple[dict[str, Any], list[str]]:
        """One request on a warm worker: (its answer, the command shown); contract errors otherwise."""
        pool = self.pool(tool.path)
        command = [*pool.argv, json.dumps(line)]
        timeout = request_timeout if request_timeout is not None else DEFAULT_TIMEOUT
        try:
            worker = pool.take()
        except (TimeoutError, WorkerGone, OSError) as exc:
            raise ToolError(
                ErrorCode.BACKEND_FAILED, f"the dcmjs worker did not start: {exc or 'no ready line'}", command, None
            ) from None
        try:
            answer = worker.ask(line, timeout)
        except TimeoutError:
            pool.discard(worker)
            raise ToolError(
                ErrorCode.TIMEOUT,
                f"the dcmjs worker did not answer within {timeout:g} s; it was killed",
                command,
                worker.stderr_tail() or None,
            ) from None
        except WorkerGone as exc:
            pool.discard(worker)
            raise ToolError(
                ErrorCode.BACKEND_FAILED, f"the dcmjs worker failed: {exc}", command, worker.stderr_tail() or None
            ) from None
        except BaseException:  # Ctrl-C while waiting: the worker's state is unknown
            pool.discard(worker)
            raise
        if not answer.get("ok"):  # a library exception (a WebAssembly abort among them): start afresh
            pool.discard(worker)
            raise answer_error(answer, command)
        pool.give_back(worker)
        return answer, command

    def execute_batch(self, jobs: Sequence[Job]) -> list[JobResult]:
        """The batch protocol (``dcmharness.backends.batch``): the jobs one after another on a warm worker."""
        results: list[JobResult] = []
        for job in jobs:
            try:
                results.append(self.execute(job.request, job.info, job.plan))
            except HarnessError as exc:
                results.append(exc)
        return results

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
