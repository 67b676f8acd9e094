"""``report.json``: the summary and one result per (file, profile, backend). Schema: docs/report-schema.md."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dcmharness.interface.conform.case import CaseOutcome, Render
from dcmharness.interface.conform.divergence import Divergence, concerns_run, stale_entries
from dcmharness.interface.conform.status import ERROR, EXPLAINED, MISMATCH, STATUSES

SCHEMA_VERSION = 1


@dataclass
class RunInfo:
    """What the run was (for the summary)."""

    out: Path
    reference: dict[str, Any]
    backends: list[dict[str, Any]]
    profiles: list[str]
    files: int
    full_run: bool
    executor: str
    jobs: int
    duration_s: float
    started_at: str
    registry_path: str
    registry: Sequence[Divergence] = ()
    tolerance: float = 1.0
    notes: list[str] = field(default_factory=list)
    #: which renders stay on disk: {"policy": "all" | "attention", "kept": files, "removed": files}
    renders: dict[str, Any] = field(default_factory=dict)


def rel(path: str | None, out: Path) -> str | None:
    if path is None:
        return None
    try:
        return os.path.relpath(path, out)
    except ValueError:
        return path


def _render_fields(r: Render, out: Path) -> dict[str, Any]:
    return {
        "output": rel(r.output, out),
        "error": r.error,
        "duration_ms": r.duration_ms,
        "command": r.command,
    }


def result_records(outcomes: Sequence[CaseOutcome], out: Path) -> list[dict[str, Any]]:
    """One record per (file, profile, backend), in task order then backend order."""
    records = []
    for oc in outcomes:
        t = oc.task
        for res in oc.results:
            rec: dict[str, Any] = {
                "case": t.case_id,
                "input": t.input,
                "file": Path(t.input).name,
                "profile": t.profile,
                "options": t.options,
                "backend": res.backend,
                "backend_version": res.render.version,
                "status": res.status,
                "metrics": res.metrics,
                "divergence": res.divergence,
                "exceeded": res.exceeded,
                **_render_fields(res.render, out),
                "reference_output": rel(oc.reference.output, out),
                "reference_error": oc.reference.error,
            }
            records.append(rec)
    return records


def reference_records(outcomes: Sequence[CaseOutcome], out: Path) -> list[dict[str, Any]]:
    return [
        {
            "case": oc.task.case_id,
            "input": oc.task.input,
            "file": Path(oc.task.input).name,
            "profile": oc.task.profile,
            "options": oc.task.options,
            "ok": oc.reference.ok,
            **_render_fields(oc.reference, out),
        }
        for oc in outcomes
    ]


def _counts(records: Sequence[dict[str, Any]], key: str | None) -> dict[str, Any]:
    if key is None:
        c = Counter(r["status"] for r in records)
        return {s: c.get(s, 0) for s in STATUSES}
    groups: dict[str, Counter[str]] = {}
    for r in records:
        groups.setdefault(r[key], Counter())[r["status"]] += 1
    return {g: {s: c.get(s, 0) for s in STATUSES} for g, c in groups.items()}


def summary(records: Sequence[dict[str, Any]], refs: Sequence[dict[str, Any]], info: RunInfo) -> dict[str, Any]:
    used = Counter(r["divergence"]["id"] for r in records if r["status"] in (EXPLAINED, ERROR) and r["divergence"])
    exceeded = Counter(e for r in records for e in r["exceeded"])
    run_backends = [b["name"] for b in info.backends]
    unmatched = stale_entries(info.registry, set(used), run_backends, info.profiles)
    return {
        "schema_version": SCHEMA_VERSION,
        "started_at": info.started_at,
        "duration_s": round(info.duration_s, 3),
        "executor": info.executor,
        "jobs": info.jobs,
        "reference": info.reference,
        "backends": info.backends,
        "profiles": info.profiles,
        "tolerance": info.tolerance,
        "files": info.files,
        "cases": len(refs),
        "results": len(records),
        "reference_errors": sum(1 for r in refs if not r["ok"]),
        "counts": _counts(records, None),
        "by_backend": _counts(records, "backend"),
        "by_profile": _counts(records, "profile"),
        "unexplained_mismatches": sum(1 for r in records if r["status"] == MISMATCH),
        "registry": {
            "path": info.registry_path,
            "entries": len(info.registry),
            "used": dict(sorted(used.items())),
            "exceeded": dict(sorted(exceeded.items())),
            "full_run": info.full_run,
            "unmatched": unmatched,
            "stale": unmatched if info.full_run else [],
            "not_run": [e.id for e in info.registry if not concerns_run(e, run_backends, info.profiles)],
        },
        "notes": info.notes,
        "renders": info.renders,
    }


def build(outcomes: Sequence[CaseOutcome], info: RunInfo) -> dict[str, Any]:
    records = result_records(outcomes, info.out)
    refs = reference_records(outcomes, info.out)
    return {"summary": summary(records, refs, info), "results": records, "references": refs}


def write(report: dict[str, Any], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=1, allow_nan=False, default=_json_default) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _json_default(value: Any) -> Any:
    return str(value)
