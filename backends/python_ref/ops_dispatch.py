"""Dispatch of the ops beyond ``to_image`` on the reference backend (one module per op family)."""

from __future__ import annotations

from dcmharness.backends.base import Outcome
from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import RequestBase
from dcmharness.contract.ops_models import (
    AnonymizeRequest,
    DecodeRequest,
    DumpRequest,
    FromJsonRequest,
    HistogramRequest,
    InfoRequest,
    ModifyRequest,
    StatsRequest,
    TranscodeRequest,
    ValidateRequest,
)
from dcmharness.contract.series_models import NiftiRequest, SplitMultiframeRequest, VolumeRequest

#: The ops this module runs (added to ``PythonRefBackend.ops``).
EXTRA_OPS = (
    "dump",
    "info",
    "stats",
    "histogram",
    "transcode",
    "anonymize",
    "volume",
    "nifti",
    "split_multiframe",
    "validate",
    "decode",
    "modify",
    "from_json",
)


def execute_op(request: RequestBase, info: InputInfo | None, plan: OutputPlan) -> Outcome:
    if isinstance(request, FromJsonRequest):
        from dcmharness.backends.dicom_json import JsonDocument
        from dcmharness.backends.python_ref.ops_from_json import from_json

        assert isinstance(info, JsonDocument)
        return from_json(request, info, plan)
    if info is None:
        raise HarnessError(ErrorCode.INTERNAL_ERROR, "the dispatcher gave no input description")
    if isinstance(request, DumpRequest):
        from dcmharness.backends.python_ref.ops_dump import dump

        return dump(request, info, plan)
    if isinstance(request, InfoRequest):
        from dcmharness.backends.python_ref.ops_dump import info_op

        return info_op(request, info)
    if isinstance(request, StatsRequest):
        from dcmharness.backends.python_ref.ops_stats import stats

        return stats(request, info)
    if isinstance(request, HistogramRequest):
        from dcmharness.backends.python_ref.ops_stats import histogram

        return histogram(request, info)
    if isinstance(request, TranscodeRequest):
        from dcmharness.backends.python_ref.ops_transcode import transcode

        return transcode(request, info, plan)
    if isinstance(request, AnonymizeRequest):
        from dcmharness.backends.python_ref.ops_anonymize import anonymize

        return anonymize(request, info, plan)
    if isinstance(request, DecodeRequest):
        from dcmharness.backends.python_ref.ops_decode import decode

        return decode(request, info, plan)
    if isinstance(request, ValidateRequest):
        from dcmharness.backends.python_ref.ops_validate import validate

        return validate(request, info)
    if isinstance(request, ModifyRequest):
        from dcmharness.backends.python_ref.ops_modify import modify

        return modify(request, info, plan)
    if isinstance(request, VolumeRequest):
        from dcmharness.backends.python_ref.ops_series import volume

        return volume(request, info, plan)
    if isinstance(request, NiftiRequest):
        from dcmharness.backends.python_ref.ops_series import nifti

        return nifti(request, info, plan)
    if isinstance(request, SplitMultiframeRequest):
        from dcmharness.backends.python_ref.ops_split import split_multiframe

        return split_multiframe(request, info, plan)
    op = getattr(request, "op", "?")
    raise HarnessError(ErrorCode.UNSUPPORTED_OPTION, f"python_ref does not implement op {op!r}", "op")
