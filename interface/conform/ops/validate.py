"""validate: which findings each validator reports that the reference (python_ref) does not, and the reverse.

A finding is matched across validators by (kind, tag, path). Error-severity findings are compared; a
finding one side reports as an error and the other only as a warning is a difference of its own
(``warning_only``); warnings alone are listed in the results but never compared (the validators' advice
differs too much to be a contract: retired attributes, DICOMDIR hints, attributes outside the IOD).

Records: per file and backend, one record of profile ``validate:<kind>`` for each kind with a difference
(so a registry entry explains one kind of disagreement of one validator, e.g. ``validate:bad_file_meta``
for a validator that does not read the File Meta Information), or one ``validate`` record when the two
agree. The corpus: the synthetic planted-defect files (``interface/synth/validate_cases.py``, generated
into a temporary folder) and real sample files.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from dcmharness.interface.conform.ops.core import Ctx, OpCheck, Run, record, ref_record, run_request

#: Real sample files of the default corpus (missing ones are skipped): classic and enhanced IODs, SR, RT.
VALIDATE_FILES = (
    "CT_small.dcm",
    "MR_small.dcm",
    "rtplan.dcm",
    "rtstruct.dcm",
    "test-SR.dcm",
    "SC_rgb.dcm",
    "eCT_Supplemental.dcm",
    "emri_small.dcm",
    "liver.dcm",
    "rtdose.dcm",  # 32-bit dose grid: dciodvfy aborts on it (registered tool failure)
)
Key = tuple[str, str | None, str | None]


def keys(findings: Iterable[dict[str, Any]], severity: str) -> dict[Key, dict[str, Any]]:
    """(kind, tag, path) -> the first finding of that severity. Pure."""
    out: dict[Key, dict[str, Any]] = {}
    for f in findings:
        if f.get("severity") == severity:
            out.setdefault((f["kind"], f.get("tag"), f.get("path")), f)
    return out


def compare_findings(reference: Sequence[dict[str, Any]], other: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The differences of a validator's findings from the reference's, errors compared by (kind, tag, path):
    ``backend_only`` (an error only the validator reports), ``reference_only`` (one it does not report),
    ``warning_only`` (an error of one side that the other reports as a warning). Pure."""
    ref_err, got_err = keys(reference, "error"), keys(other, "error")
    ref_warn, got_warn = keys(reference, "warning"), keys(other, "warning")
    out: list[dict[str, Any]] = []
    for key, f in got_err.items():
        if key not in ref_err:
            side = "warning_only" if key in ref_warn else "backend_only"
            out.append({"difference": side, "kind": key[0], "tag": key[1], "path": key[2], "message": f["message"]})
    for key, f in ref_err.items():
        if key not in got_err:
            side = "warning_only" if key in got_warn else "reference_only"
            out.append({"difference": side, "kind": key[0], "tag": key[1], "path": key[2], "message": f["message"]})
    out.sort(key=lambda d: (d["kind"], d["tag"] or "", d["path"] or "", d["difference"]))
    return out


def by_kind(differences: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for d in differences:
        grouped.setdefault(d["kind"], []).append(d)
    return grouped


def check_file(ctx: Ctx, path: Path, case: str, backends: Sequence[str], case_dir: Path) -> None:
    options: dict[str, Any] = {}
    request = {"op": "validate", "input": str(path), "options": options}
    ref = run_request({**request, "backend": ctx.config.reference}, ctx.config.timeout)
    ref_record(ctx, case, path, "validate", options, ref)
    for backend in backends:
        got = run_request({**request, "backend": backend}, ctx.config.timeout)
        if not (ref.ok and got.ok):
            record(
                ctx,
                case=case,
                path=path,
                profile="validate",
                options=options,
                backend=backend,
                run=got,
                problems=None,
                reference=ref,
            )
            continue
        differences = compare_findings(_findings(ref), _findings(got))
        metrics = {"valid": (got.result or {}).get("valid"), "reference_valid": (ref.result or {}).get("valid")}
        if not differences:
            record(
                ctx,
                case=case,
                path=path,
                profile="validate",
                options=options,
                backend=backend,
                run=got,
                problems=[],
                reference=ref,
                metrics=metrics,
            )
            continue
        for kind, items in by_kind(differences).items():
            record(
                ctx,
                case=case,
                path=path,
                profile=f"validate:{kind}",
                options=options,
                backend=backend,
                run=got,
                problems=items,
                reference=ref,
                metrics=metrics,
            )


def _findings(run: Run) -> list[dict[str, Any]]:
    return list((run.result or {}).get("findings") or [])


def ct_series_first_slice() -> Path | None:
    """The first slice of the real head CT series of the shared data (``$DCMHARNESS_CT_SERIES``, else
    ``shared/data/ct-head-series`` beside the repository), read where it is; None when absent."""
    here = Path(__file__).resolve().parents[3]
    for folder in (os.environ.get("DCMHARNESS_CT_SERIES"), here.parent / "shared" / "data" / "ct-head-series"):
        if folder and Path(folder).is_dir():
            slices = sorted(Path(folder).glob("*.dcm"))
            if slices:
                return slices[0]
    return None


def generated_files() -> list[Path]:
    """The planted-defect files, written afresh into ``<tmp>/dcmharness-validate-cases``, and the first slice
    of the real CT series."""
    from dcmharness.interface.synth.validate_cases import generate

    folder = Path(tempfile.gettempdir()) / "dcmharness-validate-cases"
    series = ct_series_first_slice()
    return [c.path for c in generate(folder)] + ([series] if series else [])


VALIDATE = OpCheck(VALIDATE_FILES, check_file, generated=generated_files)
