"""dicom-rs' ops beyond ``to_image``: ``dump`` and ``info`` (``dicom-dump``) and ``transcode``
(``dicom-transcode``). The argv mappings are pure and golden-tested (``tests/test_java_rust_ops.py``);
running them is shared with dcm4che (``adapters/cli_ops.py``).

Facts (dicom-rs 0.10.1 as ``make setup`` installs it: the crates ``dicom-dump`` and ``dicom-pixeldata``, whose
binary ``dicom-transcode`` needs its ``cli`` feature and whose JPEG-LS codec needs ``charls``; file:line in
``docs/dicom_rs.md``):

- ``dicom-dump --format json <file>`` writes the file meta group and the data set, binary values as
  InlineBinary; it prints ``<file>: `` on stderr first. Encapsulated Pixel Data is dropped from the JSON with
  a warning (0.10; 0.7/0.8's dicom-json panicked instead: "serialization of encapsulated pixel data is not
  supported", answered ``unsupported_transfer_syntax`` on ``input``); the registry names that difference.
  Only the first value of Specific Character Set selects the decoder (ISO 2022 code extensions are not
  switched).
- Files without a File Meta Information group (no ``DICM`` at byte 128 or 0) are not opened by any dicom-rs
  tool ("magic code check failed"): refused before the tool runs (``no_file_meta``).
- ``dicom-transcode <in> -o <out> --ts <uid> [--quality 0..100]``: encoders for explicit and implicit VR
  little endian, deflated explicit VR little endian, JPEG baseline (8-bit), JPEG-LS lossless and
  near-lossless (``charls``). No RLE, JPEG lossless or JPEG 2000 encoder. It adds Number of Frames and
  Encapsulated Pixel Data Value Total Length when it encapsulates. JPEG-LS NEAR is not a flag: the encoder
  derives it as ``min(4096, floor(2^(BitsStored-4) * (100 - quality) / 100))``, so ``near_lossless`` is
  mapped to the quality giving exactly that NEAR for the input's Bits Stored, and refused when none does.
"""

from __future__ import annotations

from pathlib import Path

from dcmharness.adapters.base import Capability
from dcmharness.adapters.cli_ops import Toolkit
from dcmharness.backends.base import unsupported
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.ops_models import TRANSFER_SYNTAXES, TranscodeOptions

DEFAULT_NEAR = 2
DICOM_RS_PANIC = "encapsulated pixel data is not supported"
DICOM_RS_OPS = ("dump", "info", "transcode")
DICOM_RS_TARGETS: tuple[str, ...] = (
    "explicit_vr_little_endian",
    "implicit_vr_little_endian",
    "deflated_explicit_vr_little_endian",
    "jpeg_baseline",
    "jpeg_ls_lossless",
    "jpeg_ls_near_lossless",
)
DICOM_RS_NO_ENCODER = {
    "rle_lossless": "dicom-rs has an RLE decoder only",
    "jpeg_lossless_sv1": "dicom-rs has a JPEG lossless decoder only",
    "jpeg_2000_lossless": "dicom-rs has a JPEG 2000 decoder only",
    "jpeg_2000": "dicom-rs has a JPEG 2000 decoder only",
}
DICM = b"DICM"


def no_file_meta(path: Path | str) -> bool:
    """Whether the file lacks the ``DICM`` prefix (at byte 128 after the preamble, or at byte 0), without
    which dicom-rs opens nothing. False when the file cannot be read (the preflight reports that)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(132)
    except OSError:
        return False
    return head[128:132] != DICM and head[:4] != DICM


def dicom_rs_capabilities() -> dict[str, dict[str, Capability]]:
    return {
        "dump": {"bulk_data": ("omit", "inline"), "bulk_threshold": True, "include_meta": True},
        "info": {"include_private": True},
        "transcode": {
            "transfer_syntax": DICOM_RS_TARGETS,
            "quality": True,
            "near_lossless": True,
            "compression_ratio": False,
        },
    }


def dicom_rs_dump_argv(tool: str, src: str) -> list[str]:
    """``dicom-dump --format json <file>`` (stdout). Pure."""
    return [tool, "--format", "json", src]


def near_lossless_quality(near: int, bits_stored: int) -> int | None:
    """The dicom-transcode ``--quality`` whose JPEG-LS NEAR is exactly ``near`` for this Bits Stored, or None.

    The encoder computes ``min(4096, (2^(bits_stored-4) * (100 - quality)) // 100)``; the highest such
    quality is chosen. Pure."""
    if bits_stored < 5:
        return None
    scale = 1 << (bits_stored - 4)
    for quality in range(100, -1, -1):
        if min(4096, scale * (100 - quality) // 100) == near:
            return quality
    return None


def dicom_rs_transcode_argv(
    tool: str, src: str, out: str, options: TranscodeOptions, bits_stored: int | None = None
) -> list[str]:
    """``dicom-transcode --ts <uid> <in> -o <out> [--quality q]``; ``unsupported_option`` otherwise. Pure."""
    target = options.transfer_syntax
    if target not in DICOM_RS_TARGETS:
        raise unsupported("transfer_syntax", f"dicom-rs cannot encode {target}: {DICOM_RS_NO_ENCODER.get(target, '')}")
    argv = [tool, "--ts", TRANSFER_SYNTAXES[target], src, "-o", out]
    if options.quality is not None:
        argv += ["--quality", str(options.quality)]
    if target == "jpeg_ls_near_lossless":
        near = options.near_lossless or DEFAULT_NEAR
        quality = near_lossless_quality(near, bits_stored or 0)
        if quality is None:
            raise unsupported(
                "near_lossless",
                f"dicom-rs derives NEAR from --quality and Bits Stored; no quality gives NEAR {near} "
                f"for {bits_stored} bits stored",
            )
        argv += ["--quality", str(quality)]
    return argv


def _transcode(tool: str, src: str, out: str, options: TranscodeOptions, info: InputInfo) -> list[str]:
    return dicom_rs_transcode_argv(tool, src, out, options, info.bits_stored)


DICOM_RS = Toolkit(
    "dicom_rs",
    DICOM_RS_OPS,
    "dicom-dump",
    "dicom-transcode",
    None,
    dicom_rs_capabilities,
    dump_argv=dicom_rs_dump_argv,
    transcode_argv=_transcode,
    unsupported_input={DICOM_RS_PANIC: "cannot write encapsulated pixel data as JSON"},
)
