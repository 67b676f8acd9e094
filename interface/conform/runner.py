"""The conformance run: plan (files x profiles), map ``run_case`` over an executor, write the reports.

    >>> from dcmharness.interface.conform.runner import ConformConfig, run_conformance
    >>> report = run_conformance(ConformConfig(out=Path("conform-out"), backends=["dcmtk"], limit=5))
    >>> report["summary"]["counts"]

The corpus defaults to the real sample files plus the synthetic cases (``dcmharness.interface.synth``, when present);
the backends to every available one but the reference. Each file gets every profile that fits it; a file
whose header cannot be read gets only the ``default`` profile (so the backends' error codes are compared).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.interface import registry
from dcmharness.interface.conform import divergence
from dcmharness.interface.conform.case import CaseOutcome, CaseTask, run_cases
from dcmharness.interface.conform.executor import Progress, executor_name, map_ordered
from dcmharness.interface.conform.profiles import PROFILES, SYNTHETIC

REPORT_JSON, REPORT_HTML = "report.json", "report.html"


@dataclass
class ConformConfig:
    out: Path
    corpus: Sequence[Path] | None = None  # folders or files; None = the samples + the synthetic cases
    backends: Sequence[str] | None = None  # None = every available backend but the reference
    profiles: Sequence[str] | None = None  # None = all
    reference: str = "python_ref"
    jobs: int = 1
    scheduler: Any = None  # a Dask scheduler address or distributed.Client
    limit: int | None = None  # at most this many files
    registry_path: Path | None = None
    thumbnails: bool = True
    html: bool = True
    progress: bool = True
    timeout: float | None = None
    batch: bool = True  # batch-capable backends (execute_batch) render each file's cases in one tool process
    keep_all: bool = False  # keep every render (default: the renders of the cases needing attention only)


@dataclass
class Plan:
    tasks: list[CaseTask]
    files: list[Path]
    notes: list[str] = field(default_factory=list)
    default_corpus: bool = False


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:60] or "file"


def synthetic_files(folder: Path, notes: list[str]) -> list[tuple[Path, dict[str, Any]]]:
    """The synthetic cases (``interface.synth.generate(folder)``) with their own options; none (noted) if absent."""
    try:
        from dcmharness.interface import synth
    except ImportError:
        notes.append("synthetic cases skipped: dcmharness.interface.synth is not available")
        return []
    try:
        made = synth.generate(folder)
    except Exception as exc:
        notes.append(f"synthetic cases skipped: interface.synth.generate failed: {type(exc).__name__}: {exc}")
        return []
    return [(Path(c.path), dict(c.options)) for c in made]


def manifest_options(folder: Path) -> dict[Path, dict[str, Any]]:
    """A synth folder's ``manifest.json``: file -> its case's options (empty for other folders)."""
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        return {}
    try:
        doc = json.loads(manifest.read_text(encoding="utf-8"))
        if doc.get("generator") != "dcmharness synth":
            return {}
        return {(folder / c["path"]).resolve(): dict(c.get("options") or {}) for c in doc["cases"]}
    except (ValueError, KeyError, TypeError, AttributeError):
        return {}


def corpus_files(config: ConformConfig, notes: list[str]) -> tuple[list[Path], dict[Path, dict[str, Any]], bool]:
    """The files to check (deterministic order), the synthetic cases' own options, and whether it is the
    default corpus."""
    own: dict[Path, dict[str, Any]] = {}
    if config.corpus:
        files: list[Path] = []
        for entry in config.corpus:
            if entry.is_dir():
                own.update(manifest_options(entry))
                files += sorted(
                    (p for p in entry.rglob("*") if p.is_file() and p.suffix not in (".npy", ".json")),
                    key=lambda p: str(p.relative_to(entry)),
                )
            elif entry.is_file():
                files.append(entry)
            else:
                raise HarnessError(ErrorCode.INPUT_NOT_FOUND, f"corpus path not found: {entry}", "corpus")
        default = False
    else:
        from dcmharness.interface.samples import image_files

        synthetic = synthetic_files(config.out / "synthetic", notes)
        own = {p.resolve(): o for p, o in synthetic}
        files = list(image_files()) + [p for p, _ in synthetic]
        default = bool(synthetic)
    seen: set[Path] = set()
    unique = []
    for p in files:
        if p.resolve() not in seen:
            seen.add(p.resolve())
            unique.append(p)
    if config.limit is not None:
        unique = unique[: config.limit]
    return unique, own, default


def resolve_backends(config: ConformConfig, notes: list[str]) -> list[tuple[str, str | None, str]]:
    """(name, version, kind) of the backends to compare; unknown names raise, unavailable ones are noted."""
    names = list(config.backends) if config.backends else [n for n in registry.names() if n != config.reference]
    chosen = []
    for name in names:
        backend = registry.get(name)  # invalid_request for an unknown name
        if "to_image" not in backend.ops:
            if config.backends:
                notes.append(f"backend {name} skipped: it does not implement to_image")
            continue
        try:
            avail = backend.availability()
        except Exception as exc:
            notes.append(f"backend {name} skipped: availability check failed: {exc}")
            continue
        if not avail.available:
            if config.backends:
                notes.append(f"backend {name} skipped: not available ({avail.reason})")
            continue
        chosen.append((name, avail.version, backend.kind))
    return chosen


def plan(config: ConformConfig, backends: Sequence[str], registry_entries: Sequence[divergence.Divergence]) -> Plan:
    from dcmharness.backends.preflight import inspect

    notes: list[str] = []
    files, own_options, default_corpus = corpus_files(config, notes)
    wanted = list(config.profiles) if config.profiles else list(PROFILES)
    tasks: list[CaseTask] = []
    kept: list[Path] = []
    for file_index, path in enumerate(files):
        try:
            info = inspect(str(path))
            fitting = [(n, PROFILES[n].options_for(info)) for n in wanted if n != SYNTHETIC]
            if SYNTHETIC in wanted and path.resolve() in own_options:
                fitting.append((SYNTHETIC, own_options[path.resolve()]))
        except HarnessError as exc:
            if exc.code is ErrorCode.NOT_DICOM and config.corpus:
                notes.append(f"{path}: not DICOM, skipped")
                continue
            fitting = [("default", {})] if "default" in wanted else []
        file_tasks = [(n, o) for n, o in fitting if o is not None]
        if not file_tasks:
            continue
        kept.append(path)
        file_id = f"{file_index:04d}-{_slug(path.name)}"
        for name, options in file_tasks:
            profile = PROFILES[name]
            tasks.append(
                CaseTask(
                    index=len(tasks),
                    case_id=f"{file_id}/{name}",
                    input=str(path),
                    profile=name,
                    options=dict(options or {}),
                    reference=config.reference,
                    backends=tuple(backends),
                    case_dir=str(config.out / "cases" / file_id / name),
                    tolerance=profile.tolerance,
                    min_psnr=profile.min_psnr,
                    fidelity_margin_db=profile.fidelity_margin_db,
                    registry=tuple(registry_entries),
                    thumbnails=config.thumbnails and config.html,
                    timeout=config.timeout,
                    batch=config.batch,
                    keep_all=config.keep_all,
                )
            )
    return Plan(tasks, kept, notes, default_corpus)


def unit_cost(unit: Sequence[CaseTask]) -> float:
    """The work of a file's cases, estimated: its size times the number of its cases (backends x profiles)."""
    try:
        size = os.path.getsize(unit[0].input) if unit else 0
    except OSError:
        size = 0
    return float(size * sum(len(t.backends) + 1 for t in unit))


