"""The output of ``dciodvfy -new`` (dicom3tools 1.00.snapshot.20220618093127, Debian ``dicom3tools``), parsed.

Everything is printed on standard error, one message per line:

    Error - </StudyDate(0008,0020)[1]> - Value invalid for this VR [DA] = <20231345> - Character invalid ...
    Warning - </FractionGroupSequence(300a,0070)[1]/ReferencedBeamSequence(300c,0004)[1]/...(300a,0082)> - ...
    Error - Information Object Not found
    CTImage                         (a bare word: the IOD it validated against)

The path (``-new``) is ``/Keyword(gggg,eeee)[n]/...``: ``[n]`` is the 1-based item on a sequence step and
the 1-based value number on the last step; a private or unknown tag has no keyword. A message may end with
``Module=<Name>``. Any other line continues a multi-line value the tool echoed (embedded XML text of some
files) and is ignored. All functions are pure; ``kind_of`` is the mapping documented in contract/OPS.md.
"""

from __future__ import annotations

import re

from dcmharness.backends.findings import Step, finding, path_text, tag_hex
from dcmharness.contract.ops_models import Finding

_LINE = re.compile(r"^(Error|Warning) - (?:<(/[^>]*)> - )?(.*)$")
_STEP = re.compile(r"/([A-Za-z0-9]*)\(([0-9a-fA-F]{4}),([0-9a-fA-F]{4})\)(?:\[(\d+)\])?")
_MODULE = re.compile(r"\s*-?\s*Module=<([^>]*)>")
_VR = re.compile(r"for this VR \[([A-Z]{2})\]")
_IOD = re.compile(r"^[A-Z][A-Za-z0-9]+$")

#: (message pattern, kind), first match wins; the VR-dependent "Value invalid" case is handled in kind_of.
KIND_PATTERNS: tuple[tuple[str, str], ...] = (
    ("Missing attribute for Type 1 Required", "missing_type1"),
    ("Empty attribute (no value) for Type 1", "empty_type1"),
    ("Missing attribute for Type 2 Required", "missing_type2"),
    ("Missing attribute for Type 1C Conditional", "missing_conditional"),
    ("Missing attribute for Type 2C Conditional", "missing_conditional"),
    ("Attribute present when condition unsatisfied", "not_permitted"),
    ("Shall not be present", "not_permitted"),
    ("Bad attribute Value Multiplicity", "bad_vm"),
    ("Bad Sequence number of Items", "bad_vm"),
    ("Invalid Value Representation", "bad_vr"),
    ("Explicit value representation doesn't match data dictionary", "bad_vr"),
    ("Unrecognized enumerated value", "bad_enumerated_value"),
    ("Unrecognized defined term", "bad_enumerated_value"),
    ("Illegal root for UID", "bad_uid"),
    ("Attribute is not present in standard DICOM IOD", "not_in_iod"),
    ("Information Object Not found", "unknown_sop_class"),
    ("Metaheader", "bad_file_meta"),
    ("FileMetaInformationVersion", "bad_file_meta"),
    ("read failed", "unreadable"),
    ("Tag read failed", "unreadable"),
    ("Tags out of order", "unreadable"),
    ("Seek failed", "unreadable"),
    ("Value invalid for this VR", "bad_value"),
    ("Value dubious for this VR", "bad_value"),
    ("Value is zero", "bad_value"),
    ("not unit vector", "bad_value"),
    ("incorrect value length", "bad_value"),
)
_DATE_TIME_VRS = frozenset({"DA", "DT", "TM"})


def kind_of(message: str) -> str:
    """The contract's kind for one dciodvfy message (the part after the path). Pure."""
    vr = _VR.search(message)
    if message.startswith("Value invalid for this VR") and vr:
        if vr.group(1) == "UI":
            return "bad_uid"
        if vr.group(1) in _DATE_TIME_VRS:
            return "bad_date_time"
    for pattern, kind in KIND_PATTERNS:
        if pattern in message:
            return kind
    return "other"


def parse_path(text: str) -> tuple[str | None, str | None]:
    """``/A(0040,a730)[2]/B(0008,1199)[1]/C(0008,1155)`` -> (``00081155``, ``0040A730[1].00081199[0].00081155``)."""
    steps: list[Step] = []
    matches = list(_STEP.finditer(text))
    for k, m in enumerate(matches):
        tag = tag_hex(int(m.group(2), 16), int(m.group(3), 16))
        last = k == len(matches) - 1
        index = None if last or m.group(4) is None else int(m.group(4)) - 1
        steps.append((tag, index))
    if not steps:
        return None, None
    return steps[-1][0], path_text(steps)


def parse_output(text: str) -> tuple[list[Finding], str | None]:
    """The findings of one run and the IOD it validated against (None when it named none)."""
    findings: list[Finding] = []
    iod: str | None = None
    for line in text.splitlines():
        line = line.rstrip()
        m = _LINE.match(line)
        if m is None:
            if iod is None and _IOD.match(line):
                iod = line
            continue
        severity, where, message = m.groups()
        module_match = _MODULE.search(message)
        module = module_match.group(1) if module_match else None
        words = _MODULE.sub("", message).strip()
        tag, path = parse_path(where) if where else (None, None)
        findings.append(
            finding(
                "error" if severity == "Error" else "warning", kind_of(words), words, tag=tag, path=path, module=module
            )
        )
    return findings, iod
