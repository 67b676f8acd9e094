"""Checks of written files: a transcode (``verify_transcode``: the written transfer syntax, the metadata
preserved except what a transfer syntax change legitimately touches, the decoded pixels identical), the
cross-decoding matrix (``decode_pixels``, ``cross_decode``: every backend's encoding decoded by
python_ref/pydicom, dcmtk and GDCM), and an anonymization (``verify_anonymize``, ``batch_uid_conflicts``:
the PS3.15 E.1 basic profile checks and UID consistency across a batch).
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dcmharness.interface.conform.ops.compare_json import compare_dicom_json, normalise_json

#: Attributes a transfer syntax change may legitimately touch (PS3.5 8, PS3.3 C.7.6.1.1.5, C.7.6.3).
TRANSCODE_MAY_CHANGE = frozenset(
    {
        "7FE00010",  # Pixel Data (encoding)
        "00280004",  # Photometric Interpretation (YBR_* <-> RGB when (de)compressing)
        "00280006",  # Planar Configuration
        "00282110",  # Lossy Image Compression
        "00282112",  # Lossy Image Compression Ratio
        "00282114",  # Lossy Image Compression Method
        "00082111",  # Derivation Description
        "00089215",  # Derivation Code Sequence
        "00080018",  # SOP Instance UID (new for lossy targets)
        "00080008",  # Image Type (DERIVED for lossy targets)
        "00082112",  # Source Image Sequence (gdcmconv -Y references the original)
        "00083002",  # Available Transfer Syntax UID
        "00080005",  # Specific Character Set (a tool may add or normalise it)
    }
)
#: Attributes a transcode may only change for lossy targets.
#: Derivation Description may be set by lossless encoders too (dcmcjpeg writes one for SV1).
LOSSY_ONLY = frozenset({"00080018", "00080008", "00082112", "00282112", "00282114"})


def read_pixels(path: str | Path) -> np.ndarray:
    """All frames as pydicom decodes them (YBR converted to RGB), stored bits masked."""
    import pydicom
    from pydicom.pixels.utils import pixel_array

    ds = pydicom.dcmread(path, force=True)
    if "TransferSyntaxUID" not in getattr(ds, "file_meta", {}):
        from dcmharness.backends.preflight import infer_transfer_syntax

        infer_transfer_syntax(ds)
    arr = np.asarray(pixel_array(ds))
    bits = int(ds.get("BitsStored", ds.get("BitsAllocated", 16)) or 16)
    if arr.dtype.kind in "iu" and bits < arr.dtype.itemsize * 8 and int(ds.get("SamplesPerPixel", 1) or 1) == 1:
        from dcmharness.backends.python_ref.decode import mask_stored_bits

        high = int(ds.get("HighBit", bits - 1) or bits - 1)
        arr = mask_stored_bits(arr, bits, high, int(ds.get("PixelRepresentation", 0) or 0) == 1)
    return arr


def pixel_difference(a: np.ndarray, b: np.ndarray, peak: float | None = None) -> dict[str, Any]:
    """Identical? the max abs difference (None when the shapes differ) and, given the peak value, the
    PSNR in dB (``10 log10(peak^2 / MSE)``; omitted when identical). Pure."""
    if a.shape != b.shape:
        return {"identical": False, "max_abs_diff": None, "shapes": [list(a.shape), list(b.shape)]}
    diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
    max_diff = float(diff.max()) if diff.size else 0.0
    out: dict[str, Any] = {"identical": max_diff == 0.0, "max_abs_diff": max_diff}
    if peak is not None and max_diff > 0:
        out["psnr_db"] = round(10 * math.log10(peak**2 / float(np.mean(diff**2))), 3)
    return out


def metadata_json(path: str | Path) -> dict[str, Any]:
    import pydicom

    from dcmharness.backends.python_ref.ops_dump import dataset_json
    from dcmharness.contract.ops_models import DumpOptions

    ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    return normalise_json(dataset_json(ds, DumpOptions(bulk_data="inline")))


def verify_transcode(
    input_path: str | Path, output_path: str | Path, target_uid: str, lossless: bool
) -> dict[str, Any]:
    """Checks of one transcode output: ``{"transfer_syntax_ok", "written", "metadata": [differences],
    "pixels": {"identical", "max_abs_diff"} | None, "problems": [text]}``."""
    from dcmharness.backends.python_ref.ops_transcode import written_transfer_syntax

    problems: list[str] = []
    written = written_transfer_syntax(Path(output_path))
    if written != target_uid:
        problems.append(f"transfer syntax {written}, expected {target_uid}")
    ignore = TRANSCODE_MAY_CHANGE if not lossless else TRANSCODE_MAY_CHANGE - LOSSY_ONLY
    meta = compare_dicom_json(metadata_json(input_path), metadata_json(output_path), ignore=ignore)
    if meta:
        problems.append(f"{len(meta)} metadata difference(s): " + ", ".join(d.path for d in meta[:8]))
    pixels: dict[str, Any] | None = None
    try:
        pixels = pixel_difference(read_pixels(input_path), read_pixels(output_path), _peak(input_path))
    except Exception as exc:  # an output pydicom cannot decode is a finding, not a crash
        problems.append(f"pixels not decodable by pydicom: {type(exc).__name__}: {exc}"[:300])
    if pixels is not None and lossless and not pixels["identical"]:
        problems.append(f"lossless target but pixels differ (max abs diff {pixels['max_abs_diff']})")
    return {
        "transfer_syntax_ok": written == target_uid,
        "written": written,
        "metadata": [d.as_dict() for d in meta],
        "pixels": pixels,
        "problems": problems,
    }


def _peak(path: str | Path) -> float:
    import pydicom

    ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    bits = int(ds.get("BitsStored", ds.get("BitsAllocated", 8)) or 8)
    return float((1 << bits) - 1)


#: Decoders of the cross-decoding matrix: name -> how to get uncompressed pixels from a file.
DECODER_NAMES = ("python_ref", "dcmtk", "gdcm")
_DCMTK_DECODERS = {
    "1.2.840.10008.1.2.5": "dcmdrle",
    "1.2.840.10008.1.2.4.50": "dcmdjpeg",
    "1.2.840.10008.1.2.4.51": "dcmdjpeg",
    "1.2.840.10008.1.2.4.57": "dcmdjpeg",
    "1.2.840.10008.1.2.4.70": "dcmdjpeg",
    "1.2.840.10008.1.2.4.80": "dcmdjpls",
    "1.2.840.10008.1.2.4.81": "dcmdjpls",
    "1.2.840.10008.1.2.1.99": "dcmconv",
}


def decode_pixels(path: str | Path, decoder: str, timeout: float = 60.0) -> np.ndarray:
    """The pixels of ``path`` decoded by ``decoder`` (python_ref: pydicom; dcmtk and gdcm: their tool
    writes explicit VR little endian, which pydicom then only reads). Raises ``RuntimeError`` with the
    reason when the decoder cannot."""
    from dcmharness.adapters.runner import run_tool
    from dcmharness.backends.python_ref.ops_transcode import written_transfer_syntax

    if decoder == "python_ref":
        return read_pixels(path)
    uid = written_transfer_syntax(Path(path)) or ""
    with tempfile.TemporaryDirectory(prefix="dcmharness-xdec-") as tmp:
        out = os.path.join(tmp, "decoded.dcm")
        if decoder == "dcmtk":
            if uid in ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1"):
                tool, flags = "dcmconv", ["+te"]
            elif uid in _DCMTK_DECODERS:
                tool = _DCMTK_DECODERS[uid]
                flags = ["+te"]
            else:
                raise RuntimeError(f"dcmtk has no decoder for {uid}")
        elif decoder == "gdcm":
            tool, flags = "gdcmconv", ["-w"]
        else:
            raise RuntimeError(f"unknown decoder {decoder}")
        exe = shutil.which(tool)
        if exe is None:
            raise RuntimeError(f"{tool} not on PATH")
        argv = [exe, *flags, str(path), out] if decoder == "dcmtk" else [exe, *flags, "-i", str(path), "-o", out]
        run = run_tool(argv, timeout=timeout)
        written = written_transfer_syntax(Path(out)) if os.path.exists(out) else None
        if run.returncode != 0 or written not in ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2"):
            raise RuntimeError(f"{tool} failed: {(run.stderr_text or 'no output').splitlines()[-1][:200]}")
        return read_pixels(out)


def cross_decode(
    encoded: Mapping[str, str], reference: np.ndarray, decoders: Sequence[str] = DECODER_NAMES
) -> dict[str, dict[str, str]]:
    """The matrix ``{encoder: {decoder: "identical" | "differs (max N)" | "cannot: reason"}}``."""
    matrix: dict[str, dict[str, str]] = {}
    for encoder, path in encoded.items():
        row: dict[str, str] = {}
        for decoder in decoders:
            try:
                pixels = decode_pixels(path, decoder)
            except Exception as exc:
                row[decoder] = f"cannot: {exc}"[:160]
                continue
            diff = pixel_difference(reference, pixels)
            if diff["identical"]:
                row[decoder] = "identical"
            elif diff["max_abs_diff"] is None:
                row[decoder] = f"differs (shape {diff['shapes'][1]})"
            else:
                row[decoder] = f"differs (max {diff['max_abs_diff']:g})"
        matrix[encoder] = row
    return matrix


# -- anonymize ------------------------------------------------------------------------------------
def file_digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _walk(ds: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(path, element) of every element, nested sequences included."""
    out: list[tuple[str, Any]] = []
    for elem in ds:
        path = f"{prefix}{int(elem.tag):08X}"
        out.append((path, elem))
        if elem.VR == "SQ":
            for i, item in enumerate(elem.value or []):
                out.extend(_walk(item, f"{path}[{i}]."))
    return out


