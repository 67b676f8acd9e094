"""dcm4che's ``dcmvalidate``: its command line and its output parsed (pure; golden-tested, not yet wired into
the dcm4che adapter, since dcm4che is not installed here to observe it run).

Facts from dcm4che's source (dcm4che-tool-dcmvalidate ``DcmValidate.java``, dcm4che-core ``ValidationResult``):

- ``dcmvalidate --iod <iod.xml> <file>...``; the binary distribution ships ``etc/dcmvalidate/ct-iod.xml``,
  ``ct-dosesr-iod.xml`` and ``dicomdir-iod.xml`` only, so only CT Image Storage (and X-Ray Radiation Dose SR) has
  an IOD to validate against.
- Per file it prints ``Validate: <file> ... OK``, or ``Validate: <file> ... FAILED:`` followed by
  ``ValidationResult.asText``: the blocks ``Not allowed Attributes:``, ``Missing Attributes:``, ``Missing
  Attribute Values:``, ``Invalid Attribute Values:``, each line ``(gggg,eeee) Keyword`` (invalid ones add
  `` [value]``) and `` // <IOD.DataElement>``; inside a sequence, ``>`` per level and ``>Invalid Item n:``
  (1-based) open the item's own blocks. An unreadable file: ``Validate: <file> ... FAILED: <message>``.
- It prints neither the element's type nor why a value is invalid (VR, VM and value checks share one block;
  `` // `` is followed by ``IOD.DataElement``'s default ``toString``): the caller names a missing attribute's
  kind from the standard's type (``missing_kind``); an invalid value is ``bad_value``. A sequence whose items
  are invalid is listed among the invalid values only to open its ``Invalid Item`` blocks: it is no finding.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from dcmharness.backends.findings import Step, finding, path_text, tag_hex
from dcmharness.contract.ops_models import Finding

#: The IOD definition dcm4che ships per SOP Class (path relative to the distribution's folder).
IOD_FILES: dict[str, str] = {
    "1.2.840.10008.5.1.4.1.1.2": "etc/dcmvalidate/ct-iod.xml",
    "1.2.840.10008.5.1.4.1.1.88.67": "etc/dcmvalidate/ct-dosesr-iod.xml",
}
BLOCK_KINDS = {
    "Not allowed Attributes:": "not_permitted",
    "Missing Attributes:": "missing",
    "Missing Attribute Values:": "empty_type1",
    "Invalid Attribute Values:": "bad_value",
}
_HEADER = re.compile(r"^Validate: (.*) \.\.\. (OK|FAILED:)(?: (.*))?$")
_ATTR = re.compile(r"^(>*)\(([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\) (\S*)(.*)$")
_ITEM = re.compile(r"^(>*)Invalid Item (\d+):$")
_BLOCK = re.compile(
    r"^(>*)(Not allowed Attributes:|Missing Attributes:|Missing Attribute Values:|Invalid Attribute Values:)$"
)


def dcmvalidate_argv(tool: str, home: str, sop_class: str, path: str) -> list[str] | None:
    """``dcmvalidate --iod <home>/<iod.xml> <file>``; None when dcm4che ships no IOD for the SOP Class."""
    iod = IOD_FILES.get(sop_class)
    return None if iod is None else [tool, "--iod", f"{home.rstrip('/')}/{iod}", path]


def parse_output(text: str, missing_kind: Callable[[str, str | None], str]) -> tuple[list[Finding], bool]:
    """(findings, read?) of one file's output; ``missing_kind(tag, path)`` names a missing attribute's kind
    (``missing_type1``, ``missing_type2`` or ``missing_conditional``) from the standard's type."""
    findings: list[Finding] = []
    read = True
    kinds: dict[int, str] = {}
    items: dict[int, Step] = {}  # nesting level -> the sequence step that opened it
    last_tag: dict[int, str] = {}
    last_finding: dict[int, Finding] = {}
    for raw in text.splitlines():
        line = raw.rstrip()
        header = _HEADER.match(line)
        if header:
            if header.group(2) == "FAILED:" and header.group(3):
                read = False
                findings.append(finding("error", "unreadable", header.group(3)))
            continue
        block = _BLOCK.match(line)
        if block:
            kinds[len(block.group(1))] = BLOCK_KINDS[block.group(2)]
            continue
        item = _ITEM.match(line)
        if item:
            level = len(item.group(1))
            parent = last_tag.get(level - 1)
            if parent is not None:
                items[level] = (parent, int(item.group(2)) - 1)
                opener = last_finding.pop(level - 1, None)
                if opener is not None and opener in findings:
                    findings.remove(opener)  # the sequence only opens its items' blocks
            continue
        attr = _ATTR.match(line)
        if attr is None:
            continue
        level = len(attr.group(1))
        tag = tag_hex(int(attr.group(2), 16), int(attr.group(3), 16))
        last_tag[level] = tag
        steps: list[Step] = [items[k] for k in range(1, level + 1) if k in items]
        path = path_text([*steps, (tag, None)])
        kind = kinds.get(level, "other")
        if kind == "missing":
            kind = missing_kind(tag, path)
        message = (attr.group(4) + attr.group(5)).split(" // ")[0].strip()
        found = finding("error", kind, f"{_title(kind)}: {message}", tag=tag, path=path)
        findings.append(found)
        last_finding[level] = found
        for deeper in [k for k in items if k > level]:
            del items[deeper]
    return findings, read


def _title(kind: str) -> str:
    return {v: k.rstrip(":") for k, v in BLOCK_KINDS.items()}.get(kind, "Missing Attributes")
