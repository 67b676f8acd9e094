"""The rust_render adapter: our own renderer ``dicom-render`` (backends/rust_render), an independent
implementation of contract/SEMANTICS.md.

- The binary: ``$DICOM_RENDER`` (the binary or a folder holding it), else ``dicom-render`` on PATH, else the
  one ``make setup`` builds at ``backends/rust_render/target/release/dicom-render``.
- Every contract option maps 1:1 onto a flag (``--window-center``, ``--voi``, ``--overlays 0,2`` ...), so
  the capability table honours everything; colour images refuse the grayscale-only options exactly as
  python_ref does, before the tool runs.
- One process per request for a short run; from the second request of a run on, requests go to
  ``dicom-render --batch`` worker processes (JSON Lines in, one JSON line out each), started once and
  reused (``close()`` stops them). ``DCMHARNESS_RUST_BATCH=never|always|auto`` (default ``auto``).
  ``execute_batch(jobs)`` (the batch dispatcher's protocol, ``dcmharness.interface.batch.run_batch``) sends
  a whole group of prepared requests through one ``--batch`` process.
- ``frame: "all"`` writes ``<prefix>_<NNNN><suffix>`` next to the plan's first temp file; ``collect``
  moves each frame onto its temp file.
- The tool's one-line error ``error: <code>: <message>`` (or its batch answer) keeps its contract code.
- ``decode`` (contract/OPS.md): ``dicom-render --op decode --frame F --color-space C --overwrite -- INPUT
  TEMP.npy`` writes the stored values with the renderer's own decoders (its stage 1) and prints the result;
  the adapter reads the ``.npy`` back and checks its shape, dtype and MD5 against what the tool printed.
- ``stats`` and ``histogram`` (contract/OPS.md): ``dicom-render --op stats|histogram ... -- INPUT`` prints
  the result object on stdout, with python_ref's numbers bit for bit (numpy's pairwise sums, type-7
  percentiles and lerp, ``format(p, "g")`` keys); one process per request. Every option is honoured; Float
  Pixel Data, which the tool does not read, is refused (``unsupported_option`` on ``input``).

``build_to_image_argv``, ``build_batch_request`` and ``build_ops_argv`` are pure functions of (request,
input, plan, tool); ``parse_ops_result`` of the tool's stdout.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dcmharness.adapters.base import Capability, ToolAdapter, ToolInfo, verify_images
from dcmharness.adapters.runner import DEFAULT_TIMEOUT, ToolError, ToolRun, kill_group, read_line, run_tool
from dcmharness.backends.base import Outcome
from dcmharness.backends.outputs import OutputPlan, frame_path
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import RequestBase, ToImageRequest
from dcmharness.contract.ops_models import DecodeRequest, HistogramRequest, StatsRequest
from dcmharness.contract.options import ToImageOptions, format_for

if TYPE_CHECKING:
    from dcmharness.backends.batch import Job

REPO = Path(__file__).resolve().parents[1]
BUILT = REPO / "backends" / "rust_render" / "target" / "release" / "dicom-render"

DECODABLE = frozenset(
    {
        "1.2.840.10008.1.2",  # Implicit VR Little Endian
        "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
        "1.2.840.10008.1.2.2",  # Explicit VR Big Endian
        "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian
        "1.2.840.10008.1.2.5",  # RLE Lossless
        "1.2.840.10008.1.2.4.50",  # JPEG baseline
        "1.2.840.10008.1.2.4.51",  # JPEG extended (8/12-bit)
        "1.2.840.10008.1.2.4.57",  # JPEG lossless
        "1.2.840.10008.1.2.4.70",  # JPEG lossless SV1
        "1.2.840.10008.1.2.4.80",  # JPEG-LS lossless (libcharls)
        "1.2.840.10008.1.2.4.81",  # JPEG-LS near-lossless (libcharls)
        "1.2.840.10008.1.2.4.90",  # JPEG 2000 lossless (libopenjp2)
        "1.2.840.10008.1.2.4.91",  # JPEG 2000 (libopenjp2)
        "1.2.840.10008.1.2.4.201",  # HTJ2K lossless (libopenjp2 >= 2.5)
        "1.2.840.10008.1.2.4.202",  # HTJ2K lossless RPCL
        "1.2.840.10008.1.2.4.203",  # HTJ2K
    }
)

#: When to use the --batch workers: never, always, or from the second request of a run on (auto).
BATCH_ENV = "DCMHARNESS_RUST_BATCH"


#: The ops beyond to_image, each answered by ``dicom-render --op <op>``.
EXTRA_OPS = ("stats", "histogram", "decode")


def capability_table(version: str | None) -> dict[str, dict[str, Capability]]:
    """Every contract option, every value: the renderer implements the contract itself."""
    del version
    return {
        "to_image": {
            name: True
            for name in (
                "format", "bit_depth", "quality", "png_compression", "window_center", "window_width",
                "voi_function", "voi", "voi_index", "modality_lut", "presentation", "overlays", "overlay_value",
                "colormap",
            )
        },
        "stats": {"values": True, "percentiles": True},
        "histogram": {"values": True, "bins": True, "range": True},
        "decode": {"color_space": True},
    }  # fmt: skip


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def option_args(opts: ToImageOptions, fmt: str) -> list[str]:
    """The flags for the options a request sets (defaults are the tool's defaults too); format always given."""
    args: list[str] = ["--frame", "all" if opts.frame == "all" else str(int(opts.frame)), "--format", fmt]
    if opts.bit_depth != 8:
        args += ["--bit-depth", str(opts.bit_depth)]
    if opts.quality is not None:
        args += ["--quality", str(opts.quality)]
    if opts.png_compression is not None:
        args += ["--png-compression", str(opts.png_compression)]
    window = opts.explicit_window()
    if window is not None:
        args += ["--window-center", _num(window[0]), "--window-width", _num(window[1])]
    if opts.voi_function is not None:
        args += ["--voi-function", opts.voi_function]
    if opts.voi != "auto":
        args += ["--voi", opts.voi]
    if opts.voi_index is not None:
        args += ["--voi-index", str(opts.voi_index)]
    if not opts.modality_lut:
        args += ["--no-modality-lut"]
    if opts.presentation != "auto":
        args += ["--presentation", opts.presentation]
    if opts.overlays is False:
        args += ["--overlays", "none"]
    elif opts.overlays is not True:
        args += ["--overlays", ",".join(str(p) for p in sorted(opts.overlays)) or "none"]
    if opts.overlay_value is not None:
        args += ["--overlay-value", str(opts.overlay_value)]
    if opts.colormap is not None:
        args += ["--colormap", opts.colormap]
    return args


def frames_prefix(plan: OutputPlan) -> Path:
    """Where ``frame: "all"`` writes (``<prefix stem>_<NNNN><suffix>``): beside the first temp, never a final name."""
    first = plan.targets[0].temp
    stem, dot, ext = first.name.rpartition(".")
    name = f"{stem}.frames.{ext}" if dot else f"{first.name}.frames"
    return Path(os.path.abspath(str(first.with_name(name))))


def output_for(request: ToImageRequest, plan: OutputPlan) -> str:
    if request.options.frame == "all":
        return str(frames_prefix(plan))
    return os.path.abspath(str(plan.targets[0].temp))


def build_to_image_argv(request: ToImageRequest, info: InputInfo, plan: OutputPlan, tool: ToolInfo) -> list[str]:
    """The dicom-render command line (pure; paths absolute, after ``--`` so a leading '-' is a path)."""
    fmt = format_for(request.output, request.options)
    return [
        tool.path,
        *option_args(request.options, fmt),
        "--",
        os.path.abspath(str(info.path)),
        output_for(request, plan),
    ]


def batch_options(opts: ToImageOptions, fmt: str) -> dict[str, Any]:
    """The options of a batch request: the contract's own names, only what the request sets."""
    out: dict[str, Any] = {"frame": opts.frame, "format": fmt}
    window = opts.explicit_window()
    if window is not None:
        out["window_center"], out["window_width"] = window
    for name in ("bit_depth", "quality", "png_compression", "voi_function", "voi", "voi_index", "modality_lut",
                 "presentation", "overlays", "overlay_value", "colormap"):  # fmt: skip
        value = getattr(opts, name)
        if value != ToImageOptions.model_fields[name].default:
            out[name] = value
    return out


def build_batch_request(request: ToImageRequest, info: InputInfo, plan: OutputPlan, ident: int) -> dict[str, Any]:
    """One JSON Lines request for ``dicom-render --batch`` (pure)."""
    fmt = format_for(request.output, request.options)
    return {
        "id": ident,
        "input": os.path.abspath(str(info.path)),
        "output": output_for(request, plan),
        "overwrite": False,
        "options": batch_options(request.options, fmt),
    }


def _float_arg(value: float) -> str:
    """A float for the command line that parses back to the same double (``repr``: shortest round-trip)."""
    return repr(float(value))


def build_ops_argv(request: StatsRequest | HistogramRequest, info: InputInfo, tool: ToolInfo) -> list[str]:
    """``dicom-render --op stats|histogram`` with every option spelled out (pure; input after ``--``)."""
    opts = request.options
    argv = [tool.path, "--op", request.op, "--frame", str(opts.frame), "--values", opts.values]
    if isinstance(request, StatsRequest):
        argv += ["--percentiles", ",".join(_float_arg(p) for p in request.options.percentiles)]
    else:
        argv += ["--bins", str(request.options.bins)]
        if request.options.range is not None:
            argv += ["--range", ",".join(_float_arg(v) for v in request.options.range)]
    return [*argv, "--", os.path.abspath(str(info.path))]


def build_decode_argv(request: DecodeRequest, info: InputInfo, plan: OutputPlan, tool: ToolInfo) -> list[str]:
    """``dicom-render --op decode`` writing the plan's temp file (ours: ``--overwrite``). Pure."""
    opts = request.options
    return [
        tool.path,
        "--op",
        "decode",
        "--frame",
        str(opts.frame),
        "--color-space",
        opts.color_space,
        "--overwrite",
        "--",
        os.path.abspath(str(info.path)),
        os.path.abspath(str(plan.targets[0].temp)),
    ]


#: The keys of ``decode``'s result, in python_ref's order.
DECODE_KEYS = ("shape", "dtype", "md5", "frames", "photometric", "color_space", "transfer_syntax", "decoder")


def decode_result(stdout: str, npy: Path, argv: list[str], stderr: str | None) -> dict[str, Any]:
    """The tool's ``decode`` result, checked against the ``.npy`` it wrote (read back by numpy: shape, dtype
    and the MD5 of the array's bytes must be what the tool says); ``backend_failed`` otherwise."""
    import numpy as np

    from dcmharness.backends.python_ref.ops_decode import md5_of

    try:
        said = json.loads(stdout)
        array = np.load(npy, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise ToolError(ErrorCode.BACKEND_FAILED, f"dicom-render --op decode: {exc}", argv, stderr) from None
    if not isinstance(said, dict) or not set(DECODE_KEYS) <= said.keys():
        raise ToolError(ErrorCode.BACKEND_FAILED, "dicom-render --op decode printed a malformed result", argv, stderr)
    read = {"shape": list(array.shape), "dtype": array.dtype.name, "md5": md5_of(array)}
    if any(said[k] != v for k, v in read.items()):
        raise ToolError(
            ErrorCode.BACKEND_FAILED, f"dicom-render's .npy does not match its result: {read} vs {said}", argv, stderr
        )
    return {k: said[k] for k in DECODE_KEYS}


def parse_ops_result(stdout: str, argv: list[str], stderr: str | None) -> dict[str, Any]:
    """The result object ``--op stats|histogram`` printed (key order kept); ``backend_failed`` if malformed."""
    try:
        result = json.loads(stdout)
    except ValueError as exc:
        raise ToolError(ErrorCode.BACKEND_FAILED, f"dicom-render printed no JSON result: {exc}", argv, stderr) from None
    if (
        not isinstance(result, dict)
        or not isinstance(result.get("frames"), list)
        or not all(isinstance(f, dict) for f in result["frames"])
        or not {"values", "modality_lut"} <= result.keys()
    ):
        raise ToolError(ErrorCode.BACKEND_FAILED, "dicom-render printed a malformed result", argv, stderr)
    return result


def check_ops_input(info: InputInfo | None) -> None:
    """Refusals of ``stats`` / ``histogram`` that depend on the input, before the tool runs."""
    if info is None:
        return
    if info.transfer_syntax not in DECODABLE:
        raise HarnessError(
            ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
            f"rust_render cannot decode transfer syntax {info.transfer_syntax}",
            "input",
        )
    ds = info.dataset
    if ds is not None and "PixelData" not in ds and any(k in ds for k in ("FloatPixelData", "DoubleFloatPixelData")):
        raise HarnessError(
            ErrorCode.UNSUPPORTED_OPTION, "rust_render does not read Float / Double Float Pixel Data", "input"
        )


def error_from_stderr(text: str) -> tuple[ErrorCode, str]:
    """``error: <code>: <message>`` -> (code, message); unknown codes become backend_failed."""
    for line in reversed(text.strip().splitlines()):
        if line.startswith("error: "):
            code, _, message = line[len("error: ") :].partition(": ")
            try:
                parsed = ErrorCode(code)
            except ValueError:
                return ErrorCode.BACKEND_FAILED, line
            if parsed == ErrorCode.INTERNAL_ERROR:
                return ErrorCode.BACKEND_FAILED, line
            return parsed, message
    return ErrorCode.BACKEND_FAILED, text.strip().splitlines()[-1] if text.strip() else "no message"


class _Worker:
    """One ``dicom-render --batch`` process: a request line in, an answer line out."""

    def __init__(self, path: str) -> None:
        self.proc = subprocess.Popen(
            [path, "--batch"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.buffer = b""
        self.owner = os.getpid()  # a forked child must not share its parent's pipes

    def ask(self, line: str, timeout: float) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        answer, self.buffer = read_line(fd, self.buffer, deadline)
        decoded: dict[str, Any] = json.loads(answer)
        return decoded

    def close(self) -> None:
        with contextlib.suppress(Exception):
            kill_group(self.proc.pid)
            self.proc.wait(timeout=5)


class RustRenderAdapter(ToolAdapter):
    name = "rust_render"
    description = "dcmharness's own Rust renderer (backends/rust_render, dicom-render): SEMANTICS.md re-implemented."
    tools = ("dicom-render",)
    env_var = "DICOM_RENDER"
    install_hint = "make setup (cargo build --release --offline in backends/rust_render)"
    ops = ("to_image", *EXTRA_OPS)

    def __init__(self) -> None:
        super().__init__()
        self._idle: list[_Worker] = []
        self._workers: list[_Worker] = []
        self._pool_lock = threading.Lock()
        self._requests = 0
        self._ids = 0

    def find(self) -> str | None:
        found = super().find()
        if found or (self.env_var and os.environ.get(self.env_var)):
            return found
        return str(BUILT) if BUILT.is_file() and os.access(BUILT, os.X_OK) else None

    def capabilities_for(self, version: str | None) -> dict[str, dict[str, Capability]]:
        return capability_table(version)

    def capabilities(self) -> dict[str, Any]:
        caps = super().capabilities()
        for op in ("to_image", *EXTRA_OPS):
            if op in caps:
                caps[op]["transfer_syntaxes"] = sorted(DECODABLE)
        if "to_image" in caps:
            caps["to_image"]["formats"] = ["jpeg/8", "png/8", "png/16", "pnm/8", "pnm/16", "tiff/8", "tiff/16"]
        return caps

    def check_input(self, request: RequestBase, info: InputInfo | None) -> list[str]:
        if isinstance(request, StatsRequest | HistogramRequest):
            check_ops_input(info)
            return []
        if isinstance(request, DecodeRequest):
            from dcmharness.backends.python_ref.ops_decode import check_color_space

            check_ops_input(info)
            if info is not None:
                check_color_space(request, info)
            return []
        if not isinstance(request, ToImageRequest) or info is None:
            return []
        if info.transfer_syntax not in DECODABLE:
            raise HarnessError(
                ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
                f"rust_render cannot decode transfer syntax {info.transfer_syntax}",
                "input",
            )
        if info.is_color:
            from dcmharness.backends.python_ref.pipeline import check_color_options

            check_color_options(request.options, colour_16bit=True)  # the reference's refusals (16-bit RGB is fine)
        return []

    def build_argv(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan, tool: ToolInfo) -> list[str]:
        if isinstance(request, StatsRequest | HistogramRequest) and info is not None:
            return build_ops_argv(request, info, tool)
        if isinstance(request, DecodeRequest) and info is not None:
            return build_decode_argv(request, info, plan, tool)
        if not isinstance(request, ToImageRequest) or info is None:
            raise HarnessError(ErrorCode.UNSUPPORTED_OPTION, f"rust_render does not implement op {request.op!r}", "op")  # type: ignore[attr-defined]
        return build_to_image_argv(request, info, plan, tool)

    def interpret(self, run: ToolRun, plan: OutputPlan) -> None:
        if run.returncode != 0:
            code, message = error_from_stderr(run.stderr_text)
            raise ToolError(code, f"dicom-render: {message}", run.argv, run.stderr_text)

    def collect(self, request: RequestBase, plan: OutputPlan, argv: list[str], run: ToolRun | None) -> None:
        """``frame: "all"`` wrote ``<prefix>_<NNNN><suffix>``: move frame k onto the plan's k-th temp file."""
        if not isinstance(request, ToImageRequest) or request.options.frame != "all":
            return
        prefix = frames_prefix(plan)
        for k, target in enumerate(plan.targets):
            frame = target.frame if target.frame is not None else k
            src = frame_path(prefix, frame)
            if not src.exists():
                raise ToolError(ErrorCode.BACKEND_FAILED, f"dicom-render wrote no file for frame {frame}", argv, None)
            os.replace(src, target.temp)

    def _execute_op(
        self, request: StatsRequest | HistogramRequest, info: InputInfo | None, plan: OutputPlan, tool: ToolInfo
    ) -> Outcome:
        """``stats`` / ``histogram``: one ``dicom-render --op`` process; its stdout is the result."""
        argv = self.build_argv(request, info, plan, tool)
        run = run_tool(argv, timeout=request.timeout)
        self.interpret(run, plan)
        stderr = run.stderr_text or None
        return Outcome(result=parse_ops_result(run.stdout_text, argv, stderr), command=argv, stderr=stderr)

    # -- batch mode -------------------------------------------------------------------------------------
    def _want_batch(self) -> bool:
        mode = os.environ.get(BATCH_ENV, "auto").lower()
        with self._pool_lock:
            self._requests += 1
            n = self._requests
        if mode == "never":
            return False
        return mode == "always" or n > 1

    def _take(self, path: str) -> _Worker:
        with self._pool_lock:
            if any(w.owner != os.getpid() for w in self._workers):  # inherited through fork: not ours
                self._workers = [w for w in self._workers if w.owner == os.getpid()]
                self._idle = [w for w in self._idle if w.owner == os.getpid()]
            if self._idle:
                return self._idle.pop()
            try:
                worker = _Worker(path)
            except OSError as exc:  # missing, a symlink loop, a half-written binary (ENOEXEC), ...
                raise HarnessError(
                    ErrorCode.BACKEND_UNAVAILABLE, f"rust_render: {path} cannot be started: {exc.strerror or exc}"
                ) from None
            self._workers.append(worker)
            return worker

    def _give_back(self, worker: _Worker) -> None:
        with self._pool_lock:
            self._idle.append(worker)

    def _discard(self, worker: _Worker) -> None:
        worker.close()
        with self._pool_lock, contextlib.suppress(ValueError):
            self._workers.remove(worker)

    def execute(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan) -> Outcome:
        tool = self.tool()
        if tool is None:
            raise HarnessError(ErrorCode.BACKEND_UNAVAILABLE, f"{self.name}: tool not found", "backend")
        if isinstance(request, StatsRequest | HistogramRequest):
            return self._execute_op(request, info, plan, tool)
        if isinstance(request, DecodeRequest):
            argv = self.build_argv(request, info, plan, tool)
            run = run_tool(argv, timeout=request.timeout)
            self.interpret(run, plan)
            stderr = run.stderr_text or None
            npy = Path(os.path.abspath(str(plan.targets[0].temp)))
            return Outcome(result=decode_result(run.stdout_text, npy, argv, stderr), command=argv, stderr=stderr)
        if not isinstance(request, ToImageRequest) or info is None or not self._want_batch():
            try:
                return super().execute(request, info, plan)
            finally:
                self._cleanup_frames(request, plan)
        with self._pool_lock:
            self._ids += 1
            ident = self._ids
        line = json.dumps(build_batch_request(request, info, plan, ident))
        argv = [tool.path, "--batch"]
        timeout = request.timeout if request.timeout is not None else DEFAULT_TIMEOUT
        worker = self._take(tool.path)
        try:
            answer = worker.ask(line, timeout)
        except TimeoutError:
            self._discard(worker)
            self._cleanup_frames(request, plan)
            raise ToolError(
                ErrorCode.TIMEOUT,
                f"dicom-render --batch did not answer within {timeout:g} s; it was killed",
                argv,
                None,
            ) from None
        except (EOFError, OSError, ValueError) as exc:
            self._discard(worker)
            self._cleanup_frames(request, plan)
            raise ToolError(
                ErrorCode.BACKEND_FAILED, f"dicom-render --batch failed: {exc or 'it exited'}", argv, None
            ) from None
        self._give_back(worker)
        try:
            return self._outcome(request, plan, answer, [*argv, line])
        finally:
            self._cleanup_frames(request, plan)

    def execute_batch(self, jobs: Sequence[Job]) -> list[Outcome | HarnessError]:
        """Many prepared requests through ONE ``dicom-render --batch`` process (``dcmharness.interface.batch``'s
        protocol: one result per job, in order; each job's outputs on its own plan's temp files)."""
        tool = self.tool()
        if tool is None:
            err = HarnessError(ErrorCode.BACKEND_UNAVAILABLE, f"{self.name}: tool not found", "backend")
            return [err for _ in jobs]
        argv = [tool.path, "--batch"]
        lines = [json.dumps(build_batch_request(job.request, job.info, job.plan, k)) for k, job in enumerate(jobs)]
        timeout = sum(job.request.timeout or DEFAULT_TIMEOUT for job in jobs)
        try:
            run = run_tool(argv, timeout=timeout, stdin="".join(line + "\n" for line in lines).encode())
        except HarnessError as exc:
            for job in jobs:
                self._cleanup_frames(job.request, job.plan)
            return [exc for _ in jobs]
        answers: dict[Any, dict[str, Any]] = {}
        for text in run.stdout_text.splitlines():
            with contextlib.suppress(ValueError):
                answer = json.loads(text)
                if isinstance(answer, dict):
                    answers[answer.get("id")] = answer
        results: list[Outcome | HarnessError] = []
        for k, job in enumerate(jobs):
            command = [*argv, lines[k]]
            try:
                answer = answers.get(k)
                if answer is None:
                    raise ToolError(
                        ErrorCode.BACKEND_FAILED,
                        "dicom-render --batch gave no answer",
                        command,
                        run.stderr_text or None,
                    )
                results.append(self._outcome(job.request, job.plan, answer, command))
            except HarnessError as exc:
                results.append(exc)
            finally:
                self._cleanup_frames(job.request, job.plan)
        return results

    def _outcome(
        self, request: ToImageRequest, plan: OutputPlan, answer: dict[str, Any], command: list[str]
    ) -> Outcome:
        """A batch answer as an Outcome (or the contract error it carries); frames moved into place."""
        if not answer.get("ok"):
            err = answer.get("error") or {}
            code, message = error_from_stderr(f"error: {err.get('code')}: {err.get('message')}")
            failure = ToolError(code, f"dicom-render: {message}", command, None)
            failure.field = err.get("field")
            raise failure
        self.collect(request, plan, command, None)
        result = verify_images(plan, command)
        tool_result = answer.get("result") or {}
        for key in ("voi", "modality", "inverted", "overlays", "bit_depth", "format"):
            if key in tool_result:
                result[key] = tool_result[key]
        return Outcome(result=result, command=command)

    def _cleanup_frames(self, request: RequestBase, plan: OutputPlan) -> None:
        """Remove what a failed ``frame: "all"`` left under the private prefix."""
        if not isinstance(request, ToImageRequest) or request.options.frame != "all" or not plan.targets:
            return
        prefix = frames_prefix(plan)
        for leftover in prefix.parent.glob(f"{prefix.stem}_*{prefix.suffix}"):
            with contextlib.suppress(OSError):
                leftover.unlink()

    def close(self) -> None:
        with self._pool_lock:
            workers, self._workers, self._idle = self._workers, [], []
        for worker in workers:
            if worker.owner == os.getpid():
                worker.close()
