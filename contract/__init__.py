"""The dcmharness contract: requests, responses, options, error codes and the op catalog."""

from dcmharness.contract.catalog import OPS, REQUEST_ADAPTER, OpSpec
from dcmharness.contract.errors import ERROR_DESCRIPTIONS, ErrorCode, HarnessError
from dcmharness.contract.models import ErrorInfo, RequestBase, Response, ToImageRequest
from dcmharness.contract.options import WINDOW_PRESETS, ToImageOptions, format_for

__all__ = [
    "ERROR_DESCRIPTIONS",
    "OPS",
    "REQUEST_ADAPTER",
    "WINDOW_PRESETS",
    "ErrorCode",
    "ErrorInfo",
    "HarnessError",
    "OpSpec",
    "RequestBase",
    "Response",
    "ToImageOptions",
    "ToImageRequest",
    "format_for",
]
