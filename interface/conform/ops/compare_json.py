"""The comparisons of op results: two DICOM JSON models (``dump``), two ``info`` summaries, two ``stats``
or ``histogram`` results. Every function returns plain data; a ``Difference`` list is empty when the two
sides agree.

- ``normalise_json(model)`` and ``compare_dicom_json(a, b)``: two DICOM JSON models (PS3.18 F.2),
  attribute by attribute, after normalising what the model leaves open (number formatting, PN
  components, bulk data, trailing padding, group lengths): missing / extra attributes, VR and values.
- ``compare_info(a, b)``, ``compare_stats(a, b)``, ``compare_histogram(a, b)``: op results.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
NUMERIC_STRING_VRS = frozenset({"DS", "IS"})
BINARY_NUMBER_VRS = frozenset({"FL", "FD", "SL", "SS", "UL", "US", "SV", "UV"})
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
