"""``transcode`` on the reference backend: pydicom 3 with the encoders its plugins provide.

Native: implicit/explicit VR little endian, deflate, RLE (pydicom or pylibjpeg-rle). Plugins: JPEG 2000
lossless/lossy (pylibjpeg-openjpeg), JPEG-LS lossless/near-lossless (pyjpegls). pydicom 3 has no JPEG
(process 1 or 14) encoder: ``jpeg_lossless_sv1`` and ``jpeg_baseline`` are refused as unsupported.
Lossless targets keep the SOP Instance UID; lossy ones get a new one (pydicom's default, as PS3.3 asks).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dcmharness.backends.base import Outcome, unsupported
from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.ops_models import TRANSFER_SYNTAXES, TranscodeOptions, TranscodeRequest

_UNCOMPRESSED = {"implicit_vr_little_endian", "explicit_vr_little_endian", "deflated_explicit_vr_little_endian"}
#: Targets pydicom 3 cannot encode.
NO_ENCODER = {"jpeg_lossless_sv1", "jpeg_baseline"}


def encodable(target: str) -> str | None:
    """Why python_ref cannot encode ``target`` here (None when it can)."""
    if target in NO_ENCODER:
        return f"pydicom 3 has no encoder for {target}"
    if target in _UNCOMPRESSED:
        return None
    from pydicom.pixels.encoders.base import get_encoder

    enc = get_encoder(TRANSFER_SYNTAXES[target])
    if not enc.is_available:
        return f"no encoder plugin for {target} is installed ({'; '.join(enc.missing_dependencies)})"
    return None


def check(request: TranscodeRequest) -> None:
    reason = encodable(request.options.transfer_syntax)
    if reason:
        raise unsupported("transfer_syntax", f"python_ref: {reason}")


def _encode_kwargs(opts: TranscodeOptions) -> dict[str, Any]:
    if opts.transfer_syntax == "jpeg_ls_near_lossless":
        return {"jls_error": opts.near_lossless or 2}
    if opts.transfer_syntax == "jpeg_2000":
        return {"j2k_cr": [opts.compression_ratio or 10.0]}
    return {}


def transcode_dataset(ds: Any, opts: TranscodeOptions, source_compressed: bool) -> None:
    """Rewrite ``ds`` in memory into the target transfer syntax (pixel data decoded when needed)."""
    from pydicom.uid import UID

    target = opts.transfer_syntax
    uid = UID(TRANSFER_SYNTAXES[target])
    if target in _UNCOMPRESSED:
        if source_compressed:
            ds.decompress(generate_instance_uid=False)
        ds.file_meta.TransferSyntaxUID = uid
        return
    if source_compressed:
        ds.decompress(generate_instance_uid=False)
    arr = None
    if int(ds.get("SamplesPerPixel", 1) or 1) > 1 and int(ds.get("PlanarConfiguration", 0) or 0) == 1:
        # pydicom 3.0.2 compress() to RLE from colour-by-plane data decodes back wrong (measured on
        # ExplVR_BigEnd.dcm): encode the decoded, colour-by-pixel array instead
        arr = ds.pixel_array
        ds.PlanarConfiguration = 0
    ds.compress(uid, arr, generate_instance_uid=not opts.lossless, **_encode_kwargs(opts))


#: Bytes per word of the VRs whose values pydicom keeps as raw bytes (OB and UN are byte streams).
WORD_SIZES = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}


def drop_group_lengths(ds: Any) -> int:
    """Remove the (gggg,0000) Group Length elements of the data set, sequences included (retired, and
    wrong once values change size; the File Meta group length is recomputed by the writer)."""
    removed = 0
    for elem in list(ds):
        if elem.tag.element == 0 and elem.tag.group != 2:
            del ds[elem.tag]
            removed += 1
        elif elem.VR == "SQ":
            for item in elem.value or []:
                removed += drop_group_lengths(item)
    return removed


def swap_bytes(data: bytes, size: int) -> bytes:
    """Reverse the byte order of every ``size``-byte word (a trailing partial word is kept). Pure."""
    import numpy as np

    whole = len(data) - len(data) % size
    words = np.frombuffer(data[:whole], dtype=np.uint8).reshape(-1, size)[:, ::-1]
    return words.tobytes() + data[whole:]


def swap_words(ds: Any) -> None:
    """Big endian -> little endian for the raw word values (OW, OF, OL, OD, OV), sequences included.

    pydicom decodes numbers (US, SS, FL, ...) to Python values, re-encoded on write; it keeps these VRs as
    raw bytes and refuses to change endianness on write (``dcmwrite``: "must be converted manually").
    """
    for elem in ds:
        if elem.VR == "SQ":
            for item in elem.value or []:
                swap_words(item)
        elif elem.VR in WORD_SIZES and isinstance(elem.value, bytes | bytearray):
            elem.value = swap_bytes(bytes(elem.value), WORD_SIZES[elem.VR])


def transcode(request: TranscodeRequest, info: InputInfo, plan: OutputPlan) -> Outcome:
    from pydicom.dataset import FileMetaDataset

    opts = request.options
    check(request)
    ds = info.dataset
    if getattr(ds, "file_meta", None) is None:
        ds.file_meta = FileMetaDataset()
    source_compressed = info.has_pixel_data and info.is_compressed
    try:
        if info.has_pixel_data and "PixelData" in ds:
            ds.PixelData  # noqa: B018 - read deferred pixel data before the dataset changes
        big_endian = getattr(ds, "original_encoding", (None, True))[1] is False
        if big_endian:
            swap_words(ds)
            ds.file_meta.TransferSyntaxUID = TRANSFER_SYNTAXES["explicit_vr_little_endian"]  # what memory holds now
        drop_group_lengths(ds)
        transcode_dataset(ds, opts, source_compressed)
        implicit = opts.transfer_syntax == "implicit_vr_little_endian"
        import pydicom

        pydicom.dcmwrite(plan.targets[0].temp, ds, implicit_vr=implicit, little_endian=True, enforce_file_format=True)
    except HarnessError:
        raise
    except NotImplementedError as exc:
        raise HarnessError(ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX, f"cannot decode the input: {exc}"[:400]) from None
    except ValueError as exc:
        if "is not valid for pixel data encoded with" in str(exc):  # the encoder's own input requirements
            raise unsupported("transfer_syntax", f"python_ref: {' '.join(str(exc).split())}"[:400]) from None
        raise HarnessError(ErrorCode.BACKEND_FAILED, f"pydicom could not transcode: {exc}"[:400]) from None
    except (RuntimeError, TypeError, AttributeError, KeyError, OSError) as exc:
        raise HarnessError(ErrorCode.BACKEND_FAILED, f"pydicom could not transcode: {exc}"[:400]) from None
    written = written_transfer_syntax(plan.targets[0].temp)
    if written != opts.uid:
        raise HarnessError(ErrorCode.BACKEND_FAILED, f"wrote transfer syntax {written}, not {opts.uid}")
    return Outcome(result=transcode_result(opts, info, plan.targets[0].temp))


def transcode_result(options: TranscodeOptions, info: InputInfo, path: Path) -> dict[str, Any]:
    """The ``transcode`` result of a file written to ``path`` in ``options.transfer_syntax`` (every backend's)."""
    return {
        "transfer_syntax": options.uid,
        "transfer_syntax_name": options.transfer_syntax,
        "lossless": options.lossless,
        "input_transfer_syntax": info.transfer_syntax,
        "size_bytes": path.stat().st_size,
    }


def written_transfer_syntax(path: Path) -> str | None:
    """The Transfer Syntax UID a written file declares (None when unreadable)."""
    import pydicom

    try:
        meta = pydicom.dcmread(path, stop_before_pixels=True).file_meta
        return str(meta.TransferSyntaxUID)
    except Exception:
        return None
