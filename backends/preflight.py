"""Reading the input's header once, with the checks every backend shares.

The same request must give the same error code on every backend, so the checks that depend only on
the input (exists, is DICOM, has pixel data, the frame exists, the size is sane) run here, before a
backend is asked. ``InputInfo`` also carries what adapters route on (transfer syntax, frame count).
"""

from __future__ import annotations

import itertools
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dcmharness.contract.errors import ErrorCode, HarnessError

#: Refuse inputs whose declared pixel data would need more than this many bytes decoded.
MAX_DECODED_BYTES = int(os.environ.get("DCMHARNESS_MAX_DECODED_BYTES", str(4 * 1024**3)))
#: Refuse inputs whose one frame would need more than this many bytes decoded (every backend decodes a
#: frame whole; a damaged RLE or JPEG header can claim 65535 x 65535 in a few bytes).
MAX_FRAME_BYTES = int(os.environ.get("DCMHARNESS_MAX_FRAME_BYTES", str(256 * 1024**2)))

_PLAUSIBLE_TAGS = (0x00080016, 0x00280010, 0x7FE00010, 0x00080060, 0x00100010, 0x0020000D)


@dataclass
class InputInfo:
    path: Path
    dataset: Any  # pydicom Dataset (pixel data deferred)
    transfer_syntax: str | None
    has_pixel_data: bool
    rows: int = 0
    columns: int = 0
    frames: int = 1
    samples_per_pixel: int = 1
    bits_allocated: int = 0
    bits_stored: int = 0
    pixel_representation: int = 0
    photometric: str = ""
    modality: str = ""
    n_windows: int = 0
    n_voi_luts: int = 0
    overlay_planes: list[int] = field(default_factory=list)
    size_bytes: int = 0

    @property
    def is_color(self) -> bool:
        return self.samples_per_pixel > 1 or self.photometric.startswith(("RGB", "YBR", "PALETTE"))

    @property
    def is_compressed(self) -> bool:
        from pydicom.uid import UID

        return bool(self.transfer_syntax) and UID(self.transfer_syntax or "").is_compressed


