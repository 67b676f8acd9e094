"""``modify`` on the reference backend (pydicom): the resolved changes (``backends/modify.py``) applied to a
fresh copy of the input in memory, new UIDs (``2.25.<uuid4>``, PS3.5 B.2) for the levels asked, the File
Meta Information's Media Storage SOP Instance UID set to the data set's SOP Instance UID, written in the
input's transfer syntax, always as a Part 10 file (a bare data set gets File Meta Information, as every tool
writes it). Pixel data is copied untouched."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dcmharness.backends.base import Outcome
from dcmharness.backends.modify import UID_KEYWORDS, Change, invalidity_warnings, modify_result, resolve
from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo
from dcmharness.backends.python_ref.ops_transcode import drop_group_lengths
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.ops_models import ModifyRequest


def typed_value(vr: str, values: list[str]) -> Any:
    """pydicom's value for the DICOM string form: numbers for the binary numeric VRs. Pure."""
    if vr in ("US", "SS", "UL", "SL", "UV", "SV"):
        numbers: list[Any] = [int(v) for v in values]
    elif vr in ("FL", "FD"):
        numbers = [float(v) for v in values]
    else:
        numbers = list(values)
    if not numbers:
        return None
    return numbers[0] if len(numbers) == 1 else numbers


def apply_change(ds: Any, change: Change) -> None:
    """One change on the data set ``ds`` (the paths were checked by ``resolve``)."""
    from pydicom.dataelem import DataElement

    holder = ds
    for step in change.steps[:-1]:
        assert step.index is not None
        holder = holder[step.tag].value[step.index]
    if change.action == "erase":
        del holder[change.tag]
        return
    assert change.vr is not None
    holder[change.tag] = DataElement(change.tag, change.vr, typed_value(change.vr, change.values()))


def apply_all(ds: Any, changes: list[Change], levels: Sequence[str]) -> None:
    """Every change in order, then the new UIDs; the meta's SOP Instance UID follows the data set's."""
    from pydicom.uid import generate_uid

    for change in changes:
        apply_change(ds, change)
    for level in levels:
        setattr(ds, UID_KEYWORDS[level], generate_uid(prefix=None))
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "SOPInstanceUID" in ds and "MediaStorageSOPInstanceUID" in meta:
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    if meta is not None and "SOPClassUID" in ds and "MediaStorageSOPClassUID" in meta:
        meta.MediaStorageSOPClassUID = ds.SOPClassUID


def ensure_file_meta(ds: Any, transfer_syntax: str | None) -> None:
    """A bare data set (no File Meta Information) gets one, as dcmodify, gdcmanon and Orthanc write: a Part 10
    file (PS3.10 7.1) in the transfer syntax it was read in, its SOP Class / Instance UIDs the data set's."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import UID

    meta = getattr(ds, "file_meta", None)
    if meta is not None and "TransferSyntaxUID" in meta:
        return
    meta = FileMetaDataset()
    meta.TransferSyntaxUID = UID(transfer_syntax or "1.2.840.10008.1.2")
    if "SOPClassUID" in ds:
        meta.MediaStorageSOPClassUID = ds.SOPClassUID
    if "SOPInstanceUID" in ds:
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta = meta


def modify(request: ModifyRequest, info: InputInfo, plan: OutputPlan) -> Outcome:
    import pydicom

    changes = resolve(request.options, info.dataset)
    try:
        ds = pydicom.dcmread(info.path, force=True)  # a fresh copy: the input file is never touched
    except Exception as exc:
        raise HarnessError(ErrorCode.NOT_DICOM, f"pydicom could not read the input: {exc}"[:300], "input") from None
    drop_group_lengths(ds)  # wrong once attributes change
    apply_all(ds, changes, list(request.options.regenerate_uids))
    temp = plan.targets[0].temp
    ensure_file_meta(ds, info.transfer_syntax)
    try:
        ds.save_as(temp, enforce_file_format=True)
    except (ValueError, TypeError, OSError, AttributeError, OverflowError) as exc:
        raise HarnessError(ErrorCode.BACKEND_FAILED, f"pydicom could not write the result: {exc}"[:400]) from None
    result = modify_result(request.options, info.path, temp)
    return Outcome(result=result, warnings=invalidity_warnings(info.path, temp))
