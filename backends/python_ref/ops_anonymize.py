"""``anonymize`` on the reference backend: PS3.15 E.1 Basic Application Level Confidentiality Profile.

The action of each attribute comes from the standard's Table E.1-1 as the ``dicom-anonymizer`` package
publishes it (its newest database, generated from the standard's own tables), never from a hand-picked
list. Compound actions are resolved without the IOD at hand towards keeping the dataset conformant:
``X/Z`` -> Z, ``X/D``, ``Z/D``, ``X/Z/D`` -> D, ``X/Z/U*`` -> keep the sequence and process its items
(the UIDs inside are remapped). Sequences are processed recursively; private attributes are removed
unless asked otherwise. Pixel data is copied untouched (never re-encoded).
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from dcmharness.backends.base import Outcome
from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo
from dcmharness.backends.python_ref.ops_transcode import drop_group_lengths
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.ops_models import AnonymizeOptions, AnonymizeRequest

#: The newest database first; the first importable one is used.
TABLE_MODULES = (
    "dicomanonymizer.dicom_anonymization_databases.dicomfields_2026c",
    "dicomanonymizer.dicom_anonymization_databases.dicomfields_2024b",
    "dicomanonymizer.dicom_anonymization_databases.dicomfields_2023",
)
#: The package's category name -> the standard's action code.
CATEGORIES = {
    "D_TAGS": "D",
    "Z_TAGS": "Z",
    "X_TAGS": "X",
    "U_TAGS": "U",
    "Z_D_TAGS": "Z/D",
    "X_Z_TAGS": "X/Z",
    "X_D_TAGS": "X/D",
    "X_Z_D_TAGS": "X/Z/D",
    "X_Z_U_STAR_TAGS": "X/Z/U*",
}
#: How a compound action is resolved (see the module docstring).
RESOLVED = {"D": "D", "Z": "Z", "X": "X", "U": "U", "Z/D": "D", "X/Z": "Z", "X/D": "D", "X/Z/D": "D", "X/Z/U*": "K"}
METHOD = "PS3.15 E.1 Basic Profile (dcmharness python_ref)"

#: Dummy values of action D, by VR.
DUMMY: dict[str, Any] = {
    "PN": "ANONYMIZED",
    "LO": "ANONYMIZED",
    "SH": "ANONYMIZED",
    "LT": "ANONYMIZED",
    "ST": "ANONYMIZED",
    "UT": "ANONYMIZED",
    "UC": "ANONYMIZED",
    "CS": "ANONYMIZED",
    "AE": "ANONYMIZED",
    "DA": "19000101",
    "TM": "000000",
    "DT": "19000101000000",
    "AS": "000Y",
    "IS": "0",
    "DS": "0",
    "US": 0,
    "SS": 0,
    "UL": 0,
    "SL": 0,
    "UV": 0,
    "SV": 0,
    "FL": 0.0,
    "FD": 0.0,
    "UR": "",
}


@dataclass(frozen=True)
class ProfileTable:
    source: str
    actions: dict[int, str]  # tag -> action code as the standard writes it
    masked: tuple[tuple[int, int, str], ...] = ()  # (tag, mask, action): repeating groups such as 60xx,3000

    def action(self, tag: int) -> str | None:
        """The standard's action for ``tag`` (None: not in the table, kept)."""
        found = self.actions.get(tag)
        if found is not None:
            return found
        for value, mask, code in self.masked:
            if tag & mask == value:
                return code
        return None


@lru_cache(maxsize=1)
def profile_table() -> ProfileTable:
    """The standard's action table (``backend_unavailable`` if the package is missing)."""
    for name in TABLE_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        actions: dict[int, str] = {}
        masked: list[tuple[int, int, str]] = []
        for category, code in CATEGORIES.items():
            for entry in getattr(module, category, []):
                if len(entry) == 4:  # (group, element, group mask, element mask)
                    group, element, gmask, emask = entry
                    masked.append(((group << 16) | element, (gmask << 16) | emask, code))
                else:
                    group, element = entry
                    actions[(group << 16) | element] = code
        return ProfileTable(source=f"PS3.15 Table E.1-1 via {name}", actions=actions, masked=tuple(masked))
    raise HarnessError(
        ErrorCode.BACKEND_UNAVAILABLE,
        "the PS3.15 action table needs the 'dicom-anonymizer' package (pip install dicom-anonymizer)",
        "backend",
    )


