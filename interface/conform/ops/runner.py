"""Conformance of the ops beyond ``to_image``: ``dcmharness conform --op OP``.

The report has the same format as the to_image run (``report.json``: ``summary`` with counts by status,
backend and profile, ``results`` one record per (file, profile, backend), ``references``). The profile of a
record is the op (``dump``, ``info``, ``stats``, ``histogram``, ``anonymize``, ``anonymize_batch``) or
``transcode:<target>``. A difference is explained only by a registry entry that names that profile.

Each op's check is a module of this package with an ``OpCheck`` (its default corpus, the check of one file,
what it adds to the report), listed in ``CHECKS`` below: ``results.py`` (dump, info, stats, histogram),
``transcode.py`` (with the cross-decoding matrix), ``anonymize.py``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.interface import registry
from dcmharness.interface.conform import divergence
from dcmharness.interface.conform.case import ATTENTION
from dcmharness.interface.conform.ops import (
    anonymize,
    decode,
    from_json,
    modify,
    network,
    results,
    series,
    transcode,
    validate,
)
from dcmharness.interface.conform.ops import dicomweb as dicomweb_check
from dcmharness.interface.conform.ops.core import Ctx, OpCheck, OpsConfig, sample_files
from dcmharness.interface.conform.ops.transcode import matrix_summary, matrix_table

#: Every op with a conformance check, and its check.
CHECKS: dict[str, OpCheck] = {
    "dump": results.DUMP,
    "info": results.INFO,
    "stats": results.STATS,
    "histogram": results.HISTOGRAM,
    "transcode": transcode.TRANSCODE,
    "anonymize": anonymize.ANONYMIZE,
    "validate": validate.VALIDATE,
    "decode": decode.DECODE,
    "nifti": series.NIFTI,
    "volume": series.VOLUME,
    "network": network.NETWORK,  # echo, store, find: every client against every server (ops/network.py)
    "dicomweb": dicomweb_check.DICOMWEB,  # stow, qido, wado: every DICOMweb client against Orthanc (ops/dicomweb.py)
    "modify": modify.MODIFY,
    "from_json": from_json.FROM_JSON,  # dump, then every backend rebuilds the file (ops/from_json.py)
}
OPS = tuple(CHECKS)
REPORT_JSON = "report.json"
REPORT_HTML = "report.html"

__all__ = ["CHECKS", "OPS", "OpsConfig", "cli_main", "matrix_summary", "matrix_table", "run_ops_conformance"]


def default_corpus(op: str) -> list[Path]:
    """The sample files of an op's default corpus (``dump``/``info``: plus pydicom's character-set files)."""
    return sample_files(CHECKS[op])


def corpus_files(config: OpsConfig) -> list[Path]:
    own = CHECKS[config.op].corpus
    if own is not None:
        files = own(config)
    elif not config.corpus:
        files = default_corpus(config.op)
    else:
        files = []
        for c in config.corpus:
            files += sorted(p for p in c.rglob("*") if p.is_file()) if c.is_dir() else [c]
    return files[: config.limit] if config.limit else files


def op_backends(config: OpsConfig, notes: list[str]) -> list[tuple[str, str | None, str]]:
    chosen = []
    names = list(config.backends) if config.backends else [n for n in registry.names() if n != config.reference]
    for name in names:
        try:
            backend = registry.get(name)
        except HarnessError as exc:
            raise HarnessError(ErrorCode.INVALID_REQUEST, exc.message, "backends") from None
        if config.op not in backend.ops:
            if config.backends:
                notes.append(f"{name} does not implement {config.op}: skipped")
            continue
        avail = backend.availability()
        if not avail.available:
            notes.append(f"{name} unavailable: {avail.reason}")
            continue
        chosen.append((name, avail.version, backend.kind))
    return chosen


def prune_outputs(records: Sequence[dict[str, Any]], refs: Sequence[dict[str, Any]]) -> int:
    """One file's outputs the report does not need, removed (``--keep-all`` keeps them): all of them unless
    a result needs attention (mismatch, error, explained); then that result's and the references' stay.
    The removed ones' ``output`` becomes None. Returns the number of files removed."""
    attention = [r for r in records if r["status"] in ATTENTION]
    keep = {str(r["output"]) for r in [*attention, *refs] if r.get("output")} if attention else set()
    removed = 0
    for r in [*records, *refs]:
        out = r.get("output")
        if not out or str(out) in keep:
            continue
        path = Path(out)
        if path.is_file():  # a folder (a series op's output) stays, named
            path.unlink()
            removed += 1
            r["output"] = None
    return removed


