"""decode: every decoder's stored values against the reference's (python_ref), frame by frame, before any
display stage. Exact for lossless transfer syntaxes; for lossy ones the largest absolute difference is
measured and any difference must be named by a registry entry (profile ``decode``), e.g. IDCT accuracy.
YBR_FULL / YBR_FULL_422 files are also compared with ``color_space: "rgb"`` (profile ``decode:rgb``).
A decoder that cannot read a syntax refuses it before running (``unsupported``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dcmharness.interface.conform.ops.core import Ctx, OpCheck, record, ref_record, run_request

#: Lossy transfer syntaxes (PS3.5 Table A-1 / 8.2): a decoder may differ by its arithmetic.
LOSSY = frozenset(
    {
        "1.2.840.10008.1.2.4.50",
        "1.2.840.10008.1.2.4.51",
        "1.2.840.10008.1.2.4.81",
        "1.2.840.10008.1.2.4.91",
    }
)
#: Compressed sample files (missing ones are skipped), then native and RLE layouts (python_gdcm refuses those).
DECODE_FILES = (
    "CT_small.dcm",
    "MR_small_RLE.dcm",
    "JPEG2000.dcm",
    "MR_small_jp2klossless.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "emri_small_jpeg_2k_lossless.dcm",
    "JPGLosslessP14SV1_1s_1f_8b.dcm",
    "SC_rgb_jpeg_dcmtk.dcm",
    "SC_rgb_dcmtk_+eb+cy+np.dcm",
    "SC_rgb_dcmtk_+eb+cy+s2.dcm",
    "SC_rgb_dcmtk_+eb+cr.dcm",
    "SC_jpeg_no_color_transform.dcm",
    "JPEG-lossy.dcm",
    "JPGExtended.dcm",
    "JPEGLSNearLossless_08.dcm",
    "JPEGLSNearLossless_16.dcm",
    "693_J2KI.dcm",
    "MR2_J2KR.dcm",
    "US1_J2KI.dcm",
    "RG1_J2KR.dcm",
    # native and RLE layouts every decoder must read alike: big endian, frames, colour planes, 1/16/32 bits,
    # YBR as stored, PALETTE COLOR indices, embedded overlay bits masked; a YBR_RCT JPEG 2000
    "MR_small_bigendian.dcm",
    "emri_small_RLE.dcm",
    "emri_small_big_endian.dcm",
    "SC_rgb_expb.dcm",
    "SC_rgb_rle_2frame.dcm",
    "SC_rgb_rle_16bit.dcm",
    "SC_rgb_32bit.dcm",
    "SC_ybr_full_uncompressed.dcm",
    "SC_ybr_full_422_uncompressed.dcm",
    "liver_1frame.dcm",
    "OBXXXX1A.dcm",
    "rtdose_1frame.dcm",
    "MR-SIEMENS-DICOM-WithOverlays.dcm",
    "GDCMJ2K_TextGBR.dcm",
)


def compare_arrays(reference: np.ndarray, other: np.ndarray) -> tuple[list[dict[str, Any]], float | None]:
    """The differences of one decoder's array from the reference's, and the largest absolute difference
    (None when the shapes or types differ). Pure."""
    if reference.shape != other.shape:
        return [{"difference": "shape", "reference": list(reference.shape), "backend": list(other.shape)}], None
    if reference.dtype != other.dtype:
        return [{"difference": "dtype", "reference": reference.dtype.name, "backend": other.dtype.name}], None
    delta = np.abs(reference.astype(np.float64) - other.astype(np.float64))
    worst = float(delta.max()) if delta.size else 0.0
    if worst == 0.0:
        return [], 0.0
    return [{"difference": "values", "max_abs_diff": worst, "samples_differing": int((delta > 0).sum())}], worst


#: The photometric interpretations whose files are also compared with ``color_space: "rgb"`` (profile
#: ``decode:rgb``): decoders that convert YCbCr while decoding (dicom_rs, orthanc) are compared there.
RGB_PROFILE_PHOTOMETRICS = frozenset({"YBR_FULL", "YBR_FULL_422"})


def profiles_of(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(profile, options) pairs of one file: ``decode`` always, ``decode:rgb`` for YBR_FULL(_422) files."""
    import pydicom

    runs: list[tuple[str, dict[str, Any]]] = [("decode", {})]
    try:
        photometric = str(pydicom.dcmread(path, stop_before_pixels=True).get("PhotometricInterpretation", ""))
    except Exception:  # unreadable: the reference's own run reports it
        return runs
    if photometric.strip().upper() in RGB_PROFILE_PHOTOMETRICS:
        runs.append(("decode:rgb", {"color_space": "rgb"}))
    return runs


def check_file(ctx: Ctx, path: Path, case: str, backends: Sequence[str], case_dir: Path) -> None:
    for profile, options in profiles_of(path):
        check_profile(ctx, path, case, backends, case_dir, profile, options)


def check_profile(
    ctx: Ctx,
    path: Path,
    case: str,
    backends: Sequence[str],
    case_dir: Path,
    profile: str,
    options: dict[str, Any],
) -> None:
    suffix = "" if not options else "-rgb"
    outputs = {b: case_dir / f"{b}{suffix}.npy" for b in (ctx.config.reference, *backends)}

    def req(backend: str) -> dict[str, Any]:
        return {
            "op": "decode",
            "input": str(path),
            "backend": backend,
            "output": str(outputs[backend]),
            "overwrite": True,
            "options": options,
        }

    ref = run_request(req(ctx.config.reference), ctx.config.timeout)
    ref_record(ctx, case, path, profile, options, ref)
    for backend in backends:
        got = run_request(req(backend), ctx.config.timeout)
        problems: list[Any] | None = None
        metrics: dict[str, Any] = {}
        worst: float | None = None
        if ref.ok and got.ok:
            a = np.load(outputs[ctx.config.reference], allow_pickle=False)
            b = np.load(outputs[backend], allow_pickle=False)
            problems, worst = compare_arrays(a, b)
            syntax = (ref.result or {}).get("transfer_syntax")
            metrics = {"max_abs_diff": worst, "lossy": syntax in LOSSY, "transfer_syntax": syntax}
            metrics["md5"] = (got.result or {}).get("md5")
            metrics["reference_md5"] = (ref.result or {}).get("md5")
        record(
            ctx,
            case=case,
            path=path,
            profile=profile,
            options=options,
            backend=backend,
            run=got,
            problems=problems,
            reference=ref,
            metrics=metrics,
            max_abs_diff=worst,
        )


DECODE = OpCheck(DECODE_FILES, check_file)
