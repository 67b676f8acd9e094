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

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from dcmharness.backends.nifti_file import sidecar_path
from dcmharness.backends.outputs import OutputPlan, frame_path, plan_outputs
from dcmharness.backends.preflight import InputInfo, check_frame, inspect
from dcmharness.backends.series import SeriesInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import ToImageRequest
from dcmharness.contract.ops_models import (
    AnonymizeRequest,
    DecodeRequest,
    DumpRequest,
    EchoRequest,
    FindRequest,
    FromJsonRequest,
    GetRequest,
    HistogramRequest,
    InfoRequest,
    ModifyRequest,
    StatsRequest,
    StoreRequest,
    TranscodeRequest,
    ValidateRequest,
)
from dcmharness.contract.options import FORMAT_EXTENSIONS, format_for
from dcmharness.contract.series_models import NIFTI_EXTENSIONS, NiftiRequest, SplitMultiframeRequest, VolumeRequest
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


def prepare_decode(request: RequestBase, ctx: RunContext) -> Prepared:
    """``decode`` needs the pixel data and the frame; it writes ``<input stem>.npy`` by default."""
    assert isinstance(request, DecodeRequest)
    path = _input(request, ctx)
    info = inspect(str(path))
    check_frame(info, request.options.frame)
    return info, _output(request, ctx, path, ".npy")


def prepare_validate(request: RequestBase, ctx: RunContext) -> Prepared:
    """``validate`` reads the header only and writes nothing; a file with inconsistent image attributes is
    still validated (that is a finding, not a refusal)."""
    assert isinstance(request, ValidateRequest)
    path = _input(request, ctx)
    info = inspect_header(path)
    return info, _no_output(request)


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


def prepare_echo(request: RequestBase, ctx: RunContext) -> Prepared:
    """echo reads no file and writes none."""
    assert isinstance(request, EchoRequest)
    return None, _no_output(request)


def prepare_store(request: RequestBase, ctx: RunContext) -> Prepared:
    """store writes nothing locally; its input (a file or a folder, confined to ``--root``) is read here,
    headers only: every file must be DICOM before anything connects (``backends/network.store_input``)."""
    assert isinstance(request, StoreRequest)
    from dcmharness.backends.network import check_proposal, store_input

    path = _input(request, ctx)
    if not path.exists():
        raise HarnessError(ErrorCode.INPUT_NOT_FOUND, f"{request.input} does not exist", "input")
    plan = _no_output(request)
    info = store_input(path)
    check_proposal(info.files, request.options.transfer_syntax_uids)
    return info, plan


def prepare_find(request: RequestBase, ctx: RunContext) -> Prepared:
    """find reads no file and writes none; every query key must be a keyword of the data dictionary."""
    from dcmharness.backends.network import find_identifier

    assert isinstance(request, FindRequest)
    plan = _no_output(request)
    find_identifier(request.options.level, request.options.query)  # invalid_request for an unknown keyword
    return None, plan


def prepare_get(request: RequestBase, ctx: RunContext) -> Prepared:
    """get reads no file; its output is a folder (confined to ``--root``, created if its parent exists) that
    receives ``<SOP Instance UID>.dcm`` per instance (``backends/network.RetrievePlan``)."""
    from dcmharness.backends.network import find_identifier, retrieve_plan

    assert isinstance(request, GetRequest)
    find_identifier(request.options.level, request.options.query)  # invalid_request for an unknown keyword
    folder = confine(resolve_path(request.output, ctx, "output"), ctx.root, "output")
    return None, retrieve_plan(folder, request.overwrite)


def prepare_from_json(request: RequestBase, ctx: RunContext) -> Prepared:
    """``from_json`` reads a DICOM JSON document (checked whole here, bulk data files resolved inside its folder:
    ``backends/dicom_json.load_document``) and writes ``<input stem>.dcm`` by default."""
    from dcmharness.backends.dicom_json import load_document

    assert isinstance(request, FromJsonRequest)
    path = _input(request, ctx)
    doc = load_document(path, request.options.transfer_syntax)
    stem = path.name[: -len(".json")] if path.name.lower().endswith(".json") else path.name
    out = confine(resolve_path(request.output or f"{stem}.dcm", ctx, "output"), ctx.root, "output")
    if same_file(out, path) or any(same_file(out, ref.file) for ref in doc.bulk.values()):
        raise HarnessError(ErrorCode.INVALID_REQUEST, "output is an input file: an input is never modified", "output")
    return doc, plan_outputs([(out, None)], request.overwrite)  # type: ignore[return-value]


