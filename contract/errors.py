"""Stable error codes of the contract and the exception that carries them.

Every failure a request can meet is reported as one of these codes in the response's ``error``
object (``code``, ``message``, ``field``). The codes are part of the public contract: never rename one.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """The contract's error codes (documented in the README)."""

    INVALID_JSON = "invalid_json"
    INVALID_REQUEST = "invalid_request"
    INPUT_NOT_FOUND = "input_not_found"
    NOT_DICOM = "not_dicom"
    NO_PIXEL_DATA = "no_pixel_data"
    FRAME_OUT_OF_RANGE = "frame_out_of_range"
    UNSUPPORTED_OPTION = "unsupported_option"
    UNSUPPORTED_TRANSFER_SYNTAX = "unsupported_transfer_syntax"
    DECODE_FAILED = "decode_failed"
    OUTPUT_EXISTS = "output_exists"
    OUTPUT_DIR_MISSING = "output_dir_missing"
    PATH_OUTSIDE_ROOT = "path_outside_root"
    INPUT_TOO_LARGE = "input_too_large"
    BACKEND_UNAVAILABLE = "backend_unavailable"
    BACKEND_FAILED = "backend_failed"
    TIMEOUT = "timeout"
    INTERNAL_ERROR = "internal_error"
    INCONSISTENT_SERIES = "inconsistent_series"
    NETWORK_ERROR = "network_error"
    ASSOCIATION_REJECTED = "association_rejected"
    DIMSE_FAILURE = "dimse_failure"
    HTTP_ERROR = "http_error"
    INVALID_DICOM_JSON = "invalid_dicom_json"
    REMOTE_BULK_DATA = "remote_bulk_data"


ERROR_DESCRIPTIONS: dict[ErrorCode, str] = {
    ErrorCode.INVALID_JSON: "The request text is not valid JSON (or not UTF-8).",
    ErrorCode.INVALID_REQUEST: "The request does not match the contract (wrong type, out of range, "
    "unknown or conflicting option, or an index the input does not have); `field` names the culprit.",
    ErrorCode.INPUT_NOT_FOUND: "The input path does not exist or is not a readable file.",
    ErrorCode.NOT_DICOM: "The input is not a DICOM file (or is too damaged to parse).",
    ErrorCode.NO_PIXEL_DATA: "The DICOM file has no Pixel Data the op needs.",
    ErrorCode.FRAME_OUT_OF_RANGE: "The requested frame is not in the file (frames are 0-based).",
    ErrorCode.UNSUPPORTED_OPTION: "The backend cannot honour this option or value; `field` names it.",
    ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX: "The backend cannot decode the input's transfer syntax.",
    ErrorCode.DECODE_FAILED: "The pixel data could not be decoded (corrupt or inconsistent).",
    ErrorCode.OUTPUT_EXISTS: "The output exists and `overwrite` is false; nothing was written.",
    ErrorCode.OUTPUT_DIR_MISSING: "The output's folder does not exist.",
    ErrorCode.PATH_OUTSIDE_ROOT: "A path escapes the `--root` folder the run is confined to.",
    ErrorCode.INPUT_TOO_LARGE: "The input declares an absurd size (rows x columns x frames x bits); "
    "refused rather than allocated.",
    ErrorCode.BACKEND_UNAVAILABLE: "The backend's tool or server is not installed or not reachable.",
    ErrorCode.BACKEND_FAILED: "The backend ran but failed; its stderr is in the response.",
    ErrorCode.TIMEOUT: "The backend did not finish within the timeout; its process group was killed.",
    ErrorCode.INTERNAL_ERROR: "A bug in dcmharness (never user input): please report it.",
    ErrorCode.INCONSISTENT_SERIES: "The series does not form one volume: several series (choose one with "
    "`options.series_uid`; the message lists them), mixed sizes, orientations or pixel spacings, duplicate "
    "slice positions, non-uniform spacing (a missing slice), or slices without a position.",
    ErrorCode.NETWORK_ERROR: "The DICOM peer could not be reached, closed the connection, aborted the "
    "association or did not answer within `options.timeout`.",
    ErrorCode.ASSOCIATION_REJECTED: "The DICOM peer rejected the association (A-ASSOCIATE-RJ); the message "
    "gives its result, source and reason (e.g. called-AE-title-not-recognized).",
    ErrorCode.DIMSE_FAILURE: "The DICOM peer answered a request with a failure status (or accepted no "
    "presentation context for it); the message gives the status in hex and its meaning.",
    ErrorCode.HTTP_ERROR: "The DICOMweb server answered an HTTP error status (4xx/5xx; a STOW-RS 409 when no "
    "instance was stored); the message gives the status, the request and an excerpt of the body.",
    ErrorCode.INVALID_DICOM_JSON: "The input DICOM JSON document (PS3.18 F.2) is not valid: not UTF-8 JSON, "
    "a tag key that is not 8 hex digits, an unknown VR, a value unlike its VR, bad base64, or Pixel Data "
    "unlike its transfer syntax; `field` gives the place in the document (`input:00540016[0].00181071`).",
    ErrorCode.REMOTE_BULK_DATA: "A BulkDataURI names a network location (http, https, ...): bulk data is "
    "never fetched over a network; give it inline or as a file beside the document. `field` names the element.",
}


class HarnessError(Exception):
    """A failure with a contract error code, an explanation and (optionally) the field at fault."""

    def __init__(self, code: ErrorCode, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def __repr__(self) -> str:
        return f"HarnessError({self.code.value!r}, {self.message!r}, field={self.field!r})"