def work_units(tasks: Sequence[CaseTask]) -> list[list[CaseTask]]:
    """The unit of work: one file's cases (a batch-capable backend then starts its tool once per file)."""
    units: list[list[CaseTask]] = []
    for task in tasks:
        if units and units[-1][0].input == task.input:
            units[-1].append(task)
        else:
            units.append([task])
    return units


def run_conformance(config: ConformConfig) -> tuple[dict[str, Any], list[CaseOutcome]]:
    """Run the whole conformance check and write ``report.json`` (and ``report.html``) into ``config.out``."""
    from dcmharness.interface.conform import report_json as conform_report

    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    config.out.mkdir(parents=True, exist_ok=True)
    unknown = [p for p in (config.profiles or []) if p not in PROFILES]
    if unknown:
        raise HarnessError(
            ErrorCode.INVALID_REQUEST,
            f"unknown profile(s) {', '.join(unknown)}; known: {', '.join(PROFILES)}",
            "profiles",
        )
    ref_backend = registry.get(config.reference)
    ref_avail = ref_backend.availability()
    if not ref_avail.available:
        raise HarnessError(
            ErrorCode.BACKEND_UNAVAILABLE, f"reference {config.reference!r}: {ref_avail.reason}", "reference"
        )
    entries = divergence.load(config.registry_path)
    notes: list[str] = []
    chosen = resolve_backends(config, notes)
    if not chosen:
        notes.append(f"no backend to compare with the reference {config.reference}: only its renders are reported")
    the_plan = plan(config, [c[0] for c in chosen], entries)
    notes += the_plan.notes
    progress = Progress(len(the_plan.tasks), enabled=config.progress)
    units = work_units(the_plan.tasks)
    done = map_ordered(
        run_cases, units, jobs=config.jobs, scheduler=config.scheduler, progress=progress, weight=len, cost=unit_cost
    )
    outcomes = [o for unit in done for o in unit]
    full = the_plan.default_corpus and config.limit is None and not config.profiles
    info = conform_report.RunInfo(
        out=config.out,
        reference={"name": config.reference, "version": ref_avail.version},
        backends=[{"name": n, "version": v, "kind": k} for n, v, k in chosen],
        profiles=list(config.profiles or PROFILES),
        files=len(the_plan.files),
        full_run=bool(full),
        executor=executor_name(config.jobs, config.scheduler),
        jobs=config.jobs,
        duration_s=time.perf_counter() - t0,
        started_at=started_at,
        registry_path=str(config.registry_path or divergence.DEFAULT_REGISTRY),
        registry=entries,
        notes=notes,
        renders={
            "policy": "all" if config.keep_all else "attention",
            "kept": sum(1 for p in (config.out / "cases").rglob("*") if p.is_file()),
            "removed": sum(o.removed for o in outcomes),
        },
    )
    report = conform_report.build(outcomes, info)
    conform_report.write(report, config.out / REPORT_JSON)
    if config.html:
        from dcmharness.interface.conform import report_html as conform_html

        conform_html.write(report, outcomes, config.out / REPORT_HTML)
    return report, outcomes
