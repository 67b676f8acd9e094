"""Options and requests of the DICOMweb client ops (PS3.18): ``stow`` (STOW-RS), ``qido`` (QIDO-RS) and ``wado``
(WADO-RS), against a DICOMweb service named by its base URL (``options.url``, e.g.
``http://127.0.0.1:8042/dicom-web``). The results are documented on each options model.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from dcmharness.contract.models import RequestBase
from dcmharness.contract.ops_models import QUERY_KEY_PATTERN, TRANSFER_SYNTAXES, TransferSyntaxName, _OpOptions
from dcmharness.contract.options import OptionError

#: A DICOM UID (PS3.5 9.1): digits and dots, at most 64 characters.
UID_PATTERN = r"^[0-9]+(\.[0-9]+)*$"
QidoLevel = Literal["study", "series", "instance"]


class DicomwebOptions(_OpOptions):
    """What every DICOMweb op shares: the service's base URL and the time each network step may take."""

    url: str = Field(
        ...,
        min_length=8,
        max_length=2048,
        description="Base URL of the DICOMweb service (http:// or https://), e.g. http://127.0.0.1:8042/dicom-web; "
        "the resource paths (/studies, ...) are appended to it. No credentials (user:password@) in the URL.",
    )
    timeout: float = Field(
        30.0,
        gt=0,
        le=600,
        description="Seconds each network step may wait (connect, each read of the answer). A server silent for "
        "longer is a network_error.",
    )

    @model_validator(mode="after")
    def _check_url(self) -> DicomwebOptions:
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(self.url)
            parts.port  # noqa: B018 - raises ValueError on a port that is not a number
        except ValueError as exc:
            raise OptionError("url", f"not a URL: {exc}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise OptionError("url", "url must be http:// or https:// with a host")
        if parts.username or parts.password:
            raise OptionError("url", "credentials in the URL are not supported (auth-less services only)")
        if parts.query or parts.fragment:
            raise OptionError("url", "the base URL takes no query or fragment")
        if any(ord(c) < 33 for c in self.url):
            raise OptionError("url", "url must not contain spaces or control characters")
        return self


def _check_uid(name: str, value: str | None) -> None:
    if value is not None and (len(value) > 64 or not re.match(UID_PATTERN, value)):
        raise OptionError(name, f"{name} is not a UID (digits and dots, at most 64 characters)")


class StowOptions(DicomwebOptions):
    """Options of ``stow``: STOW-RS (PS3.18 10.5) of ``input`` (a DICOM file, or every file under a folder,
    recursive, hidden entries skipped). The files are sent as they are (``multipart/related;
    type="application/dicom"``, one part per file, never re-encoded), in requests of at most ``batch_mb``
    megabytes each (a larger file alone). A file of a folder that is not DICOM is skipped with a warning; a
    single file that is not DICOM is ``not_dicom``.

    Result: ``{"url" (the STOW URL), "http_status" (of the last request; ``http_statuses`` all), "files",
    "sent", "stored", "failed", "skipped": [{"file", "reason"}], "instances": [{"file", "sop_class_uid",
    "sop_instance_uid", "transfer_syntax", "status" ("stored", "failed" or "not_reported"), "failure_reason"
    (hex, PS3.18 Table 10.5.3-1 / PS3.4 B.2.3, failed only), "retrieve_url"}], "response": [the STOW
    response of each request as DICOM JSON], "requests", "bytes", "timings_ms": {"total", "requests"}}``.
    An HTTP error status (4xx/5xx, 409 when every instance failed) is ``http_error`` with the status and an
    excerpt of the body.
    """

    study_uid: str | None = Field(
        None, description="Store into this study only (POST {url}/studies/{study_uid}); default POST {url}/studies."
    )
    batch_mb: int = Field(64, ge=1, le=1024, description="Megabytes of files per STOW request at most.")

    @model_validator(mode="after")
    def _check_study(self) -> StowOptions:
        _check_uid("study_uid", self.study_uid)
        return self


class QidoOptions(DicomwebOptions):
    """Options of ``qido``: one QIDO-RS search (PS3.18 10.6) at ``level`` (``study``: {url}/studies,
    ``series``: {url}/series or {url}/studies/{study_uid}/series, ``instance``: {url}/instances,
    {url}/studies/{study_uid}/instances or {url}/studies/{study_uid}/series/{series_uid}/instances).
    ``query`` maps DICOM keywords to values: a value is a matching key ({keyword}={value}: ``*``/``?``
    wildcards, ``a-b`` ranges, ``u1,u2`` UID lists as the server supports them), ``""`` asks for the attribute
    (``includefield={keyword}``).

    Result: ``{"url" (the full query URL), "http_status", "level", "count", "matches": [DICOM JSON (PS3.18 F.2)
    of each match, in the order received], "timings_ms": {"total"}}``. HTTP 204 (no match) is ``count`` 0.
    """

    level: QidoLevel = Field("study", description="study, series or instance.")
    study_uid: str | None = Field(None, description="Search the series/instances of this study.")
    series_uid: str | None = Field(None, description="Search the instances of this series (needs study_uid).")
    query: dict[str, str] = Field(
        default_factory=dict, max_length=64, description="Query keys: DICOM keyword -> value ('' = include it)."
    )
    limit: int | None = Field(None, ge=1, le=100_000, description="At most this many matches (QIDO limit=).")
    fuzzymatching: bool = Field(False, description="Ask for fuzzy matching of person names (fuzzymatching=true).")

    @model_validator(mode="after")
    def _check_query(self) -> QidoOptions:
        _check_uid("study_uid", self.study_uid)
        _check_uid("series_uid", self.series_uid)
        if self.level == "study" and (self.study_uid or self.series_uid):
            raise OptionError("study_uid", "a study-level search takes no study_uid/series_uid: use query")
        if self.series_uid and not self.study_uid:
            raise OptionError("series_uid", "series_uid needs study_uid")
        if self.level == "series" and self.series_uid:
            raise OptionError("series_uid", "a series-level search takes no series_uid: use query")
        for key, value in self.query.items():
            if not re.match(QUERY_KEY_PATTERN, key):
                raise OptionError(f"query.{key}"[:80], f"query key {key[:64]!r} is not a DICOM keyword")
            if len(value) > 1024 or any(ord(c) < 32 for c in value):
                raise OptionError(f"query.{key}", "a query value is at most 1024 characters, without control codes")
        return self


class WadoOptions(DicomwebOptions):
    """Options of ``wado``: WADO-RS retrieval (PS3.18 10.4) of a study ({url}/studies/{study_uid}), a series
    (+ ``series_uid``) or one instance (+ ``sop_instance_uid``) as ``multipart/related;
    type="application/dicom"``, each part written as it was received to ``<output>/<SOP Instance UID>.dcm``
    (``output``: a folder, created if its parent exists; default ``<study_uid>.wado`` in the current directory).
    ``transfer_syntax``: ``"*"`` (default: as the server stores it, ``transfer-syntax=*``) or a contract name
    the server is asked to transcode to.

    Result: ``{"url", "http_status", "files", "instances": [{"file", "sop_instance_uid", "sop_class_uid",
    "transfer_syntax", "bytes"}], "bytes", "timings_ms": {"total"}}``, ordered as received. Nothing is written
    unless the whole answer was received and every part is a DICOM file (``backend_failed`` otherwise); an
    existing file is ``output_exists`` unless ``overwrite``.
    """

    study_uid: str = Field(..., description="The study to retrieve (or the study of the series/instance).")
    series_uid: str | None = Field(None, description="Retrieve this series only.")
    sop_instance_uid: str | None = Field(None, description="Retrieve this instance only (needs series_uid).")
    transfer_syntax: Literal["*"] | TransferSyntaxName = Field(
        "*", description="'*' (as stored) or the transfer syntax to ask for (contract name)."
    )

    @model_validator(mode="after")
    def _check_uids(self) -> WadoOptions:
        _check_uid("study_uid", self.study_uid)
        _check_uid("series_uid", self.series_uid)
        _check_uid("sop_instance_uid", self.sop_instance_uid)
        if self.sop_instance_uid and not self.series_uid:
            raise OptionError("sop_instance_uid", "sop_instance_uid needs series_uid")
        return self

    @property
    def transfer_syntax_uid(self) -> str:
        return "*" if self.transfer_syntax == "*" else TRANSFER_SYNTAXES[self.transfer_syntax]


class StowRequest(RequestBase):
    """Store a DICOM file, or every file under a folder, on a DICOMweb service (STOW-RS)."""

    op: Literal["stow"]
    input: str = Field(..., min_length=1, max_length=4096, description="A DICOM file, or a folder of them.")
    options: StowOptions


class QidoRequest(RequestBase):
    """Search a DICOMweb service (QIDO-RS)."""

    op: Literal["qido"]
    input: None = Field(None, description="qido reads no file: leave it out.")  # type: ignore[assignment]
    options: QidoOptions


class WadoRequest(RequestBase):
    """Retrieve a study, series or instance from a DICOMweb service (WADO-RS) into a folder."""

    op: Literal["wado"]
    input: None = Field(None, description="wado reads no file: leave it out.")  # type: ignore[assignment]
    options: WadoOptions
