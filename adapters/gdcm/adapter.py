"""GDCM (Debian libgdcm-tools): ``transcode`` with gdcmconv, ``anonymize`` with gdcmanon.

Facts checked against gdcm 3.0.21 (Debian 12):

- gdcmconv: ``-w`` decompresses (explicit VR LE), ``-w -M`` implicit; ``-d`` deflates (uncompressed little
  endian input only: otherwise it answers "Sorry input Transfer Syntax not supported"); ``-R`` RLE, ``-J``
  JPEG lossless SV1, ``-L`` JPEG-LS, ``-K`` JPEG 2000 (all lossless by default); ``-Y`` lossy with
  ``-q`` (JPEG quality), ``-e`` (JPEG-LS NEAR), ``-r`` (J2K rate). ``-J -Y`` on > 8-bit data writes JPEG
  extended (4.51), so ``jpeg_baseline`` is refused for it. Lossy targets are refused for PALETTE COLOR
  ("Could not change the Transfer Syntax") and for lossy-compressed input ("Failed to derives").
  ``-w`` keeps an implicit VR input implicit: explicit VR LE is ``-w -X``. gdcmconv can exit 0 after
  failing: the written transfer syntax is always checked.
- gdcmanon ``-e`` (PS3.15 E.1.1) needs an X.509 certificate to encrypt the original attributes into the
  Encrypted Attributes Sequence: the adapter makes a throw-away self-signed one with ``openssl`` once per
  process. UIDs are replaced by random ones (no key, no retain option), dates are not shifted, and private
  attributes are kept: ``remove_private_tags`` (the default) runs ``gdcmconv --remove-private-tags`` on the
  result as a second step.
- modify: ``gdcmanon --dumb`` with ``--remove g,e`` (erase), ``--replace g,e=value`` (modify, insert: it
  inserts an absent attribute and overwrites a present one, as dcmodify -i does; the dispatcher has checked
  that ``modify``'s attributes exist) and ``--empty g,e`` for an empty value, on top-level attributes only.
  The File Meta Information's Media Storage SOP Instance UID follows a replaced SOP Instance UID (measured:
  ``--replace 0008,0018=1.2.3.4`` wrote 1.2.3.4 in both). Refused before running: nested paths (its
  arguments name a tag, not a path), ``regenerate_uids`` (the dumb mode has no UID generation) and private
  data elements other than creators (measured on CT_small.dcm's (0009,1001): ``--replace 0009,1001=X`` and
  ``--replace 0009,01,GEMS_IDEN_01=X`` both exit 1).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
import threading
from pathlib import Path

from dcmharness.adapters.base import Capability, ToolAdapter, ToolInfo, sibling
from dcmharness.adapters.gdcm.network import GDCM_CLIENT  # echo, store: adapters/gdcm/network.py
from dcmharness.adapters.network_client import with_client
from dcmharness.adapters.runner import ToolError, run_tool
from dcmharness.backends.base import Outcome, unsupported
from dcmharness.backends.modify import Change, invalidity_warnings, modify_result, resolve
from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import RequestBase
from dcmharness.contract.ops_models import (
    AnonymizeRequest,
    DecodeRequest,
    ModifyRequest,
    TranscodeOptions,
    TranscodeRequest,
)

#: Contract target -> gdcmconv flags.
CONV_FLAGS: dict[str, tuple[str, ...]] = {
    "explicit_vr_little_endian": ("-w", "-X"),  # -w alone keeps an implicit VR input implicit
    "implicit_vr_little_endian": ("-w", "-M"),
    "deflated_explicit_vr_little_endian": ("-d",),
    "rle_lossless": ("-R",),
    "jpeg_lossless_sv1": ("-J",),
    "jpeg_ls_lossless": ("-L",),
    "jpeg_2000_lossless": ("-K",),
    "jpeg_baseline": ("-J", "-Y"),
    "jpeg_ls_near_lossless": ("-L", "-Y"),
    "jpeg_2000": ("-K", "-Y"),
}


#: Inputs gdcmconv -d accepts ("Sorry input Transfer Syntax not supported" for the others, big endian included).
DEFLATABLE = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.1.99"})
LOSSY = frozenset({"jpeg_baseline", "jpeg_ls_near_lossless", "jpeg_2000"})
#: Lossy-compressed input transfer syntaxes (JPEG baseline/extended, JPEG-LS near-lossless, JPEG 2000).
LOSSY_INPUTS = frozenset(
    {"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.91"}
)


def capability_table() -> dict[str, dict[str, Capability]]:
    return {
        "transcode": {
            "transfer_syntax": tuple(CONV_FLAGS),
            "quality": True,
            "near_lossless": True,
            "compression_ratio": True,
        },
        "anonymize": {
            "retain_uids": (False,),
            "date_shift_days": False,
            "uid_secret": False,
            "remove_private_tags": True,
            "patient_id": False,
        },
        "modify": {"modify": True, "insert": True, "erase": True, "regenerate_uids": False},
        "decode": {"color_space": True},
    }


def build_decode_argv(info: InputInfo, copy: str, tool: ToolInfo) -> list[str]:
    """``gdcmconv --raw -X``: the input decompressed by GDCM (explicit VR LE) into ``copy`` (pure)."""
    return [tool.path, "--raw", "-X", "-i", os.path.abspath(str(info.path)), "-o", os.path.abspath(copy)]


def execute_decode(tool: ToolInfo, request: DecodeRequest, info: InputInfo, plan: OutputPlan) -> Outcome:
    """GDCM decompresses into a temp file; its stored values are unpacked by the shared native unpacking.
    gdcmconv says "Could not read (pixmap)" (exit 1) for a codestream it cannot decode: ``decode_failed``."""
    from dcmharness.backends.python_ref.ops_decode import decode_native_copy

    with tempfile.TemporaryDirectory(prefix="dcmharness-gdcm-decode-") as folder:
        copy = os.path.join(folder, "native.dcm")
        argv = build_decode_argv(info, copy, tool)
        run = run_tool(argv, timeout=request.timeout)
        stderr = run.stderr_text or None
        if run.returncode != 0 or not os.path.isfile(copy):
            said = " ".join((run.stderr_text or run.stdout.decode("utf-8", "replace")).split())[:300]
            code = ErrorCode.DECODE_FAILED if "Could not read" in said else ErrorCode.BACKEND_FAILED
            raise ToolError(code, f"gdcmconv --raw failed (exit {run.returncode}): {said}", argv, stderr)
        outcome = decode_native_copy(copy, request, info, plan, f"gdcm {tool.version or '?'} gdcmconv --raw")
    outcome.command = argv
    outcome.stderr = stderr
    return outcome


def check_modify(changes: list[Change]) -> None:
    """``unsupported_option`` for a change ``gdcmanon --dumb`` cannot make (see the module docstring). Pure."""
    for change in changes:
        where = change.field.removeprefix("options.")
        if change.nested:
            field = where if change.action == "erase" else f"{where}.path"
            raise unsupported(field, "gdcmanon --dumb names top-level tags only, not paths into sequences")
        if change.action != "erase" and change.private and (change.tag & 0xFFFF) >= 0x1000:
            raise unsupported(f"{where}.vr", "gdcmanon --dumb fails on private data elements (exit 1, measured)")


def build_modify_argv(changes: list[Change], exe: str, src: str, out: str) -> list[str]:
    """``gdcmanon --dumb --remove/--replace/--empty ... -i <in> -o <out>`` (checked by ``check_modify``). Pure."""
    argv = [exe, "--dumb"]
    for change in changes:
        tag = f"{change.tag >> 16:04x},{change.tag & 0xFFFF:04x}"
        if change.action == "erase":
            argv += ["--remove", tag]
        elif not change.value:
            argv += ["--empty", tag]
        else:
            argv += ["--replace", f"{tag}={change.value}"]
    return [*argv, "-i", src, "-o", out]


def transcode_flags(options: TranscodeOptions) -> list[str]:
    """gdcmconv's flags for a target (pure)."""
    flags = list(CONV_FLAGS[options.transfer_syntax])
    if options.transfer_syntax == "jpeg_baseline":
        flags += ["-q", str(options.quality or 90)]
    elif options.transfer_syntax == "jpeg_ls_near_lossless":
        flags += ["-e", str(options.near_lossless or 2)]
    elif options.transfer_syntax == "jpeg_2000":
        flags += ["-r", f"{options.compression_ratio or 10.0:g}"]
    return flags