PREPARERS: dict[str, Preparer] = {
    "to_image": prepare_to_image,
    "dump": prepare_dump,
    "info": prepare_info,
    "stats": prepare_pixels,
    "histogram": prepare_pixels,
    "transcode": prepare_transcode,
    "anonymize": prepare_anonymize,
    "validate": prepare_validate,
    "decode": prepare_decode,
    "echo": prepare_echo,
    "store": prepare_store,
    "find": prepare_find,
    "get": prepare_get,
    "from_json": prepare_from_json,
}


# -- the series ops: volume, nifti, split_multiframe --------------------------------------------------
def _series_output(request: RequestBase, ctx: RunContext, input_path: Path, suffix: str) -> Path:
    """The output path (default ``<folder or file stem><suffix>``), never inside a series folder input."""
    default = default_output_name(str(input_path.name or "series"), suffix)
    out = confine(resolve_path(request.output or default, ctx, "output"), ctx.root, "output")
    if input_path.is_dir() and (out.resolve() == input_path.resolve() or input_path.resolve() in out.resolve().parents):
        raise HarnessError(
            ErrorCode.INVALID_REQUEST, "output is inside the input folder: an input is never modified", "output"
        )
    if same_file(out, input_path):
        raise HarnessError(ErrorCode.INVALID_REQUEST, "output is the input file: an input is never modified", "output")
    return out


def _series_input(request: VolumeRequest | NiftiRequest, ctx: RunContext) -> SeriesInfo:
    from dcmharness.backends.series import inspect_series

    path = _input(request, ctx)
    return inspect_series(path, request.options.series_uid, request.options.recursive)


def prepare_volume(request: RequestBase, ctx: RunContext) -> Prepared:
    assert isinstance(request, VolumeRequest)
    info = _series_input(request, ctx)
    out = _series_output(request, ctx, info.series.root if info.series else info.path, ".npy")
    if not out.name.lower().endswith(".npy"):
        raise HarnessError(ErrorCode.INVALID_REQUEST, "the output of volume is a .npy file", "output")
    return info, plan_outputs([(out, None), (sidecar_path(out), None)], request.overwrite)


def prepare_nifti(request: RequestBase, ctx: RunContext) -> Prepared:
    assert isinstance(request, NiftiRequest)
    info = _series_input(request, ctx)
    out = _series_output(request, ctx, info.series.root if info.series else info.path, ".nii.gz")
    if not out.name.lower().endswith(NIFTI_EXTENSIONS):
        raise HarnessError(ErrorCode.INVALID_REQUEST, "the output of nifti is a .nii or .nii.gz file", "output")
    finals: list[tuple[Path, int | None]] = [(out, None)]
    if request.options.sidecar:
        finals.append((sidecar_path(out), None))
    return info, plan_outputs(finals, request.overwrite)


class FolderPlan(OutputPlan):
    """An output plan whose folder the preparer created: removed again (when still empty) on failure."""

    created: Path | None = None

    def discard(self) -> None:
        super().discard()
        if self.created is not None:
            with contextlib.suppress(OSError):
                self.created.rmdir()


def prepare_split(request: RequestBase, ctx: RunContext) -> Prepared:
    assert isinstance(request, SplitMultiframeRequest)
    from dcmharness.backends.python_ref.ops_split import check_frames

    path = _input(request, ctx)
    info = inspect(str(path))
    frames = check_frames(info, request.options.frames)
    stem = path.name[:-4] if path.name.lower().endswith(".dcm") else path.name
    folder = confine(resolve_path(request.output or f"{stem}_frames", ctx, "output"), ctx.root, "output")
    if folder.exists() and not folder.is_dir():
        raise HarnessError(ErrorCode.OUTPUT_EXISTS, f"output is a file, not a folder: {folder}", "output")
    if not folder.parent.is_dir():
        raise HarnessError(ErrorCode.OUTPUT_DIR_MISSING, f"output folder's parent does not exist: {folder}", "output")
    finals: list[tuple[Path, int | None]] = [(folder / f"{stem}_{f:04d}.dcm", f) for f in frames]
    created = None
    if not folder.exists():
        folder.mkdir()
        created = folder
    try:
        base = plan_outputs(finals, request.overwrite)
    except HarnessError:
        if created is not None:
            created.rmdir()
        raise
    plan = FolderPlan(targets=base.targets, overwrite=base.overwrite)
    plan.created = created
    return info, plan


