"""dcmtk's ops beyond ``to_image``: ``dump`` and ``info`` (dcm2json), ``transcode`` (dcmconv, dcmcrle,
dcmcjpeg, dcmcjpls; dcmdjpeg, dcmdrle, dcmdjpls to decompress), ``modify`` (dcmodify: ``modify.py``), ``decode``
(dcmdjpeg +cn, dcmdrle, dcmdjpls or dcmconv into a temp file whose native Pixel Data the shared unpacking reads).

"dcmtk" stays one backend: ``adapters/dcmtk.py`` owns ``to_image`` and its class is decorated with
``@with_ops``, which adds these ops (everything else is delegated to the decorated class). The tools are
looked up next to the main dcmtk binary, else on PATH. Facts (dcmtk 3.6.7, Debian 12):

- ``dcm2json`` has no bulk data option: binary values are always written as InlineBinary; the adapter
  honours ``bulk_data: "omit"`` by dropping the InlineBinary of binary values over ``bulk_threshold``
  bytes from the tool's output (the attribute stays, with its vr).
- ``dcmconv`` / ``dcmcrle`` / ``dcmcjpeg`` / ``dcmcjpls`` cannot decode compressed input ("no conversion
  from compressed original"): compressed inputs go to an uncompressed target through the matching
  decoder (``dcmdjpeg``, ``dcmdrle``, ``dcmdjpls``) and are refused for other targets; deflate from a
  compressed input is refused too. No JPEG 2000 codec in the free dcmtk.
- ``+q`` (dcmcjpeg) and ``+md`` (dcmcjpls) imply a new SOP Instance UID (lossy); lossless runs keep it.
- dcm2json converts text to UTF-8 with the character set library dcmtk was built with (Debian: glibc
  iconv, without ISO 2022 IR 87): "'ISO 2022 IR 87' is not supported by the utilized character set
  conversion library" becomes ``unsupported_option`` (field ``input``).
"""

from __future__ import annotations

import json
import os
from typing import Any, TypeVar

from dcmharness.adapters.base import Capability, ToolAdapter, ToolInfo, sibling
from dcmharness.adapters.dcmtk.modify import check_modify, execute_modify, modify_capabilities
from dcmharness.adapters.runner import ToolError, ToolRun, run_tool
from dcmharness.backends.base import Outcome, unsupported
from dcmharness.backends.modify import resolve
from dcmharness.backends.outputs import OutputPlan
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import RequestBase
from dcmharness.contract.ops_models import (
    DecodeRequest,
    DumpRequest,
    FromJsonRequest,
    InfoRequest,
    ModifyRequest,
    TranscodeOptions,
    TranscodeRequest,
)

EXTRA_OPS = ("dump", "info", "transcode", "modify", "decode", "from_json")  # from_json: json2dcm, dcmtk >= 3.7.0

#: Contract target -> (tool, flags) for an uncompressed input.
ENCODE: dict[str, tuple[str, tuple[str, ...]]] = {
    "explicit_vr_little_endian": ("dcmconv", ("+te",)),
    "implicit_vr_little_endian": ("dcmconv", ("+ti",)),
    "deflated_explicit_vr_little_endian": ("dcmconv", ("+td",)),
    "rle_lossless": ("dcmcrle", ("+un",)),
    "jpeg_lossless_sv1": ("dcmcjpeg", ("+e1", "+un")),
    "jpeg_baseline": ("dcmcjpeg", ("+eb",)),
    "jpeg_ls_lossless": ("dcmcjpls", ("+el", "+un")),
    "jpeg_ls_near_lossless": ("dcmcjpls", ("+en",)),
}
#: Compressed input transfer syntax -> the dcmtk decoder that reads it.
DECODERS: dict[str, str] = {
    "1.2.840.10008.1.2.4.50": "dcmdjpeg",
    "1.2.840.10008.1.2.4.51": "dcmdjpeg",
    "1.2.840.10008.1.2.4.57": "dcmdjpeg",
    "1.2.840.10008.1.2.4.70": "dcmdjpeg",
    "1.2.840.10008.1.2.5": "dcmdrle",
    "1.2.840.10008.1.2.4.80": "dcmdjpls",
    "1.2.840.10008.1.2.4.81": "dcmdjpls",
}
UNCOMPRESSED_TS = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"}
BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
#: How dcm2json says its build cannot convert the input's character set (Debian's dcmtk uses glibc iconv,
#: which lacks e.g. ISO 2022 IR 87): reported as ``unsupported_option`` on ``input``, not as a failure.
CHARSET_UNSUPPORTED = "is not supported by the utilized character set conversion library"


