"""Orthanc's ``modify``: the body of ``POST /instances/{id}/modify`` built from the resolved changes (pure,
golden-tested), and the refusals decided before anything runs.

Facts measured on Orthanc 1.10.1 (Debian 12), each with a request through the adapter's private server:

- ``"Replace": {path: value}`` inserts or overwrites (``modify`` and ``insert``), nested paths included
  (``ReferencedStructureSetSequence[0].ReferencedSOPInstanceUID`` changed in rtplan.dcm), an empty string
  gives an empty value; ``"Remove": [path]`` erases. Values are sent in the DICOM string form (``"200"`` for
  IS, ``"5"`` for US, backslash-separated values).
- An instance-level ``/modify`` gives the instance a new SOP Instance UID unless ``"Keep"`` names it, and a
  new Series Instance UID when the Study Instance UID is replaced; the adapter keeps every UID the request
  does not ask to change (``"Keep"`` + ``"Force": true``). ``regenerate_uids: ["instance"]`` leaves the SOP
  Instance UID out of ``"Keep"`` (Orthanc's generator); Study and Series Instance UIDs, which Orthanc does
  not regenerate at the instance level, are replaced with new ``2.25.<uuid4>`` UIDs made by the adapter.
  The File Meta Information's Media Storage SOP Instance UID follows (measured).
- ``"Remove": ["PatientID"]`` is answered HTTP 400 (with and without ``"Force"``): erasing Orthanc's
  identifying attributes (Patient ID; Study, Series and SOP Instance UIDs, its database keys) is refused.
- A private data element is written as UN whatever its value (``"(0011,1001)": "42"`` with
  ``"PrivateCreator": "ACME"`` came back UN ``b'42'``): refused, except elements the file already holds
  (their VR is kept). Private creators (LO) are fine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dcmharness.backends.base import unsupported
from dcmharness.backends.modify import UID_KEYWORDS, Change
from dcmharness.backends.preflight import InputInfo

#: Orthanc's database keys: ``Remove`` of one is answered HTTP 400.
IDENTIFIERS = {0x00100020: "PatientID", 0x0020000D: "StudyInstanceUID", 0x0020000E: "SeriesInstanceUID",
               0x00080018: "SOPInstanceUID"}  # fmt: skip
UID_TAGS = {"StudyInstanceUID": 0x0020000D, "SeriesInstanceUID": 0x0020000E, "SOPInstanceUID": 0x00080018}


def modify_capabilities() -> dict[str, Any]:
    return {"modify": True, "insert": True, "erase": True, "regenerate_uids": True}


def check_modify(changes: Sequence[Change], info: InputInfo) -> None:
    """``unsupported_option`` for a change Orthanc cannot make as asked (see the module docstring)."""
    implicit = info.transfer_syntax == "1.2.840.10008.1.2"
    for change in changes:
        where = change.field.removeprefix("options.")
        if change.action == "erase" and not change.nested and change.tag in IDENTIFIERS:
            raise unsupported(where, f"orthanc refuses to remove {IDENTIFIERS[change.tag]} (HTTP 400: a database key)")
        private_element = change.private and (change.tag & 0xFFFF) >= 0x1000
        if change.action != "erase" and private_element and (not change.exists or implicit):
            raise unsupported(f"{where}.vr", "orthanc writes a private data element it has no dictionary for as UN")


def modify_body(changes: Sequence[Change], levels: Sequence[str], new_uid: Any) -> dict[str, Any]:
    """The JSON body of ``/instances/{id}/modify``; ``new_uid()`` makes the Study / Series UIDs asked.
    Pure apart from ``new_uid``."""
    replace: dict[str, str] = {}
    remove: list[str] = []
    for change in changes:
        path = change.dcmtk_path()
        if change.action == "erase":
            remove.append(path)
        else:
            replace[path] = change.value or ""
    for level in ("study", "series"):
        if level in levels:
            tag = UID_TAGS[UID_KEYWORDS[level]]
            replace[f"({tag >> 16:04X},{tag & 0xFFFF:04X})"] = new_uid()
    replaced = {c.tag for c in changes if not c.nested and c.action != "erase"}
    keep = [
        keyword for level, keyword in UID_KEYWORDS.items() if level not in levels and UID_TAGS[keyword] not in replaced
    ]
    body: dict[str, Any] = {"Force": True}
    if replace:
        body["Replace"] = replace
    if remove:
        body["Remove"] = remove
    if keep:
        body["Keep"] = keep
    return body
