"""Options and requests of the ops beyond ``to_image``: dump, info, stats, histogram, transcode, anonymize.

Each op has a typed options model (unknown keys rejected) and a request class; ``catalog.OPS`` lists them.
The result each op returns (``Response.result``) is documented on its options model, precisely enough for
another backend (e.g. rust_render) to produce identical numbers.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dcmharness.contract.models import RequestBase
from dcmharness.contract.options import OptionError

ValueSpace = Literal["modality", "stored"]
BulkData = Literal["omit", "inline", "uri"]

#: Transfer syntaxes ``transcode`` can target: contract name -> UID.
TRANSFER_SYNTAXES: dict[str, str] = {
    "implicit_vr_little_endian": "1.2.840.10008.1.2",
    "explicit_vr_little_endian": "1.2.840.10008.1.2.1",
    "deflated_explicit_vr_little_endian": "1.2.840.10008.1.2.1.99",
    "rle_lossless": "1.2.840.10008.1.2.5",
    "jpeg_lossless_sv1": "1.2.840.10008.1.2.4.70",
    "jpeg_ls_lossless": "1.2.840.10008.1.2.4.80",
    "jpeg_2000_lossless": "1.2.840.10008.1.2.4.90",
    "jpeg_baseline": "1.2.840.10008.1.2.4.50",
    "jpeg_ls_near_lossless": "1.2.840.10008.1.2.4.81",
    "jpeg_2000": "1.2.840.10008.1.2.4.91",
}
#: The targets whose decoded pixels must be bit-identical to the input's.
LOSSLESS_TARGETS: tuple[str, ...] = (
    "implicit_vr_little_endian",
    "explicit_vr_little_endian",
    "deflated_explicit_vr_little_endian",
    "rle_lossless",
    "jpeg_lossless_sv1",
    "jpeg_ls_lossless",
    "jpeg_2000_lossless",
)
TransferSyntaxName = Literal[
    "implicit_vr_little_endian",
    "explicit_vr_little_endian",
    "deflated_explicit_vr_little_endian",
    "rle_lossless",
    "jpeg_lossless_sv1",
    "jpeg_ls_lossless",
    "jpeg_2000_lossless",
    "jpeg_baseline",
    "jpeg_ls_near_lossless",
    "jpeg_2000",
]
DEFAULT_PERCENTILES: tuple[float, ...] = (1.0, 5.0, 25.0, 50.0, 75.0, 95.0, 99.0)


class _OpOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def _check_frame(frame: int | str) -> None:
    if isinstance(frame, int) and (isinstance(frame, bool) or frame < 0):
        raise OptionError("frame", 'frame must be a 0-based integer >= 0 or "all"')


class DumpOptions(_OpOptions):
    """Options of ``dump``: the dataset as the DICOM JSON model (PS3.18 F.2), written to ``output`` (.json).

    Result: ``{"attributes": <top-level attribute count>, "transfer_syntax": uid, "bulk_data": mode}``.
    The file is one JSON object keyed by 8-hex-digit upper-case tags, each ``{"vr", "Value"|"InlineBinary"}``.
    """

    bulk_data: BulkData = Field(
        "omit",
        description='Binary values (OB/OD/OF/OL/OV/OW/UN) longer than bulk_threshold bytes: "omit" writes the '
        'attribute with its vr only; "inline" writes them base64 (InlineBinary); "uri" writes each to a file next '
        "to the output (<output stem>.bulk0001.bin, ...: the value's bytes as stored) and refers to it by a "
        "relative BulkDataURI, which from_json reads back.",
    )
    bulk_threshold: int = Field(1024, ge=0, le=1 << 30, description="Bytes above which a binary value is bulk data.")
    include_meta: bool = Field(False, description="Also write the File Meta Information (group 0002).")


class InfoOptions(_OpOptions):
    """Options of ``info``: a normalised summary of the file; nothing is written.

    Result: ``{"sop_class_uid", "sop_instance_uid", "study_instance_uid", "series_instance_uid",
    "frame_of_reference_uid", "patient_id", "patient_name", "study_date", "modality", "transfer_syntax",
    "rows", "columns", "frames", "samples_per_pixel", "photometric", "bits_allocated", "bits_stored",
    "high_bit", "pixel_representation", "planar_configuration", "pixel_spacing" ([row, col] mm or null),
    "slice_thickness", "image_position", "image_orientation", "rescale_slope", "rescale_intercept",
    "has_pixel_data", "number_of_attributes"}``; strings trimmed, absent values null, numbers as numbers.
    """

    include_private: bool = Field(False, description="Count private attributes in number_of_attributes.")


class StatsOptions(_OpOptions):
    """Options of ``stats``: statistics of the pixel values of each frame; nothing is written.

    Values: ``stored`` are the decoded stored values (masked to Bits Stored, sign-extended); ``modality``
    are those after the Modality LUT stage (Rescale Slope/Intercept in float64, or the Modality LUT;
    identity when neither is present, and for colour images). All samples of a frame count (colour: R, G
    and B together).

    Result: ``{"values": "modality"|"stored", "modality_lut": "rescale"|"lut"|"identity"|"disabled",
    "frames": [{"frame", "count", "zero_count", "unique", "min", "max", "mean", "std", "percentiles"}]}``
    with ``mean`` the float64 arithmetic mean, ``std`` the population standard deviation (ddof = 0),
    ``percentiles`` a map from ``format(p, "g")`` (e.g. "1", "2.5", "50") to the linearly interpolated
    percentile (Hyndman-Fan type 7, numpy's default: rank ``p/100 * (count - 1)`` in the sorted values),
    ``unique`` the number of distinct values, ``zero_count`` the values equal to 0.
    """

    frame: int | Literal["all"] = Field("all", description='0-based frame, or "all" (one entry per frame).')
    values: ValueSpace = Field("modality", description="Statistics of modality values or of stored values.")
    percentiles: list[float] = Field(
        default_factory=lambda: list(DEFAULT_PERCENTILES),
        max_length=101,
        description="Percentiles to report, each 0..100 (linear interpolation, numpy's default).",
    )

    @model_validator(mode="after")
    def _check(self) -> StatsOptions:
        _check_frame(self.frame)
        if any(not 0.0 <= p <= 100.0 for p in self.percentiles):
            raise OptionError("percentiles", "percentiles must be within 0..100")
        return self


class HistogramOptions(_OpOptions):
    """Options of ``histogram``: a histogram of each frame's pixel values; nothing is written.

    ``bins`` equal-width bins over ``range`` [lo, hi] (default: the frame's min and max; lo - 0.5 and
    hi + 0.5 when they are equal). A value x falls into bin ``floor((x - lo) * bins / (hi - lo))``, and
    x == hi into the last bin; values outside the range are counted in ``below`` / ``above``.

    Result: ``{"values", "modality_lut", "frames": [{"frame", "range": [lo, hi], "bins", "counts": [..],
    "below", "above"}]}``. The edges are ``lo + i * (hi - lo) / bins`` for i = 0..bins.
    """

    frame: int | Literal["all"] = Field("all", description='0-based frame, or "all" (one entry per frame).')
    values: ValueSpace = Field("modality", description="Histogram of modality values or of stored values.")
    bins: int = Field(256, ge=1, le=65536, description="Number of equal-width bins.")
    range: list[float] | None = Field(
        None, min_length=2, max_length=2, description="[lo, hi] of the bins; default the frame's min/max."
    )

    @model_validator(mode="after")
    def _check(self) -> HistogramOptions:
        _check_frame(self.frame)
        if self.range is not None and not self.range[0] < self.range[1]:
            raise OptionError("range", "range must be [lo, hi] with lo < hi")
        return self


class TranscodeOptions(_OpOptions):
    """Options of ``transcode``: rewrite the file in another transfer syntax, written to ``output`` (.dcm).

    Result: ``{"transfer_syntax": uid, "transfer_syntax_name": name, "lossless": bool,
    "input_transfer_syntax": uid, "size_bytes": int}``. The backend checks the written file declares the
    requested transfer syntax. Lossless targets must decode to pixels bit-identical to the input's.
    """

    transfer_syntax: TransferSyntaxName = Field(
        "explicit_vr_little_endian", description="The target transfer syntax (contract name)."
    )
    quality: int | None = Field(None, ge=1, le=100, description="JPEG quality 1..100 (jpeg_baseline only).")
    near_lossless: int | None = Field(
        None, ge=1, le=255, description="JPEG-LS NEAR (max error) for jpeg_ls_near_lossless (default 2)."
    )
    compression_ratio: float | None = Field(
        None, gt=1, le=1000, description="Target compression ratio for lossy jpeg_2000 (default 10)."
    )

    @model_validator(mode="after")
    def _check(self) -> TranscodeOptions:
        if self.quality is not None and self.transfer_syntax != "jpeg_baseline":
            raise OptionError("quality", "quality applies to transfer_syntax jpeg_baseline only")
        if self.near_lossless is not None and self.transfer_syntax != "jpeg_ls_near_lossless":
            raise OptionError("near_lossless", "near_lossless applies to transfer_syntax jpeg_ls_near_lossless only")
        if self.compression_ratio is not None and self.transfer_syntax != "jpeg_2000":
            raise OptionError("compression_ratio", "compression_ratio applies to transfer_syntax jpeg_2000 only")
        return self

    @property
    def uid(self) -> str:
        return TRANSFER_SYNTAXES[self.transfer_syntax]

    @property
    def lossless(self) -> bool:
        return self.transfer_syntax in LOSSLESS_TARGETS


class AnonymizeOptions(_OpOptions):
    """Options of ``anonymize``: the PS3.15 E.1 Basic Application Level Confidentiality Profile.

    The action of every attribute comes from the standard's Table E.1-1 (as published by the
    ``dicom-anonymizer`` package's database). Written to ``output`` (.dcm); the input is never modified.

    Result: ``{"profile": "basic", "table": <source of the action table>, "removed": n, "emptied": n,
    "replaced": n, "uids_remapped": n, "private_removed": n, "date_shift_days": int|null,
    "uid_map": {old: new}}``.
    """

    retain_uids: bool = Field(False, description="Retain UIDs Option: keep every UID (otherwise remapped).")
    date_shift_days: int | None = Field(
        None,
        ge=-365_000,
        le=365_000,
        description="Retain Longitudinal Temporal Information with Modified Dates: shift every date (DA, DT) "
        "that the profile would remove or replace by this many days instead (times kept).",
    )
    uid_secret: str | None = Field(
        None,
        min_length=1,
        max_length=256,
        description="Key of the deterministic UID remapping: the same secret maps the same UID to the same new "
        "UID in every file of a batch (2.25.<128 bits of HMAC-SHA256>). Default: a random key per request.",
    )
    remove_private_tags: bool = Field(True, description="Remove every private attribute (the profile's default).")
    patient_id: str | None = Field(
        None, max_length=64, description="Replacement Patient ID (default: derived from the UID key and the old ID)."
    )


class DumpRequest(RequestBase):
    """Write the dataset as DICOM JSON (PS3.18 F.2)."""

    op: Literal["dump"]
    options: DumpOptions = Field(default_factory=DumpOptions)


class InfoRequest(RequestBase):
    """Summarise the file (identifiers, geometry, pixel module, transfer syntax)."""

    op: Literal["info"]
    options: InfoOptions = Field(default_factory=InfoOptions)


class StatsRequest(RequestBase):
    """Pixel statistics per frame."""

    op: Literal["stats"]
    options: StatsOptions = Field(default_factory=StatsOptions)


class HistogramRequest(RequestBase):
    """Pixel histogram per frame."""

    op: Literal["histogram"]
    options: HistogramOptions = Field(default_factory=HistogramOptions)


class TranscodeRequest(RequestBase):
    """Rewrite the file in another transfer syntax."""

    op: Literal["transcode"]
    options: TranscodeOptions = Field(default_factory=TranscodeOptions)


class AnonymizeRequest(RequestBase):
    """De-identify the file (PS3.15 E.1 basic profile)."""

    op: Literal["anonymize"]
    options: AnonymizeOptions = Field(default_factory=AnonymizeOptions)


#: The normalised kinds of a validation finding, shared by every validator (``validate``).
FindingKind = Literal[
    "missing_type1",
    "empty_type1",
    "missing_type2",
    "missing_conditional",
    "not_permitted",
    "bad_vr",
    "bad_vm",
    "bad_value",
    "bad_enumerated_value",
    "bad_uid",
    "bad_date_time",
    "unknown_sop_class",
    "not_in_iod",
    "bad_file_meta",
    "unreadable",
    "other",
]
FINDING_KINDS: tuple[str, ...] = FindingKind.__args__  # type: ignore[attr-defined]
Severity = Literal["error", "warning"]


class Finding(BaseModel):
    """One finding of a validator, normalised (``validate``'s ``result.findings`` items).

    ``tag`` is 8 upper-case hex digits (``00100010``), ``path`` the attribute's place inside sequences
    (``52009229[0].00289145[0].00281054``, items 0-based; null at the top level), ``module`` the module the
    validator named (its own spelling), ``message`` the validator's own words. Findings are matched across
    validators by (kind, tag, path).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    severity: Severity
    kind: FindingKind
    tag: str | None = None
    keyword: str | None = None
    path: str | None = None
    module: str | None = None
    message: str


class ValidateOptions(_OpOptions):
    """Options of ``validate``: check the file against its IOD (PS3.3) and the data dictionary (PS3.6).

    Result: ``{"valid": bool (no error-severity finding), "errors": n, "warnings": n, "iod": name|null,
    "sop_class_uid": uid|null, "validator": what ran (tool and data edition), "findings": [Finding...]}``.
    An invalid file is a successful validation (``ok: true``, ``valid: false``); only a validator that could
    not run answers ``ok: false``.
    """

    include_warnings: bool = Field(True, description="Also list warning-severity findings.")


class ValidateRequest(RequestBase):
    """Validate the file against its IOD and the data dictionary."""

    op: Literal["validate"]
    options: ValidateOptions = Field(default_factory=ValidateOptions)


class DecodeOptions(_OpOptions):
    """Options of ``decode``: the stored values of one frame or all, before any display stage, as ``.npy``.

    The array is rows x cols [x samples], frames first when ``frame`` is ``"all"`` and the file has several;
    little-endian; signed values sign-extended, unused high bits masked (BitsStored at HighBit); PALETTE
    COLOR left as indices, MONOCHROME1 not inverted, YBR left as YBR unless ``color_space`` is ``"rgb"``
    (PS3.3 C.7.6.3.1.2 YBR_FULL -> RGB). dtype: the smallest of int8/uint8/int16/uint16/int32/uint32 that holds
    BitsAllocated with the Pixel Representation's signedness.

    Result: ``{"shape": [..], "dtype", "md5": md5 of the array's bytes (C order, little-endian),
    "frames": [0-based], "photometric": of the values written, "color_space", "transfer_syntax", "decoder"}``.
    """

    frame: int | Literal["all"] = Field("all", description='0-based frame, or "all" (frames first).')
    color_space: Literal["native", "rgb"] = Field(
        "native", description='"native": as stored (YBR stays YBR); "rgb": YBR converted to RGB.'
    )

    @model_validator(mode="after")
    def _check(self) -> DecodeOptions:
        _check_frame(self.frame)
        return self


class DecodeRequest(RequestBase):
    """Decode the stored pixel values to an .npy array."""

    op: Literal["decode"]
    options: DecodeOptions = Field(default_factory=DecodeOptions)


# --- DICOM networking (issue 16): echo (C-ECHO), store (C-STORE) ------------------------------------------

#: An AE title (PS3.5 Table 6.2-1, AE): 1-16 characters of the default repertoire, no backslash, no control
#: character, not only spaces (leading and trailing spaces are not significant).
AE_TITLE_PATTERN = r"^[\x20-\x5b\x5d-\x7e]{1,16}$"
#: A host name or an IPv4/IPv6 literal: letters, digits, '.', '-', ':', not starting with '-' (a tool would read
#: it as an option); nothing a shell or URL would read.
HOST_PATTERN = r"^[A-Za-z0-9:][A-Za-z0-9.:\-]{0,252}$"


class NetworkOptions(_OpOptions):
    """Options every DICOM network op shares: the peer, the AE titles, the timeout, the transfer syntaxes."""

    host: str = Field("127.0.0.1", pattern=HOST_PATTERN, description="The peer's host name or IP address.")
    port: int = Field(..., ge=1, le=65535, description="The peer's TCP port.")
    called_aet: str = Field("ANY-SCP", pattern=AE_TITLE_PATTERN, description="The peer's AE title (called AE).")
    calling_aet: str = Field("DCMHARNESS", pattern=AE_TITLE_PATTERN, description="Our AE title (calling AE).")
    timeout: float = Field(
        10.0,
        gt=0,
        le=600,
        description="Seconds each network step may wait: the TCP connection, the association answer, each "
        "DIMSE response. A peer silent for longer is a network_error.",
    )
    transfer_syntaxes: list[TransferSyntaxName] | None = Field(
        None,
        min_length=1,
        max_length=10,
        description="Transfer syntaxes to propose (contract names), in order of preference. Default: echo "
        "proposes implicit and explicit VR little endian; store proposes each file's own transfer syntax.",
    )

    @model_validator(mode="after")
    def _check(self) -> NetworkOptions:
        for name in ("called_aet", "calling_aet"):
            if not getattr(self, name).strip():
                raise OptionError(name, f"{name} must not be only spaces")
        if self.transfer_syntaxes is not None and len(set(self.transfer_syntaxes)) != len(self.transfer_syntaxes):
            raise OptionError("transfer_syntaxes", "transfer_syntaxes lists a transfer syntax twice")
        return self

    @property
    def transfer_syntax_uids(self) -> list[str] | None:
        return None if self.transfer_syntaxes is None else [TRANSFER_SYNTAXES[n] for n in self.transfer_syntaxes]


class EchoOptions(NetworkOptions):
    """Options of ``echo``: one C-ECHO (Verification SOP Class, PS3.4 Annex A) over a new association.

    Result: ``{"status": "0x0000", "status_meaning": "Success", "peer": {"host", "port", "called_aet",
    "calling_aet"}, "accepted_contexts": [{"abstract_syntax": uid, "transfer_syntax": uid}],
    "transfer_syntax": uid (of the C-ECHO), "timings_ms": {"association", "dimse", "total"}}``.
    A non-success status is ``dimse_failure``; a rejected association ``association_rejected``.
    """


class StoreOptions(NetworkOptions):
    """Options of ``store``: C-STORE (Storage Service Class, PS3.4 Annex B) of ``input`` (a file, or every
    file under a folder) over ONE association. Every file is read (header) before connecting: a file that is
    not DICOM is ``not_dicom`` and nothing is sent. With ``transfer_syntaxes`` given, exactly those are
    proposed for each SOP class and a file in another transfer syntax is refused before connecting (no
    backend re-encodes in transit).

    Result: ``{"files": n, "stored": n, "warnings": n, "status": "0x0000" (the worst), "status_meaning",
    "peer": {...}, "accepted_contexts": [{"abstract_syntax", "transfer_syntax"}], "instances":
    [{"file", "sop_instance_uid", "transfer_syntax", "status", "status_meaning"}], "bytes": total file size,
    "timings_ms": {"association", "dimse" (all C-STOREs), "total"}}``. A failure status on any file is
    ``dimse_failure`` naming the file (the files after it are not sent).
    """


class EchoRequest(RequestBase):
    """Verify a DICOM peer (C-ECHO)."""

    op: Literal["echo"]
    input: None = Field(None, description="echo reads no file: leave it out.")  # type: ignore[assignment]
    options: EchoOptions


class StoreRequest(RequestBase):
    """Send a DICOM file, or every file under a folder, to a peer (C-STORE, one association)."""

    op: Literal["store"]
    input: str = Field(..., min_length=1, max_length=4096, description="A DICOM file, or a folder of them.")
    options: StoreOptions


# --- find (C-FIND) ---------------------------------------------------------------------------------------------

QueryLevel = Literal["patient", "study", "series", "image"]
QueryModel = Literal["study_root", "patient_root"]
#: A query key: a DICOM keyword (checked against the data dictionary when the request is prepared).
QUERY_KEY_PATTERN = r"^[A-Za-z][A-Za-z0-9]{0,63}$"


class FindOptions(NetworkOptions):
    """Options of ``find``: one C-FIND (Query/Retrieve, PS3.4 Annex C) at ``level`` in the ``model`` information
    model, over a new association. ``query`` maps DICOM keywords to values: ``""`` asks for the attribute
    (universal matching), ``*`` / ``?`` are wildcards, ``a-b`` a date/time range, ``u1\\u2`` a UID list (PS3.4
    C.2.2.2). Query/Retrieve Level is set from ``level``.

    Result: ``{"status": "0x0000" (the final status), "status_meaning", "level", "model", "count",
    "matches": [DICOM JSON (PS3.18 F.2) of each pending response's identifier, in the order received],
    "peer", "accepted_contexts", "timings_ms"}``.
    """

    level: QueryLevel = Field("study", description="Query/Retrieve Level: patient, study, series or image.")
    model: QueryModel = Field("study_root", description="The information model: study_root or patient_root.")
    query: dict[str, str] = Field(
        default_factory=dict, max_length=64, description="Query keys: DICOM keyword -> value ('' = return it)."
    )

    @model_validator(mode="after")
    def _check_query(self) -> FindOptions:
        import re

        if self.level == "patient" and self.model != "patient_root":
            raise OptionError("level", "the patient level exists in the patient_root model only")
        for key, value in self.query.items():
            if not re.match(QUERY_KEY_PATTERN, key):
                raise OptionError(f"query.{key}"[:80], f"query key {key[:64]!r} is not a DICOM keyword")
            if key == "QueryRetrieveLevel":
                raise OptionError("query.QueryRetrieveLevel", "the Query/Retrieve Level is set by level")
            if len(value) > 1024 or "\x00" in value:
                raise OptionError(f"query.{key}", "a query value is at most 1024 characters, without NUL")
        return self


class FindRequest(RequestBase):
    """Query a DICOM peer (C-FIND)."""

    op: Literal["find"]
    input: None = Field(None, description="find reads no file: leave it out.")  # type: ignore[assignment]
    options: FindOptions


# --- get (C-GET) -----------------------------------------------------------------------------------------------


class GetOptions(FindOptions):
    """Options of ``get``: one C-GET (Query/Retrieve, PS3.4 C.4.3) at ``level`` in the ``model`` information model,
    over a new association; the peer sends the matching instances back over the same association (C-STORE
    sub-operations, the harness in the SCP role). ``query`` as for ``find`` (the level's unique key selects:
    e.g. ``{"StudyInstanceUID": "1.2.3"}`` at study level). ``transfer_syntaxes``: the transfer syntaxes proposed
    for the instances received (in order of preference; default: explicit, implicit VR little endian first, then
    every compressed one pynetdicom knows).

    ``output`` is a folder (created if its parent exists): each instance received is written as
    ``<SOP Instance UID>.dcm`` (File Meta Information + the data set as received). Nothing is written unless the
    C-GET ends with a success or warning status; an instance whose file exists is ``output_exists`` (nothing
    written) unless ``overwrite``.

    Result: ``{"status" (final), "status_meaning", "level", "model", "sub_operations": {"completed", "failed",
    "warning", "remaining"}, "count", "files": [{"file", "sop_instance_uid", "sop_class_uid", "transfer_syntax"}],
    "peer", "accepted_contexts", "bytes", "timings_ms": {"association", "dimse", "total"}}``.
    """


class GetRequest(RequestBase):
    """Retrieve instances from a DICOM peer into a folder (C-GET)."""

    op: Literal["get"]
    input: None = Field(None, description="get reads no file: leave it out.")  # type: ignore[assignment]
    output: str = Field(  # type: ignore[assignment]
        ..., min_length=1, max_length=4096, description="The folder the retrieved instances are written to."
    )
    options: GetOptions


# --- modify (issue 15): set, insert, erase attributes; regenerate UIDs ----------------------------------------

#: An attribute path: steps separated by ``.``, each a keyword (``SeriesInstanceUID``) or a tag
#: (``(0020,000E)``, ``0020000E``); every step but the last is a sequence with a 0-based item index
#: (``ReferencedSeriesSequence[0].SeriesInstanceUID``, ``(0008,1115)[0].(0020,000E)``).
ATTRIBUTE_PATH_PATTERN = (
    r"^(?:(?:[A-Za-z][A-Za-z0-9]{0,63}|\([0-9A-Fa-f]{4},[0-9A-Fa-f]{4}\)|[0-9A-Fa-f]{8})\[[0-9]{1,6}\]\.){0,8}"
    r"(?:[A-Za-z][A-Za-z0-9]{0,63}|\([0-9A-Fa-f]{4},[0-9A-Fa-f]{4}\)|[0-9A-Fa-f]{8})$"
)
#: The value representations a ``modify``/``insert`` value may have (text and numbers; PS3.5 6.2).
SettableVR = Literal[
    "AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI", "UR", "UT",
    "US", "SS", "UL", "SL", "UV", "SV", "FL", "FD", "AT",
]  # fmt: skip
UidLevel = Literal["study", "series", "instance"]
AttributePath = Annotated[str, Field(min_length=1, max_length=600, pattern=ATTRIBUTE_PATH_PATTERN)]


class Assignment(BaseModel):
    """One attribute and the value to give it (``modify``'s ``modify`` and ``insert`` items).

    ``value`` is the DICOM string form, as dcmodify takes it: several values separated by backslash
    (``"1\\\\2"``), numbers in decimal (``"512"``, ``"-1.5"``), an empty string for an empty value. ``vr`` is
    required for a private attribute (the data dictionary does not know it) and must otherwise be the
    dictionary's (or one of its choices, e.g. US or SS).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    path: AttributePath
    value: str = Field(..., max_length=65_536)
    vr: SettableVR | None = Field(None, description="Value representation; required for private attributes.")


class ModifyOptions(_OpOptions):
    """Options of ``modify``: change attributes of a copy of the file, written to ``output`` (.dcm).

    The vocabulary is dcmodify's: ``erase`` (``-e``) removes attributes, ``modify`` (``-m``) changes
    attributes that exist (an absent one is ``invalid_request``), ``insert`` (``-i``) inserts or overwrites
    (the sequence items on its path must exist), ``regenerate_uids`` (``-gst``/``-gse``/``-gin``) gives new
    Study / Series / SOP Instance UIDs (the File Meta Information's Media Storage SOP Instance UID follows the
    SOP Instance UID, regenerated or set). Applied in that order; a path may appear once in all. Values are
    checked against the attribute's VR before anything runs (``invalid_request`` naming e.g.
    ``options.insert[0].value``). A change that leaves a Type 1 attribute of the file's IOD absent or empty
    is done, and said in ``warnings``.

    Result: ``{"erased": n, "modified": n, "inserted": n, "uids": {"StudyInstanceUID": {"old", "new"}, ...},
    "sop_instance_uid": uid, "media_storage_sop_instance_uid": uid}``.
    """

    modify: list[Assignment] = Field([], max_length=256, description="Change existing attributes (-m).")
    insert: list[Assignment] = Field([], max_length=256, description="Insert or overwrite attributes (-i).")
    erase: list[AttributePath] = Field([], max_length=256, description="Remove attributes (-e): paths.")
    regenerate_uids: list[UidLevel] = Field(
        [], max_length=3, description='New UIDs: "study" (-gst), "series" (-gse), "instance" (-gin).'
    )

    @model_validator(mode="after")
    def _check(self) -> ModifyOptions:
        if len(set(self.regenerate_uids)) != len(self.regenerate_uids):
            raise OptionError("regenerate_uids", "a level is listed twice")
        return self


class ModifyRequest(RequestBase):
    """Set, insert or erase attributes; regenerate UIDs (the input is never modified in place)."""

    op: Literal["modify"]
    options: ModifyOptions
# --- from_json (issue 15): a DICOM JSON document -> a DICOM file ------------------------------------------------


class FromJsonOptions(_OpOptions):
    """Options of ``from_json``: a DICOM JSON document (PS3.18 F.2: one object, or an array of exactly one, as
    ``dump`` writes it) -> a DICOM file (Part 10, preamble and File Meta Information), written to ``output``
    (.dcm). The inverse of ``dump`` with ``bulk_data: "inline"`` (and ``include_meta`` for the file meta).

    Binary values are ``InlineBinary`` (base64) or ``BulkDataURI``: a path or ``file:`` URI relative to the JSON
    document's folder (absolute ones must lie inside it), optionally with ``?offset=N&length=N``; a URI with any
    other scheme (http, https, ...) is never fetched (``remote_bulk_data``, ``field`` names the element).

    File meta: the document's (0002,xxxx) elements when present (missing required ones are derived:
    Media Storage SOP Class/Instance UID from the data set, the implementation UID of the writer); otherwise
    built with ``transfer_syntax`` (default Explicit VR Little Endian). Pixel Data in encapsulated
    (compressed) form needs a declared encapsulated transfer syntax, and native Pixel Data a native one.
    Nothing is re-encoded: the transfer syntax declares how the values are written.

    Result: ``{"attributes": <top-level data set attributes>, "transfer_syntax": uid, "meta_from_document":
    bool, "bulk_data_uris": n (resolved), "inline_binaries": n, "size_bytes": int}``.
    """

    transfer_syntax: TransferSyntaxName | None = Field(
        None,
        description="The transfer syntax to write when the document has no Transfer Syntax UID (0002,0010); "
        "default Explicit VR Little Endian. Refused when it contradicts the document's.",
    )


class FromJsonRequest(RequestBase):
    """Build a DICOM file from a DICOM JSON document (PS3.18 F.2)."""

    op: Literal["from_json"]
    input: str = Field(  # type: ignore[assignment]
        ..., min_length=1, max_length=4096, description="Path of the DICOM JSON document (.json)."
    )
    options: FromJsonOptions = Field(default_factory=FromJsonOptions)