def ops_capabilities() -> dict[str, dict[str, Capability]]:
    """The capability table of the extra ops (the same for every dcmtk 3.6.x)."""
    return {
        "dump": {"bulk_data": ("omit", "inline"), "bulk_threshold": True, "include_meta": True},
        "info": {"include_private": True},
        "transcode": {
            "transfer_syntax": tuple(ENCODE),
            "quality": True,
            "near_lossless": True,
            "compression_ratio": False,
        },
        "modify": modify_capabilities(),
        "decode": {"color_space": True},
        "from_json": {"transfer_syntax": True},
    }


#: ``decode``: the flags of each decoder writing Explicit VR Little Endian. ``+cn``: dcmdjpeg keeps YCbCr
#: (the contract's ``color_space: "native"``; dcmdjpeg writes such data as YBR_FULL, chroma upsampled).
DECODE_FLAGS: dict[str, tuple[str, ...]] = {
    "dcmconv": ("+te",),
    "dcmdrle": ("+te",),
    "dcmdjpeg": ("+cn", "+te"),
    "dcmdjpls": ("+te",),
}


def decode_tool(input_ts: str | None) -> str:
    """The dcmtk tool that writes the input uncompressed, or ``unsupported_transfer_syntax``. Pure."""
    if input_ts is None or input_ts in UNCOMPRESSED_TS:
        return "dcmconv"
    decoder = DECODERS.get(input_ts)
    if decoder is None:
        raise HarnessError(
            ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
            f"dcmtk 3.6 has no decoder for transfer syntax {input_ts} (no JPEG 2000 in free dcmtk)",
            "input",
        )
    return decoder


def build_decode_argv(info: InputInfo, copy: str, tool: ToolInfo) -> list[str]:
    """The argv writing the input, decompressed by dcmtk, to ``copy`` (pure apart from locating the tool)."""
    name = decode_tool(info.transfer_syntax)
    return [sibling(tool, name), *DECODE_FLAGS[name], os.path.abspath(str(info.path)), os.path.abspath(copy)]


def execute_decode(adapter: ToolAdapter, request: DecodeRequest, info: InputInfo, plan: OutputPlan) -> Outcome:
    """dcmtk decompresses into a temp file; its stored values are unpacked by the shared native unpacking."""
    import tempfile

    from dcmharness.backends.python_ref.ops_decode import decode_native_copy

    tool = adapter.tool()
    if tool is None:
        raise HarnessError(ErrorCode.BACKEND_UNAVAILABLE, "dcmtk: tool not found", "backend")
    with tempfile.TemporaryDirectory(prefix="dcmharness-dcmtk-decode-") as folder:
        copy = os.path.join(folder, "native.dcm")
        argv = build_decode_argv(info, copy, tool)
        run = run_tool(argv, timeout=request.timeout)
        stderr = run.stderr_text or None
        if run.returncode != 0 or not os.path.isfile(copy):
            raise ToolError(
                ErrorCode.BACKEND_FAILED,
                f"{os.path.basename(argv[0])} failed (exit {run.returncode})",
                argv,
                stderr,
            )
        decoder = f"dcmtk {tool.version or '?'} {os.path.basename(argv[0])}"
        outcome = decode_native_copy(copy, request, info, plan, decoder)
    outcome.command = argv
    outcome.stderr = stderr
    return outcome


