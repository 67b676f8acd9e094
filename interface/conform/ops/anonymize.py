"""anonymize: every backend's output checked against PS3.15 E.1 (``verify_anonymize``) with the input's
digest unchanged; ``anonymize_batch`` anonymizes each file twice with one ``uid_secret`` and checks the
two UID maps agree (a backend without keyed remapping answers ``unsupported``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dcmharness.interface.conform.ops import verify
from dcmharness.interface.conform.ops.core import Ctx, OpCheck, record, ref_record, run_request

BATCH_SECRET = "dcmharness-conform-batch"
ANON_FILES = (
    "CT_small.dcm",
    "MR_small.dcm",
    "rtplan.dcm",
    "SC_rgb.dcm",
    "emri_small.dcm",
    "US1_UNCR.dcm",
    "test-SR.dcm",
    "nested_priv_SQ.dcm",
    "MR-SIEMENS-DICOM-WithOverlays.dcm",
    "JPEG2000.dcm",
)

def anonymize_file(ctx: Ctx, path: Path, case: str, backends: Sequence[str], case_dir: Path) -> None:
    everyone = (ctx.config.reference, *backends)
    digest = verify.file_digest(path)
    for backend in everyone:
        out = case_dir / f"anon.{backend}.dcm"
        got = run_request(
            {"op": "anonymize", "input": str(path), "output": str(out), "backend": backend, "overwrite": True},
            ctx.config.timeout,
        )
        problems: list[Any] | None = None
        if got.ok and got.output:
            try:
                problems = list(verify.verify_anonymize(path, got.output, {})["problems"])
            except Exception as exc:  # an unreadable output is a finding
                problems = [f"output not verifiable: {type(exc).__name__}: {exc}"[:300]]
            if verify.file_digest(path) != digest:
                problems.append("the input file changed")
        if backend == ctx.config.reference:
            ref_record(ctx, case, path, "anonymize", {}, got)
        record(
            ctx,
            case=case,
            path=path,
            profile="anonymize",
            options={},
            backend=backend,
            run=got,
            problems=problems,
            reference=None,
        )
        # the batch check: the same file twice with one key must give one UID map
        options = {"uid_secret": BATCH_SECRET}
        runs = [
            run_request(
                {
                    "op": "anonymize",
                    "input": str(path),
                    "output": str(case_dir / f"batch{k}.{backend}.dcm"),
                    "backend": backend,
                    "overwrite": True,
                    "options": options,
                },
                ctx.config.timeout,
            )
            for k in (1, 2)
        ]
        problems = None
        if all(r.ok and r.output for r in runs):
            try:
                maps = [verify.verify_anonymize(path, r.output or "", options)["uid_map"] for r in runs]
                problems = verify.batch_uid_conflicts(maps)
            except Exception as exc:  # an unreadable output is a finding
                problems = [f"output not verifiable: {type(exc).__name__}: {exc}"[:300]]
        record(
            ctx,
            case=f"{case}/batch",
            path=path,
            profile="anonymize_batch",
            options=options,
            backend=backend,
            run=runs[0] if not runs[0].ok else runs[1],
            problems=problems,
            reference=None,
        )


ANONYMIZE = OpCheck(ANON_FILES, anonymize_file)
