"""Comparisons of the ops beyond ``to_image`` (used by ``dcmharness conform --op ...`` and the tests).

API (every function returns plain data; a ``Difference`` list is empty when the two sides agree):

- ``normalise_json(model)`` and ``compare_dicom_json(a, b)``: two DICOM JSON models (PS3.18 F.2),
  attribute by attribute, after normalising what the model leaves open (number formatting, PN
  components, bulk data, trailing padding, group lengths): missing / extra attributes, VR and values.
- ``compare_info(a, b)``, ``compare_stats(a, b)``, ``compare_histogram(a, b)``: op results.
- ``verify_transcode(input, output, target_uid, lossless)``: the written transfer syntax, the metadata
  preserved (except what a transfer syntax change legitimately touches), the decoded pixels identical.
- ``decode_pixels(path, decoder)`` and ``cross_decode(encoded, reference)``: the cross-decoding matrix
  (every backend's encoding decoded by python_ref/pydicom, dcmtk and GDCM).
- ``verify_anonymize(input, output, options)`` and ``batch_uid_conflicts(maps)``: the PS3.15 E.1 basic
  profile checks (nothing the profile removes remains, emptied / replaced / remapped as it says, private
  attributes gone, pixel data untouched) and UID consistency across a batch.
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
NUMERIC_STRING_VRS = frozenset({"DS", "IS"})
BINARY_NUMBER_VRS = frozenset({"FL", "FD", "SL", "SS", "UL", "US", "SV", "UV"})
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


@dataclass(frozen=True)
class Difference:
    path: str  # e.g. "00100010" or "00081115[0].00081150", or a result field
    kind: str  # missing (only in a), extra (only in b), vr, value, count, ...
    a: Any = None
    b: Any = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- DICOM JSON ------------------------------------------------------------------------------------
def _norm_pn(value: Any) -> Any:
    if not isinstance(value, dict):
        return _norm_str(value)
    out: dict[str, str] = {}
    for group in ("Alphabetic", "Ideographic", "Phonetic"):
        text = value.get(group)
        if not isinstance(text, str):
            continue
        parts = [p.strip() for p in text.split("^")]
        while parts and not parts[-1]:
            parts.pop()
        if parts:
            out[group] = "^".join(parts)
    return out or None


def _norm_str(value: Any) -> Any:
    if isinstance(value, str):
        text = value.rstrip(" \x00").lstrip(" ")
        return text or None
    return value


def _norm_number(value: Any) -> Any:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return _norm_str(value)
    if math.isfinite(number) and number == int(number) and abs(number) < 2**63:
        return int(number)
    return number


def _as_float32(value: Any) -> Any:
    try:
        return float(np.float32(float(value)))
    except (TypeError, ValueError, OverflowError):
        return value


def _inline_bytes(text: str) -> bytes:
    try:
        data = base64.b64decode(text)
    except (ValueError, TypeError):
        return b""
    return data.rstrip(b"\x00")


def normalise_element(elem: Mapping[str, Any]) -> dict[str, Any]:
    """One attribute of a DICOM JSON model in canonical form. Pure."""
    vr = str(elem.get("vr", ""))
    out: dict[str, Any] = {"vr": vr}
    if vr in BINARY_VRS or "InlineBinary" in elem or "BulkDataURI" in elem:
        inline = elem.get("InlineBinary")
        out["bulk"] = True
        if isinstance(inline, str):
            out["inline"] = _inline_bytes(inline)
        return out
    values = elem.get("Value")
    if not values:
        out["Value"] = None
        return out
    if vr == "SQ":
        out["Value"] = [normalise_json(item) if isinstance(item, Mapping) else {} for item in values]
    elif vr == "PN":
        out["Value"] = [_norm_pn(v) for v in values]
    elif vr == "FL":  # 32-bit floats: printed with 9 significant digits (dcmtk) or as the widened double (pydicom)
        out["Value"] = [_norm_number(_as_float32(v)) for v in values]
    elif vr in NUMERIC_STRING_VRS or vr in BINARY_NUMBER_VRS:
        out["Value"] = [_norm_number(v) for v in values]
    elif vr == "AT":
        out["Value"] = [str(v).upper() for v in values]
    else:
        out["Value"] = [_norm_str(v) for v in values]
    if all(v is None for v in out["Value"]):
        out["Value"] = None
    return out


#: Attributes the JSON text makes meaningless: the model is UTF-8 whatever the file's character set, and
#: dcm2json rewrites Specific Character Set to "ISO_IR 192" while pydicom keeps the file's value.
NOT_COMPARED = frozenset({"00080005"})


def normalise_json(model: Mapping[str, Any], *, keep_meta: bool = False) -> dict[str, Any]:
    """A DICOM JSON model in canonical form: upper-case tags, no group lengths, no Specific Character Set,
    no meta unless asked; FL values at float32 precision, DS/IS as numbers, PN groups without trailing
    empty components, strings without padding, empty values as null, bulk data as presence only (inline
    bytes compared when both sides inline them). ``compare_dicom_json`` also compares a private attribute
    that one side has as UN by presence only. Pure."""
    out: dict[str, Any] = {}
    for tag, elem in model.items():
        key = str(tag).upper()
        if len(key) != 8 or key[4:] == "0000" or key in NOT_COMPARED:
            continue
        if key.startswith("0002") and not keep_meta:
            continue
        if isinstance(elem, Mapping):
            out[key] = normalise_element(elem)
    return out


def _values_equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            fa, fb = float(a), float(b)
        except (TypeError, ValueError):
            return bool(a == b)
        if math.isnan(fa) and math.isnan(fb):
            return True
        return math.isclose(fa, fb, rel_tol=1e-12, abs_tol=0.0)
    return bool(a == b)


def compare_dicom_json(
    a: Mapping[str, Any], b: Mapping[str, Any], *, ignore: frozenset[str] = frozenset(), prefix: str = ""
) -> list[Difference]:
    """Attribute-by-attribute differences between two models (normalised first when not already). Pure."""
    na = a if _is_normalised(a) else normalise_json(a)
    nb = b if _is_normalised(b) else normalise_json(b)
    diffs: list[Difference] = []
    for tag in sorted(set(na) | set(nb)):
        if tag in ignore:
            continue
        path = prefix + tag
        if tag not in nb:
            diffs.append(Difference(path, "missing", _brief(na[tag]), None))
            continue
        if tag not in na:
            diffs.append(Difference(path, "extra", None, _brief(nb[tag])))
            continue
        ea, eb = na[tag], nb[tag]
        if _is_private(tag) and "UN" in (ea["vr"], eb["vr"]):
            continue  # a private attribute of an implicit VR file: its VR is a dictionary guess (or UN)
        if ea["vr"] != eb["vr"] and not ({ea["vr"], eb["vr"]} <= {"OB", "OW", "UN"}):
            diffs.append(Difference(path, "vr", ea["vr"], eb["vr"]))
            continue
        if ea.get("bulk") or eb.get("bulk"):
            if "inline" in ea and "inline" in eb and ea["inline"] != eb["inline"]:
                diffs.append(Difference(path, "value", f"{len(ea['inline'])} bytes", f"{len(eb['inline'])} bytes"))
            continue
        va, vb = ea.get("Value"), eb.get("Value")
        if ea["vr"] == "SQ" and va is not None and vb is not None:
            if len(va) != len(vb):
                diffs.append(Difference(path, "items", len(va), len(vb)))
                continue
            for i, (ia, ib) in enumerate(zip(va, vb, strict=True)):
                diffs.extend(compare_dicom_json(ia, ib, ignore=ignore, prefix=f"{path}[{i}]."))
            continue
        if va is None or vb is None or len(va) != len(vb):
            if va != vb:
                diffs.append(Difference(path, "value", va, vb))
            continue
        if not all(_values_equal(x, y) for x, y in zip(va, vb, strict=True)):
            diffs.append(Difference(path, "value", va, vb))
    return diffs


def _is_private(tag: str) -> bool:
    try:
        return int(tag[:4], 16) % 2 == 1
    except ValueError:
        return False


def _is_normalised(model: Mapping[str, Any]) -> bool:
    return all(isinstance(v, dict) and ("Value" in v or "bulk" in v) for v in model.values()) and all(
        str(k) == str(k).upper() for k in model
    )


def _brief(elem: Mapping[str, Any]) -> Any:
    if elem.get("bulk"):
        return {"vr": elem["vr"], "bulk": True}
    value = elem.get("Value")
    if elem.get("vr") == "SQ" and value is not None:
        return {"vr": "SQ", "items": len(value)}
    return {"vr": elem.get("vr"), "Value": value}


def load_json(path: str | Path) -> dict[str, Any]:
    import json

    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a DICOM JSON object")
    return data


# -- info / stats / histogram ------------------------------------------------------------------
def compare_info(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[Difference]:
    """Field-by-field differences between two ``info`` results (numbers compared as numbers). Pure."""
    diffs = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if isinstance(va, list) and isinstance(vb, list) and len(va) == len(vb):
            same = all(_values_equal(x, y) for x, y in zip(va, vb, strict=True))
        else:
            same = _values_equal(va, vb)
        if not same:
            diffs.append(Difference(key, "value", va, vb))
    return diffs


def _close(a: Any, b: Any, rel: float) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=rel)
    return bool(a == b)


STATS_EXACT = ("frame", "count", "zero_count", "unique", "min", "max")
STATS_FLOAT = ("mean", "std")


def compare_stats(a: Mapping[str, Any], b: Mapping[str, Any], rel: float = 1e-9) -> list[Difference]:
    """``stats`` results: exact counts / extremes, mean, std and percentiles within ``rel``. Pure."""
    diffs: list[Difference] = []
    fa, fb = a.get("frames", []), b.get("frames", [])
    if len(fa) != len(fb):
        return [Difference("frames", "count", len(fa), len(fb))]
    for i, (x, y) in enumerate(zip(fa, fb, strict=True)):
        for key in STATS_EXACT:
            if not _close(x.get(key), y.get(key), 0.0):
                diffs.append(Difference(f"frames[{i}].{key}", "value", x.get(key), y.get(key)))
        for key in STATS_FLOAT:
            if not _close(x.get(key), y.get(key), rel):
                diffs.append(Difference(f"frames[{i}].{key}", "value", x.get(key), y.get(key)))
        pa, pb = x.get("percentiles", {}), y.get("percentiles", {})
        for p in sorted(set(pa) | set(pb)):
            if not _close(pa.get(p), pb.get(p), rel):
                diffs.append(Difference(f"frames[{i}].percentiles.{p}", "value", pa.get(p), pb.get(p)))
    return diffs


def compare_histogram(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[Difference]:
    """``histogram`` results: identical ranges, bins and counts. Pure."""
    diffs: list[Difference] = []
    fa, fb = a.get("frames", []), b.get("frames", [])
    if len(fa) != len(fb):
        return [Difference("frames", "count", len(fa), len(fb))]
    for i, (x, y) in enumerate(zip(fa, fb, strict=True)):
        for key in ("frame", "bins", "below", "above"):
            if x.get(key) != y.get(key):
                diffs.append(Difference(f"frames[{i}].{key}", "value", x.get(key), y.get(key)))
        ra, rb = x.get("range", []), y.get("range", [])
        if len(ra) != len(rb) or not all(_close(p, q, 1e-12) for p, q in zip(ra, rb, strict=False)):
            diffs.append(Difference(f"frames[{i}].range", "value", ra, rb))
        ca, cb = x.get("counts", []), y.get("counts", [])
        if ca != cb:
            first = next((k for k, (p, q) in enumerate(zip(ca, cb, strict=False)) if p != q), min(len(ca), len(cb)))
            diffs.append(
                Difference(f"frames[{i}].counts[{first}]", "value", ca[first : first + 1], cb[first : first + 1])
            )
    return diffs


# -- transcode ------------------------------------------------------------------------------------
def read_pixels(path: str | Path) -> np.ndarray:
    """All frames as pydicom decodes them (YBR converted to RGB), stored bits masked."""
    import pydicom
    from pydicom.pixels.utils import pixel_array

    ds = pydicom.dcmread(path, force=True)
    if "TransferSyntaxUID" not in getattr(ds, "file_meta", {}):
        from backends.preflight import infer_transfer_syntax

        infer_transfer_syntax(ds)
    arr = np.asarray(pixel_array(ds))
    bits = int(ds.get("BitsStored", ds.get("BitsAllocated", 16)) or 16)
    if arr.dtype.kind in "iu" and bits < arr.dtype.itemsize * 8 and int(ds.get("SamplesPerPixel", 1) or 1) == 1:
        from backends.python_ref.decode import mask_stored_bits

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

    from backends.python_ref.ops_dump import dataset_json
    from contract.ops_models import DumpOptions

    ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    return normalise_json(dataset_json(ds, DumpOptions(bulk_data="inline")))


def verify_transcode(
    input_path: str | Path, output_path: str | Path, target_uid: str, lossless: bool
) -> dict[str, Any]:
    """Checks of one transcode output: ``{"transfer_syntax_ok", "written", "metadata": [differences],
    "pixels": {"identical", "max_abs_diff"} | None, "problems": [text]}``."""
    from backends.python_ref.ops_transcode import written_transfer_syntax

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
    from adapters.runner import run_tool
    from backends.python_ref.ops_transcode import written_transfer_syntax

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

    from backends.python_ref.ops_anonymize import RESOLVED, profile_table

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