def build_transcode_argv(request: TranscodeRequest, info: InputInfo, plan: OutputPlan, tool: ToolInfo) -> list[str]:
    return [
        tool.path,
        *transcode_flags(request.options),
        "-i",
        os.path.abspath(str(info.path)),
        "-o",
        os.path.abspath(str(plan.targets[0].temp)),
    ]


def build_anonymize_argvs(
    request: AnonymizeRequest, info: InputInfo, plan: OutputPlan, tool: ToolInfo, certificate: str
) -> list[list[str]]:
    """gdcmanon (into the temp file), then gdcmconv --remove-private-tags in place when asked (pure)."""
    out = os.path.abspath(str(plan.targets[0].temp))
    argvs = [
        [
            sibling(tool, "gdcmanon"),
            "-e",
            "-c",
            certificate,
            "-i",
            os.path.abspath(str(info.path)),
            "-o",
            out,
        ]
    ]
    if request.options.remove_private_tags:
        argvs.append([tool.path, "--remove-private-tags", "-i", out, "-o", out])
    return argvs


_cert_lock = threading.Lock()
_cert_dir: str | None = None


def certificate(timeout: float | None) -> str:
    """A throw-away self-signed certificate for gdcmanon -e (made once per process with openssl)."""
    global _cert_dir
    with _cert_lock:
        if _cert_dir is None or not os.path.isfile(os.path.join(_cert_dir, "cert.pem")):
            openssl = shutil.which("openssl")
            if openssl is None:
                raise HarnessError(
                    ErrorCode.BACKEND_UNAVAILABLE, "gdcmanon -e needs a certificate: openssl is not on PATH", "backend"
                )
            folder = tempfile.mkdtemp(prefix="dcmharness-gdcmanon-")
            argv = [
                openssl,
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                os.path.join(folder, "key.pem"),
                "-out",
                os.path.join(folder, "cert.pem"),
                "-days",
                "2",
                "-subj",
                "/CN=dcmharness",
            ]
            run = run_tool(argv, timeout=timeout)
            if run.returncode != 0:
                raise ToolError(ErrorCode.BACKEND_FAILED, "openssl could not make a certificate", argv, run.stderr_text)
            _cert_dir = folder
        return os.path.join(_cert_dir, "cert.pem")