def transcode_step(options: TranscodeOptions, input_ts: str | None) -> tuple[str, list[str]]:
    """(tool, flags) for one transcode, or ``unsupported`` / ``unsupported_transfer_syntax``. Pure."""
    target = options.transfer_syntax
    if target not in ENCODE:
        raise unsupported("transfer_syntax", f"dcmtk has no encoder for {target} (no JPEG 2000 in free dcmtk)")
    tool, flags = ENCODE[target]
    extra: list[str] = []
    if options.quality is not None:
        extra += ["+q", str(options.quality)]
    if target == "jpeg_ls_near_lossless":
        extra += ["+md", str(options.near_lossless or 2)]
    if input_ts is None or input_ts in UNCOMPRESSED_TS:
        return tool, [*flags, *extra]
    decoder = DECODERS.get(input_ts)
    if decoder is None:
        raise HarnessError(
            ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX, f"dcmtk cannot decode transfer syntax {input_ts}", "input"
        )
    if target == "explicit_vr_little_endian":
        return decoder, ["+te"]
    if target == "implicit_vr_little_endian":
        return decoder, ["+ti"]
    raise HarnessError(
        ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
        f"dcmtk 3.6 cannot re-encode compressed input ({input_ts}) to {target}: its encoders read uncompressed "
        "data only",
        "input",
    )


def build_ops_argv(request: RequestBase, info: InputInfo | None, plan: OutputPlan, tool: ToolInfo) -> list[str]:
    """The argv of one extra op (pure apart from locating the sibling binary)."""
    if info is None:
        raise HarnessError(ErrorCode.INTERNAL_ERROR, "no input description")
    src = os.path.abspath(str(info.path))
    if isinstance(request, DumpRequest):
        argv = [sibling(tool, "dcm2json")]
        if request.options.include_meta:
            argv.append("+m")
        return [*argv, src, os.path.abspath(str(plan.targets[0].temp))]
    if isinstance(request, InfoRequest):
        return [sibling(tool, "dcm2json"), "+m", "-fc", src]
    if isinstance(request, TranscodeRequest):
        name, flags = transcode_step(request.options, info.transfer_syntax)
        return [sibling(tool, name), *flags, src, os.path.abspath(str(plan.targets[0].temp))]
    raise HarnessError(ErrorCode.UNSUPPORTED_OPTION, f"dcmtk does not implement op {getattr(request, 'op', '?')!r}")


def omit_bulk(model: Any, threshold: int) -> Any:
    """Drop InlineBinary values of binary VRs longer than ``threshold`` bytes (recursively). Pure."""
    if isinstance(model, dict):
        out: dict[str, Any] = {}
        for key, value in model.items():
            if (
                isinstance(value, dict)
                and value.get("vr") in BINARY_VRS
                and isinstance(value.get("InlineBinary"), str)
                and _b64_len(value["InlineBinary"]) > threshold
            ):
                out[key] = {"vr": value["vr"]}
            else:
                out[key] = omit_bulk(value, threshold)
        return out
    if isinstance(model, list):
        return [omit_bulk(v, threshold) for v in model]
    return model


def _b64_len(text: str) -> int:
    stripped = text.rstrip("=")
    return len(stripped) * 3 // 4


def parse_json_output(data: bytes, argv: list[str], run: ToolRun | None) -> dict[str, Any]:
    try:
        model = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ToolError(
            ErrorCode.BACKEND_FAILED, f"dcm2json wrote invalid JSON: {exc}", argv, run.stderr_text if run else None
        ) from None
    if not isinstance(model, dict):
        raise ToolError(ErrorCode.BACKEND_FAILED, "dcm2json wrote no JSON object", argv, None)
    return model


