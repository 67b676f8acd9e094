"""Stage 1, pixel decoding: stored values of one frame, exactly as PS3.5 8 / PS3.3 C.7.6.3 define them.

Native (uncompressed) Pixel Data is unpacked here from its bytes, so nothing pydicom does to the words
(byte order, sign correction, masking) is inherited; compressed Pixel Data goes through pydicom's
decoders (``raw``: no colour conversion), whose output photometric interpretation is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dcmharness.contract.errors import ErrorCode, HarnessError

#: Transfer syntaxes whose Pixel Data is stored natively (deflate is inflated by pydicom on read).
NATIVE_SYNTAXES = frozenset(
    {
        "1.2.840.10008.1.2",  # Implicit VR Little Endian
        "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
        "1.2.840.10008.1.2.2",  # Explicit VR Big Endian (retired)
        "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian
    }
)


@dataclass(frozen=True)
class PixelLayout:
    """What the Image Pixel module says about the stored words."""

    rows: int
    cols: int
    samples: int
    bits_allocated: int
    bits_stored: int
    high_bit: int
    signed: bool
    planar: int
    photometric: str

    @property
    def frame_items(self) -> int:
        return self.rows * self.cols * self.samples


@dataclass(frozen=True)
class Decoded:
    """One decoded frame: the raw words (unmasked, for embedded overlays) and their photometric."""

    words: np.ndarray  # rows x cols (x samples); unsigned ints, or floats for float pixel data
    photometric: str  # after decoding (a JPEG decoder may hand back RGB for YBR data)
    native: bool


def layout_of(ds: Any) -> PixelLayout:
    """The pixel layout of a dataset (HighBit repaired to BitsStored - 1 when inconsistent)."""
    bits_alloc = int(ds.BitsAllocated)
    bits_stored = int(ds.get("BitsStored", bits_alloc) or bits_alloc)
    hb = ds.get("HighBit")
    high_bit = bits_stored - 1 if hb is None or hb == "" else int(hb)
    if high_bit >= bits_alloc or high_bit + 1 < bits_stored:
        high_bit = bits_stored - 1
    return PixelLayout(
        rows=int(ds.Rows),
        cols=int(ds.Columns),
        samples=int(ds.get("SamplesPerPixel", 1) or 1),
        bits_allocated=bits_alloc,
        bits_stored=bits_stored,
        high_bit=high_bit,
        signed=int(ds.get("PixelRepresentation", 0) or 0) == 1,
        planar=int(ds.get("PlanarConfiguration", 0) or 0),
        photometric=str(ds.get("PhotometricInterpretation", "") or "").strip().upper(),
    )


def mask_stored_bits(raw: np.ndarray, bits_stored: int, high_bit: int, signed: bool) -> np.ndarray:
    """Keep the BitsStored bits ending at HighBit; sign-extend when signed. Pure.

    ``(raw >> (HighBit + 1 - BitsStored)) & (2**BitsStored - 1)``: unused high bits (embedded overlays,
    garbage) never leak into the stored values. Out: int32 for words up to 16 bits, else int64.
    """
    if raw.dtype.kind == "f":
        return raw
    native = raw.astype(raw.dtype.newbyteorder("="), copy=False)
    unsigned = native.view(f"u{native.dtype.itemsize}") if native.dtype.kind == "i" else native
    out_type = np.int32 if unsigned.dtype.itemsize <= 2 else np.int64
    shift = max(high_bit + 1 - bits_stored, 0)
    width = unsigned.dtype.itemsize * 8
    if shift == 0 and bits_stored == width:
        values = unsigned
    else:
        values = (unsigned >> unsigned.dtype.type(shift)) & unsigned.dtype.type((1 << bits_stored) - 1)
    if not signed:
        return values.astype(out_type)
    if bits_stored == width:  # a plain two's complement reinterpretation
        return values.view(f"i{unsigned.dtype.itemsize}").astype(out_type)
    out = values.astype(out_type)
    # subtract 2**bits where the sign bit is set
    np.subtract(out, np.left_shift(np.right_shift(out, bits_stored - 1), bits_stored), out=out)
    return out


def native_words(data: bytes, lay: PixelLayout, frame: int, little_endian: bool, vr: str = "OW") -> np.ndarray:
    """Unpack one frame of native Pixel Data bytes into unsigned words (rows x cols [x samples]). Pure.

    1-bit data is packed LSB first and frames need not start on a byte boundary; 8-bit data in an OW
    element of a big-endian file is byte-swapped within each 16-bit word (PS3.5 8.1.1); Planar
    Configuration 1 (RRR..GGG..BBB..) is de-interleaved; YBR_FULL_422 is upsampled (Y1 Y2 Cb Cr).
    """
    n = lay.frame_items
    if lay.bits_allocated == 1:
        bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")
        flat = bits[frame * n : (frame + 1) * n]
        if len(flat) < n:
            raise HarnessError(ErrorCode.DECODE_FAILED, "the pixel data is shorter than the header declares", "input")
        return _shape(flat.astype(np.uint8), lay)
    if lay.photometric == "YBR_FULL_422" and lay.samples == 3 and lay.bits_allocated == 8:
        return _ybr422_words(data, lay, frame)
    nbytes = lay.bits_allocated // 8
    buf = data
    if nbytes == 1 and not little_endian and vr == "OW":
        even = len(data) - len(data) % 2
        buf = np.frombuffer(data[:even], dtype=">u2").astype("<u2").tobytes()
    start, stop = frame * n * nbytes, (frame + 1) * n * nbytes
    if stop > len(buf):
        raise HarnessError(
            ErrorCode.DECODE_FAILED,
            f"the pixel data is shorter than the header declares ({len(buf)} < {stop} bytes)",
            "input",
        )
    dtype = np.dtype(f"{'<' if little_endian else '>'}u{nbytes}")
    flat = np.frombuffer(buf[start:stop], dtype=dtype).astype(dtype.newbyteorder("="))
    return _shape(flat, lay)


def _shape(flat: np.ndarray, lay: PixelLayout) -> np.ndarray:
    if lay.samples == 1:
        return flat.reshape(lay.rows, lay.cols)
    if lay.planar == 1:
        return np.moveaxis(flat.reshape(lay.samples, lay.rows, lay.cols), 0, -1)
    return flat.reshape(lay.rows, lay.cols, lay.samples)


def _ybr422_words(data: bytes, lay: PixelLayout, frame: int) -> np.ndarray:
    """YBR_FULL_422 native: per pair of pixels Y1 Y2 Cb Cr; chroma repeated for both pixels (C.7.6.3.1.2)."""
    pairs = lay.rows * ((lay.cols + 1) // 2)
    size = pairs * 4
    chunk = data[frame * size : (frame + 1) * size]
    if len(chunk) < size:
        raise HarnessError(ErrorCode.DECODE_FAILED, "the pixel data is shorter than the header declares", "input")
    q = np.frombuffer(chunk, dtype=np.uint8).reshape(lay.rows, -1, 4)
    y = np.stack([q[..., 0], q[..., 1]], axis=-1).reshape(lay.rows, -1)[:, : lay.cols]
    cb = np.repeat(q[..., 2], 2, axis=1)[:, : lay.cols]
    cr = np.repeat(q[..., 3], 2, axis=1)[:, : lay.cols]
    return np.stack([y, cb, cr], axis=-1)


def little_endian_of(ds: Any, transfer_syntax: str | None) -> bool:
    if transfer_syntax == "1.2.840.10008.1.2.2":
        return False
    if transfer_syntax in NATIVE_SYNTAXES:
        return True
    enc = getattr(ds, "original_encoding", (None, None))
    return enc[1] is not False


def decode_words(ds: Any, frame: int, transfer_syntax: str | None) -> Decoded:
    """The raw words of one 0-based frame and their photometric interpretation after decoding."""
    lay = layout_of(ds)
    if transfer_syntax in NATIVE_SYNTAXES and "PixelData" in ds:
        elem = ds["PixelData"]
        value = elem.value
        if isinstance(value, bytes | bytearray):
            words = native_words(bytes(value), lay, frame, little_endian_of(ds, transfer_syntax), str(elem.VR))
            photometric = "YBR_FULL" if lay.photometric == "YBR_FULL_422" else lay.photometric
            return Decoded(words=words, photometric=photometric, native=True)
    arr, meta = _pydicom_decode(ds, frame, transfer_syntax)
    photometric = str(meta.get("photometric_interpretation", lay.photometric) or lay.photometric).upper()
    if (
        transfer_syntax in IJG_UPSAMPLED
        and lay.samples == 3
        and lay.bits_allocated == 8
        and photometric.startswith("YBR")
    ):
        ycbcr = jpeg_ycbcr_upsampled(ds, frame)
        if ycbcr is not None and ycbcr.shape == arr.shape:
            return Decoded(words=ycbcr, photometric="YBR_FULL", native=False)
    if arr.dtype.kind in "iu":
        arr = arr.astype(arr.dtype.newbyteorder("="))
        if arr.dtype.kind == "i":
            arr = arr.view(f"u{arr.dtype.itemsize}")
    return Decoded(words=arr, photometric=photometric, native=False)


def decode_frame(ds: Any, frame: int, transfer_syntax: str | None) -> np.ndarray:
    """Stored values of one frame: masked to BitsStored and sign-extended (int32, or int64 above 16 bits)."""
    decoded = decode_words(ds, frame, transfer_syntax)
    return stored_values(decoded.words, layout_of(ds))


def stored_values(words: np.ndarray, lay: PixelLayout) -> np.ndarray:
    """Words -> stored values (mask to BitsStored at HighBit, sign-extend). Pure."""
    if words.dtype.kind == "f":
        return words
    return mask_stored_bits(words, lay.bits_stored, lay.high_bit, lay.signed)


#: 8-bit JPEG (baseline, extended): colour frames are upsampled the IJG way (see jpeg_ycbcr_upsampled).
IJG_UPSAMPLED = frozenset({"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51"})


def jpeg_ycbcr_upsampled(ds: Any, frame: int) -> np.ndarray | None:
    """The frame's Y, Cb, Cr planes at full resolution, decoded by libjpeg(-turbo) through Pillow.

    Chroma upsampling is not defined by T.81; libjpeg's "fancy" (triangle-filter) upsampling is what
    dcmtk (IJG), Orthanc and PixelMed share, while pylibjpeg-libjpeg replicates samples (up to 5 levels
    apart on 4:2:2 images). Pillow is asked for YCbCr (no colour conversion: T.871 is applied by the
    colour stage). None when Pillow cannot give YCbCr for this frame (then pydicom's decoding stands).
    """
    import io

    from PIL import Image
    from pydicom.encaps import get_frame

    try:
        fragment = get_frame(ds.PixelData, frame, number_of_frames=int(ds.get("NumberOfFrames", 1) or 1))
        with Image.open(io.BytesIO(fragment)) as im:
            if im.mode != "YCbCr":
                im.draft("YCbCr", im.size)
            if im.mode != "YCbCr":
                return None
            return np.asarray(im)
    except Exception:  # any failure: keep pydicom's decoding of this frame
        return None


#: A decoding plugin the reference never uses: GDCM is another backend's decoder family (``python_gdcm``),
#: and pydicom would try it first wherever python-gdcm is installed.
EXCLUDED_PLUGINS = frozenset({"gdcm"})


def reference_plugins(decoder: Any) -> list[str]:
    """pydicom's own plugin order for this decoder, without EXCLUDED_PLUGINS ([""]: let pydicom choose)."""
    plugins = [p for p in (getattr(decoder, "available_plugins", ()) or ()) if p not in EXCLUDED_PLUGINS]
    return plugins or [""]


def _as_array(decoder: Any, ds: Any, frame: int) -> tuple[Any, Any]:
    """The first plugin's decoding that succeeds, in pydicom's order (as pydicom itself does); the last
    plugin's exception when none does."""
    plugins = reference_plugins(decoder)
    for k, plugin in enumerate(plugins):
        try:
            arr, meta = decoder.as_array(ds, index=frame, raw=True, decoding_plugin=plugin)
            return arr, meta
        except Exception:
            if k == len(plugins) - 1:
                raise
    raise AssertionError("unreachable")


def _pydicom_decode(ds: Any, frame: int, transfer_syntax: str | None) -> tuple[np.ndarray, dict[str, Any]]:
    from pydicom.pixels.decoders.base import get_decoder

    try:
        if "PixelData" not in ds:  # float / double float pixel data
            from pydicom.pixels.utils import pixel_array

            return np.asarray(pixel_array(ds, index=frame, raw=True)), {}
        decoder = get_decoder(transfer_syntax or "")
        arr, meta = _as_array(decoder, ds, frame)
        return np.asarray(arr), dict(meta)
    except NotImplementedError as exc:
        raise HarnessError(
            ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
            f"no installed decoder for transfer syntax {transfer_syntax}: {_first_line(exc)}",
        ) from None
    except (RuntimeError, ValueError, OSError, KeyError, AttributeError, TypeError, IndexError) as exc:
        text = _first_line(exc)
        if "missing dependencies" in text:  # no usable decoding plugin installed for this syntax
            raise HarnessError(ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX, text) from None
        raise HarnessError(ErrorCode.DECODE_FAILED, f"pixel data could not be decoded: {text}") from None


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return " ".join(lines)[:400] if lines else type(exc).__name__
