"""transcode: every backend, the reference included, verified against the input (transfer syntax,
metadata, pixels bit-identical for lossless targets); then the cross-decoding matrix: each backend's
lossless encoding decoded by every decoder (python_ref/pydicom, dcmtk, GDCM), in ``report["matrix"]`` and
as records of profile ``cross_decode:<target>`` (backend = the decoder, options = {"encoder": ...}).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dcmharness.contract.ops_models import LOSSLESS_TARGETS, TRANSFER_SYNTAXES
from dcmharness.interface.conform.ops import verify
from dcmharness.interface.conform.ops.core import Ctx, OpCheck, Run, record, ref_record, run_request

TRANSCODE_FILES = (
    "CT_small.dcm",
    "MR_small.dcm",
    "US1_UNCR.dcm",
    "SC_rgb_16bit.dcm",
    "emri_small.dcm",
    "OT-PAL-8-face.dcm",
    "MR_small_RLE.dcm",
    "SC_rgb_jpeg_dcmtk.dcm",
    "ExplVR_BigEnd.dcm",  # big endian, colour by plane
    "MR_small_bigendian.dcm",
)
LOSSY_TARGETS = ("jpeg_baseline", "jpeg_ls_near_lossless", "jpeg_2000")


def transcode_file(ctx: Ctx, path: Path, case: str, backends: Sequence[str], case_dir: Path) -> None:
    matrix: dict[str, Any] = ctx.extra.setdefault("matrix", {})
    targets = ctx.config.targets or (*LOSSLESS_TARGETS, *LOSSY_TARGETS)
    everyone = (ctx.config.reference, *backends)
    try:
        reference_pixels = verify.read_pixels(path)
    except Exception:
        reference_pixels = None
    for target in targets:
        profile = f"transcode:{target}"
        options = {"transfer_syntax": target}
        lossless = target in LOSSLESS_TARGETS
        encoded: dict[str, str] = {}
        for backend in everyone:
            out = case_dir / f"{target}.{backend}.dcm"
            got = run_request(
                {
                    "op": "transcode",
                    "input": str(path),
                    "output": str(out),
                    "backend": backend,
                    "overwrite": True,
                    "options": options,
                },
                ctx.config.timeout,
            )
            problems: list[Any] | None = None
            metrics: dict[str, Any] = {}
            if got.ok and got.output:
                try:
                    check = verify.verify_transcode(path, got.output, TRANSFER_SYNTAXES[target], lossless)
                except Exception as exc:  # an unreadable output is a finding
                    check = {"problems": [f"output not verifiable: {type(exc).__name__}: {exc}"[:300]], "pixels": None}
                problems = list(check["problems"])
                metrics = {"pixels": check["pixels"], "size_bytes": (got.result or {}).get("size_bytes")}
                if lossless and check["pixels"] and check["pixels"]["identical"]:
                    encoded[backend] = got.output
            if backend == ctx.config.reference:
                ref_record(ctx, f"{case}/{target}", path, profile, options, got)
            record(
                ctx,
                case=f"{case}/{target}",
                path=path,
                profile=profile,
                options=options,
                backend=backend,
                run=got,
                problems=problems,
                reference=None,
                metrics=metrics,
            )
        if (
            lossless
            and encoded
            and reference_pixels is not None
            and target
            not in (
                "implicit_vr_little_endian",
                "explicit_vr_little_endian",
            )
        ):
            cells = verify.cross_decode(encoded, reference_pixels)
            matrix.setdefault(path.name, {})[target] = cells
            matrix_records(ctx, f"{case}/{target}", path, target, cells)


def matrix_records(ctx: Ctx, case: str, path: Path, target: str, cells: dict[str, dict[str, str]]) -> None:
    """One record per (encoder, decoder) cell: profile ``cross_decode:<target>``, backend = the decoder."""
    for encoder, row in cells.items():
        for decoder, cell in row.items():
            options = {"encoder": encoder}
            if cell.startswith("cannot"):
                code = "unsupported_transfer_syntax" if "has no decoder" in cell else "backend_failed"
                got = Run(ok=False, error={"code": code, "message": cell, "field": None})
                problems: list[Any] | None = None
            else:
                got = Run(ok=True)
                problems = [] if cell == "identical" else [cell]
            record(
                ctx,
                case=f"{case}/{encoder}",
                path=path,
                profile=f"cross_decode:{target}",
                options=options,
                backend=decoder,
                run=got,
                problems=problems,
                reference=None,
            )


def matrix_summary(matrix: dict[str, Any]) -> dict[str, Any]:
    """Counts of the cross-decoding cells and the ones that are not identical."""
    cells = [
        (f, t, enc, dec, v)
        for f, targets in matrix.items()
        for t, rows in targets.items()
        for enc, row in rows.items()
        for dec, v in row.items()
    ]
    return {
        "cells": len(cells),
        "identical": sum(1 for c in cells if c[4] == "identical"),
        "cannot": sum(1 for c in cells if c[4].startswith("cannot")),
        "differs": [f"{f} {t}: {e} -> {d}: {v}" for f, t, e, d, v in cells if v.startswith("differs")],
    }


def matrix_table(matrix: dict[str, Any]) -> str:
    """The cross-decoding matrix aggregated over files: target, encoder -> decoder: identical/total."""
    agg: dict[tuple[str, str, str], list[int]] = {}
    for targets in matrix.values():
        for target, rows in targets.items():
            for enc, row in rows.items():
                for dec, value in row.items():
                    cell = agg.setdefault((target, enc, dec), [0, 0, 0])
                    cell[0] += value == "identical"
                    cell[1] += value.startswith("cannot")
                    cell[2] += 1
    decoders = sorted({k[2] for k in agg})
    lines = ["target | encoder | " + " | ".join(f"decoded by {d}" for d in decoders)]
    for target, enc in sorted({(k[0], k[1]) for k in agg}):
        cells = []
        for d in decoders:
            ok, cannot, total = agg.get((target, enc, d), [0, 0, 0])
            cells.append(f"{ok}/{total} identical" + (f" ({cannot} cannot)" if cannot else ""))
        lines.append(f"{target} | {enc} | " + " | ".join(cells))
    return "\n".join(lines)




def finish(ctx: Ctx, report: dict[str, Any]) -> None:
    matrix = ctx.extra.get("matrix", {})
    report["matrix"] = matrix
    report["summary"]["cross_decoding"] = matrix_summary(matrix)


TRANSCODE = OpCheck(TRANSCODE_FILES, transcode_file, finish=finish)
