"""dcm4che's and dicom-rs' ops beyond ``to_image``: ``dump``, ``info``, ``transcode`` (both) and ``anonymize``
(dcm4che). ``adapters/dcm4che.py`` and ``adapters/dicom_rs.py`` delegate these ops here.

Neither toolkit is installable on the CI machine: everything that builds a command line or interprets a
tool's output is a pure function, golden-tested in ``tests/test_java_rust_ops.py``; the run path is tested
against stand-in scripts, and live tests run wherever the real tools are found. The tools are looked up
next to the backend's main binary (``dcm2jpg``, ``dicom-toimage``), else on PATH.

Facts (dcm4che 5.x sources: ``Dcm2Json.java``, ``JSONWriter.java``, ``DicomInputStream.java``,
``Dcm2Dcm.java``, ``Deidentify.java``, ``DeIdentifier.java`` and the tools' READMEs; dicom-rs 0.7-0.10:
``dicom-dump``, ``dicom-json``, ``dicom-transcode``, ``transfer-syntax-registry``):

- ``dcm2json [-b] <file>`` writes DICOM JSON to stdout. ``-b`` (``--with-bulkdata``) inlines every value;
  the default writes BulkDataURI references into the source file and ``-B`` drops bulk attributes
  altogether, where the contract keeps them with their vr. So the adapter always runs ``-b`` and applies
  the contract's ``bulk_data``/``bulk_threshold`` itself (as ``adapters/dcmtk_ops.py`` does for dcmtk's
  dcm2json). dcm2json also writes the File Meta Information (it reads it through the same handler):
  group 0002 is dropped unless ``include_meta``. Encapsulated Pixel Data comes out as a non-standard
  ``"DataFragment": [{"InlineBinary"}|null, ...]`` list: it is rewritten to one InlineBinary holding the
  encapsulated value (items with their headers, no sequence delimiter: what pydicom writes).
- ``dicom-dump --format json <file>`` (dicom-rs 0.7+, clap value of ``DumpFormat::Json``) writes the
  file meta group and the data set, binary values as InlineBinary; a leading ``<file>: `` line, if a
  version prints one, is skipped. dicom-json 0.7/0.8 panics on encapsulated pixel data ("serialization of
  encapsulated pixel data is not supported"): that becomes ``unsupported_transfer_syntax`` on ``input``.
- ``info`` runs the dump command and summarises its JSON with ``backends.python_ref.ops_dump.summarise``.
- ``dcm2dcm [-t uid | --jpll | --jpls | --j2kr | --jpeg | --j2ki] [-q 0..1] [-Q bpp] <in> <out>``:
  decompresses encapsulated input itself; no RLE writer, no JPEG-LS near-lossless switch, deflate is not
  mapped (unverified). ``--jpeg`` on more than 8 bits stored writes JPEG extended (4.51): refused.
  ``-Q`` is the JPEG 2000 rate in bits per pixel: ``compression_ratio`` r (default 10) becomes
  ``bits_allocated * samples_per_pixel / r``. It exits 0 when a file fails ("Failed to transcode" on
  stdout): failure is read from stdout and from the written transfer syntax.
- ``deidentify [--retain-uid] [-s PatientID=<id>] -- <in> <out>`` (DeIdentifier, Basic Profile): always
  removes private attributes (``remove_private_tags: false`` refused), remaps UIDs by an unkeyed
  name-based hash (``uid_secret`` refused), has no date shift (``date_shift_days`` refused; its
  ``--retain-date`` keeps dates, which is another option). ``-s`` takes several values, hence ``--``
  before the paths; a Patient ID containing ``=`` (its value separator) or empty is refused. Exits 0 on
  failure ("Failed to ..." on stdout).
- ``dicom-transcode <in> -o <out> --ts <uid> [--quality 0..100]``: encoders for explicit and implicit VR
  little endian, JPEG baseline (8-bit; the ``jpeg`` feature, default), JPEG-LS lossless and near-lossless
  (the ``charls`` feature: a build without it fails with its own message, ``backend_failed``). No RLE,
  JPEG lossless or JPEG 2000 encoder; deflate is not mapped (``flate2`` feature, unverified). JPEG-LS
  NEAR is not a flag: the encoder derives it as ``floor(2^(BitsStored-4) * (100 - quality) / 100)``, so
  ``near_lossless`` is mapped to the quality giving exactly that NEAR for the input's Bits Stored, and
  refused when none does.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.base import Capability, ToolAdapter, ToolInfo
from adapters.runner import ToolError, ToolRun, describe_exit, run_tool
from backends.base import Outcome, unsupported
from backends.outputs import OutputPlan
from backends.preflight import InputInfo
from contract.errors import ErrorCode, HarnessError
from contract.models import RequestBase
from contract.ops_models import (
    TRANSFER_SYNTAXES,
    AnonymizeOptions,
    AnonymizeRequest,
    DumpOptions,
    DumpRequest,
    InfoRequest,
    TranscodeOptions,
    TranscodeRequest,
)

BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
ITEM_TAG = b"\xfe\xff\x00\xe0"  # (FFFE,E000) little endian
DEFAULT_J2K_RATIO = 10.0
DEFAULT_NEAR = 2
DICOM_RS_PANIC = "encapsulated pixel data is not supported"

# -- dcm4che ----------------------------------------------------------------------------------------------
DCM4CHE_OPS = ("dump", "info", "transcode", "anonymize")
#: dcm2dcm's own switches for the targets it encodes (the others via -t <uid>).
DCM2DCM_SWITCHES: dict[str, str] = {
    "jpeg_lossless_sv1": "--jpll",
    "jpeg_ls_lossless": "--jpls",
    "jpeg_2000_lossless": "--j2kr",
    "jpeg_baseline": "--jpeg",
    "jpeg_2000": "--j2ki",
}
DCM2DCM_TARGETS: tuple[str, ...] = ("explicit_vr_little_endian", "implicit_vr_little_endian", *DCM2DCM_SWITCHES)
DCM4CHE_NO_ENCODER = {
    "rle_lossless": "dcm2dcm has no RLE encoder",
    "deflated_explicit_vr_little_endian": "deflate through dcm2dcm -t is not verified, so not offered",
    "jpeg_ls_near_lossless": "dcm2dcm has no JPEG-LS near-lossless switch",
}

# -- dicom-rs ---------------------------------------------------------------------------------------------
DICOM_RS_OPS = ("dump", "info", "transcode")
DICOM_RS_TARGETS: tuple[str, ...] = (
    "explicit_vr_little_endian",
    "implicit_vr_little_endian",
    "jpeg_baseline",
    "jpeg_ls_lossless",
    "jpeg_ls_near_lossless",
)
DICOM_RS_NO_ENCODER = {
    "rle_lossless": "dicom-rs has an RLE decoder only",
    "jpeg_lossless_sv1": "dicom-rs has a JPEG lossless decoder only",
    "jpeg_2000_lossless": "dicom-rs has a JPEG 2000 decoder only",
    "jpeg_2000": "dicom-rs has a JPEG 2000 decoder only",
    "deflated_explicit_vr_little_endian": "deflate through dicom-transcode is not verified, so not offered",
}


def dcm4che_capabilities() -> dict[str, dict[str, Capability]]:
    return {
        "dump": {"bulk_data": True, "bulk_threshold": True, "include_meta": True},
        "info": {"include_private": True},
        "transcode": {
            "transfer_syntax": DCM2DCM_TARGETS,
            "quality": True,
            "near_lossless": False,
            "compression_ratio": True,
        },
        "anonymize": {
            "retain_uids": True,
            "date_shift_days": False,
            "uid_secret": False,
            "remove_private_tags": (True,),
            "patient_id": True,
        },
    }


def dicom_rs_capabilities() -> dict[str, dict[str, Capability]]:
    return {
        "dump": {"bulk_data": True, "bulk_threshold": True, "include_meta": True},
        "info": {"include_private": True},
        "transcode": {
            "transfer_syntax": DICOM_RS_TARGETS,
            "quality": True,
            "near_lossless": True,
            "compression_ratio": False,
        },
    }


# -- pure argv mappings -----------------------------------------------------------------------------------
def dcm4che_dump_argv(tool: str, src: str, options: DumpOptions | None = None) -> list[str]:
    """``dcm2json -b <file>`` (stdout): every value inline; the contract's bulk and meta options are applied
    to the output afterwards (``normalise_model``). Pure."""
    del options
    return [tool, "-b", src]


def dcm4che_transcode_argv(
    tool: str, src: str, out: str, options: TranscodeOptions, info: InputInfo | None = None
) -> list[str]:
    """``dcm2dcm``; ``unsupported_option`` (``options.transfer_syntax``) for a target it cannot encode. Pure."""
    target = options.transfer_syntax
    if target not in DCM2DCM_TARGETS:
        raise unsupported("transfer_syntax", f"dcm4che cannot encode {target}: {DCM4CHE_NO_ENCODER.get(target, '')}")
    switch = DCM2DCM_SWITCHES.get(target)
    argv = [tool, switch] if switch else [tool, "-t", TRANSFER_SYNTAXES[target]]
    if options.quality is not None:
        argv += ["-q", f"{options.quality / 100:g}"]
    if target == "jpeg_2000":
        ratio = options.compression_ratio or DEFAULT_J2K_RATIO
        bits = (info.bits_allocated or 16) * (info.samples_per_pixel or 1) if info is not None else 16
        argv += ["-Q", f"{bits / ratio:g}"]
    return [*argv, src, out]


def dcm4che_anonymize_argv(tool: str, src: str, out: str, options: AnonymizeOptions) -> list[str]:
    """``deidentify [--retain-uid] [-s PatientID=<id>] -- <in> <out>``; refuses what it cannot honour. Pure."""
    if options.date_shift_days is not None:
        raise unsupported("date_shift_days", "dcm4che deidentify cannot shift dates (only --retain-date keeps them)")
    if options.uid_secret is not None:
        raise unsupported("uid_secret", "dcm4che deidentify remaps UIDs by an unkeyed name-based hash")
    if not options.remove_private_tags:
        raise unsupported("remove_private_tags", "dcm4che deidentify always removes private attributes")
    argv = [tool]
    if options.retain_uids:
        argv.append("--retain-uid")
    if options.patient_id is not None:
        if not options.patient_id or "=" in options.patient_id:
            raise unsupported("patient_id", "deidentify -s splits values at '=' and ignores an empty one")
        argv += ["-s", f"PatientID={options.patient_id}"]
    return [*argv, "--", src, out]


def dicom_rs_dump_argv(tool: str, src: str) -> list[str]:
    """``dicom-dump --format json <file>`` (stdout). Pure."""
    return [tool, "--format", "json", src]


def near_lossless_quality(near: int, bits_stored: int) -> int | None:
    """The dicom-transcode ``--quality`` whose JPEG-LS NEAR is exactly ``near`` for this Bits Stored, or None.

    The encoder computes ``min(4096, (2^(bits_stored-4) * (100 - quality)) // 100)``; the highest such
    quality is chosen. Pure."""
    if bits_stored < 5:
        return None
    scale = 1 << (bits_stored - 4)
    for quality in range(100, -1, -1):
        if min(4096, scale * (100 - quality) // 100) == near:
            return quality
    return None


def dicom_rs_transcode_argv(
    tool: str, src: str, out: str, options: TranscodeOptions, bits_stored: int | None = None
) -> list[str]:
    """``dicom-transcode --ts <uid> <in> -o <out> [--quality q]``; ``unsupported_option`` otherwise. Pure."""
    target = options.transfer_syntax
    if target not in DICOM_RS_TARGETS:
        raise unsupported("transfer_syntax", f"dicom-rs cannot encode {target}: {DICOM_RS_NO_ENCODER.get(target, '')}")
    argv = [tool, "--ts", TRANSFER_SYNTAXES[target], src, "-o", out]
    if options.quality is not None:
        argv += ["--quality", str(options.quality)]
    if target == "jpeg_ls_near_lossless":
        near = options.near_lossless or DEFAULT_NEAR
        quality = near_lossless_quality(near, bits_stored or 0)
        if quality is None:
            raise unsupported(
                "near_lossless",
                f"dicom-rs derives NEAR from --quality and Bits Stored; no quality gives NEAR {near} "
                f"for {bits_stored} bits stored",
            )
        argv += ["--quality", str(quality)]
    return argv


# -- pure output interpretation -----------------------------------------------------------------------------
def parse_json_stdout(data: bytes, tool: str) -> dict[str, Any]:
    """The JSON object a tool printed (a leading non-JSON line such as ``<file>: `` is skipped). Pure;
    ``ValueError`` with the reason when there is none."""
    text = data.decode("utf-8")
    start = text.find("{")
    if start < 0:
        raise ValueError(f"{tool} printed no JSON object")
    model, _end = json.JSONDecoder().raw_decode(text, start)
    if not isinstance(model, dict):
        raise ValueError(f"{tool} printed no JSON object")
    return model


def fragments_to_inline(value: dict[str, Any]) -> dict[str, Any]:
    """``{"vr", "DataFragment": [...]}`` (dcm4che) -> ``{"vr", "InlineBinary"}`` of the encapsulated value:
    each fragment as an item (tag, 32-bit length, bytes), no sequence delimiter. Pure."""
    out = bytearray()
    for frag in value.get("DataFragment") or []:
        data = base64.b64decode(frag["InlineBinary"]) if isinstance(frag, dict) and "InlineBinary" in frag else b""
        out += ITEM_TAG + len(data).to_bytes(4, "little") + data
    return {"vr": value.get("vr", "OB"), "InlineBinary": base64.b64encode(bytes(out)).decode("ascii")}


def _b64_len(text: str) -> int:
    return len(text.rstrip("=")) * 3 // 4


def _element(value: Any, omit_over: int | None) -> Any:
    if isinstance(value, dict) and "DataFragment" in value:
        value = fragments_to_inline(value)
    if (
        omit_over is not None
        and isinstance(value, dict)
        and value.get("vr") in BINARY_VRS
        and isinstance(value.get("InlineBinary"), str)
        and _b64_len(value["InlineBinary"]) > omit_over
    ):
        return {"vr": value["vr"]}
    if isinstance(value, dict) and isinstance(value.get("Value"), list) and value.get("vr") == "SQ":
        return {
            **value,
            "Value": [_dataset(item, omit_over) if isinstance(item, dict) else item for item in value["Value"]],
        }
    return value


def _dataset(model: dict[str, Any], omit_over: int | None) -> dict[str, Any]:
    return {tag: _element(value, omit_over) for tag, value in model.items()}


def normalise_model(model: dict[str, Any], options: DumpOptions) -> dict[str, Any]:
    """The tool's DICOM JSON shaped as the contract says: group 0002 only with ``include_meta``, encapsulated
    fragments as one InlineBinary, binary values over ``bulk_threshold`` bytes reduced to their vr when
    ``bulk_data`` is ``omit`` (recursively). Pure."""
    kept = {k: v for k, v in model.items() if options.include_meta or not k.upper().startswith("0002")}
    return _dataset(kept, options.bulk_threshold if options.bulk_data == "omit" else None)


def failed_line(stdout: str) -> str | None:
    """dcm2dcm / deidentify print ``Failed to ...: <message>`` on stdout and exit 0: that line, or None. Pure."""
    for line in stdout.splitlines():
        if line.strip().startswith("Failed"):
            return line.strip()
    return None


# -- the run path ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Toolkit:
    """What differs between the two backends' extra ops."""

    backend: str
    ops: tuple[str, ...]
    dump_tool: str
    transcode_tool: str
    anonymize_tool: str | None
    capabilities: Callable[[], dict[str, dict[str, Capability]]]


DCM4CHE = Toolkit("dcm4che", DCM4CHE_OPS, "dcm2json", "dcm2dcm", "deidentify", dcm4che_capabilities)
DICOM_RS = Toolkit("dicom_rs", DICOM_RS_OPS, "dicom-dump", "dicom-transcode", None, dicom_rs_capabilities)


def sibling(tool: ToolInfo, name: str) -> str:
    """``name`` next to the backend's main binary if it is there, else on PATH, else the bare name."""
    candidate = os.path.join(os.path.dirname(tool.path), name)
    if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
        return candidate
    return shutil.which(name) or name


def build_ops_argv(
    kit: Toolkit, request: RequestBase, info: InputInfo | None, out: str | None, tool: ToolInfo
) -> list[str]:
    """The argv of one extra op; ``out`` is the plan's temp file (None for dump and info, which print to
    stdout). Pure apart from locating the sibling binary."""
    if info is None:
        raise HarnessError(ErrorCode.INTERNAL_ERROR, "no input description")
    src = os.path.abspath(str(info.path))
    if isinstance(request, DumpRequest | InfoRequest):
        exe = sibling(tool, kit.dump_tool)
        return dcm4che_dump_argv(exe, src) if kit is DCM4CHE else dicom_rs_dump_argv(exe, src)
    target = os.path.abspath(out or "")
    if isinstance(request, TranscodeRequest):
        exe = sibling(tool, kit.transcode_tool)
        if kit is DCM4CHE:
            return dcm4che_transcode_argv(exe, src, target, request.options, info)
        return dicom_rs_transcode_argv(exe, src, target, request.options, info.bits_stored)
    if isinstance(request, AnonymizeRequest) and kit.anonymize_tool:
        return dcm4che_anonymize_argv(sibling(tool, kit.anonymize_tool), src, target, request.options)
    raise HarnessError(
        ErrorCode.UNSUPPORTED_OPTION, f"{kit.backend} does not implement op {getattr(request, 'op', '?')!r}", "op"
    )


def plan_temp(plan: OutputPlan) -> str | None:
    return os.path.abspath(str(plan.targets[0].temp)) if plan.targets else None


def check_ops_input(kit: Toolkit, request: RequestBase, info: InputInfo | None) -> list[str]:
    """Refusals that depend on the input, before anything runs (the argv mapping's own refusals included)."""
    if info is None:
        return []
    if (
        isinstance(request, TranscodeRequest)
        and request.options.transfer_syntax == "jpeg_baseline"
        and info.bits_stored > 8
    ):
        raise unsupported("transfer_syntax", f"JPEG baseline is 8-bit; the input has {info.bits_stored} bits stored")
    build_ops_argv(kit, request, info, "-", ToolInfo(kit.dump_tool, None))
    return []


def _fail(argv: list[str], run: ToolRun, message: str, code: ErrorCode = ErrorCode.BACKEND_FAILED) -> ToolError:
    return ToolError(code, f"{os.path.basename(argv[0])}: {message}", argv, run.stderr_text or None)


def _check_exit(argv: list[str], run: ToolRun) -> None:
    if run.returncode == 0:
        return
    text = run.stderr_text
    if DICOM_RS_PANIC in text:
        error = _fail(argv, run, "cannot write encapsulated pixel data as JSON", ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX)
        error.field = "input"
        raise error
    last = text.splitlines()[-1] if text else "no message"
    raise _fail(argv, run, f"failed ({describe_exit(run.returncode)}): {last}")


def _dump_model(argv: list[str], run: ToolRun) -> dict[str, Any]:
    try:
        return parse_json_stdout(run.stdout, os.path.basename(argv[0]))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _fail(argv, run, f"wrote no valid DICOM JSON: {exc}") from None


def execute_op(
    kit: Toolkit, adapter: ToolAdapter, request: RequestBase, info: InputInfo | None, plan: OutputPlan
) -> Outcome:
    """Run one extra op: argv, the shared runner (timeout, process group), output checks, result."""
    from backends.python_ref.ops_dump import summarise
    from backends.python_ref.ops_transcode import transcode_result, written_transfer_syntax

    tool = adapter.tool()
    if tool is None:
        raise HarnessError(ErrorCode.BACKEND_UNAVAILABLE, f"{kit.backend}: tool not found", "backend")
    assert info is not None
    argv = build_ops_argv(kit, request, info, plan_temp(plan), tool)
    run = run_tool(argv, timeout=request.timeout)
    _check_exit(argv, run)
    stderr = run.stderr_text or None
    if isinstance(request, InfoRequest):
        model = normalise_model(_dump_model(argv, run), DumpOptions(bulk_data="omit", bulk_threshold=0))
        result = summarise(model, info.transfer_syntax, request.options.include_private)
        return Outcome(result=result, command=argv, stderr=stderr)
    temp = Path(plan.targets[0].temp)
    if isinstance(request, DumpRequest):
        model = normalise_model(_dump_model(argv, run), request.options)
        text = json.dumps(model, indent=1, ensure_ascii=False, allow_nan=False)
        temp.write_text(text + "\n", encoding="utf-8")
        result = {
            "attributes": len(model),
            "transfer_syntax": info.transfer_syntax,
            "bulk_data": request.options.bulk_data,
        }
        return Outcome(result=result, command=argv, stderr=stderr)
    failure = failed_line(run.stdout_text)
    if failure is not None:
        raise _fail(argv, run, failure)
    written = written_transfer_syntax(temp) if temp.exists() and temp.stat().st_size else None
    if written is None:
        raise _fail(argv, run, "wrote no DICOM file")
    if isinstance(request, TranscodeRequest):
        if written != request.options.uid:
            raise _fail(argv, run, f"wrote transfer syntax {written}, not {request.options.uid}")
        return Outcome(result=transcode_result(request.options, info, temp), command=argv, stderr=stderr)
    result = {"profile": "basic", "table": "dcm4che DeIdentifier built-in (PS3.15 E.1)"}
    return Outcome(result=result, command=argv, stderr=stderr)
