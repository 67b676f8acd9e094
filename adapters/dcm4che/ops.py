"""dcm4che's ops beyond ``to_image``: ``dump`` and ``info`` (``dcm2json``), ``transcode`` (``dcm2dcm``) and
``anonymize`` (``deidentify``). The argv mappings are pure and golden-tested (``tests/test_java_rust_ops.py``);
running them is shared with dicom-rs (``adapters/cli_ops.py``).

Facts (dcm4che 5.x sources: ``Dcm2Json.java``, ``JSONWriter.java``, ``DicomInputStream.java``,
``Dcm2Dcm.java``, ``Deidentify.java``, ``DeIdentifier.java`` and the tools' READMEs):

- ``dcm2json [-b] <file>`` writes DICOM JSON to stdout. ``-b`` (``--with-bulkdata``) inlines every value;
  the default writes BulkDataURI references into the source file and ``-B`` drops bulk attributes
  altogether, where the contract keeps them with their vr. So the adapter always runs ``-b`` and applies
  the contract's ``bulk_data``/``bulk_threshold`` itself (as ``adapters/dcmtk/ops.py`` does for dcmtk's
  dcm2json). dcm2json also writes the File Meta Information (it reads it through the same handler):
  group 0002 is dropped unless ``include_meta``. Encapsulated Pixel Data comes out as a non-standard
  ``"DataFragment": [{"InlineBinary"}|null, ...]`` list: it is rewritten to one InlineBinary holding the
  encapsulated value (items with their headers, no sequence delimiter: what pydicom writes).
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
"""

from __future__ import annotations

from dcmharness.adapters.base import Capability
from dcmharness.adapters.cli_ops import Toolkit
from dcmharness.backends.base import unsupported
from dcmharness.backends.preflight import InputInfo
from dcmharness.contract.ops_models import TRANSFER_SYNTAXES, AnonymizeOptions, DumpOptions, TranscodeOptions

DEFAULT_J2K_RATIO = 10.0
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


def dcm4che_capabilities() -> dict[str, dict[str, Capability]]:
    return {
        "dump": {"bulk_data": ("omit", "inline"), "bulk_threshold": True, "include_meta": True},
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


def _transcode(tool: str, src: str, out: str, options: TranscodeOptions, info: InputInfo) -> list[str]:
    return dcm4che_transcode_argv(tool, src, out, options, info)


DCM4CHE = Toolkit(
    "dcm4che",
    DCM4CHE_OPS,
    "dcm2json",
    "dcm2dcm",
    "deidentify",
    dcm4che_capabilities,
    dump_argv=dcm4che_dump_argv,
    transcode_argv=_transcode,
    anonymize_argv=dcm4che_anonymize_argv,
)


#: Transfer syntaxes ``json2dcm -t`` is given: the native ones. dcm4che's JSONReader takes an encapsulated
#: Pixel Data InlineBinary as one plain value; writing it in an encapsulated syntax is not verified, so refused.
JSON2DCM_SYNTAXES = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.2")


def dcm4che_from_json_argv(tool: str, document: str, output: str, transfer_syntax: str) -> list[str]:
    """``json2dcm -f -t <uid> -j <document> -o <output>`` (dcm4che-tool-json2dcm README: ``-f`` always writes
    a Part 10 file with File Meta Information, ``-t`` the transfer syntax; without ``-i`` nothing is merged).
    The document is the inlined one (``backends/dicom_json.write_inlined``). Golden-tested only: dcm4che is
    not installable here, so ``from_json`` is not in its ops. Pure."""
    from dcmharness.contract.errors import ErrorCode, HarnessError

    if transfer_syntax not in JSON2DCM_SYNTAXES:
        raise HarnessError(
            ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
            f"dcm4che json2dcm: writing encapsulated pixel data ({transfer_syntax}) from JSON is not verified",
            "input",
        )
    return [tool, "-f", "-t", transfer_syntax, "-j", document, "-o", output]
