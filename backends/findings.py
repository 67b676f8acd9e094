"""Validation findings in the contract's normalised form, shared by python_ref and every validator adapter.

All functions are pure. A tag is written as 8 upper-case hex digits (``00100010``); a path inside sequences
as ``52009229[0].00289145[0].00281054`` (items 0-based, the attribute itself last; ``None`` at the top
level); a finding on a File Meta Information attribute (group 0002) is ``bad_file_meta`` whatever the
validator called it, because the validators word those problems too differently to match otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from dcmharness.contract.ops_models import FINDING_KINDS, Finding

#: One step of a path: (tag as 8 hex digits, 0-based item index inside that sequence, or None for the last).
Step = tuple[str, int | None]


def tag_hex(group: int, element: int) -> str:
    return f"{group:04X}{element:04X}"


def tag_of_keyword(keyword: str) -> str | None:
    """The tag of a PS3.6 keyword (pydicom's dictionary), as 8 hex digits; None when unknown."""
    from pydicom.datadict import tag_for_keyword

    tag = tag_for_keyword(keyword)
    return None if tag is None else f"{tag:08X}"


def keyword_of(tag: str | None) -> str | None:
    """The PS3.6 keyword of an 8-hex-digit tag; None for a private or unknown tag."""
    if not tag:
        return None
    from pydicom.datadict import keyword_for_tag

    try:
        return keyword_for_tag(int(tag, 16)) or None
    except ValueError:
        return None


def path_text(steps: Sequence[Step]) -> str | None:
    """``[("52009229", 0), ("00281054", None)]`` -> ``52009229[0].00281054``; a top-level step -> None."""
    if len(steps) <= 1:
        return None
    parts = [tag if index is None else f"{tag}[{index}]" for tag, index in steps]
    return ".".join(parts)


def finding(
    severity: str,
    kind: str,
    message: str,
    *,
    tag: str | None = None,
    path: str | None = None,
    module: str | None = None,
) -> Finding:
    """A finding; the kind becomes ``bad_file_meta`` on a group-0002 attribute, ``other`` when unknown."""
    if tag is not None and tag.startswith("0002"):
        kind = "bad_file_meta"
    if kind not in FINDING_KINDS:
        kind = "other"
    return Finding(
        severity="error" if severity == "error" else "warning",
        kind=kind,  # type: ignore[arg-type]
        tag=tag,
        keyword=keyword_of(tag),
        path=path,
        module=module,
        message=message.strip()[:500],
    )


def dedupe(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per (severity, kind, tag, path): validators often say the same thing twice (e.g. an empty
    Type 1 attribute as 'VM 0' and as 'zero length'); the first wording is kept."""
    seen: set[tuple[str, str, str | None, str | None]] = set()
    out: list[Finding] = []
    for f in findings:
        key = (f.severity, f.kind, f.tag, f.path)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def validate_result(
    findings: Iterable[Finding],
    *,
    validator: str,
    iod: str | None,
    sop_class_uid: str | None,
    include_warnings: bool = True,
) -> dict[str, Any]:
    """The ``validate`` result: validity, counts and the findings (errors first, then by tag and path)."""
    unique = dedupe(findings)
    errors = sum(1 for f in unique if f.severity == "error")
    warnings = len(unique) - errors
    shown = [f for f in unique if include_warnings or f.severity == "error"]
    shown.sort(key=lambda f: (f.severity != "error", f.tag or "", f.path or "", f.kind))
    return {
        "valid": errors == 0,
        "errors": errors,
        "warnings": warnings,
        "iod": iod,
        "sop_class_uid": sop_class_uid,
        "validator": validator,
        "findings": [f.model_dump() for f in shown],
    }
