"""``modify``, shared by every backend: the request resolved against the input (paths, VRs, values checked
before anything runs), the result read back from the written file, and the warnings of a change that
leaves the file invalid.

A request's paths are resolved once, here, into ``Change`` objects: tags, the VR each value is written
with, the item indexes, what the input holds there. The preparer (``interface/prepare.py``) runs
``resolve`` so a bad path or value is ``invalid_request`` naming its field (``options.insert[0].value``)
on every backend alike; the backends then build their commands from the ``Change`` list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.ops_models import Assignment, ModifyOptions

#: PS3.5 Table 6.2-1: maximum length in characters of one value (None: no limit of its own beyond 2^32-2).
MAX_LENGTH: dict[str, int | None] = {
    "AE": 16, "AS": 4, "CS": 16, "DA": 8, "DS": 16, "DT": 26, "IS": 12, "LO": 64, "LT": 10240, "PN": 64 * 3 + 2,
    "SH": 16, "ST": 1024, "TM": 14, "UC": None, "UI": 64, "UR": None, "UT": None,
}  # fmt: skip
#: VRs holding one value whatever backslashes it contains (PS3.5 6.2: LT, ST, UT, UR are single-valued).
SINGLE_VALUED = frozenset({"LT", "ST", "UT", "UR"})
#: Binary integer VRs and their ranges.
INT_RANGES: dict[str, tuple[int, int]] = {
    "US": (0, 0xFFFF),
    "SS": (-0x8000, 0x7FFF),
    "UL": (0, 0xFFFFFFFF),
    "SL": (-0x80000000, 0x7FFFFFFF),
    "UV": (0, 0xFFFFFFFFFFFFFFFF),
    "SV": (-0x8000000000000000, 0x7FFFFFFFFFFFFFFF),
}
FLOAT_VRS = frozenset({"FL", "FD"})
_DS = re.compile(r"^ *[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)? *$")
_IS = re.compile(r"^ *[+-]?\d+ *$")
_CS = re.compile(r"^[A-Z0-9 _]*$")
_AS = re.compile(r"^\d{3}[DWMY]$")
_PATH_STEP = re.compile(
    r"^(?:\(([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\)|([0-9A-Fa-f]{8})|([A-Za-z][A-Za-z0-9]*))(?:\[(\d+)\])?$"
)
#: The syntax checks of ``validate`` by VR (PS3.5 6.2).
_SYNTAX_VRS = ("UI", "DA", "TM", "DT")
#: The UID attributes ``regenerate_uids`` renews, by level.
UID_KEYWORDS = {"study": "StudyInstanceUID", "series": "SeriesInstanceUID", "instance": "SOPInstanceUID"}
#: Finding kinds that make a changed file invalid in the sense of ``modify``'s warnings.
INVALIDATING = frozenset({"missing_type1", "empty_type1", "missing_type2", "missing_conditional"})


@dataclass(frozen=True)
class Step:
    tag: int
    index: int | None  # item index inside this sequence (None for the last step)


@dataclass(frozen=True)
class Change:
    """One resolved change: ``action`` is ``erase``, ``modify`` or ``insert`` (dcmodify's -e, -m, -i)."""

    action: str
    field: str  # the request field it came from, e.g. ``options.insert[0]``
    steps: tuple[Step, ...]
    vr: str | None = None  # the VR written (modify, insert)
    value: str | None = None  # the DICOM string form, backslash-separated values
    exists: bool = True  # whether the input holds the attribute

    @property
    def tag(self) -> int:
        return self.steps[-1].tag

    @property
    def nested(self) -> bool:
        return len(self.steps) > 1

    @property
    def private(self) -> bool:
        return bool((self.tag >> 16) & 1)

    def dcmtk_path(self) -> str:
        """The path in dcmtk's syntax: ``(0008,1115)[0].(0020,000E)``. Pure."""
        parts = []
        for step in self.steps:
            text = f"({step.tag >> 16:04X},{step.tag & 0xFFFF:04X})"
            parts.append(text if step.index is None else f"{text}[{step.index}]")
        return ".".join(parts)

    def values(self) -> list[str]:
        """The values, split at backslashes (one for the single-valued VRs; none for an empty value). Pure."""
        text = self.value or ""
        if text == "":
            return []
        return [text] if self.vr in SINGLE_VALUED else text.split("\\")


def _invalid(message: str, field: str) -> HarnessError:
    return HarnessError(ErrorCode.INVALID_REQUEST, message, field)


def parse_path(path: str, field: str) -> tuple[Step, ...]:
    """``ReferencedSeriesSequence[0].SeriesInstanceUID`` -> steps of tags; ``invalid_request`` on ``field``
    for an unknown keyword, a sequence step without an index or a last step with one. Pure."""
    from pydicom.datadict import tag_for_keyword

    parts = path.split(".")
    steps: list[Step] = []
    for i, part in enumerate(parts):
        m = _PATH_STEP.match(part)
        if not m:
            raise _invalid(f"not a path step: {part[:80]!r}", field)
        if m.group(1):
            tag = int(m.group(1) + m.group(2), 16)
        elif m.group(3):
            tag = int(m.group(3), 16)
        else:
            found = tag_for_keyword(m.group(4))
            if found is None:
                raise _invalid(f"{m.group(4)!r} is not a keyword of the data dictionary (PS3.6)", field)
            tag = int(found)
        index = int(m.group(5)) if m.group(5) is not None else None
        last = i == len(parts) - 1
        if last and index is not None:
            raise _invalid(f"the last step of {path!r} names an item: give the attribute inside it", field)
        if not last and index is None:
            raise _invalid(f"{part!r} in {path!r} needs an item index ([0] for the first item)", field)
        group, element = tag >> 16, tag & 0xFFFF
        if group == 0x0002 or group < 0x0008 or element == 0 or group == 0xFFFE:
            raise _invalid(
                f"{part!r}: File Meta Information, command and group length attributes and item delimiters cannot "
                "be changed (the File Meta Information follows the data set)",
                field,
            )
        steps.append(Step(tag, index))
    return tuple(steps)


def check_value(vr: str, value: str) -> str | None:
    """Why ``value`` (DICOM string form) is not a valid value of ``vr`` (PS3.5 6.2), None when it is. Pure."""
    from dcmharness.backends.python_ref.ops_validate import bad_date, bad_datetime, bad_time, bad_uid

    if value == "":
        return None
    values = [value] if vr in SINGLE_VALUED else value.split("\\")
    for v in values:
        if vr not in ("LT", "ST", "UT") and re.search(r"[\x00-\x1f\x7f]", v):
            return f"a {vr} value may not hold control characters"
        if vr in ("LT", "ST", "UT") and re.search(r"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]", v):
            return f"a {vr} value may hold only TAB, LF, FF, CR and ESC as control characters"
        limit = MAX_LENGTH.get(vr)
        if limit is not None and len(v) > limit:
            return f"{vr} values are at most {limit} characters (PS3.5 6.2); {len(v)} given"
        if vr in INT_RANGES:
            low, high = INT_RANGES[vr]
            if not re.fullmatch(r"[+-]?\d+", v.strip()) or not low <= int(v) <= high:
                return f"{v[:40]!r} is not an integer in [{low}, {high}] ({vr})"
        elif vr in FLOAT_VRS:
            try:
                number = float(v)
            except ValueError:
                return f"{v[:40]!r} is not a number ({vr})"
            if number != number or number in (float("inf"), float("-inf")):
                return f"{v[:40]!r}: NaN and infinities are not accepted"
        elif vr == "DS" and not _DS.match(v):
            return f"{v[:40]!r} is not a decimal string (DS)"
        elif vr == "IS" and (not _IS.match(v) or not -(2**31) <= int(v) <= 2**31 - 1):
            return f"{v[:40]!r} is not an integer string in [-2^31, 2^31-1] (IS)"
        elif vr == "CS" and not _CS.match(v):
            return f"{v[:40]!r}: CS values are upper-case letters, digits, space and underscore"
        elif vr == "AS" and not _AS.match(v):
            return f"{v!r} is not an age string nnnD/W/M/Y (AS)"
        elif vr in _SYNTAX_VRS and (why := {"UI": bad_uid, "DA": bad_date, "TM": bad_time, "DT": bad_datetime}[vr](v)):
            return why
        elif vr == "UR" and " " in v.strip(" "):
            return "a UR value may not contain spaces"
    return None


def _element_at(ds: Any, steps: tuple[Step, ...], field: str, path: str) -> tuple[Any, Any]:
    """(the data set holding the last step, the element there or None); ``invalid_request`` when a sequence
    or item on the way is absent."""
    current = ds
    for step in steps[:-1]:
        elem = current.get(step.tag)
        if elem is None:
            raise _invalid(f"{path}: the sequence ({step.tag >> 16:04X},{step.tag & 0xFFFF:04X}) is absent", field)
        if elem.VR != "SQ":
            raise _invalid(f"{path}: ({step.tag >> 16:04X},{step.tag & 0xFFFF:04X}) is not a sequence", field)
        items = elem.value or []
        assert step.index is not None
        if step.index >= len(items):
            raise _invalid(f"{path}: the sequence has {len(items)} item(s); item [{step.index}] is absent", field)
        current = items[step.index]
    return current, current.get(steps[-1].tag)


def _vr_for(assignment: Assignment, tag: int, existing: Any, field: str) -> str:
    """The VR a value is written with: the file's, the dictionary's, or the request's (checked). Pure."""
    from pydicom.datadict import dictionary_VR

    given = assignment.vr
    if tag >> 16 & 1:  # private
        if (tag & 0xFFFF) < 0x0100 and (tag & 0xFFFF) >= 0x0010:  # a private creator
            if given not in (None, "LO"):
                raise _invalid("a private creator is LO (PS3.5 7.8.1)", f"{field}.vr")
            return "LO"
        if existing is not None and existing.VR not in ("UN", None) and given not in (None, existing.VR):
            raise _invalid(f"the file holds this attribute as {existing.VR}, not {given}", f"{field}.vr")
        if given is None:
            if existing is not None and existing.VR not in ("UN", None):
                return str(existing.VR)
            raise _invalid("a private attribute needs an explicit vr", f"{field}.vr")
        return given
    try:
        choices = [v.strip() for v in dictionary_VR(tag).split(" or ")]
    except KeyError:
        raise _invalid(f"({tag >> 16:04X},{tag & 0xFFFF:04X}) is not in the data dictionary", field) from None
    if existing is not None and existing.VR in choices:
        choices = [str(existing.VR)]
    if given is not None:
        if given not in choices:
            raise _invalid(f"PS3.6 gives this attribute VR {' or '.join(choices)}, not {given}", f"{field}.vr")
        return given
    if len(choices) != 1:
        raise _invalid(f"PS3.6 allows {' or '.join(choices)} here: give vr", f"{field}.vr")
    if choices[0] not in MAX_LENGTH and choices[0] not in INT_RANGES and choices[0] not in FLOAT_VRS:
        raise _invalid(f"values of VR {choices[0]} cannot be given as text", field)
    return choices[0]


def resolve(options: ModifyOptions, ds: Any) -> list[Change]:
    """The request's changes resolved against the input data set ``ds``, in the order they apply (erase,
    modify, insert); ``invalid_request`` naming the field for anything that cannot apply. Pure (reads ``ds``)."""
    if not (options.modify or options.insert or options.erase or options.regenerate_uids):
        raise _invalid("nothing to do: give modify, insert, erase or regenerate_uids", "options")
    changes: list[Change] = []
    seen: dict[tuple[Step, ...], str] = {}
    entries: list[tuple[str, str, str, Assignment | None]] = [
        ("erase", f"options.erase[{i}]", p, None) for i, p in enumerate(options.erase)
    ]
    entries += [("modify", f"options.modify[{i}]", a.path, a) for i, a in enumerate(options.modify)]
    entries += [("insert", f"options.insert[{i}]", a.path, a) for i, a in enumerate(options.insert)]
    inserted_creators: set[tuple[int, ...]] = set()
    for action, field, path, assignment in entries:
        steps = parse_path(path, f"{field}.path" if assignment else field)
        where = f"{field}.path" if assignment else field
        if steps in seen:
            raise _invalid(f"{path!r} is also changed by {seen[steps]}: a path may appear once", where)
        seen[steps] = field
        holder, elem = _element_at(ds, steps, where, path)
        if action in ("erase", "modify") and elem is None:
            raise _invalid(f"{path!r} is not in the file: nothing to {action}", where)
        if assignment is None:
            changes.append(Change(action, field, steps))
            continue
        if elem is not None and elem.VR == "SQ":
            raise _invalid(f"{path!r} is a sequence: give a path to an attribute inside one of its items", where)
        vr = _vr_for(assignment, steps[-1].tag, elem, field)
        why = check_value(vr, assignment.value)
        if why:
            raise _invalid(f"{path}: {why}", f"{field}.value")
        tag = steps[-1].tag
        if tag >> 16 & 1 and (tag & 0xFFFF) >= 0x1000:
            creator = (tag & 0xFFFF0000) | ((tag >> 8) & 0xFF)
            key = (*(s.tag for s in steps[:-1]), creator)
            if creator not in holder and key not in inserted_creators:
                raise _invalid(
                    f"{path!r}: its private creator ({creator >> 16:04X},{creator & 0xFFFF:04X}) is not in the file; "
                    "insert it first",
                    where,
                )
        if tag >> 16 & 1 and 0x0010 <= (tag & 0xFFFF) < 0x0100:
            inserted_creators.add((*(s.tag for s in steps[:-1]), tag))
        changes.append(Change(action, field, steps, vr, assignment.value, elem is not None))
    return changes


# -- after the run: result and warnings --------------------------------------------------------------------
def _uid(ds: Any, keyword: str) -> str | None:
    value = ds.get(keyword)
    return str(value).strip() if value not in (None, "") else None


def modify_result(options: ModifyOptions, source: Path, output: Path) -> dict[str, Any]:
    """The result of a ``modify`` from the request, the input and the written file (the same for every
    backend)."""
    import pydicom

    before = pydicom.dcmread(source, stop_before_pixels=True, force=True)
    try:
        after = pydicom.dcmread(output, stop_before_pixels=True, force=True)
    except Exception as exc:
        raise HarnessError(ErrorCode.BACKEND_FAILED, f"the modified file is not readable DICOM: {exc}"[:300]) from None
    uids = {}
    for level in options.regenerate_uids:
        keyword = UID_KEYWORDS[level]
        uids[keyword] = {"old": _uid(before, keyword), "new": _uid(after, keyword)}
    meta = getattr(after, "file_meta", None)
    return {
        "erased": len(options.erase),
        "modified": len(options.modify),
        "inserted": len(options.insert),
        "uids": uids,
        "sop_instance_uid": _uid(after, "SOPInstanceUID"),
        "media_storage_sop_instance_uid": _uid(meta, "MediaStorageSOPInstanceUID") if meta is not None else None,
    }


def _invalidating(ds: Any) -> set[tuple[str, str | None, str | None]]:
    from dcmharness.backends.python_ref.ops_validate import validate_dataset

    findings, _iod, _sop = validate_dataset(ds, explicit_vr=False)
    return {(f.kind, f.tag, f.path) for f in findings if f.kind in INVALIDATING}


def invalidity_warnings(source: Path, output: Path) -> list[str]:
    """A warning per Type 1 / Type 2 / conditional attribute of the file's IOD that the change left absent or
    empty (findings of ``validate``'s checks on the output that the input did not have)."""
    import pydicom

    from dcmharness.backends.findings import keyword_of

    try:
        before = pydicom.dcmread(source, force=True, defer_size=4096)
        after = pydicom.dcmread(output, force=True, defer_size=4096)
        new = _invalidating(after) - _invalidating(before)
    except HarnessError as exc:  # the standard's tables are not installed: no check, said
        return [f"the IOD check of the modified file did not run: {exc.message}"]
    except Exception as exc:  # a data set the checks cannot read: the modification stands, the check is said
        return [f"the IOD check of the modified file did not run: {type(exc).__name__}: {exc}"[:300]]
    warnings = []
    for kind, tag, path in sorted(new, key=lambda f: (f[1] or "", f[2] or "", f[0])):
        name = keyword_of(tag) or tag
        where = f" at {path}" if path else ""
        warnings.append(f"the modified file is invalid: {kind} {name} ({tag}){where}")
    return warnings
