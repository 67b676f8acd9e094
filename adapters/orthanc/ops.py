"""Orthanc's ops beyond ``to_image``: ``dump`` and ``info`` (DICOMweb WADO-RS metadata), ``transcode``
(``/instances/{id}/modify`` with ``"Transcode"``), ``anonymize`` (``/instances/{id}/anonymize``) and
``decode`` (``/instances/{id}/frames/{n}/numpy``, ``decode.py``).

``adapters/orthanc.py`` owns the backend (server life cycle, upload, delete, HTTP); this module holds the
pure request building, the refusals and the per-op execution it delegates to. Every request uploads the
input, works on the stored instance and deletes it afterwards (also on failure). ``modify`` and
``anonymize`` on one instance answer the new file in the HTTP body and store nothing, so the uploaded
instance is the only one to delete (the live tests check the server is empty after each request).

Facts checked against Orthanc 1.10.1 + DICOMweb plugin 1.7 + GDCM plugin 1.5 (Debian 12):

- dump: ``GET /dicom-web/studies/{st}/series/{se}/instances/{sop}/metadata`` (Accept
  ``application/dicom+json``) gives the data set without group 0002, every binary value (OB OD OF OL OV OW
  UN, Pixel Data included) as a ``BulkDataURI`` to ``.../bulk/{tag path}`` whatever its size. The adapter
  fetches those values (``multipart/related``, one part) and writes them inline or omits them per
  ``bulk_data``/``bulk_threshold``. Encapsulated Pixel Data is served as its frames, not as the
  encapsulated value: it is omitted when the frames alone exceed the threshold, otherwise refused.
  ``include_meta`` is refused: the metadata route has no group 0002 and the core ``/header`` route gives
  no VRs and leaves out binary meta attributes (0002,0001).
- transcode: with the GDCM plugin loaded, ``/modify`` + ``"Transcode"`` kills the server (SIGSEGV) within
  a few calls, whatever the target (reproduced with and without ``"BuiltinDecoderTranscoderOrder":
  "Before"``; never without the plugin). Transcoding therefore runs on a second private server of ours
  without the GDCM plugin (same life cycle, ``dcmharness.adapters.orthanc.server``), i.e. with Orthanc's built-in
  DCMTK transcoder: explicit/implicit VR little endian, deflate, JPEG lossless SV1, JPEG-LS lossless,
  JPEG baseline (8-bit) and JPEG-LS near-lossless (8-bit, not PALETTE COLOR). It has no RLE encoder
  ("Cannot transcode to transfer syntax" except from RLE input) and no JPEG 2000 codec, so those targets
  and JPEG 2000 input are refused. Quality, NEAR and compression ratio cannot be chosen per request.
  Lossless targets keep the SOP Instance UID (``"Keep": ["SOPInstanceUID"], "Force": true``); lossy ones
  get a new one, as PS3.3 C.12.1.1.1 asks.
- anonymize: ``"DicomVersion": "2021b"`` (the newest table Orthanc 1.10 ships; the contract's is 2026c,
  see ``interface/conform/divergences.toml``); private attributes removed unless ``"KeepPrivateTags"``.
  Orthanc puts its generated ID into Patient Name (the profile says Z), keeps Instance Creation Date/Time
  (D in the contract's table), keeps overlay data and comments (60xx,3000/4000: X) and writes no
  De-identification Method: these are set through ``"Replace"``/``"Remove"`` (``"Force"`` needed), with
  the CID 7050 code sequence and the contract's Patient ID. UIDs get random replacements per call: no key,
  so ``uid_secret`` is refused, and neither ``retain_uids`` nor ``date_shift_days`` exists in 1.10.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import json
import secrets
import urllib.parse
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from dcmharness.adapters.base import Capability
from dcmharness.adapters.orthanc.client import HttpCall, http, instance_uids, server_failure, uid_of
from dcmharness.adapters.orthanc.decode import check_decode_input, run_decode
from dcmharness.adapters.orthanc.modify import check_modify, modify_capabilities
from dcmharness.adapters.runner import DEFAULT_TIMEOUT, ToolError
from dcmharness.backends.base import Outcome, unsupported
from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import RequestBase
from dcmharness.contract.ops_models import (
    AnonymizeOptions,
    AnonymizeRequest,
    DecodeRequest,
    DumpOptions,
    DumpRequest,
    InfoRequest,
    ModifyRequest,
    TranscodeOptions,
    TranscodeRequest,
)

if TYPE_CHECKING:  # the adapter calls execute_op with itself; a type-only reference, no import at run time
    from dcmharness.adapters.orthanc.adapter import OrthancAdapter

EXTRA_OPS = ("dump", "info", "transcode", "anonymize", "modify", "decode")
BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
#: Targets the built-in DCMTK transcoder of Orthanc 1.10 encodes (measured).
TRANSCODE_TARGETS = (
    "implicit_vr_little_endian",
    "explicit_vr_little_endian",
    "deflated_explicit_vr_little_endian",
    "jpeg_lossless_sv1",
    "jpeg_ls_lossless",
    "jpeg_baseline",
    "jpeg_ls_near_lossless",
)
#: Targets refused, and why.
REFUSED_TARGETS = {
    "rle_lossless": "Orthanc 1.10's built-in (DCMTK) transcoder has no RLE encoder "
    "('Cannot transcode to transfer syntax: 1.2.840.10008.1.2.5')",
    "jpeg_2000_lossless": "JPEG 2000 needs Orthanc's GDCM plugin, whose transcoder crashes the server (SIGSEGV)",
    "jpeg_2000": "JPEG 2000 needs Orthanc's GDCM plugin, whose transcoder crashes the server (SIGSEGV)",
}
#: Input transfer syntaxes the transcoding server (no GDCM plugin) cannot decode.
UNDECODABLE_INPUTS = frozenset(
    {"1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.92", "1.2.840.10008.1.2.4.93"}
)
LOSSY = frozenset({"jpeg_baseline", "jpeg_ls_near_lossless", "jpeg_2000"})
#: The PS3.15 table edition Orthanc 1.10 applies.
DICOM_VERSION = "2021b"
METHOD = f"PS3.15 E.1 Basic Profile (Orthanc, DicomVersion {DICOM_VERSION})"
CANNOT_TRANSCODE = "Cannot transcode to transfer syntax"


def ops_capabilities() -> dict[str, dict[str, Capability]]:
    """The capability table of the extra ops (Orthanc 1.10 with the DICOMweb plugin)."""
    return {
        "dump": {"bulk_data": ("omit", "inline"), "bulk_threshold": True, "include_meta": (False,)},
        "info": {"include_private": True},
        "transcode": {
            "transfer_syntax": TRANSCODE_TARGETS,
            "quality": False,
            "near_lossless": False,
            "compression_ratio": False,
        },
        "anonymize": {
            "retain_uids": (False,),
            "date_shift_days": False,
            "uid_secret": False,
            "remove_private_tags": True,
            "patient_id": True,
        },
        "modify": modify_capabilities(),
        "decode": {"color_space": True},
    }


# -- pure request building -------------------------------------------------------------------------------
def _call(method: str, path: str, headers: tuple[tuple[str, str], ...] = ()) -> HttpCall:

    return HttpCall(method, path, (), headers)


def _q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def metadata_call(uids: tuple[str, str, str]) -> HttpCall:
    """WADO-RS Retrieve Instance Metadata (PS3.18 10.4) of the uploaded instance."""
    study, series, sop = (_q(u) for u in uids)
    return _call(
        "GET",
        f"/dicom-web/studies/{study}/series/{series}/instances/{sop}/metadata",
        (("Accept", "application/dicom+json"),),
    )


def bulk_call(uri: str, base: str) -> HttpCall:
    """GET one ``BulkDataURI`` of the metadata (absolute on the server, or a path) as a call on ``base``."""
    if uri.startswith(base.rstrip("/") + "/"):
        path = uri[len(base.rstrip("/")) :]
    else:
        parts = urllib.parse.urlsplit(uri)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
    return _call("GET", path, (("Accept", 'multipart/related; type="application/octet-stream"'),))


def modify_body(options: TranscodeOptions) -> dict[str, Any]:
    """The JSON body of ``/instances/{id}/modify`` for a transcode: lossless targets keep the SOP Instance UID."""
    body: dict[str, Any] = {"Transcode": options.uid}
    if options.lossless:
        body.update(Keep=["SOPInstanceUID"], Force=True)
    return body


def modify_call(instance_id: str) -> HttpCall:
    return _call("POST", f"/instances/{_q(instance_id)}/modify", (("Content-Type", "application/json"),))


#: Attributes the contract's table replaces (D) that Orthanc's 2021b anonymization keeps: tag -> dummy.
KEPT_BY_ORTHANC = {0x00080012: ("InstanceCreationDate", "19000101"), 0x00080013: ("InstanceCreationTime", "000000")}
#: Repeating-group elements (60xx) the profile removes (X) and Orthanc keeps: Overlay Data, Overlay Comments.
OVERLAY_REMOVED = (0x3000, 0x4000)


def profile_fixes(tags: frozenset[int]) -> tuple[dict[str, str], list[str]]:
    """(Replace, Remove) entries for the top-level ``tags`` of the input that the contract's profile treats
    differently from Orthanc's table: D dummies for Instance Creation Date/Time, overlay data and comments
    removed. Only attributes present are named (Orthanc's Replace would insert absent ones). Pure."""
    replace = {name: dummy for tag, (name, dummy) in KEPT_BY_ORTHANC.items() if tag in tags}
    remove = [
        f"{tag >> 16:04X},{tag & 0xFFFF:04X}"
        for tag in sorted(tags)
        if 0x6000 <= tag >> 16 <= 0x601E and (tag >> 16) % 2 == 0 and tag & 0xFFFF in OVERLAY_REMOVED
    ]
    return replace, remove


def anonymize_body(options: AnonymizeOptions, patient_id: str, tags: frozenset[int] = frozenset()) -> dict[str, Any]:
    """The JSON body of ``/instances/{id}/anonymize`` (options already checked against the capabilities);
    ``tags`` are the input's top-level tags (see ``profile_fixes``)."""
    from dcmharness.backends.python_ref.ops_anonymize import method_codes

    codes = [
        {"CodeValue": value, "CodingSchemeDesignator": "DCM", "CodeMeaning": meaning}
        for value, meaning in method_codes(options)
    ]
    replace, remove = profile_fixes(tags)
    body: dict[str, Any] = {
        "DicomVersion": DICOM_VERSION,
        "Force": True,  # Replace of PatientID needs it
        "Replace": {
            "PatientID": patient_id,
            "PatientName": "",
            **replace,
            "DeidentificationMethod": METHOD,
            "DeidentificationMethodCodeSequence": codes,
        },
    }
    if remove:
        body["Remove"] = remove
    if not options.remove_private_tags:
        body["KeepPrivateTags"] = True
    return body


def anonymize_call(instance_id: str) -> HttpCall:
    return _call("POST", f"/instances/{_q(instance_id)}/anonymize", (("Content-Type", "application/json"),))


def default_patient_id() -> str:
    """``ANON-`` + 16 hex digits: what the contract's default gives with its random per-request key."""
    return "ANON-" + secrets.token_hex(8)


def parse_multipart(body: bytes, content_type: str) -> list[bytes]:
    """The parts of a ``multipart/related`` answer (``[body]`` when it is not multipart). Pure."""
    if not content_type.lower().startswith("multipart/"):
        return [body]
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    parts: list[bytes] = []
    for part in message.iter_parts():
        payload = part.get_payload(decode=True)
        parts.append(payload if isinstance(payload, bytes) else b"")
    return parts


def bulk_uris(model: Any) -> Iterator[str]:
    """Every ``BulkDataURI`` of a DICOM JSON model, nested sequences included."""
    if isinstance(model, dict):
        for key, value in model.items():
            if key == "BulkDataURI" and isinstance(value, str):
                yield value
            else:
                yield from bulk_uris(value)
    elif isinstance(model, list):
        for item in model:
            yield from bulk_uris(item)


def shape_dump(model: Any, bulk: dict[str, bytes | None], options: DumpOptions) -> Any:
    """The model with every ``BulkDataURI`` replaced per the contract: ``InlineBinary`` (inline, or omit at
    most ``bulk_threshold`` bytes) or the bare vr (omitted). ``bulk`` maps URIs to their bytes (missing or
    None: omitted, e.g. encapsulated Pixel Data, never inlined). Pure."""
    if isinstance(model, list):
        return [shape_dump(v, bulk, options) for v in model]
    if not isinstance(model, dict):
        return model
    if isinstance(model.get("BulkDataURI"), str):
        out = {k: v for k, v in model.items() if k != "BulkDataURI"}
        data = bulk.get(model["BulkDataURI"])
        if data is None:
            return out
        if options.bulk_data == "inline" or len(data) <= options.bulk_threshold:
            out["InlineBinary"] = base64.b64encode(data).decode("ascii")
        return out
    return {k: shape_dump(v, bulk, options) for k, v in model.items()}


def pixel_data_uri(model: dict[str, Any]) -> str | None:
    elem = model.get("7FE00010")
    if isinstance(elem, dict) and isinstance(elem.get("BulkDataURI"), str):
        return str(elem["BulkDataURI"])
    return None


# -- refusals (before anything runs) ---------------------------------------------------------------------
def check_op_input(request: RequestBase, info: InputInfo | None) -> None:
    """The input-dependent refusals of the extra ops."""

    if info is None:
        return
    missing = [k for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID") if not uid_of(info.dataset, k)]
    if missing:
        raise HarnessError(
            ErrorCode.UNSUPPORTED_OPTION,
            f"orthanc stores only files with Study/Series/SOP Instance UIDs; this one lacks {', '.join(missing)}",
            "input",
        )
    if isinstance(request, DumpRequest) and request.options.bulk_data == "inline" and _encapsulated(info):
        raise unsupported(
            "bulk_data",
            "orthanc serves encapsulated Pixel Data as its frames, not as the encapsulated value DICOM JSON inlines",
        )
    if isinstance(request, TranscodeRequest):
        check_transcode_input(request.options, info)
    if isinstance(request, ModifyRequest):
        from dcmharness.backends.modify import resolve

        check_modify(resolve(request.options, info.dataset), info)
    if isinstance(request, DecodeRequest):
        check_decode_input(request, info)


def _encapsulated(info: InputInfo) -> bool:
    return info.has_pixel_data and info.is_compressed and info.transfer_syntax != "1.2.840.10008.1.2.1.99"


def check_transcode_input(options: TranscodeOptions, info: InputInfo) -> None:
    """Refusals of one transcode that depend on the input (pure apart from reading ``info``)."""
    target = options.transfer_syntax
    if target in REFUSED_TARGETS:
        raise unsupported("transfer_syntax", f"orthanc: {REFUSED_TARGETS[target]}")
    if info.transfer_syntax in UNDECODABLE_INPUTS:
        raise HarnessError(
            ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
            f"orthanc transcodes without its GDCM plugin (its transcoder crashes the server), so it cannot decode "
            f"JPEG 2000 input ({info.transfer_syntax})",
            "input",
        )
    if target in LOSSY and info.photometric.upper() == "PALETTE COLOR":
        raise unsupported("transfer_syntax", f"orthanc encodes PALETTE COLOR as RGB for {target} (measured)")
    if target == "jpeg_baseline" and info.bits_stored > 8:
        raise unsupported("transfer_syntax", f"JPEG baseline is 8-bit; the input has {info.bits_stored} bits stored")
    if target == "jpeg_ls_near_lossless" and info.bits_stored > 8:
        raise unsupported(
            "transfer_syntax",
            "orthanc's near-lossless JPEG-LS encoder answers 'Cannot transcode' for more than 8 bits stored (measured)",
        )


def _tool_error(code: ErrorCode, message: str, commands: list[str], stderr: str | None, field: str | None) -> ToolError:
    error = ToolError(code, message, commands, stderr)
    error.field = field
    return error


# -- running ---------------------------------------------------------------------------------------------
def execute_op(adapter: OrthancAdapter, request: RequestBase, info: InputInfo | None, plan: OutputPlan) -> Outcome:
    """Upload, run the op, delete; shape the result like python_ref's."""

    if info is None:
        raise HarnessError(ErrorCode.INTERNAL_ERROR, "no input description")
    transcoding = isinstance(request, TranscodeRequest)
    server = adapter.transcoding_server() if transcoding else adapter.server()
    uids = instance_uids(info.dataset)
    timeout = request.timeout or DEFAULT_TIMEOUT
    commands: list[str] = []
    warnings: list[str] = []
    log_offset = server.log_offset()
    try:
        with (
            adapter._same_uids(uids),
            adapter._stored(server, info.path.read_bytes(), timeout, commands, warnings, "used") as instance_id,
        ):
            if isinstance(request, DumpRequest | InfoRequest):
                result = _dump_or_info(request, info, plan, server.base_url, uids, timeout, commands)
            elif isinstance(request, TranscodeRequest):
                result = _transcode(request, info, plan, server.base_url, instance_id, timeout, commands)
            elif isinstance(request, AnonymizeRequest):
                result = _anonymize(request, info, plan, server.base_url, instance_id, timeout, commands)
            elif isinstance(request, ModifyRequest):
                result = _modify(request, info, plan, server.base_url, instance_id, timeout, commands)
                warnings.extend(result.pop("warnings"))
            elif isinstance(request, DecodeRequest):
                result = run_decode(request, info, plan, server.base_url, instance_id, timeout, commands)
            else:
                raise HarnessError(
                    ErrorCode.UNSUPPORTED_OPTION, f"orthanc does not implement op {getattr(request, 'op', '?')!r}", "op"
                )
    except ToolError as exc:
        raise server_failure(exc, server, log_offset, commands) from None
    return Outcome(result=result, command=commands, warnings=warnings)


def _dump_or_info(
    request: DumpRequest | InfoRequest,
    info: InputInfo,
    plan: OutputPlan,
    base: str,
    uids: tuple[str, str, str],
    timeout: float,
    commands: list[str],
) -> dict[str, Any]:
    from dcmharness.backends.python_ref.ops_dump import summarise

    call = metadata_call(uids)
    commands.append(call.describe(base))
    body, _ = http(call, base, None, timeout, commands)
    try:
        answer = json.loads(body)
    except ValueError:
        raise ToolError(
            ErrorCode.BACKEND_FAILED, "orthanc answered metadata that is not JSON", commands, None
        ) from None
    if not isinstance(answer, list) or len(answer) != 1 or not isinstance(answer[0], dict):
        raise ToolError(ErrorCode.BACKEND_FAILED, "orthanc answered no single instance's metadata", commands, None)
    model: dict[str, Any] = answer[0]
    if isinstance(request, InfoRequest):
        shaped = shape_dump(model, {}, DumpOptions(bulk_data="omit", bulk_threshold=0))
        return summarise(shaped, info.transfer_syntax, request.options.include_private)
    options = request.options
    pixel_uri = pixel_data_uri(model) if _encapsulated(info) else None
    bulk: dict[str, bytes | None] = {}
    for uri in dict.fromkeys(bulk_uris(model)):
        get = bulk_call(uri, base)
        commands.append(get.describe(base))
        data, ctype = http(get, base, None, timeout, commands)
        parts = parse_multipart(data, ctype)
        if uri == pixel_uri:
            size = sum(len(p) for p in parts)
            if size <= options.bulk_threshold:
                raise _tool_error(
                    ErrorCode.UNSUPPORTED_OPTION,
                    f"the encapsulated Pixel Data may be within bulk_threshold ({options.bulk_threshold} bytes; its "
                    f"frames total {size}), and orthanc serves only its frames, not the encapsulated value",
                    commands,
                    None,
                    "options.bulk_threshold",
                )
            bulk[uri] = None
        else:
            bulk[uri] = b"".join(parts)
    shaped = shape_dump(model, bulk, options)
    text = json.dumps(shaped, indent=1, ensure_ascii=False, allow_nan=False)
    plan.targets[0].temp.write_text(text + "\n", encoding="utf-8")
    return {"attributes": len(shaped), "transfer_syntax": info.transfer_syntax, "bulk_data": options.bulk_data}


def _transcode(
    request: TranscodeRequest,
    info: InputInfo,
    plan: OutputPlan,
    base: str,
    instance_id: str,
    timeout: float,
    commands: list[str],
) -> dict[str, Any]:
    from dcmharness.backends.python_ref.ops_transcode import transcode_result, written_transfer_syntax

    options = request.options
    call = modify_call(instance_id)
    body = json.dumps(modify_body(options), separators=(",", ":"))
    commands.append(f"{call.describe(base)} {body}")
    try:
        data, _ = http(call, base, body.encode(), timeout, commands)
    except ToolError as exc:
        if CANNOT_TRANSCODE in exc.message:
            raise _tool_error(
                ErrorCode.UNSUPPORTED_OPTION,
                f"orthanc cannot encode this input as {options.transfer_syntax}: {exc.message}",
                commands,
                exc.stderr,
                "options.transfer_syntax",
            ) from None
        raise
    temp = plan.targets[0].temp
    temp.write_bytes(data)
    written = written_transfer_syntax(temp)
    if written != options.uid:
        raise ToolError(
            ErrorCode.BACKEND_FAILED, f"orthanc wrote transfer syntax {written}, not {options.uid}", commands, None
        )
    return transcode_result(options, info, temp)


def _anonymize(
    request: AnonymizeRequest,
    info: InputInfo,
    plan: OutputPlan,
    base: str,
    instance_id: str,
    timeout: float,
    commands: list[str],
) -> dict[str, Any]:
    from dcmharness.backends.python_ref.ops_transcode import written_transfer_syntax

    options = request.options
    call = anonymize_call(instance_id)
    tags = frozenset(int(tag) for tag in info.dataset.keys())
    pid = options.patient_id if options.patient_id is not None else default_patient_id()
    body = anonymize_body(options, pid, tags)
    commands.append(f"{call.describe(base)} {json.dumps(body, separators=(',', ':'))}")
    data, _ = http(call, base, json.dumps(body).encode(), timeout, commands)
    temp = plan.targets[0].temp
    temp.write_bytes(data)
    if written_transfer_syntax(temp) is None:
        raise ToolError(ErrorCode.BACKEND_FAILED, "orthanc answered no DICOM file", commands, None)
    return {
        "profile": "basic",
        "table": f"Orthanc built-in, PS3.15 {DICOM_VERSION} Table E.1-1",
        "date_shift_days": None,
    }


def _modify(
    request: ModifyRequest,
    info: InputInfo,
    plan: OutputPlan,
    base: str,
    instance_id: str,
    timeout: float,
    commands: list[str],
) -> dict[str, Any]:
    from pydicom.uid import generate_uid

    from dcmharness.adapters.orthanc.modify import modify_body
    from dcmharness.backends.modify import invalidity_warnings, modify_result, resolve
    from dcmharness.backends.python_ref.ops_transcode import written_transfer_syntax

    changes = resolve(request.options, info.dataset)
    body = modify_body(changes, list(request.options.regenerate_uids), lambda: generate_uid(prefix=None))
    call = modify_call(instance_id)
    text = json.dumps(body, separators=(",", ":"))
    commands.append(f"{call.describe(base)} {text}")
    data, _ = http(call, base, text.encode(), timeout, commands)
    temp = plan.targets[0].temp
    temp.write_bytes(data)
    if written_transfer_syntax(temp) is None:
        raise ToolError(ErrorCode.BACKEND_FAILED, "orthanc answered no DICOM file", commands, None)
    result = modify_result(request.options, info.path, temp)
    result["warnings"] = invalidity_warnings(info.path, temp)
    return result