@with_client(GDCM_CLIENT)
class GdcmAdapter(ToolAdapter):
    name = "gdcm"
    description = "GDCM: gdcmconv (transcode, decode: --raw), gdcmanon (de-identification; --dumb: modify), gdcmscu."
    tools = ("gdcmconv",)
    env_var = "GDCM_HOME"
    install_hint = "apt-get install libgdcm-tools"
    ops = ("transcode", "anonymize", "modify", "decode")

    def capabilities_for(self, version: str | None) -> dict[str, dict[str, Capability]]:
        return capability_table()

    def check_input(self, request: RequestBase, info: InputInfo | None) -> list[str]:
        if isinstance(request, ModifyRequest) and info is not None:
            check_modify(resolve(request.options, info.dataset))
        if isinstance(request, DecodeRequest):
            from dcmharness.backends.python_ref.ops_decode import refuse_float_pixel_data

            refuse_float_pixel_data(info, "gdcm")
        if isinstance(request, TranscodeRequest) and info is not None:
            target = request.options.transfer_syntax
            if target == "deflated_explicit_vr_little_endian" and info.transfer_syntax not in DEFLATABLE:
                raise HarnessError(
                    ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
                    f"gdcmconv deflates uncompressed little endian input only (the input is {info.transfer_syntax})",
                    "input",
                )
            if target in LOSSY and info.photometric == "PALETTE COLOR":
                raise unsupported("transfer_syntax", f"gdcmconv cannot encode PALETTE COLOR as {target} (measured)")
            if target in LOSSY and info.transfer_syntax in LOSSY_INPUTS:
                raise unsupported(
                    "transfer_syntax",
                    f'gdcmconv will not re-encode lossy input ({info.transfer_syntax}) lossily ("Failed to derives")',
                )
            if target == "jpeg_baseline" and info.bits_stored > 8:
                raise unsupported("transfer_syntax", f"JPEG baseline is 8-bit; the input has {info.bits_stored} bits")
        return []

    def build_argv(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan, tool: ToolInfo) -> list[str]:
        assert info is not None
        if isinstance(request, TranscodeRequest):
            return build_transcode_argv(request, info, plan, tool)
        if isinstance(request, AnonymizeRequest):
            return build_anonymize_argvs(request, info, plan, tool, "CERTIFICATE")[0]
        if isinstance(request, ModifyRequest):
            changes = resolve(request.options, info.dataset)
            check_modify(changes)
            out = os.path.abspath(str(plan.targets[0].temp))
            return build_modify_argv(changes, sibling(tool, "gdcmanon"), os.path.abspath(str(info.path)), out)
        if isinstance(request, DecodeRequest):
            return build_decode_argv(info, os.path.abspath(str(plan.targets[0].temp)) + ".native.dcm", tool)
        raise HarnessError(ErrorCode.UNSUPPORTED_OPTION, f"gdcm does not implement op {getattr(request, 'op', '?')!r}")

    def execute(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan) -> Outcome:
        from dcmharness.backends.python_ref.ops_transcode import transcode_result, written_transfer_syntax

        tool = self.tool()
        if tool is None:
            raise HarnessError(ErrorCode.BACKEND_UNAVAILABLE, "gdcm: gdcmconv not found", "backend")
        assert info is not None
        if isinstance(request, DecodeRequest):
            return execute_decode(tool, request, info, plan)
        if isinstance(request, AnonymizeRequest):
            argvs = build_anonymize_argvs(request, info, plan, tool, certificate(request.timeout))
        else:
            argvs = [self.build_argv(request, info, plan, tool)]
        stderr: list[str] = []
        for argv in argvs:
            run = run_tool(argv, timeout=request.timeout)
            self.interpret(run, plan)
            if run.stderr_text:
                stderr.append(run.stderr_text)
        temp = Path(plan.targets[0].temp)
        written = written_transfer_syntax(temp) if temp.exists() else None
        message = "\n".join(stderr) or None
        if written is None:
            raise ToolError(
                ErrorCode.BACKEND_FAILED, f"{os.path.basename(argvs[0][0])} wrote no DICOM file", argvs[0], message
            )
        if isinstance(request, ModifyRequest):
            result = modify_result(request.options, info.path, temp)
            warnings = invalidity_warnings(info.path, temp)
            return Outcome(result=result, warnings=warnings, command=argvs[0], stderr=message)
        if isinstance(request, TranscodeRequest):
            if written != request.options.uid:
                raise ToolError(
                    ErrorCode.BACKEND_FAILED,
                    f"gdcmconv wrote transfer syntax {written}, not {request.options.uid}",
                    argvs[0],
                    message,
                )
            result = transcode_result(request.options, info, temp)
        else:
            result = {"profile": "basic", "table": "gdcmanon built-in (PS3.15 E.1)", "commands": argvs}
        return Outcome(result=result, command=argvs[0], stderr=message)


def _cleanup() -> None:  # pragma: no cover - best effort at exit
    if _cert_dir is not None:
        with contextlib.suppress(OSError):
            shutil.rmtree(_cert_dir)


atexit.register(_cleanup)