def check_input_path(path: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise HarnessError(ErrorCode.INPUT_NOT_FOUND, f"input not found: {path}", "input")
    if not p.is_file():
        raise HarnessError(ErrorCode.INPUT_NOT_FOUND, f"input is not a regular file: {path}", "input")
    if not os.access(p, os.R_OK):
        raise HarnessError(ErrorCode.INPUT_NOT_FOUND, f"input is not readable: {path}", "input")
    return p


def read_dataset(path: Path) -> Any:
    """Parse a DICOM file (pixel data deferred); ``not_dicom`` when it is not one."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        return pydicom.dcmread(path, defer_size="64 KB")
    except InvalidDicomError:
        pass  # no preamble/DICM: try once more without it, then judge the result
    except Exception as exc:
        raise HarnessError(ErrorCode.NOT_DICOM, f"not a readable DICOM file: {_short(exc)}", "input") from None
    try:
        ds = pydicom.dcmread(path, force=True, defer_size="64 KB")
        tags = [int(t) for t in ds.keys()]
    except Exception as exc:
        raise HarnessError(ErrorCode.NOT_DICOM, f"not a DICOM file: {_short(exc)}", "input") from None
    if not any(t in tags for t in _PLAUSIBLE_TAGS):
        raise HarnessError(ErrorCode.NOT_DICOM, "not a DICOM file (no DICM prefix, no image attributes)", "input")
    return ds


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


def _int(ds: Any, keyword: str, default: int = 0) -> int:
    try:
        value = ds.get(keyword, default)
        if value is None or value == "":
            return default
        return int(value)
    except (TypeError, ValueError):
        raise HarnessError(
            ErrorCode.DECODE_FAILED, f"{keyword} has an invalid value: {ds.get(keyword)!r}", "input"
        ) from None


def inspect(path: str, *, need_pixels: bool = True) -> InputInfo:
    """Check and describe the input. Raises ``HarnessError`` with the contract's code."""
    p = check_input_path(path)
    ds = read_dataset(p)
    try:
        return _describe(p, ds, need_pixels)
    except HarnessError:
        raise
    except Exception as exc:
        raise HarnessError(ErrorCode.DECODE_FAILED, f"unreadable image attributes: {_short(exc)}", "input") from None


def infer_transfer_syntax(ds: Any) -> str:
    """The transfer syntax the file was actually read with, for files whose meta lacks (0002,0010).

    Only the in-memory dataset gets it (so decoders can work); the input file is never modified.
    """
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    implicit, little = getattr(ds, "original_encoding", (None, None))
    if implicit is None:
        implicit, little = True, True
    uid = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian if little else ExplicitVRBigEndian
    if getattr(ds, "file_meta", None) is None:
        ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = uid
    return str(uid)


def _describe(p: Path, ds: Any, need_pixels: bool) -> InputInfo:
    meta = getattr(ds, "file_meta", None)
    tsyntax = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    if not tsyntax:
        tsyntax = infer_transfer_syntax(ds)
    has_pixels = any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"))
    size = p.stat().st_size
    if not is_deflated(ds):  # offsets of a deflated data set are in the inflated bytes, not in the file
        # before any element is read through ``ds``: a converted element keeps no offset to check it by
        check_element_lengths(ds, size)
        check_unknown_vr_lengths(p, ds, size)
        keys = list(ds.keys())
        if keys and not hasattr(ds.get_item(keys[-1], keep_deferred=True), "value_tell"):
            check_last_element_length(p, ds, size)
    info = InputInfo(
        path=p,
        dataset=ds,
        transfer_syntax=tsyntax or None,
        has_pixel_data=has_pixels,
        size_bytes=size,
        modality=str(ds.get("Modality", "") or ""),
    )
    if not has_pixels:
        if need_pixels:
            raise HarnessError(ErrorCode.NO_PIXEL_DATA, "the file has no Pixel Data (7FE0,0010)", "input")
        return info
    _check_image_attributes(ds)
    info.rows = _int(ds, "Rows")
    info.columns = _int(ds, "Columns")
    info.frames = max(1, _int(ds, "NumberOfFrames", 1))
    info.samples_per_pixel = max(1, _int(ds, "SamplesPerPixel", 1))
    info.bits_allocated = _int(ds, "BitsAllocated")
    info.bits_stored = _int(ds, "BitsStored", info.bits_allocated)
    info.pixel_representation = _int(ds, "PixelRepresentation")
    info.photometric = str(ds.get("PhotometricInterpretation", "") or "").strip()
    wc = ds.get("WindowCenter")
    info.n_windows = 0 if wc is None or wc == "" else (len(wc) if _is_multi(wc) else 1)
    voi_seq = ds.get("VOILUTSequence")
    info.n_voi_luts = len(voi_seq) if voi_seq else 0
    info.overlay_planes = sorted(
        (g - 0x6000) // 2 for g in {t.group for t in ds.keys()} if 0x6000 <= g <= 0x601E and g % 2 == 0
    )
    if info.rows <= 0 or info.columns <= 0:
        raise HarnessError(ErrorCode.DECODE_FAILED, f"invalid image size {info.rows}x{info.columns}", "input")
    if info.bits_allocated not in (1, 8, 16, 32, 64):
        raise HarnessError(ErrorCode.DECODE_FAILED, f"unsupported Bits Allocated {info.bits_allocated}", "input")
    if not 1 <= info.bits_stored <= info.bits_allocated:
        raise HarnessError(
            ErrorCode.DECODE_FAILED,
            f"Bits Stored {info.bits_stored} is not within 1..Bits Allocated {info.bits_allocated}",
            "input",
        )
    if not info.photometric:
        raise HarnessError(
            ErrorCode.DECODE_FAILED,
            "Photometric Interpretation (0028,0004) is missing or empty (Type 1 in the Image Pixel module, "
            "PS3.3 C.7.6.3): the samples cannot be interpreted",
            "input",
        )
    if info.photometric == "PALETTE COLOR" and not all(
        k in ds
        for k in (
            "RedPaletteColorLookupTableDescriptor",
            "GreenPaletteColorLookupTableDescriptor",
            "BluePaletteColorLookupTableDescriptor",
        )
    ):
        raise HarnessError(
            ErrorCode.DECODE_FAILED,
            "PALETTE COLOR image without its Palette Color LUT Descriptors (0028,1101-1103)",
            "input",
        )
    frame_bytes = info.rows * info.columns * info.samples_per_pixel * max(info.bits_allocated, 8) // 8
    if frame_bytes > MAX_FRAME_BYTES:
        raise HarnessError(
            ErrorCode.INPUT_TOO_LARGE,
            f"the header declares {frame_bytes} bytes of decoded pixels per frame ({info.columns}x{info.rows}, "
            f"{info.samples_per_pixel} sample(s), {info.bits_allocated} bits; limit {MAX_FRAME_BYTES}; "
            "set DCMHARNESS_MAX_FRAME_BYTES to change it)",
            "input",
        )
    _check_pixel_container(ds, info)
    decoded = frame_bytes * info.frames
    if decoded > MAX_DECODED_BYTES:
        raise HarnessError(
            ErrorCode.INPUT_TOO_LARGE,
            f"the header declares {decoded} bytes of decoded pixels (limit {MAX_DECODED_BYTES}; "
            "set DCMHARNESS_MAX_DECODED_BYTES to change it)",
            "input",
        )
    return info


def _check_image_attributes(ds: Any) -> None:
    """Parse every Image Pixel / presentation attribute (group 0028) now: a damaged one is ``decode_failed``
    here, the same for every backend, instead of an exception wherever a backend first reads it."""
    from pydicom.datadict import dictionary_VM, dictionary_VR

    for tag in [t for t in ds.keys() if t.group == 0x0028]:
        try:
            elem = ds[tag]
            value = elem.value
            expected = dictionary_VR(tag) if not tag.is_private else ""
            single = dictionary_VM(tag) == "1" if expected else False
        except KeyError:
            continue  # not in the dictionary (retired or unknown): no backend reads it
        except Exception as exc:
            raise HarnessError(
                ErrorCode.DECODE_FAILED, f"unreadable image attribute {tag}: {_short(exc)}", "input"
            ) from None
        if expected in _NUMERIC_VRS and elem.VR not in _BINARY_VRS and not _numeric(value):
            raise HarnessError(
                ErrorCode.DECODE_FAILED, f"image attribute {tag} is not a number: {str(value)[:40]!r}", "input"
            )
        if expected in _NUMERIC_VRS and single and _is_multi(value):
            raise HarnessError(
                ErrorCode.DECODE_FAILED, f"image attribute {tag} has several values where one is allowed", "input"
            )


#: dictionary VRs of the numeric image attributes (Rows, Bits Stored, Window Center, Rescale Slope ...)
_NUMERIC_VRS = {"US", "SS", "UL", "SL", "IS", "DS", "FL", "FD", "US or SS"}
#: VRs read from binary: their values are numbers by construction (only text VRs such as IS/DS need a look;
#: a big LUT Data list of 65536 values is not walked)
_BINARY_VRS = {"US", "SS", "UL", "SL", "FL", "FD", "OB", "OW", "OL", "OF", "OD", "OV", "SV", "UV"}


def _numeric(value: Any) -> bool:
    """Every value of an element is a number (or is empty); bytes count (LUT data read as OW)."""
    if value is None or isinstance(value, bytes | bytearray):
        return True
    values = list(value) if _is_multi(value) else [value]
    for v in values:
        if isinstance(v, bool):
            return False
        if isinstance(v, int | float) or v is None or v == "":
            continue
        try:
            float(str(v))
        except ValueError:
            return False
    return True


def _check_pixel_container(ds: Any, info: InputInfo) -> None:
    """Pixel Data that cannot hold an image: a length beyond the end of the file (reading it would
    allocate that length), or encapsulated items that do not parse (damaged offset table or fragments)."""
    raw = ds.get_item("PixelData", keep_deferred=True)  # the header only: a deferred value stays unread
    length = getattr(raw, "length", None)
    tell = getattr(raw, "value_tell", None)
    # a deflated data set's positions are in the inflated stream, not the file: no bound from the file's size
    on_disk = info.transfer_syntax != "1.2.840.10008.1.2.1.99"
    if (
        on_disk
        and isinstance(length, int)
        and isinstance(tell, int)
        and length != 0xFFFFFFFF
        and tell + length > info.size_bytes
    ):
        raise HarnessError(
            ErrorCode.DECODE_FAILED,
            f"Pixel Data declares {length} bytes but the file ends {info.size_bytes - tell} bytes after its start",
            "input",
        )
    if not info.is_compressed:
        available = length if isinstance(length, int) and length != 0xFFFFFFFF else _value_length(raw)
        needed = native_frame_bytes(info)
        if available is not None and available < needed:
            raise HarnessError(
                ErrorCode.DECODE_FAILED,
                f"Pixel Data holds {available} bytes, less than one frame of {info.columns}x{info.rows} "
                f"x {info.samples_per_pixel} sample(s) x {info.bits_allocated} bits ({needed} bytes)",
                "input",
            )
        return
    from pydicom.encaps import generate_fragments, parse_basic_offsets

    check_fragment_lengths(ds.PixelData)
    try:
        parse_basic_offsets(ds.PixelData)
        for _ in generate_fragments(ds.PixelData):
            pass
    except Exception as exc:
        raise HarnessError(
            ErrorCode.DECODE_FAILED, f"the encapsulated pixel data is damaged: {_short(exc)}", "input"
        ) from None
    check_codestream_size(ds, info)
    check_rle_segments(ds, info)


#: Sequences deeper than this are not walked for element lengths (pydicom parses them; a deeper one is rare
#: and its elements still lie inside the sequence, whose own length was checked).
MAX_LENGTH_CHECK_DEPTH = 8
_UNDEFINED = 0xFFFFFFFF
_ITEM, _SEQUENCE_DELIMITER, _PIXEL_DATA = 0xFFFEE000, 0xFFFEE0DD, 0x7FE00010
_DEFLATED = "1.2.840.10008.1.2.1.99"


def check_element_lengths(ds: Any, size: int, depth: int = 0) -> None:
    """Every element whose declared length runs past the end of the file: ``decode_failed`` naming it.

    A tool that allocates the declared length before reading (PixelMed does, for a fragment) would take
    gigabytes from a few bytes of header; pydicom itself reads what is there and says nothing.
    """
    for tag in list(ds.keys()):
        if tag == _PIXEL_DATA and depth == 0:
            continue  # checked with the pixel container (``_check_pixel_container``)
        raw = ds.get_item(tag, keep_deferred=True)  # a deferred value stays unread
        length, tell = getattr(raw, "length", None), getattr(raw, "value_tell", None)
        if isinstance(length, int) and isinstance(tell, int) and length != _UNDEFINED and tell + length > size:
            raise HarnessError(
                ErrorCode.DECODE_FAILED,
                f"element {tag} declares {length} bytes at offset {tell}, past the end of the file "
                f"({max(0, size - tell)} bytes remain)",
                "input",
            )
        if getattr(raw, "VR", None) == "SQ" and depth < MAX_LENGTH_CHECK_DEPTH:
            try:
                items = list(ds[tag].value or ())
            except Exception:
                continue  # an unparsable sequence no backend reads: its own length was checked above
            for item in items:
                check_element_lengths(item, size, depth + 1)


#: The VRs of PS3.5 Table 6.2-1: any other two letters in an explicit VR data set is an unknown ("future") VR.
KNOWN_VRS = frozenset(
    {"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT", "OB", "OD", "OF", "OL", "OV", "OW"}
    | {"PN", "SH", "SL", "SQ", "SS", "ST", "SV", "TM", "UC", "UI", "UL", "UN", "UR", "US", "UT", "UV"}
)


def _reads_32_bit_length(vr: bytes, reserved: bytes) -> str | None:
    """Which toolkit reads an explicit VR that is none of PS3.5's with the 32-bit length form (pure): dcmtk
    when it is two capital letters (a "future" VR: dcmdata/libsrc/dcvr.cc, ``EVR_UNKNOWN`` has
    ``DCMVR_PROP_EXTENDEDLENGTHENCODING``; any other bytes are ``EVR_UNKNOWN2B``, a 16-bit length), Orthanc
    whatever the bytes when the next two are zero (OrthancFramework DicomStreamReader::HandleDatasetTag: a VR
    not in its short list takes 2 reserved bytes, which must be 0, then a 32-bit length), else None."""
    if vr.decode("latin-1") in KNOWN_VRS:
        return None
    if all(0x41 <= b <= 0x5A for b in vr):
        return "dcmtk and Orthanc" if reserved == b"\0\0" else "dcmtk"
    return "Orthanc" if reserved == b"\0\0" else None


def check_unknown_vr_lengths(path: Path, ds: Any, size: int) -> None:
    """A top-level element whose explicit VR is none of PS3.5's, read as dcmtk and Orthanc read it: both may
    take the 32-bit length form, 2 reserved bytes then 4 length bytes (``_reads_32_bit_length``), where
    pydicom read a 16-bit length (two capital letters) or the element as implicit VR (any other bytes). A
    length so read that runs past the end is ``decode_failed``: Orthanc allocated it and grew past 1 GB on
    files of a few KB (fuzz seed 20261209 case 9743: Additional Patient History (0010,21B0) LT -> "ZZ"; seed
    995 case 31: Laterality (0020,0060) CS -> two zero bytes, which dcmtk reads with a 16-bit length and
    Orthanc's stream reader with the 32-bit length 0x40000020, the next element's tag, as dicom-toimage did
    too: "Could not reserve memory for data value (1073741856 bytes)" on seed 4101 case 179, the same
    mutation). An implicit VR data set under an explicit transfer syntax is left alone: no VR to misread."""
    implicit, little = getattr(ds, "original_encoding", (None, None))
    if implicit is not False:
        return
    suspects, explicit_seen = [], False
    for tag in list(ds.keys()):
        raw = ds.get_item(tag, keep_deferred=True)
        vr, tell = getattr(raw, "VR", None), getattr(raw, "value_tell", None)
        explicit_seen |= isinstance(vr, str) and vr in KNOWN_VRS
        if isinstance(tell, int) and tell >= 8 and (vr is None or (isinstance(vr, str) and vr not in KNOWN_VRS)):
            suspects.append((tag, tell, vr))  # pydicom's own VR name, or None: read as implicit VR
    if not explicit_seen:  # an implicit VR data set under an explicit transfer syntax (pydicom's SC_rgb_jpeg.dcm):
        suspects = [s for s in suspects if s[2] is not None]  # its elements have no VR to misread
    if not suspects:
        return
    with open(path, "rb") as fp:
        for tag, tell, _vr in suspects:
            fp.seek(tell - 4)  # the VR's two bytes, two more (a 16-bit length or reserved), a 32-bit length
            head = fp.read(8)
            if len(head) < 8:
                continue
            reader = _reads_32_bit_length(head[:2], head[2:4])
            length = int.from_bytes(head[4:], "little" if little is not False else "big")
            if reader is not None and length != _UNDEFINED and tell + 4 + length > size:
                shown = head[:2].decode("latin-1") if all(0x20 < b < 0x7F for b in head[:2]) else head[:2].hex(" ")
                raise HarnessError(
                    ErrorCode.DECODE_FAILED,
                    f"element {tag} has the unknown VR {shown!r}: read with the 32-bit length of an unknown VR "
                    f"(as read by {reader}) it declares {length} bytes at offset {tell + 4}, past the end of "
                    f"the file ({max(0, size - tell - 4)} bytes remain)",
                    "input",
                )


def is_deflated(ds: Any) -> bool:
    meta = getattr(ds, "file_meta", None)
    return meta is not None and str(meta.get("TransferSyntaxUID", "")) == _DEFLATED


def check_last_element_length(path: Path, ds: Any, size: int) -> None:
    """The last top-level element, read raw: its declared length must end inside the file.

    An element whose length runs past the end swallows the rest of the file, so it is the last one pydicom
    reads, and pydicom converts that one while reading (its declared length is then lost): the file is read
    once more without values (``data_element_generator``, values over 64 KB skipped) to see it raw. Only
    needed when ``check_element_lengths`` could not see the last element raw.
    """
    from pydicom.filereader import _read_file_meta_info, data_element_generator, read_preamble
    from pydicom.tag import BaseTag

    implicit, little = getattr(ds, "original_encoding", (None, None))
    if implicit is None or little is None:
        return
    last: Any = None
    try:
        with open(path, "rb") as fp:
            read_preamble(fp, True)
            _read_file_meta_info(fp)
            for raw in data_element_generator(fp, implicit, little, defer_size=64 * 1024):
                last = raw
    except Exception:
        return  # what pydicom could read once is judged by the other checks
    length, tell = getattr(last, "length", None), getattr(last, "value_tell", None)
    if isinstance(length, int) and isinstance(tell, int) and length != _UNDEFINED and tell + length > size:
        raise HarnessError(
            ErrorCode.DECODE_FAILED,
            f"element {BaseTag(last.tag)} declares {length} bytes at offset {tell}, past the end "
            f"of the file ({max(0, size - tell)} bytes remain)",
            "input",
        )


_JPEG_FAMILY = {f"1.2.840.10008.1.2.4.{n}" for n in (50, 51, 57, 70, 80, 81)}
_J2K_FAMILY = {f"1.2.840.10008.1.2.4.{n}" for n in (90, 91, 201, 202, 203)}
#: JPEG start-of-frame markers (T.81 B.1.1.3: SOF0-3, 5-7, 9-11, 13-15) and JPEG-LS's SOF55 (T.87 C.2.2)
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF, 0xF7}
_NO_LENGTH = {0x01, 0xD0, 0xD1, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xD9}


