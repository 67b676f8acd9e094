"""Argv mappings of ``dump`` and ``transcode`` for dcm4che and dicom-rs (golden-tested; not wired yet).

These tools are not installed on the CI machine, so the mappings are pure functions checked by golden
argv tests only; the owners of ``adapters/dcm4che.py`` and ``adapters/dicom_rs.py`` can delegate the
ops to them the way ``adapters/dcmtk_ops.with_ops`` does for dcmtk (both tools write JSON to stdout:
the adapter then writes stdout into the plan's temp file).

- dcm4che 5 ``dcm2json [-I] [-B|-b] [--blk-vr VRS=N] <file>`` (stdout): ``-B`` leaves bulk data out,
  ``-b`` inlines it, the default writes BulkDataURI references into the source file; ``--blk-vr``
  sets the threshold per VR (dcm4che-tool-dcm2json README). Note: ``-B`` drops the attribute, where the
  contract keeps it with its vr only (the comparison then reports it missing: a registry entry is due
  once the tool runs here).
- dcm4che 5 ``dcm2dcm [-t uid | --jpll | --jpls | --j2kr | --jpeg | --j2ki] [-q 0..1] <in> <out>``
  (dcm4che-tool-dcm2dcm README); no RLE or deflate encoder, no JPEG-LS near-lossless switch.
- dicom-rs ``dicom-dump --format json <file>`` (stdout; dicom-rs 0.6+; not verified here, the tool is
  absent) and ``dicom-transcode --ts <uid> <in> -o <out>``.
"""

from __future__ import annotations

from contract.ops_models import TRANSFER_SYNTAXES, DumpOptions, TranscodeOptions

#: dcm2dcm's own switches for the targets it encodes (others via -t <uid>).
DCM2DCM_SWITCHES: dict[str, str] = {
    "jpeg_lossless_sv1": "--jpll",
    "jpeg_ls_lossless": "--jpls",
    "jpeg_2000_lossless": "--j2kr",
    "jpeg_baseline": "--jpeg",
    "jpeg_2000": "--j2ki",
}
DCM2DCM_TARGETS: tuple[str, ...] = (
    "explicit_vr_little_endian",
    "implicit_vr_little_endian",
    *DCM2DCM_SWITCHES,
)
BULK_VRS = "OB,OD,OF,OL,OV,OW,UN"


def dcm4che_dump_argv(tool: str, src: str, options: DumpOptions) -> list[str]:
    """``dcm2json`` (stdout). Pure."""
    argv = [tool, "-I"]
    if options.bulk_data == "inline":
        argv.append("-b")
    else:
        argv += ["-B", "--blk-vr", f"{BULK_VRS}={options.bulk_threshold}"]
    return [*argv, src]


def dcm4che_transcode_argv(tool: str, src: str, out: str, options: TranscodeOptions) -> list[str]:
    """``dcm2dcm``; ``ValueError`` for a target it has no encoder for. Pure."""
    target = options.transfer_syntax
    if target not in DCM2DCM_TARGETS:
        raise ValueError(f"dcm2dcm cannot encode {target}")
    switch = DCM2DCM_SWITCHES.get(target)
    argv = [tool, switch] if switch else [tool, "-t", TRANSFER_SYNTAXES[target]]
    if options.quality is not None:
        argv += ["-q", f"{options.quality / 100:g}"]
    return [*argv, src, out]


def dicom_rs_dump_argv(tool: str, src: str) -> list[str]:
    """``dicom-dump --format json`` (stdout). Pure."""
    return [tool, "--format", "json", src]


def dicom_rs_transcode_argv(tool: str, src: str, out: str, options: TranscodeOptions) -> list[str]:
    """``dicom-transcode --ts <uid>``. Pure."""
    return [tool, "--ts", TRANSFER_SYNTAXES[options.transfer_syntax], src, "-o", out]