def remap_uid(uid: str, key: bytes) -> str:
    """The new UID of ``uid``: ``2.25.<first 128 bits of HMAC-SHA256(key, uid)>`` (PS3.5 B.2). Pure."""
    digest = hmac.new(key, uid.strip().encode("ascii", "replace"), hashlib.sha256).digest()
    return "2.25." + str(int.from_bytes(digest[:16], "big"))


def shift_date(value: str, days: int) -> str:
    """A DA (YYYYMMDD) value shifted by ``days``; unparseable values become empty. Pure."""
    text = value.strip()
    try:
        d = datetime.strptime(text[:8], "%Y%m%d").date()
    except ValueError:
        return ""
    return (d + timedelta(days=days)).strftime("%Y%m%d")


def shift_datetime(value: str, days: int) -> str:
    """A DT value with its date part shifted (time and offset kept). Pure."""
    text = value.strip()
    if len(text) < 8:
        return ""
    shifted = shift_date(text[:8], days)
    return shifted + text[8:] if shifted else ""


@dataclass
class Counts:
    removed: int = 0
    emptied: int = 0
    replaced: int = 0
    uids_remapped: int = 0
    private_removed: int = 0
    shifted: int = 0
    uid_map: dict[str, str] = field(default_factory=dict)


class Anonymizer:
    """Applies the profile to a dataset in memory (the input file is never touched)."""

    def __init__(self, options: AnonymizeOptions, table: ProfileTable) -> None:
        self.options = options
        self.table = table
        self.key = (options.uid_secret or secrets.token_hex(16)).encode()
        self.counts = Counts()

    def new_uid(self, old: str) -> str:
        old = old.strip()
        if not old:
            return old
        new = self.counts.uid_map.get(old)
        if new is None:
            new = remap_uid(old, self.key)
            self.counts.uid_map[old] = new
        return new

    def apply(self, ds: Any) -> None:
        for elem in list(ds):
            tag = int(elem.tag)
            if elem.tag.is_private:
                if self.options.remove_private_tags:
                    del ds[elem.tag]
                    self.counts.private_removed += 1
                continue
            action = self.table.action(tag)
            if action is None:
                if elem.VR == "SQ":
                    for item in elem.value or []:
                        self.apply(item)
                continue
            self.act(ds, elem, RESOLVED[action])

    def act(self, ds: Any, elem: Any, action: str) -> None:
        vr = elem.VR
        days = self.options.date_shift_days
        if days is not None and vr in ("DA", "DT", "TM") and action != "U":
            if vr != "TM":  # a whole-day shift leaves times of day as they are
                self.shift(elem, days)
            return
        if action == "U":
            if self.options.retain_uids:
                return
            self.remap(elem)
            return
        if vr == "SQ":
            if action == "X":
                del ds[elem.tag]
                self.counts.removed += 1
            elif action == "K":
                for item in elem.value or []:
                    self.apply(item)
            else:  # Z or D on a sequence: an empty sequence
                elem.value = []
                self.counts.emptied += 1
            return
        if action == "X":
            del ds[elem.tag]
            self.counts.removed += 1
        elif action == "Z" or action == "K":
            elem.value = None
            self.counts.emptied += 1
        else:
            self.replace(elem)

    def replace(self, elem: Any) -> None:
        if elem.tag == 0x00100020 and self.options.patient_id is not None:
            elem.value = self.options.patient_id
        elif elem.tag == 0x00100020:
            elem.value = "ANON-" + hmac.new(self.key, str(elem.value).encode(), hashlib.sha256).hexdigest()[:16]
        elif elem.VR == "UI":
            self.remap(elem)
            return
        elif elem.VR in DUMMY:
            value = DUMMY[elem.VR]
            elem.value = value[:16] if elem.VR == "CS" and isinstance(value, str) else value
        else:  # binary and other VRs: no meaningful dummy, emptied
            elem.value = None
        self.counts.replaced += 1

    def remap(self, elem: Any) -> None:
        if elem.VR != "UI" or elem.value in (None, ""):
            return
        if elem.VM > 1:
            elem.value = [self.new_uid(str(v)) for v in elem.value]
        else:
            elem.value = self.new_uid(str(elem.value))
        self.counts.uids_remapped += 1

    def shift(self, elem: Any, days: int) -> None:
        if elem.value in (None, ""):
            return
        fn = shift_date if elem.VR == "DA" else shift_datetime
        if elem.VM > 1:
            elem.value = [fn(str(v), days) for v in elem.value]
        else:
            elem.value = fn(str(elem.value), days)
        self.counts.shifted += 1