#: The largest sample precision of a JPEG (T.81 B.2.2: P is 8 or 12, lossless 2-16) or JPEG-LS (T.87 C.2.2)
#: frame.
JPEG_MAX_PRECISION = 16


def codestream_size(fragment: bytes) -> tuple[int, int] | None:
    """(columns, rows) the codestream at the start of ``fragment`` declares: a JPEG / JPEG-LS frame header
    (SOFn: T.81 B.2.2, T.87 C.2.2) or a JPEG 2000 SIZ segment (T.800 A.5.1); None when there is none to read
    (a JPEG height of 0 is given later by a DNL segment: not checked)."""
    if fragment[:4] == b"\xff\x4f\xff\x51" and len(fragment) >= 4 + 2 + 2 + 16:
        xsiz, ysiz, xo, yo = struct.unpack_from(">IIII", fragment, 8)
        return (xsiz - xo, ysiz - yo) if xsiz > xo and ysiz > yo else None
    if fragment[:2] != b"\xff\xd8":
        return None
    pos = 2
    while pos + 4 <= min(len(fragment), 65536):
        if fragment[pos] != 0xFF:
            return None
        marker = fragment[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _NO_LENGTH:
            pos += 2
            continue
        (length,) = struct.unpack_from(">H", fragment, pos + 2)
        if marker in _SOF and pos + 9 <= len(fragment):
            rows, columns = struct.unpack_from(">HH", fragment, pos + 5)
            return (columns, rows) if rows else None
        if marker == 0xDA:  # start of scan before any frame header
            return None
        pos += 2 + length
    return None


def check_codestream_size(ds: Any, info: InputInfo) -> None:
    """The first frame's codestream must have the data set's Columns x Rows: a decoder sized by one and fed
    the other aborts (GDCM, behind pydicom: ``gdcmBitmap.cxx:737 len <= outbv->GetLength()``, SIGABRT, fuzz
    seed 20261204 case 374: JPEGLSNearLossless_16 with Columns 32767). PS3.5 8.2: the encapsulated
    stream's attributes shall be consistent with the data set's."""
    from pydicom.encaps import generate_fragments

    if info.transfer_syntax not in _JPEG_FAMILY | _J2K_FAMILY:
        return
    if info.transfer_syntax in _JPEG_FAMILY and max(info.bits_stored, info.bits_allocated) > JPEG_MAX_PRECISION:
        # GDCM (pydicom's gdcm plugin: python_gdcm; python_ref before it left GDCM out) throws an uncaught
        # gdcm::Exception out of its JPEG codec ("gdcmJPEGCodec.cxx:149 (): An invalid logic behavior
        # occurred") and the process aborts (SIGABRT): fuzz seed 77123 case 904, Bits Allocated 64 / Bits
        # Stored 33, and Bits Allocated 32 or 64 with Bits Stored 8 alike
        which = "Stored" if info.bits_stored > JPEG_MAX_PRECISION else "Allocated"
        value = info.bits_stored if which == "Stored" else info.bits_allocated
        raise HarnessError(
            ErrorCode.DECODE_FAILED,
            f"Bits {which} {value} is more than a JPEG or JPEG-LS frame holds (its samples have at most "
            f"{JPEG_MAX_PRECISION} bits: T.81 B.2.2, T.87 C.2.2)",
            "input",
        )
    fragments = generate_fragments(ds.PixelData)
    next(fragments, None)  # the Basic Offset Table
    first = next(fragments, None)
    size = codestream_size(first) if first else None
    if size is not None and size != (info.columns, info.rows):
        raise HarnessError(
            ErrorCode.DECODE_FAILED,
            f"the compressed frame is {size[0]}x{size[1]} but the data set says {info.columns}x{info.rows} "
            "(Columns x Rows)",
            "input",
        )


RLE_LOSSLESS = "1.2.840.10008.1.2.5"
#: An RLE segment decodes to at most 64 times its length: a replicate run turns 2 bytes into at most 128
#: (PS3.5 G.3.1: header byte -1 to -127 repeats the next byte 2 to 128 times; a literal run is longer coded).
RLE_MAX_EXPANSION = 64


def rle_header_problem(fragment: bytes) -> str | None:
    """What makes one RLE frame's header unreadable (PS3.5 G.5: 64 bytes, the number of segments, 1 to 15,
    then 15 offsets, the first 64, none decreasing, none past the frame), or None (pure)."""
    if len(fragment) < 64:
        return f"the first frame has {len(fragment)} bytes, less than the 64 of its RLE header (PS3.5 G.5)"
    count, *offsets = struct.unpack_from("<16I", fragment, 0)
    if not 1 <= count <= 15:
        return f"the RLE header of the first frame declares {count} segments, not 1 to 15 (PS3.5 G.5)"
    starts = [*offsets[:count], len(fragment)]
    if starts[0] != 64 or any(b < a for a, b in itertools.pairwise(starts)):
        shown = ", ".join(map(str, offsets[:count]))
        return (
            f"the RLE header of the first frame gives segment offsets {shown} in a frame of {len(fragment)} "
            "bytes: the first must be 64, and none may decrease or pass the end (PS3.5 G.5)"
        )
    return None


def rle_segment_lengths(fragment: bytes) -> list[int] | None:
    """The lengths of the segments of one RLE frame (PS3.5 G.5: a 64-byte header, the number of segments
    and 15 offsets); None when the header is unreadable (``rle_header_problem`` says why)."""
    if rle_header_problem(fragment) is not None:
        return None
    count, *offsets = struct.unpack_from("<16I", fragment, 0)
    starts = [*offsets[:count], len(fragment)]
    return [b - a for a, b in itertools.pairwise(starts)]


def check_rle_segments(ds: Any, info: InputInfo) -> None:
    """The first RLE frame's header must be readable (``rle_header_problem``: cornerstone's decoder looped on
    JPEG 2000 data relabelled RLE until the timeout, fuzz seed 20261213 cases 22, 267 and 910), and every
    segment of it long enough for Rows x Columns bytes: a decoder sized
    by the header and fed far less data grew Chromium (cornerstone) to 2.65 GB for a 39 MB frame and ran
    into the timeout (fuzz seed 20261207 case 1528: OBXXXX1A_rle with Columns 65535)."""
    from pydicom.encaps import generate_fragments

    if info.transfer_syntax != RLE_LOSSLESS or info.rows <= 0 or info.columns <= 0:
        return
    fragments = generate_fragments(ds.PixelData)
    next(fragments, None)  # the Basic Offset Table
    first = next(fragments, None)
    if first is None:
        return
    problem = rle_header_problem(first)
    if problem is not None:  # cornerstone's decoder looped on such a header until the timeout (seed 20261213, 22)
        raise HarnessError(ErrorCode.DECODE_FAILED, problem, "input")
    wanted = info.rows * info.columns
    for k, length in enumerate(rle_segment_lengths(first) or []):
        if length * RLE_MAX_EXPANSION < wanted:
            raise HarnessError(
                ErrorCode.DECODE_FAILED,
                f"RLE segment {k + 1} of the first frame has {length} bytes: it decodes to at most "
                f"{length * RLE_MAX_EXPANSION}, not the {info.rows}x{info.columns} bytes the data set declares "
                "(PS3.5 G.3.1)",
                "input",
            )


def check_fragment_lengths(data: bytes, little: bool = True) -> None:
    """The items of encapsulated Pixel Data (PS3.5 A.4): each must fit in the data; ``decode_failed`` names
    the first that does not (item 1 is the Basic Offset Table, item 2 the first fragment)."""
    fmt = "<HHL" if little else ">HHL"
    offset, item = 0, 0
    while offset + 8 <= len(data):
        group, elem, length = struct.unpack_from(fmt, data, offset)
        tag = group << 16 | elem
        if tag == _SEQUENCE_DELIMITER:
            return
        item += 1
        what = "Basic Offset Table (item 1)" if item == 1 else f"item {item} (fragment {item - 1})"
        if tag != _ITEM:
            raise HarnessError(
                ErrorCode.DECODE_FAILED,
                f"the encapsulated pixel data is damaged: tag ({group:04X},{elem:04X}) where {what} should "
                f"start (offset {offset})",
                "input",
            )
        remaining = len(data) - offset - 8
        if length == _UNDEFINED or length > remaining:
            declared = "an undefined length" if length == _UNDEFINED else f"{length} bytes"
            raise HarnessError(
                ErrorCode.DECODE_FAILED,
                f"the encapsulated pixel data is damaged: {what} declares {declared} but {remaining} bytes "
                "remain: its length points past the end of the data",
                "input",
            )
        offset += 8 + length


def native_frame_bytes(info: InputInfo) -> int:
    """Bytes of one uncompressed frame (PS3.5 8.1.1: 1-bit data packed; YBR_FULL_422 two samples a pixel)."""
    n = info.rows * info.columns * info.samples_per_pixel
    n = (n + 7) // 8 if info.bits_allocated == 1 else n * (info.bits_allocated // 8)
    if info.photometric == "YBR_FULL_422":
        n = n // 3 * 2
    return n


def _value_length(raw: Any) -> int | None:
    value = getattr(raw, "value", None)
    return len(value) if isinstance(value, bytes | bytearray) else None


def _is_multi(value: Any) -> bool:
    from pydicom.multival import MultiValue

    return isinstance(value, MultiValue | list | tuple)


def check_frame(info: InputInfo, frame: int | str) -> list[int]:
    """The 0-based frames a request renders; ``frame_out_of_range`` when it is not in the file."""
    if frame == "all":
        return list(range(info.frames))
    assert isinstance(frame, int)
    if not 0 <= frame < info.frames:
        raise HarnessError(
            ErrorCode.FRAME_OUT_OF_RANGE,
            f"frame {frame} is out of range: the file has {info.frames} frame(s), numbered 0..{info.frames - 1}",
            "options.frame",
        )
    return [frame]
