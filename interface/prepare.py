"""The dispatcher's preparation of each op: input checks and output planning (``PREPARERS``, by op).

``to_image`` checks the frame and the output format's options and plans one output per frame. Each other
op's preparer runs the shared input
checks (``dump``, ``info`` and ``anonymize`` need no pixel data; ``stats`` and ``histogram`` need the
frame; ``transcode`` needs pixel data only for an encapsulated target) and plans the output:

- ``dump``: ``<input stem>.json``; ``transcode``: ``<input stem>.<transfer syntax name>.dcm``;
  ``anonymize``: ``<input stem>.anon.dcm`` (defaults, in the current directory);
- ``info``, ``stats``, ``histogram`` write nothing (an ``output`` is refused);
- an output that is the input itself is refused (an input is never modified).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dcmharness.backends.outputs import OutputPlan, frame_path, plan_outputs
from dcmharness.backends.preflight import InputInfo, check_frame, inspect
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import ToImageRequest
from dcmharness.contract.ops_models import (
    AnonymizeRequest,
    DumpRequest,
    HistogramRequest,
    InfoRequest,
    StatsRequest,
    TranscodeRequest,
)
from dcmharness.contract.options import FORMAT_EXTENSIONS, format_for
from dcmharness.interface.context import Preparer, RunContext, confine, default_output_name, resolve_path, same_file

if TYPE_CHECKING:
    from dcmharness.contract.models import RequestBase

Prepared = tuple[InputInfo | None, OutputPlan]

#: Targets that hold pixel data in encapsulated (compressed) form: they need pixel data to encode.
_ENCAPSULATED = {
    "rle_lossless",
    "jpeg_lossless_sv1",
    "jpeg_ls_lossless",
    "jpeg_2000_lossless",
    "jpeg_baseline",
    "jpeg_ls_near_lossless",
    "jpeg_2000",
}


def _input(request: RequestBase, ctx: RunContext) -> Path:
    return confine(resolve_path(request.input, ctx), ctx.root, "input")


def _output(request: RequestBase, ctx: RunContext, input_path: Path, suffix: str) -> OutputPlan:
    output = request.output or default_output_name(request.input, suffix)
    out = confine(resolve_path(output, ctx, "output"), ctx.root, "output")
    if out.exists() and input_path.exists() and out.resolve() == input_path.resolve():
        raise HarnessError(ErrorCode.INVALID_REQUEST, "output is the input file: an input is never modified", "output")
    return plan_outputs([(out, None)], request.overwrite)


def inspect_header(path: Path) -> InputInfo:
    """The shared checks for ops that read the header only: a file whose image attributes are inconsistent
    (e.g. Rows 0) is still a DICOM file they can dump, summarise or anonymize."""
    try:
        return inspect(str(path), need_pixels=False)
    except HarnessError as exc:
        if exc.code not in (ErrorCode.DECODE_FAILED, ErrorCode.INPUT_TOO_LARGE):
            raise
    from dcmharness.backends.preflight import infer_transfer_syntax, read_dataset

    ds = read_dataset(path)
    meta = getattr(ds, "file_meta", None)
    tsyntax = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    has_pixels = any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"))
    return InputInfo(
        path=path,
        dataset=ds,
        transfer_syntax=tsyntax or infer_transfer_syntax(ds),
        has_pixel_data=has_pixels,
        size_bytes=path.stat().st_size,
        modality=str(ds.get("Modality", "") or ""),
    )


def _no_output(request: RequestBase) -> OutputPlan:
    if request.output is not None:
        op = getattr(request, "op", "")
        raise HarnessError(ErrorCode.INVALID_REQUEST, f"{op} writes no file: drop 'output'", "output")
    return OutputPlan(overwrite=request.overwrite)


def prepare_dump(request: RequestBase, ctx: RunContext) -> Prepared:
    assert isinstance(request, DumpRequest)
    path = _input(request, ctx)
    info = inspect_header(path)
    return info, _output(request, ctx, path, ".json")


def prepare_info(request: RequestBase, ctx: RunContext) -> Prepared:
    assert isinstance(request, InfoRequest)
    path = _input(request, ctx)
    info = inspect_header(path)
    return info, _no_output(request)


def prepare_pixels(request: RequestBase, ctx: RunContext) -> Prepared:
    assert isinstance(request, StatsRequest | HistogramRequest)
    path = _input(request, ctx)
    info = inspect(str(path))
    check_frame(info, request.options.frame)
    return info, _no_output(request)


def prepare_transcode(request: RequestBase, ctx: RunContext) -> Prepared:
    assert isinstance(request, TranscodeRequest)
    path = _input(request, ctx)
    target = request.options.transfer_syntax
    info = inspect(str(path), need_pixels=target in _ENCAPSULATED)
    return info, _output(request, ctx, path, f".{target}.dcm")


def prepare_anonymize(request: RequestBase, ctx: RunContext) -> Prepared:
    assert isinstance(request, AnonymizeRequest)
    path = _input(request, ctx)
    info = inspect_header(path)
    return info, _output(request, ctx, path, ".anon.dcm")


def prepare_to_image(request: RequestBase, ctx: RunContext) -> tuple[InputInfo | None, OutputPlan]:
    assert isinstance(request, ToImageRequest)
    opts = request.options
    input_path = confine(resolve_path(request.input, ctx), ctx.root, "input")
    info = inspect(str(input_path))
    frames = check_frame(info, opts.frame)
    fmt = format_for(request.output, opts)
    if opts.quality is not None and fmt != "jpeg":
        raise HarnessError(ErrorCode.INVALID_REQUEST, f"quality applies to jpeg output, not {fmt}", "options.quality")
    if opts.png_compression is not None and fmt != "png":
        raise HarnessError(
            ErrorCode.INVALID_REQUEST, f"png_compression applies to png output, not {fmt}", "options.png_compression"
        )
    if opts.bit_depth == 16 and fmt == "jpeg":
        raise HarnessError(ErrorCode.INVALID_REQUEST, "jpeg output is 8-bit", "options.bit_depth")
    output = request.output or default_output_name(request.input, FORMAT_EXTENSIONS[fmt])
    out = confine(resolve_path(output, ctx, "output"), ctx.root, "output")
    if opts.frame == "all":
        finals: list[tuple[Path, int | None]] = [(confine(frame_path(out, f), ctx.root, "output"), f) for f in frames]
    else:
        finals = [(out, frames[0])]
    for final, _ in finals:
        if same_file(final, input_path):
            raise HarnessError(
                ErrorCode.INVALID_REQUEST, "output is the input file: an input is never modified", "output"
            )
    return info, plan_outputs(finals, request.overwrite)


PREPARERS: dict[str, Preparer] = {
    "to_image": prepare_to_image,
    "dump": prepare_dump,
    "info": prepare_info,
    "stats": prepare_pixels,
    "histogram": prepare_pixels,
    "transcode": prepare_transcode,
    "anonymize": prepare_anonymize,
}


def output_suffix(request: RequestBase) -> str | None:
    """The extension of the op's default output name (the preparers' defaults above); None when the op writes
    nothing or names its outputs otherwise. A folder input mirrors its files' relative paths with it."""
    if isinstance(request, ToImageRequest):
        return FORMAT_EXTENSIONS[format_for(None, request.options)]
    if isinstance(request, DumpRequest):
        return ".json"
    if isinstance(request, TranscodeRequest):
        return f".{request.options.transfer_syntax}.dcm"
    if isinstance(request, AnonymizeRequest):
        return ".anon.dcm"
    return None
