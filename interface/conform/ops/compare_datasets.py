"""Element-by-element comparison of two DICOM data sets (``from_json``'s check: the rebuilt file against the
original). Both are read with pydicom; every element is compared by tag, VR and value (bytes for binary VRs,
the decoded value otherwise), sequences item by item, and the File Meta Information likewise when the original
has one (a file without it gets a built one). Group Length elements (gggg,0000) outside group 0002 are left out:
they are retired (PS3.5 7.2) and writers drop them (pydicom's ``write_dataset``: "do not write retired Group
Length"), as the ``dump`` comparison does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class DatasetDifference:
    kind: str  # missing, extra, vr, value, items, meta
    path: str  # 00081115[0].00081150 (meta: 0002xxxx)
    expected: str | None = None
    got: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": self.path, "expected": self.expected, "got": self.got}

    def __str__(self) -> str:
        return f"{self.kind} {self.path}: expected {self.expected}, got {self.got}"


def _tag(tag: Any) -> str:
    return f"{int(tag):08X}"


def _short(value: Any) -> str:
    if isinstance(value, bytes):
        return f"{len(value)} bytes"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _first_byte_difference(a: bytes, b: bytes) -> str:
    if len(a) != len(b):
        return f"{len(a)} bytes vs {len(b)} bytes"
    index = next(i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y)
    return f"byte {index} of {len(a)}: {a[index]:#04x} vs {b[index]:#04x}"


def _values_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bytes) or isinstance(b, bytes):
        return isinstance(a, bytes) and isinstance(b, bytes) and a == b
    try:
        return bool(a == b)
    except (ValueError, TypeError):
        return str(a) == str(b)


def compare_datasets(expected: Any, got: Any, where: str = "") -> list[DatasetDifference]:
    """Every difference between two pydicom data sets (no file meta), element by element. Pure."""
    out: list[DatasetDifference] = []
    tags = sorted(t for t in set(expected.keys()) | set(got.keys()) if int(t) & 0xFFFF)
    for tag in tags:
        path = f"{where}.{_tag(tag)}" if where else _tag(tag)
        if tag not in got:
            out.append(DatasetDifference("missing", path, _short(expected[tag].value), None))
            continue
        if tag not in expected:
            out.append(DatasetDifference("extra", path, None, _short(got[tag].value)))
            continue
        a, b = expected[tag], got[tag]
        if a.VR != b.VR:
            out.append(DatasetDifference("vr", path, a.VR, b.VR))
        if a.VR == "SQ" and b.VR == "SQ":
            items_a, items_b = list(a.value or []), list(b.value or [])
            if len(items_a) != len(items_b):
                out.append(DatasetDifference("items", path, str(len(items_a)), str(len(items_b))))
            for i, (x, y) in enumerate(zip(items_a, items_b, strict=False)):
                out += compare_datasets(x, y, f"{path}[{i}]")
            continue
        if not _values_equal(a.value, b.value):
            if isinstance(a.value, bytes) and isinstance(b.value, bytes):
                out.append(DatasetDifference("value", path, _first_byte_difference(a.value, b.value), None))
            else:
                out.append(DatasetDifference("value", path, _short(a.value), _short(b.value)))
    return out


def compare_meta(expected: Any, got: Any) -> list[DatasetDifference]:
    """Differences of the File Meta Information (group length left out: writers recompute it). Pure."""
    a = {e.tag: e for e in (expected or []) if e.tag != 0x00020000}
    b = {e.tag: e for e in (got or []) if e.tag != 0x00020000}
    out = []
    for tag in sorted(set(a) | set(b)):
        va = a[tag].value if tag in a else None
        vb = b[tag].value if tag in b else None
        if tag not in a or tag not in b or not _values_equal(va, vb):
            out.append(
                DatasetDifference(
                    "meta", _tag(tag), None if va is None else _short(va), None if vb is None else _short(vb)
                )
            )
    return out


def compare_files(original: Path, rebuilt: Path, meta: bool = True) -> list[DatasetDifference]:
    """The differences of the rebuilt file from the original, data set and (when asked) file meta."""
    import pydicom

    a = pydicom.dcmread(original, force=True)
    b = pydicom.dcmread(rebuilt)
    diffs = compare_datasets(a, b)
    if meta and len(getattr(a, "file_meta", None) or []):
        diffs += compare_meta(getattr(a, "file_meta", None), getattr(b, "file_meta", None))
    return diffs