def method_codes(options: AnonymizeOptions) -> list[tuple[str, str]]:
    """The CID 7050 codes of the profile and options applied (PS3.16). Pure."""
    codes = [("113100", "Basic Application Confidentiality Profile")]
    if options.retain_uids:
        codes.append(("113110", "Retain UIDs Option"))
    if options.date_shift_days is not None:
        codes.append(("113107", "Retain Longitudinal Temporal Information Modified Dates Option"))
    if not options.remove_private_tags:
        codes.append(("113111", "Retain Safe Private Option"))
    return codes


def mark(ds: Any, options: AnonymizeOptions) -> None:
    """Patient Identity Removed, De-identification Method and its code sequence (PS3.15 E.1.1 step 4)."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = METHOD
    items = []
    for value, meaning in method_codes(options):
        item = Dataset()
        item.CodeValue = value
        item.CodingSchemeDesignator = "DCM"
        item.CodeMeaning = meaning
        items.append(item)
    ds.DeidentificationMethodCodeSequence = Sequence(items)
    if options.date_shift_days is not None:
        ds.LongitudinalTemporalInformationModified = "MODIFIED"


def anonymize(request: AnonymizeRequest, info: InputInfo, plan: OutputPlan) -> Outcome:
    opts = request.options
    table = profile_table()
    ds = info.dataset
    for elem in list(ds):  # load deferred values (pixel data) before anything changes
        _ = elem.value
    anon = Anonymizer(opts, table)
    drop_group_lengths(ds)  # wrong once attributes are removed or replaced
    anon.apply(ds)
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "MediaStorageSOPInstanceUID" in meta and not opts.retain_uids:
        meta.MediaStorageSOPInstanceUID = anon.new_uid(str(meta.MediaStorageSOPInstanceUID))
    mark(ds, opts)
    try:
        try:
            ds.save_as(plan.targets[0].temp, enforce_file_format=True)
        except (ValueError, AttributeError):  # no (complete) File Meta Information: written as a bare data set
            from pydicom.dataset import FileMetaDataset

            implicit, little = getattr(ds, "original_encoding", (True, True))
            ds.file_meta = FileMetaDataset()
            ds.save_as(
                plan.targets[0].temp,
                implicit_vr=True if implicit is None else implicit,
                little_endian=True if little is None else little,
            )
    except (ValueError, TypeError, OSError, AttributeError) as exc:
        raise HarnessError(ErrorCode.BACKEND_FAILED, f"pydicom could not write the result: {exc}"[:400]) from None
    c = anon.counts
    return Outcome(
        result={
            "profile": "basic",
            "table": table.source,
            "removed": c.removed,
            "emptied": c.emptied,
            "replaced": c.replaced,
            "uids_remapped": c.uids_remapped,
            "private_removed": c.private_removed,
            "dates_shifted": c.shifted,
            "date_shift_days": opts.date_shift_days,
            "uid_map": dict(c.uid_map),
        }
    )
