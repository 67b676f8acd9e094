"""``validate`` on the reference backend: the file against its IOD (PS3.3) and the data dictionary (PS3.6).

The tables are those of ``backends.python_ref.standard`` (PyPI ``dicom-standard``). Checks, each with its
normalised kind:

- File Meta Information: Media Storage SOP Class / Instance UID equal to the data set's, a Transfer Syntax
  UID, File Meta Information Version 00 01 (``bad_file_meta``);
- the SOP Class is one the tables know (``unknown_sop_class``; nothing else of the IOD is checked then);
- every module the IOD requires (M), every C module whose condition holds, every U or C module that is
  present (an attribute of it is there): Type 1 absent (``missing_type1``) or empty (``empty_type1``), Type 2
  absent (``missing_type2``), Type 1C/2C whose condition holds and absent (``missing_conditional``; an empty
  1C is ``empty_type1``), present where its condition says it shall not be (``not_permitted``), Enumerated
  Values (``bad_enumerated_value``); sequences are followed into every item with the attributes the
  module lists for them;
- every element, nested ones included, against PS3.6: explicit VR (``bad_vr``), the number of values
  (``bad_vm``), UI syntax (``bad_uid``: digits and dots, no empty or leading-zero component, at most 64
  characters), DA / TM / DT syntax and calendar (``bad_date_time``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydicom.dataset import Dataset

from dcmharness.backends.base import Outcome
from dcmharness.backends.findings import Step, finding, path_text, validate_result
from dcmharness.backends.preflight import InputInfo
from dcmharness.backends.python_ref import standard
from dcmharness.contract.ops_models import Finding, ValidateRequest

_BINARY = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN", "SQ"})
_HEX8 = re.compile(r"^[0-9A-F]{8}$")
_UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
_TM = re.compile(r"^([01][0-9]|2[0-3])([0-5][0-9]([0-5][0-9](\.[0-9]{1,6})?)?)?$")
_DT = re.compile(
    r"^([0-9]{4})(([0-9]{2})(([0-9]{2})([0-9]{2}([0-9]{2}([0-9]{2}(\.[0-9]{1,6})?)?)?)?)?)?([+-][0-9]{4})?$"
)


@dataclass
class _Scope:
    """Where an attribute is looked up for a condition: the current item, then its parents."""

    items: tuple[Dataset, ...]

    def find(self, tag: int) -> Any:
        for ds in reversed(self.items):
            if tag in ds:
                return ds[tag]
        return None


def _hex(tag: int) -> str:
    return f"{tag:08X}"


def _empty(elem: Any) -> bool:
    value = elem.value
    if value is None:
        return True
    if elem.VR == "SQ":
        return len(value) == 0
    if isinstance(value, (str, bytes)):
        return value.strip(" \0") == "" if isinstance(value, str) else len(value) == 0
    try:
        return len(value) == 0
    except TypeError:
        return False


def _values(elem: Any) -> list[Any]:
    value = elem.value
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return list(value)
    return [value]


# -- conditions -----------------------------------------------------------------------------------------
def _matches(cond: dict[str, Any], scope: _Scope) -> bool | None:
    """Whether a parsed condition holds; None when it cannot be evaluated."""
    if "and" in cond:
        parts = [_matches(c, scope) for c in cond["and"]]
        return None if None in parts else all(parts)
    if "or" in cond:
        parts = [_matches(c, scope) for c in cond["or"]]
        if any(p is True for p in parts):
            return True
        return None if None in parts else False
    tag_text = cond.get("tag")
    op = str(getattr(cond.get("op"), "value", cond.get("op")))
    if not tag_text:
        return None
    tag = int(tag_text.strip("()").replace(",", ""), 16)
    elem = scope.find(tag)
    if op == "+":
        return elem is not None
    if op == "-":
        return elem is None
    if elem is None or _empty(elem):
        return False
    values = _values(elem)
    index = int(cond.get("index") or 0)
    if index > len(values):
        return False
    value = values[index - 1] if index > 0 else values[0]
    if op == "++":
        return True
    if op == "!0":
        return _number(value) not in (None, 0)
    wanted = list(cond.get("values") or [])
    if op in ("=", "!="):
        hit = any(_same(value, w) for w in wanted)
        return hit if op == "=" else not hit
    if op in (">", "<") and wanted:
        a, b = _number(value), _number(wanted[0])
        if a is None or b is None:
            return None
        return a > b if op == ">" else a < b
    return None


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _same(value: Any, wanted: Any) -> bool:
    if isinstance(wanted, int) or (_number(wanted) is not None and _number(value) is not None):
        return _number(value) == _number(wanted)
    return str(value).strip() == str(wanted).strip()


def _required(condition: str | None, scope: _Scope) -> tuple[bool | None, bool]:
    """(required?, allowed when not required?) of a conditional object; required None when unreadable."""
    if not condition:
        return None, True
    cond = standard.parsed_condition(condition)
    ctype = str(getattr(cond.get("type"), "value", cond.get("type")))
    if ctype not in ("MN", "MU", "MC", "NU"):
        return None, True
    hit = _matches(cond, scope)
    if hit is None:
        return None, True
    if ctype == "NU":
        return False, not hit
    if hit:
        return True, True
    return False, ctype != "MN"


# -- the IOD ------------------------------------------------------------------------------------------------
def _module_present(module: standard.ModuleRule, ds: Dataset) -> bool:
    return any(_HEX8.match(a.tag) and int(a.tag, 16) in ds for a in module.attributes)


def _check_attributes(
    rules: tuple[standard.AttributeRule, ...], scope: _Scope, steps: tuple[Step, ...], module: str
) -> Iterator[Finding]:
    ds = scope.items[-1]
    for rule in rules:
        if not _HEX8.match(rule.tag):
            continue  # repeating groups (60xx overlays, 50xx curves): not checked
        tag = int(rule.tag, 16)
        elem = ds.get(tag)
        here = path_text([*steps, (rule.tag, None)])
        where = {"tag": rule.tag, "path": here, "module": module}
        if rule.type in ("1", "2") or rule.type in ("1C", "2C"):
            conditional = rule.type.endswith("C")
            required, allowed = _required(rule.condition, scope) if conditional else (True, True)
            if elem is None:
                if required:
                    kind = "missing_conditional" if conditional else f"missing_type{rule.type}"
                    yield finding("error", kind, f"Type {rule.type} attribute absent", **where)
            else:
                if conditional and required is False and not allowed:
                    yield finding(
                        "error", "not_permitted", f"Type {rule.type} attribute present: {rule.condition}", **where
                    )
                if rule.type.startswith("1") and required is not False and _empty(elem):
                    yield finding("error", "empty_type1", f"Type {rule.type} attribute empty", **where)
        if elem is None:
            continue
        if rule.enumerated and elem.VR not in _BINARY:
            allowed_values = {enumerated_key(v) for v in rule.enumerated}
            for value in _values(elem):
                text = str(value).strip()
                if text and enumerated_key(value) not in allowed_values:
                    yield finding(
                        "error",
                        "bad_enumerated_value",
                        f"{text!r} is not an Enumerated Value ({', '.join(rule.enumerated)})",
                        **where,
                    )
        if rule.children and elem.VR == "SQ" and elem.value:
            for index, item in enumerate(elem.value):
                yield from _check_attributes(
                    rule.children, _Scope((*scope.items, item)), (*steps, (rule.tag, index)), module
                )


def enumerated_key(value: object) -> object:
    """The comparable form of a value or of an Enumerated Value of the standard: numbers as int (the standard
    writes binary ones in hex, ``0001H``), text stripped. Pure."""
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if re.fullmatch(r"[0-9A-Fa-f]+H", text):
        return int(text[:-1], 16)
    if re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    return text


#: Modules not checked: the SR content tree, whose flattened table lists every value type's attributes as
#: if all applied at once (the Content Item macros' conditions on Value Type are lost in the tables).
SKIPPED_MODULES = frozenset({"sr-document-content"})


def _check_iod(ds: Dataset, iod: standard.Iod) -> Iterator[Finding]:
    scope = _Scope((ds,))
    for module in iod.modules:
        if module.id in SKIPPED_MODULES:
            continue
        present = _module_present(module, ds)
        if module.usage == "M":
            needed = True
        elif module.usage == "C":
            required, _ = _required(module.condition, scope)
            needed = bool(required) or present
        else:
            needed = present
        if needed:
            yield from _check_attributes(module.attributes, scope, (), module.id)


# -- the dictionary -------------------------------------------------------------------------------------
def _vm_ok(vm: str, count: int) -> bool:
    """Whether ``count`` values fit a PS3.6 VM ("1", "1-3", "1-n", "2-2n", "3-3n"). Pure."""
    vm = vm.split(" ")[0]
    m = re.fullmatch(r"(\d+)(?:-(\d*)(n?))?", vm)
    if not m:
        return True
    low = int(m.group(1))
    if m.group(2) is None and not m.group(3):
        return count == low
    if m.group(3):  # "1-n", "2-2n": at least low, a multiple of the step
        step = int(m.group(2)) if m.group(2) else 1
        return count >= low and count % step == 0
    return low <= count <= int(m.group(2))


def bad_uid(value: str) -> str | None:
    """Why a UID value is invalid, None when it is fine. Pure.

    PS3.5 9.1: at most 64 characters, numeric components separated by dots, no leading zero; the root is an
    ISO/IEC 9834-1 (ITU-T X.660) object identifier, whose first arc is 0, 1 or 2 (and the second below 40
    under 0 and 1)."""
    if len(value) > 64:
        return f"UID longer than 64 characters ({len(value)})"
    if not _UID.match(value):
        return "UID is not dot-separated numeric components without leading zeros"
    arcs = value.split(".")
    if int(arcs[0]) > 2 or (int(arcs[0]) < 2 and len(arcs) > 1 and int(arcs[1]) >= 40):
        return "UID root is not an ISO/IEC 9834-1 object identifier (first arc 0, 1 or 2)"
    return None


def bad_date(value: str) -> str | None:
    """Why a DA value is invalid (PS3.5 6.2: YYYYMMDD, a real calendar date), None when fine. Pure."""
    if not re.fullmatch(r"[0-9]{8}", value):
        return "DA is not YYYYMMDD"
    try:
        date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return "DA is not a calendar date"
    return None


def bad_time(value: str) -> str | None:
    return None if _TM.match(value) else "TM is not HH[MM[SS[.F{1-6}]]]"


def bad_datetime(value: str) -> str | None:
    m = _DT.match(value)
    if not m:
        return "DT is not YYYY[MM[DD[HH[MM[SS[.F]]]]]][&ZZXX]"
    month, day = m.group(3), m.group(5)
    if month and not 1 <= int(month) <= 12:
        return "DT month out of range"
    if day and bad_date(value[:8]):
        return "DT is not a calendar date"
    return None


_SYNTAX = {"DA": ("bad_date_time", bad_date), "TM": ("bad_date_time", bad_time), "DT": ("bad_date_time", bad_datetime)}


#: Text VRs padded with SPACE (PS3.5 6.2); UI is padded with NUL, the binary VRs are not text.
_SPACE_PADDED = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UT"})


def nul_padded(raw: bytes, vr: str) -> bool:
    """Whether a raw text value of a SPACE-padded VR ends with NUL (PS3.5 6.2: padding is SPACE). Pure."""
    return vr in _SPACE_PADDED and raw.endswith(b"\0")


def _raw_value(ds: Dataset, tag: int) -> bytes | None:
    """The value's bytes as read, when pydicom has not converted the element yet (it reads lazily)."""
    try:
        raw = ds.get_item(tag)
    except (KeyError, TypeError):
        return None
    value = getattr(raw, "value", None)
    return value if isinstance(value, bytes) and not hasattr(raw, "VM") else None