def run_ops_conformance(config: OpsConfig) -> dict[str, Any]:
    """Run the op's conformance check and write ``report.json`` into ``config.out``; return the report."""
    from dcmharness.interface.conform import report_json as conform_report

    if config.op not in OPS:
        raise HarnessError(ErrorCode.INVALID_REQUEST, f"unknown op {config.op!r}; ops: {', '.join(OPS)}", "op")
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    config.out.mkdir(parents=True, exist_ok=True)
    ref_avail = registry.get(config.reference).availability()
    notes: list[str] = []
    chosen = op_backends(config, notes)
    names = [c[0] for c in chosen]
    ctx = Ctx(config=config, entries=divergence.load(config.registry_path))
    check = CHECKS[config.op]
    files = corpus_files(config)
    removed = 0
    for index, path in enumerate(files):
        case = f"{index:04d}-{path.name}"
        case_dir = config.out / "cases" / config.op / case
        case_dir.mkdir(parents=True, exist_ok=True)
        first_record, first_ref = len(ctx.records), len(ctx.refs)
        check.check_file(ctx, path, case, names, case_dir)
        if not config.keep_all:
            removed += prune_outputs(ctx.records[first_record:], ctx.refs[first_ref:])
        if config.progress:
            print(f"[{index + 1}/{len(files)}] {path.name}", flush=True)
    profiles = sorted({r["profile"] for r in ctx.records} | {r["profile"] for r in ctx.refs})
    info = conform_report.RunInfo(
        out=config.out,
        reference={"name": config.reference, "version": ref_avail.version},
        backends=[{"name": n, "version": v, "kind": k} for n, v, k in chosen],
        profiles=profiles,
        files=len(files),
        full_run=False,
        executor="serial",
        jobs=1,
        duration_s=time.perf_counter() - t0,
        started_at=started_at,
        registry_path=str(config.registry_path or divergence.DEFAULT_REGISTRY),
        registry=ctx.entries,
        tolerance=0.0,
        notes=notes,
        renders={
            "policy": "all" if config.keep_all else "attention",
            "kept": sum(1 for p in (config.out / "cases").rglob("*") if p.is_file()),
            "removed": removed,
        },
    )
    records = [{**r, "output": conform_report.rel(r["output"], config.out)} for r in ctx.records]
    refs = [{**r, "output": conform_report.rel(r["output"], config.out)} for r in ctx.refs]
    report: dict[str, Any] = {
        "summary": {**conform_report.summary(records, refs, info), "op": config.op},
        "results": records,
        "references": refs,
    }
    if check.finish is not None:
        check.finish(ctx, report)
    conform_report.write(report, config.out / REPORT_JSON)
    if config.html:
        from dcmharness.interface.conform.ops import html

        html.write(report, config.out / REPORT_HTML)
    return report


def text_summary(report: dict[str, Any], path: Path) -> str:
    s = report["summary"]
    lines = [
        f"op {s['op']}: reference {s['reference']['name']}; backends: "
        + (", ".join(b["name"] for b in s["backends"]) or "none"),
        f"{s['files']} files, {s['results']} results in {s['duration_s']:.1f} s",
        "counts: " + ", ".join(f"{k} {v}" for k, v in s["counts"].items() if v),
    ]
    for backend, counts in s["by_backend"].items():
        lines.append(f"  {backend}: " + ", ".join(f"{k} {v}" for k, v in counts.items() if v))
    if "cross_decoding" in s:
        cd = s["cross_decoding"]
        lines.append(f"cross-decoding: {cd['identical']}/{cd['cells']} identical, {cd['cannot']} cannot decode")
        lines.append(matrix_table(report.get("matrix", {})))
    lines.append(f"unexplained mismatches: {s['unexplained_mismatches']}")
    lines.append(f"report: {path}")
    return "\n".join(lines)


def cli_main(args: Any) -> int:
    """``dcmharness conform --op OP``: the hook of ``interface/cli/conform.py`` (its parsed arguments).

    Uses --out, --corpus, --backends, --reference, --limit, --registry, --timeout and --quiet; exit status
    0 without unexplained mismatch, 1 with, 2 for unusable arguments (as the to_image run).
    """
    import sys

    if getattr(args, "out", None) is None:
        print("dcmharness conform: --out DIR is required", file=sys.stderr)
        return 2
    config = OpsConfig(
        op=args.op,
        out=Path(args.out).resolve(),
        corpus=[Path(c).resolve() for c in args.corpus] if getattr(args, "corpus", None) else None,
        backends=getattr(args, "backends", None),
        reference=getattr(args, "reference", None) or "python_ref",
        limit=getattr(args, "limit", None),
        registry_path=getattr(args, "registry", None),
        timeout=getattr(args, "timeout", None),
        progress=not getattr(args, "quiet", False),
        html=not getattr(args, "no_html", False),
        keep_all=bool(getattr(args, "keep_all", False)),
    )
    try:
        report = run_ops_conformance(config)
    except HarnessError as exc:
        print(f"dcmharness conform: {exc.code.value}: {exc.message}", file=sys.stderr)
        return 2
    except ValueError as exc:  # a malformed registry
        print(f"dcmharness conform: {exc}", file=sys.stderr)
        return 2
    summary = text_summary(report, config.out / REPORT_JSON)
    if config.html:
        summary += f"\nreport: {config.out / REPORT_HTML}"
    gate = getattr(args, "gate", None)
    if gate is None:  # called without the CLI's gate options: today's rule
        print(summary)
        return 1 if report["summary"]["unexplained_mismatches"] else 0
    from dcmharness.interface.conform.gate import apply

    try:
        result = apply(report, gate, json_path=config.out / REPORT_JSON, html_path=config.out / REPORT_HTML)
    except HarnessError as exc:
        print(summary)
        print(f"dcmharness conform: {exc.code.value}: {exc.message}", file=sys.stderr)
        return 2
    print(summary)
    print(result.text)
    return 1 if result.failing else 0


def main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - thin CLI over run_ops_conformance
    import argparse

    p = argparse.ArgumentParser(prog="python -m dcmharness.interface.conform.ops.runner")
    p.add_argument("--op", required=True, choices=OPS)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--corpus", action="append", type=Path)
    p.add_argument("--backends", type=lambda v: [x for x in v.split(",") if x])
    p.add_argument("--limit", type=int)
    p.add_argument("--timeout", type=float)
    p.add_argument("--registry", type=Path)
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    config = OpsConfig(
        op=args.op,
        out=args.out.resolve(),
        corpus=args.corpus,
        backends=args.backends,
        limit=args.limit,
        timeout=args.timeout,
        registry_path=args.registry,
        progress=not args.quiet,
    )
    report = run_ops_conformance(config)
    print(text_summary(report, config.out / REPORT_JSON))
    print(json.dumps({"unexplained_mismatches": report["summary"]["unexplained_mismatches"]}))
    return 1 if report["summary"]["unexplained_mismatches"] else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
