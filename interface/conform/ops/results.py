"""dump, info, stats, histogram: each backend's result (or written DICOM JSON) against the reference's."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dcmharness.interface.conform.ops import compare_json
from dcmharness.interface.conform.ops.core import Ctx, OpCheck, Run, as_dicts, record, ref_record, run_request

#: Default corpora (sample file names; missing ones are skipped).
DUMP_FILES = (
    "CT_small.dcm",
    "MR_small.dcm",
    "rtplan.dcm",
    "rtstruct.dcm",
    "SC_rgb.dcm",
    "emri_small.dcm",
    "JPEG2000.dcm",
    "US1_UNCR.dcm",
    "waveform_ecg.dcm",
    "MR-SIEMENS-DICOM-WithOverlays.dcm",
    "test-SR.dcm",
    "ExplVR_BigEnd.dcm",
    "nested_priv_SQ.dcm",
    "OT-PAL-8-face.dcm",
)
STATS_FILES = (
    "CT_small.dcm",
    "MR_small.dcm",
    "emri_small.dcm",
    "US1_UNCR.dcm",
    "SC_rgb_16bit.dcm",
    "MR_small_RLE.dcm",
    "JPEG2000.dcm",
    "mlut_18.dcm",
)

def compare_pair(op: str, ref: Run, got: Run, ref_output: Path, got_output: Path) -> list[Any]:
    """The differences of one backend's dump/info/stats/histogram from the reference's."""
    if op == "dump":
        a, b = compare_json.load_json(ref_output), compare_json.load_json(got_output)
        return as_dicts(compare_json.compare_dicom_json(a, b))
    if op == "info":
        return as_dicts(compare_json.compare_info(ref.result or {}, got.result or {}))
    if op == "stats":
        return as_dicts(compare_json.compare_stats(ref.result or {}, got.result or {}))
    return as_dicts(compare_json.compare_histogram(ref.result or {}, got.result or {}))


def compare_results(ctx: Ctx, path: Path, case: str, backends: Sequence[str], case_dir: Path) -> None:
    """dump, info, stats, histogram: each backend against the reference."""
    op = ctx.config.op
    options: dict[str, Any] = {}
    outputs = {b: case_dir / f"{b}.json" for b in (ctx.config.reference, *backends)}

    def req(backend: str) -> dict[str, Any]:
        r: dict[str, Any] = {"op": op, "input": str(path), "backend": backend, "options": options}
        if op == "dump":
            r.update(output=str(outputs[backend]), overwrite=True)
        return r

    ref = run_request(req(ctx.config.reference), ctx.config.timeout)
    ref_record(ctx, case, path, op, options, ref)
    for backend in backends:
        got = run_request(req(backend), ctx.config.timeout)
        problems: list[Any] | None = None
        if ref.ok and got.ok:
            try:
                problems = compare_pair(op, ref, got, outputs[ctx.config.reference], outputs[backend])
            except Exception as exc:  # an unreadable output is a finding, not a crash of the run
                problems = [f"output not comparable: {type(exc).__name__}: {exc}"[:300]]
        record(
            ctx,
            case=case,
            path=path,
            profile=op,
            options=options,
            backend=backend,
            run=got,
            problems=problems,
            reference=ref,
        )




DUMP = OpCheck(DUMP_FILES, compare_results, charset_files=True)
INFO = OpCheck(DUMP_FILES, compare_results, charset_files=True)
STATS = OpCheck(STATS_FILES, compare_results)
HISTOGRAM = OpCheck(STATS_FILES, compare_results)