def _check_padding(ds: Dataset, steps: tuple[Step, ...]) -> Iterator[Finding]:
    """NUL-padded text values, read from the raw elements (run before anything converts them)."""
    for tag_int in list(ds.keys()):
        raw = _raw_value(ds, tag_int)
        here = (*steps, (_hex(tag_int), None))
        vr = str(getattr(ds.get_item(tag_int), "VR", "") or "")
        if raw is not None and nul_padded(raw, vr):
            yield finding(
                "error",
                "bad_value",
                f"{vr} value padded with NUL (PS3.5 6.2: SPACE)",
                tag=_hex(tag_int),
                path=path_text(here),
            )
        if vr == "SQ":
            for index, item in enumerate(ds[tag_int].value or []):
                yield from _check_padding(item, (*steps, (_hex(tag_int), index)))


def _check_elements(ds: Dataset, steps: tuple[Step, ...], explicit: bool) -> Iterator[Finding]:
    dictionary = standard.load().dictionary
    for elem in ds:
        tag = _hex(elem.tag)
        here = path_text([*steps, (tag, None)])
        entry = dictionary.get(tag)
        if elem.tag.is_private or entry is None:
            if elem.VR == "SQ":
                for index, item in enumerate(elem.value or []):
                    yield from _check_elements(item, (*steps, (tag, index)), explicit)
            continue
        allowed_vrs = {v.strip() for v in entry.vr.split(" or ")}
        if explicit and entry.vr and elem.VR not in allowed_vrs and elem.VR != "UN":
            yield finding("error", "bad_vr", f"VR {elem.VR}, PS3.6 says {entry.vr}", tag=tag, path=here)
            continue
        if elem.VR == "SQ":
            for index, item in enumerate(elem.value or []):
                yield from _check_elements(item, (*steps, (tag, index)), explicit)
            continue
        if elem.VR in _BINARY:
            continue
        values = _values(elem)
        if values and entry.vm and not _vm_ok(entry.vm, len(values)):
            yield finding("error", "bad_vm", f"{len(values)} values, PS3.6 VM {entry.vm}", tag=tag, path=here)
        for value in values:
            text = str(value).strip(" \0")
            if not text:
                continue
            if elem.VR == "UI":
                why = bad_uid(text)
                if why:
                    yield finding("error", "bad_uid", f"{why}: {text[:80]}", tag=tag, path=here)
            elif elem.VR in _SYNTAX:
                kind, check = _SYNTAX[elem.VR]
                why = check(text)
                if why:
                    yield finding("error", kind, f"{why}: {text[:40]}", tag=tag, path=here)