def execute_op(adapter: ToolAdapter, request: RequestBase, info: InputInfo | None, plan: OutputPlan) -> Outcome:
    """Run one extra op with dcmtk's tools and shape its result like python_ref's."""
    from dcmharness.backends.python_ref.ops_dump import summarise
    from dcmharness.backends.python_ref.ops_transcode import transcode_result, written_transfer_syntax

    if isinstance(request, DecodeRequest) and info is not None:
        return execute_decode(adapter, request, info, plan)
    tool = adapter.tool()
    if tool is None:
        raise HarnessError(ErrorCode.BACKEND_UNAVAILABLE, "dcmtk: tool not found", "backend")
    if isinstance(request, ModifyRequest):
        return execute_modify(sibling(tool, "dcmodify"), request, info, plan)
    argv = build_ops_argv(request, info, plan, tool)
    run = run_tool(argv, timeout=request.timeout)
    if run.returncode != 0 and CHARSET_UNSUPPORTED in run.stderr_text:
        line = next(ln for ln in run.stderr_text.splitlines() if CHARSET_UNSUPPORTED in ln)
        error = ToolError(ErrorCode.UNSUPPORTED_OPTION, f"dcm2json: {line.removeprefix('E: ')}", argv, run.stderr_text)
        error.field = "input"
        raise error
    adapter.interpret(run, plan)
    stderr = run.stderr_text or None
    assert info is not None
    if isinstance(request, InfoRequest):
        model = parse_json_output(run.stdout, argv, run)
        return Outcome(
            result=summarise(model, info.transfer_syntax, request.options.include_private), command=argv, stderr=stderr
        )
    temp = plan.targets[0].temp
    if not temp.exists() or temp.stat().st_size == 0:
        raise ToolError(ErrorCode.BACKEND_FAILED, f"{os.path.basename(argv[0])} wrote no output", argv, stderr)
    if isinstance(request, DumpRequest):
        model = parse_json_output(temp.read_bytes(), argv, run)
        if request.options.bulk_data == "omit":
            model = omit_bulk(model, request.options.bulk_threshold)
            temp.write_text(json.dumps(model, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        result = {
            "attributes": len(model),
            "transfer_syntax": info.transfer_syntax,
            "bulk_data": request.options.bulk_data,
        }
        return Outcome(result=result, command=argv, stderr=stderr)
    assert isinstance(request, TranscodeRequest)
    written = written_transfer_syntax(temp)
    if written != request.options.uid:
        raise ToolError(
            ErrorCode.BACKEND_FAILED,
            f"{os.path.basename(argv[0])} wrote transfer syntax {written}, not {request.options.uid}",
            argv,
            stderr,
        )
    return Outcome(result=transcode_result(request.options, info, temp), command=argv, stderr=stderr)


def execute_from_json(adapter: ToolAdapter, request: FromJsonRequest, doc: object, plan: OutputPlan) -> Outcome:
    """json2dcm on the document with every bulk value inline (it reads no BulkDataURI)."""
    import tempfile
    from pathlib import Path

    from dcmharness.adapters.dcmtk.from_json import JSON2DCM, check_json2dcm, json2dcm_argv
    from dcmharness.backends.dicom_json import JsonDocument, verify_written, write_inlined

    assert isinstance(doc, JsonDocument)
    tool = adapter.tool()
    if tool is None:
        raise HarnessError(ErrorCode.BACKEND_UNAVAILABLE, "dcmtk: tool not found", "backend")
    check_json2dcm(tool.version, doc.transfer_syntax)
    temp = plan.targets[0].temp
    with tempfile.TemporaryDirectory(prefix="dcmharness-json2dcm-") as tmp:
        document = write_inlined(doc, Path(tmp))
        argv = json2dcm_argv(sibling(tool, JSON2DCM), str(document), os.path.abspath(str(temp)), doc.transfer_syntax)
        run = run_tool(argv, timeout=request.timeout)
    adapter.interpret(run, plan)
    try:
        result = verify_written(doc, temp)
    except HarnessError as exc:
        raise ToolError(exc.code, f"json2dcm: {exc.message}", argv, run.stderr_text) from None
    return Outcome(result=result, command=argv, stderr=run.stderr_text or None)


def check_from_json(adapter: ToolAdapter, doc: object) -> None:
    """No json2dcm before dcmtk 3.7.0, none for encapsulated data: refused before running."""
    from dcmharness.adapters.dcmtk.from_json import check_json2dcm

    tool = adapter.tool()
    check_json2dcm(tool.version if tool else None, str(getattr(doc, "transfer_syntax", "")))


def check_json_input(info: InputInfo | None) -> None:
    """dcm2json 3.6.7 stops on encapsulated pixel data ("JSON InlineBinary encoding not supported for
    compressed pixel data", exit 81): refused before running."""
    if info is not None and info.has_pixel_data and info.transfer_syntax not in UNCOMPRESSED_TS:
        raise HarnessError(
            ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
            f"dcm2json cannot write compressed pixel data ({info.transfer_syntax}) as JSON",
            "input",
        )


def check_transcode_input(request: TranscodeRequest, info: InputInfo | None) -> None:
    """Refusals that depend on the input, before anything runs."""
    if info is None:
        return
    transcode_step(request.options, info.transfer_syntax)
    if request.options.transfer_syntax == "jpeg_ls_near_lossless" and (
        info.pixel_representation == 1 or info.photometric == "PALETTE COLOR"
    ):
        raise unsupported(
            "transfer_syntax",
            'dcmcjpls near-lossless refuses signed and PALETTE COLOR data ("Unsupported pixel representation / '
            'photometric interpretation for near-lossless JPEG-LS compression")',
        )
    if request.options.transfer_syntax == "jpeg_baseline" and info.bits_stored > 8:
        raise unsupported("transfer_syntax", f"JPEG baseline is 8-bit; the input has {info.bits_stored} bits stored")


def check_op_input(request: RequestBase, info: InputInfo | None) -> None:
    """The input-dependent refusals of the extra ops, before anything runs."""
    if isinstance(request, TranscodeRequest):
        check_transcode_input(request, info)
    elif isinstance(request, ModifyRequest):
        if info is not None:
            check_modify(resolve(request.options, info.dataset), info)
    elif isinstance(request, DecodeRequest):
        from dcmharness.backends.python_ref.ops_decode import refuse_float_pixel_data

        refuse_float_pixel_data(info, "dcmtk")
        if info is not None:
            decode_tool(info.transfer_syntax)
    else:
        check_json_input(info)


T = TypeVar("T", bound=ToolAdapter)


def with_ops(cls: type[T]) -> type[T]:
    """Class decorator for dcmtk's adapter: adds dump, info and transcode; delegates everything else."""

    class WithOps(cls):  # type: ignore[valid-type,misc]
        ops = (*cls.ops, *(op for op in EXTRA_OPS if op not in cls.ops))

        def capabilities_for(self, version: str | None) -> dict[str, dict[str, Capability]]:
            table: dict[str, dict[str, Capability]] = dict(super().capabilities_for(version))
            table.update(ops_capabilities())
            return table

        def capabilities(self) -> dict[str, Any]:
            from dcmharness.adapters.dcmtk.from_json import JSON2DCM_SINCE, json2dcm_available

            caps: dict[str, Any] = super().capabilities()
            tool = self.tool()
            if "from_json" in caps and not json2dcm_available(tool.version if tool else None):
                since = ".".join(map(str, JSON2DCM_SINCE))
                caps["from_json"] = {"refused": f"json2dcm first appears in DCMTK {since}; this dcmtk has none"}
            return caps

        def check_input(self, request: RequestBase, info: InputInfo | None) -> list[str]:
            if getattr(request, "op", "") not in EXTRA_OPS:
                warnings: list[str] = super().check_input(request, info)
                return warnings
            if isinstance(request, FromJsonRequest):
                check_from_json(self, info)
            else:
                check_op_input(request, info)
            return []

        def execute(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan) -> Outcome:
            if getattr(request, "op", "") not in EXTRA_OPS:
                outcome: Outcome = super().execute(request, info, plan)
                return outcome
            if isinstance(request, FromJsonRequest):
                return execute_from_json(self, request, info, plan)
            return execute_op(self, request, info, plan)

    WithOps.__name__ = cls.__name__
    WithOps.__qualname__ = cls.__qualname__
    WithOps.__module__ = cls.__module__
    WithOps.__doc__ = cls.__doc__
    return WithOps  # type: ignore[return-value]


class DcmtkOpsAdapter(ToolAdapter):
    """dcmtk's extra ops alone (for tests and for a build without ``adapters/dcmtk.py``)."""

    name = "dcmtk"
    description = "OFFIS dcmtk: dcm2json, dcmconv, dcmcrle, dcmcjpeg, dcmcjpls."
    tools = ("dcm2json",)
    env_var = "DCMTK_HOME"
    install_hint = "apt-get install dcmtk"
    ops = EXTRA_OPS

    def capabilities_for(self, version: str | None) -> dict[str, dict[str, Capability]]:
        return ops_capabilities()

    def check_input(self, request: RequestBase, info: InputInfo | None) -> list[str]:
        if isinstance(request, FromJsonRequest):
            check_from_json(self, info)
        else:
            check_op_input(request, info)
        return []

    def execute(self, request: RequestBase, info: InputInfo | None, plan: OutputPlan) -> Outcome:
        if isinstance(request, FromJsonRequest):
            return execute_from_json(self, request, info, plan)
        return execute_op(self, request, info, plan)
