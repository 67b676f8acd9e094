"""``dump`` (the DICOM JSON model, PS3.18 F.2) and ``info`` (a normalised summary) on the reference backend.

``summarise`` builds the ``info`` result from a DICOM JSON model, so every backend that can print DICOM
JSON (pydicom, dcmtk ``dcm2json``) gives its summary through the same pure function.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from dcmharness.backends.base import Outcome
from dcmharness.backends.outputs import OutputPlan, plan_outputs
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.ops_models import DumpOptions, DumpRequest, InfoRequest

#: Binary VRs: their values are bulk data above the threshold.
BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
_OMITTED = "dcmharness:omitted"


def dataset_json(ds: Any, options: DumpOptions, bulk_uri: Callable[[bytes], str] | None = None) -> dict[str, Any]:
    """The DICOM JSON model of ``ds`` (and its meta when asked), bulk data omitted, inlined, or handed to
    ``bulk_uri`` (``bulk_data: "uri"``: it stores the value's bytes and returns the BulkDataURI)."""
    threshold = options.bulk_threshold if options.bulk_data != "inline" else 1 << 62

    def handler(elem: Any) -> str:
        if bulk_uri is None or options.bulk_data != "uri":
            return _OMITTED
        value = elem.value
        return bulk_uri(value if isinstance(value, bytes) else b"".join(value))

    try:
        model: dict[str, Any] = ds.to_json_dict(threshold, handler, suppress_invalid_tags=True)
        if options.include_meta and getattr(ds, "file_meta", None) is not None:
            model = {**ds.file_meta.to_json_dict(threshold, handler), **model}
    except (ValueError, TypeError, KeyError, OSError, LookupError) as exc:
        raise HarnessError(ErrorCode.DECODE_FAILED, f"cannot convert the dataset to JSON: {exc}"[:400]) from None
    stripped: dict[str, Any] = strip_omitted(model)
    return stripped


def strip_omitted(value: Any) -> Any:
    """Drop the placeholder bulk data URIs (an omitted value keeps its vr only). Pure."""
    if isinstance(value, dict):
        return {k: strip_omitted(v) for k, v in value.items() if not (k == "BulkDataURI" and v == _OMITTED)}
    if isinstance(value, list):
        return [strip_omitted(v) for v in value]
    return value


class BulkWriter:
    """``bulk_data: "uri"``: each value becomes one more planned output next to the JSON,
    ``<stem>.bulk0001.bin``, ...; the URI is its name, relative to the JSON's folder (PS3.18 F.2.6: a
    BulkDataURI may be relative). The files are committed with the JSON, all or nothing. A refusal (an existing
    file) is kept and raised after the conversion: pydicom's converter would swallow it."""

    def __init__(self, plan: OutputPlan) -> None:
        self.plan = plan
        self.refusal: HarnessError | None = None

    def __call__(self, value: bytes) -> str:
        main = self.plan.targets[0].final
        final = main.with_name(f"{main.stem}.bulk{len(self.plan.targets):04d}.bin")
        try:
            extra = plan_outputs([(final, None)], self.plan.overwrite).targets[0]
        except HarnessError as exc:
            self.refusal = self.refusal or exc
            return _OMITTED
        self.plan.targets.append(extra)
        extra.temp.write_bytes(value)
        return final.name


def dump(request: DumpRequest, info: InputInfo, plan: OutputPlan) -> Outcome:
    writer = BulkWriter(plan)
    model = dataset_json(info.dataset, request.options, writer)
    if writer.refusal is not None:
        raise writer.refusal
    text = json.dumps(model, indent=1, ensure_ascii=False, allow_nan=False)
    plan.targets[0].temp.write_text(text + "\n", encoding="utf-8")
    result: dict[str, Any] = {
        "attributes": len(model),
        "transfer_syntax": info.transfer_syntax,
        "bulk_data": request.options.bulk_data,
    }
    if request.options.bulk_data == "uri":
        result["bulk_files"] = len(plan.targets) - 1
    return Outcome(result=result)


def _first(model: dict[str, Any], tag: str) -> Any:
    elem = model.get(tag)
    if not isinstance(elem, dict):
        return None
    values = elem.get("Value")
    if not values:
        return None
    value = values[0]
    if isinstance(value, dict) and "Alphabetic" in value:
        return str(value["Alphabetic"]).strip() or None
    if isinstance(value, str):
        return value.strip() or None
    return value


def _numbers(model: dict[str, Any], tag: str) -> list[float] | None:
    elem = model.get(tag)
    if not isinstance(elem, dict) or not elem.get("Value"):
        return None
    try:
        return [float(v) for v in elem["Value"]]
    except (TypeError, ValueError):
        return None


def _number(model: dict[str, Any], tag: str) -> float | None:
    values = _numbers(model, tag)
    return values[0] if values else None


def _int(model: dict[str, Any], tag: str) -> int | None:
    value = _number(model, tag)
    return int(value) if value is not None else None


_PIXEL_TAGS = ("7FE00010", "7FE00008", "7FE00009")


def summarise(model: dict[str, Any], transfer_syntax: str | None, include_private: bool = False) -> dict[str, Any]:
    """The ``info`` result from a DICOM JSON model (data set, with or without meta). Pure."""
    dataset_tags = [t for t in model if not t.startswith("0002") and not t.endswith("0000")]  # no group lengths
    if not include_private:
        dataset_tags = [t for t in dataset_tags if int(t[:4], 16) % 2 == 0]
    has_pixels = any(t in model for t in _PIXEL_TAGS)
    frames = _int(model, "00280008")
    return {
        "sop_class_uid": _first(model, "00080016"),
        "sop_instance_uid": _first(model, "00080018"),
        "study_instance_uid": _first(model, "0020000D"),
        "series_instance_uid": _first(model, "0020000E"),
        "frame_of_reference_uid": _first(model, "00200052"),
        "patient_id": _first(model, "00100020"),
        "patient_name": _first(model, "00100010"),
        "study_date": _first(model, "00080020"),
        "modality": _first(model, "00080060"),
        "transfer_syntax": transfer_syntax or _first(model, "00020010"),
        "rows": _int(model, "00280010"),
        "columns": _int(model, "00280011"),
        "frames": (frames or 1) if has_pixels else None,
        "samples_per_pixel": _int(model, "00280002"),
        "photometric": _first(model, "00280004"),
        "bits_allocated": _int(model, "00280100"),
        "bits_stored": _int(model, "00280101"),
        "high_bit": _int(model, "00280102"),
        "pixel_representation": _int(model, "00280103"),
        "planar_configuration": _int(model, "00280006"),
        "pixel_spacing": _numbers(model, "00280030"),
        "slice_thickness": _number(model, "00180050"),
        "image_position": _numbers(model, "00200032"),
        "image_orientation": _numbers(model, "00200037"),
        "rescale_slope": _number(model, "00281053"),
        "rescale_intercept": _number(model, "00281052"),
        "has_pixel_data": has_pixels,
        "number_of_attributes": len(dataset_tags),
    }


def info_op(request: InfoRequest, info: InputInfo) -> Outcome:
    model = dataset_json(info.dataset, DumpOptions(bulk_data="omit", bulk_threshold=0))
    return Outcome(result=summarise(model, info.transfer_syntax, request.options.include_private))