def _check_meta(ds: Dataset) -> Iterator[Finding]:
    meta = getattr(ds, "file_meta", None)
    if getattr(ds, "preamble", None) is None or meta is None or len(meta) == 0:
        # pydicom infers a Transfer Syntax UID for a file without one: only the preamble tells
        yield finding("error", "bad_file_meta", "no File Meta Information (no preamble and DICM prefix)")
        return
    pairs = (
        ("MediaStorageSOPClassUID", "SOPClassUID", "00020002"),
        ("MediaStorageSOPInstanceUID", "SOPInstanceUID", "00020003"),
    )
    for meta_kw, ds_kw, tag in pairs:
        if meta_kw not in meta:
            yield finding("error", "bad_file_meta", f"{meta_kw} absent", tag=tag)
        elif ds_kw in ds and str(meta[meta_kw].value).strip() != str(ds[ds_kw].value).strip():
            yield finding("error", "bad_file_meta", f"{meta_kw} differs from {ds_kw}", tag=tag)
    if "TransferSyntaxUID" not in meta:
        yield finding("error", "bad_file_meta", "TransferSyntaxUID absent", tag="00020010")
    if "FileMetaInformationVersion" not in meta:
        yield finding("error", "bad_file_meta", "FileMetaInformationVersion absent", tag="00020001")
    elif bytes(meta["FileMetaInformationVersion"].value or b"") != b"\x00\x01":
        yield finding("error", "bad_file_meta", "FileMetaInformationVersion is not 00 01", tag="00020001")