def _empty(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, list | tuple) and all(v in (None, "") for v in value))


def verify_anonymize(
    input_path: str | Path, output_path: str | Path, options: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Check an output against PS3.15 E.1 and the request options: ``{"problems": [...], "uid_map": {...}}``.

    Judged per attribute of the output whose original existed: action X (date shifting aside) must be
    gone; Z empty; D different from the original (or empty); U a new UID unless UIDs are retained, and
    one original UID maps to one new UID within the file. Private attributes must be gone when asked;
    Pixel Data must be byte-identical. Attributes outside the table are kept by the profile and ignored.
    """
    import pydicom

    from dcmharness.backends.python_ref.ops_anonymize import RESOLVED, profile_table

    opts = dict(options or {})
    retain_uids = bool(opts.get("retain_uids", False))
    shifting = opts.get("date_shift_days") is not None
    remove_private = bool(opts.get("remove_private_tags", True))
    table = profile_table()
    before = pydicom.dcmread(input_path, force=True)
    after = pydicom.dcmread(output_path, force=True)
    original = dict(_walk(before))
    problems: list[str] = []
    uid_map: dict[str, str] = {}
    for path, elem in _walk(after):
        tag = int(elem.tag)
        if elem.tag.is_private:
            if remove_private and not path.startswith("04000500") and "." not in path:
                problems.append(f"{path}: private attribute remains")
            continue
        code = table.action(tag)
        if code is None or path.startswith("04000500"):  # Encrypted Attributes Sequence holds the originals
            continue
        action = RESOLVED[code]
        old = original.get(path)
        if elem.VR in ("DA", "DT", "TM") and shifting:
            continue
        if action == "U" or (action == "D" and elem.VR == "UI"):
            if retain_uids or old is None or _empty(old.value) or _empty(elem.value):
                continue
            olds = list(old.value) if old.VM > 1 else [old.value]
            news = list(elem.value) if elem.VM > 1 else [elem.value]
            for o, n in zip(olds, news, strict=False):
                o, n = str(o).strip(), str(n).strip()
                if o == n:
                    problems.append(f"{path}: UID not remapped ({o})")
                elif uid_map.setdefault(o, n) != n:
                    problems.append(f"{path}: {o} remapped inconsistently ({uid_map[o]} and {n})")
            continue
        if code == "X" and action == "X":
            if elem.VR == "SQ" or not _empty(elem.value):
                problems.append(f"{path}: attribute the profile removes (X) remains")
            continue
        if action == "Z":
            if elem.VR != "SQ" and not _empty(elem.value):
                problems.append(f"{path}: attribute the profile empties (Z) has a value")
            continue
        if action == "D" and old is not None and elem.VR != "SQ" and not _empty(old.value):
            if str(old.value) == str(elem.value) and tag != 0x00100020:
                problems.append(f"{path}: attribute the profile replaces (D) keeps its value")
            elif tag == 0x00100020 and str(old.value) == str(elem.value):
                problems.append(f"{path}: Patient ID kept")
    if "PixelData" in before:
        if "PixelData" not in after:
            problems.append("Pixel Data removed")
        elif bytes(before.PixelData) != bytes(after.PixelData):
            problems.append("Pixel Data changed")
    return {"problems": problems, "uid_map": uid_map}


def batch_uid_conflicts(maps: Sequence[Mapping[str, str]]) -> list[str]:
    """Original UIDs that different files of one batch remapped to different new UIDs. Pure."""
    seen: dict[str, str] = {}
    conflicts: list[str] = []
    for mapping in maps:
        for old, new in mapping.items():
            if seen.setdefault(old, new) != new:
                conflicts.append(f"{old}: {seen[old]} and {new}")
    return conflicts