def prepare_modify(request: RequestBase, ctx: RunContext) -> Prepared:
    """``modify`` reads the header (a file with inconsistent image attributes can still be changed), checks every
    path and value against the input (``invalid_request`` naming the field) and writes ``<input
    stem>.modified.dcm`` by default."""
    from dcmharness.backends.modify import resolve

    assert isinstance(request, ModifyRequest)
    path = _input(request, ctx)
    info = inspect_header(path)
    resolve(request.options, info.dataset)
    return info, _output(request, ctx, path, ".modified.dcm")


PREPARERS["modify"] = prepare_modify
PREPARERS.update({"volume": prepare_volume, "nifti": prepare_nifti, "split_multiframe": prepare_split})


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
    if isinstance(request, DecodeRequest):
        return ".npy"
    if isinstance(request, ModifyRequest):
        return ".modified.dcm"
    if isinstance(request, FromJsonRequest):
        return ".dcm"
    if isinstance(request, SplitMultiframeRequest):
        return "_frames"  # a folder per file (prepare_split's default ``<stem>_frames``)
    return None


# -- DICOMweb: stow, qido, wado (contract/dicomweb_models.py) -------------------------------------------
def prepare_stow(request: RequestBase, ctx: RunContext) -> Prepared:
    """stow writes nothing locally; its input (a file or a folder, confined to ``--root``) is read here, headers
    only: a non-DICOM file of a folder is skipped (named in the result), a single one is ``not_dicom``."""
    from dcmharness.backends.dicomweb import stow_input
    from dcmharness.contract.dicomweb_models import StowRequest

    assert isinstance(request, StowRequest)
    path = _input(request, ctx)
    if not path.exists():
        raise HarnessError(ErrorCode.INPUT_NOT_FOUND, f"{request.input} does not exist", "input")
    plan = _no_output(request)
    return stow_input(path), plan


def prepare_qido(request: RequestBase, ctx: RunContext) -> Prepared:
    """qido reads no file and writes none; every query key must be a keyword of the data dictionary."""
    from dcmharness.contract.dicomweb_models import QidoRequest

    assert isinstance(request, QidoRequest)
    plan = _no_output(request)
    _check_keywords(request.options.query)
    return None, plan


def _check_keywords(query: dict[str, str]) -> None:
    from pydicom.datadict import tag_for_keyword

    for key in query:
        if tag_for_keyword(key) is None:
            raise HarnessError(ErrorCode.INVALID_REQUEST, f"{key!r} is not a DICOM keyword", f"options.query.{key}")


def prepare_wado(request: RequestBase, ctx: RunContext) -> Prepared:
    """wado writes into a folder (default ``<study_uid>.wado`` in the current directory; created if its parent
    exists, removed again if the request fails); its files are named once the answer is read."""
    from dcmharness.backends.dicomweb import RetrievalPlan
    from dcmharness.contract.dicomweb_models import WadoRequest

    assert isinstance(request, WadoRequest)
    folder = confine(
        resolve_path(request.output or f"{request.options.study_uid}.wado", ctx, "output"), ctx.root, "output"
    )
    if folder.exists() and not folder.is_dir():
        raise HarnessError(ErrorCode.OUTPUT_EXISTS, f"output is a file, not a folder: {folder}", "output")
    if not folder.parent.is_dir():
        raise HarnessError(ErrorCode.OUTPUT_DIR_MISSING, f"output folder's parent does not exist: {folder}", "output")
    created = None
    if not folder.exists():
        folder.mkdir()
        created = folder
    return None, RetrievalPlan(folder, request.overwrite, created)


PREPARERS.update({"stow": prepare_stow, "qido": prepare_qido, "wado": prepare_wado})