def validate_dataset(ds: Dataset, explicit_vr: bool) -> tuple[list[Finding], str | None, str | None]:
    """The findings of a data set, the IOD it was checked against and its SOP Class UID. Pure (reads ``ds``)."""
    findings = list(_check_padding(ds, ()))
    findings.extend(_check_meta(ds))
    sop_class = str(ds.get("SOPClassUID", "") or "").strip() or None
    std = standard.load()
    iod_name = std.sop_to_iod.get(sop_class or "")
    iod = std.iods.get(iod_name or "")
    if iod is None:
        findings.append(
            finding(
                "error", "unknown_sop_class", f"SOP Class {sop_class or '(absent)'} has no IOD in {standard.EDITION}"
            )
        )
    else:
        findings.extend(_check_iod(ds, iod))
    findings.extend(_check_elements(ds, (), explicit_vr))
    return findings, iod_name, sop_class


def validate(request: ValidateRequest, info: InputInfo) -> Outcome:
    import pydicom

    # read afresh: the elements stay raw until checked (the inspected data set has converted many of them)
    try:
        ds = pydicom.dcmread(info.path, force=True, defer_size=4096)  # large values are read only if used
    except Exception:
        ds = info.dataset
    explicit = not bool(getattr(ds, "is_implicit_VR", False)) and info.transfer_syntax != "1.2.840.10008.1.2"
    findings, iod, sop_class = validate_dataset(ds, explicit)
    result = validate_result(
        findings,
        validator=f"python_ref ({standard.EDITION})",
        iod=iod,
        sop_class_uid=sop_class,
        include_warnings=request.options.include_warnings,
    )
    return Outcome(result=result)
