"""``from_json`` on the reference backend: a checked DICOM JSON document (``backends/dicom_json.py``) -> a
Part 10 file with pydicom (``Dataset.from_json``, then ``dcmwrite`` with the File Meta Information).

Nothing is re-encoded: the values are written in the transfer syntax the document (or the option) declares;
encapsulated Pixel Data is written with an undefined length, as PS3.5 A.4 asks.
"""

from __future__ import annotations

from typing import Any

from dcmharness.backends.base import Outcome
from dcmharness.backends.dicom_json import NATIVE_SYNTAXES, BulkRef, JsonDocument, bad, map_bulk
from dcmharness.backends.outputs import OutputPlan
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.ops_models import FromJsonRequest

_TOKEN = "dcmharness-bulk:"


def _from_json(model: dict[str, Any], refs: list[BulkRef], where: str) -> Any:
    from pydicom.dataset import Dataset

    def handler(_tag: str, _vr: str, uri: str) -> bytes:
        return refs[int(uri[len(_TOKEN) :])].read()

    try:
        return Dataset.from_json(model, bulk_data_uri_handler=handler)
    except HarnessError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, LookupError) as exc:
        raise bad(where, f"pydicom cannot build the data set: {type(exc).__name__}: {exc}") from None


def tokenised(doc: JsonDocument, model: dict[str, Any]) -> tuple[dict[str, Any], list[BulkRef]]:
    """The model with each BulkDataURI replaced by a token naming its resolved file (read by the handler)."""
    refs: list[BulkRef] = []

    def token(elem: dict[str, Any]) -> dict[str, Any]:
        refs.append(doc.bulk[id(elem)])
        return {"vr": elem["vr"], "BulkDataURI": f"{_TOKEN}{len(refs) - 1}"}

    return map_bulk(model, token), refs


def build_file_meta(doc: JsonDocument, ds: Any) -> Any:
    """The File Meta Information: the document's group 0002 kept as it is, the required elements it lacks
    completed (PS3.10 7.1): written without pydicom's ``enforce_file_format``, which would replace a Media
    Storage SOP Instance UID that differs from the SOP Instance UID and add an Implementation Version Name."""
    from pydicom import __version__ as pydicom_version
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID

    meta = FileMetaDataset(_from_json(*tokenised(doc, doc.meta), "0002")) if doc.meta else FileMetaDataset()
    meta.FileMetaInformationGroupLength = 0  # the writer computes it
    if "FileMetaInformationVersion" not in meta:
        meta.FileMetaInformationVersion = b"\x00\x01"
    for meta_kw, ds_kw, tag in (
        ("MediaStorageSOPClassUID", "SOPClassUID", "00080016"),
        ("MediaStorageSOPInstanceUID", "SOPInstanceUID", "00080018"),
    ):
        if not str(meta.get(meta_kw, "") or ""):
            value = str(ds.get(ds_kw, "") or "")
            if not value:
                raise bad(
                    tag, f"the data set has no {ds_kw} ({tag[:4]},{tag[4:]}): a DICOM file needs one for its {meta_kw}"
                )
            setattr(meta, meta_kw, value)
    meta.TransferSyntaxUID = UID(doc.transfer_syntax)
    if not str(meta.get("ImplementationClassUID", "") or ""):
        meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        meta.ImplementationVersionName = f"PYDICOM {pydicom_version}"[:16]
    return meta


def build_dataset(doc: JsonDocument) -> Any:
    """The pydicom data set (with ``file_meta``) of a checked document."""
    model, refs = tokenised(doc, doc.model)
    ds = _from_json(model, refs, "")
    ds.file_meta = build_file_meta(doc, ds)
    ds.preamble = b"\x00" * 128
    if doc.transfer_syntax not in NATIVE_SYNTAXES and "PixelData" in ds:
        ds["PixelData"].is_undefined_length = True  # encapsulated (PS3.5 A.4)
    return ds


def from_json(request: FromJsonRequest, doc: JsonDocument, plan: OutputPlan) -> Outcome:
    from pydicom.filewriter import dcmwrite

    ds = build_dataset(doc)
    target = plan.targets[0].temp
    try:
        dcmwrite(target, ds, enforce_file_format=False)
    except HarnessError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, LookupError, NotImplementedError) as exc:
        raise HarnessError(
            ErrorCode.INVALID_DICOM_JSON,
            f"pydicom cannot write the data set: {type(exc).__name__}: {exc}"[:400],
            "input",
        ) from None
    return Outcome(
        result={
            "attributes": len(doc.model),
            "transfer_syntax": doc.transfer_syntax,
            "meta_from_document": doc.meta_from_document,
            "bulk_data_uris": len(doc.bulk),
            "inline_binaries": doc.inline_binaries,
            "size_bytes": target.stat().st_size,
        }
    )
