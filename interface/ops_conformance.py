"""Conformance of the ops beyond ``to_image``: ``dcmharness conform --op dump|info|stats|transcode|anonymize``.

The report has the same format as the to_image run (``report.json``: ``summary`` with counts by status,
backend and profile, ``results`` one record per (file, profile, backend), ``references``). The profile of a
record is the op (``dump``, ``info``, ``stats``, ``histogram``, ``anonymize``, ``anonymize_batch``) or
``transcode:<target>``. A difference is explained only by a registry entry that names that profile.

- dump / info / stats / histogram: each backend's result against the reference's (``interface.compare_ops``).
- transcode: every backend, the reference included, is verified against the input (transfer syntax,
  metadata, pixels bit-identical for lossless targets); then the cross-decoding matrix: each backend's
  lossless encoding decoded by every decoder (python_ref/pydicom, dcmtk, GDCM), in ``report["matrix"]`` and
  as records of profile ``cross_decode:<target>`` (backend = the decoder, options = {"encoder": ...}).
- anonymize: every backend's output checked against PS3.15 E.1 (``verify_anonymize``) with the input's
  digest unchanged; ``anonymize_batch`` anonymizes each file twice with one ``uid_secret`` and checks the
  two UID maps agree (a backend without keyed remapping answers ``unsupported``).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from backends import registry
from contract.errors import ErrorCode, HarnessError
from contract.ops_models import LOSSLESS_TARGETS, TRANSFER_SYNTAXES
from interface import compare_ops, divergence
from interface.conform_status import ERROR, EXPLAINED, MATCH, MISMATCH, REFERENCE_ERROR, UNSUPPORTED, UNSUPPORTED_CODES

OPS = ("dump", "info", "stats", "histogram", "transcode", "anonymize")
REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
BATCH_SECRET = "dcmharness-conform-batch"

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
LOSSY_TARGETS = ("jpeg_baseline", "jpeg_ls_near_lossless", "jpeg_2000")


@dataclass
class OpsConfig:
    op: str
    out: Path
    corpus: Sequence[Path] | None = None
    backends: Sequence[str] | None = None  # None: every available backend implementing the op
    reference: str = "python_ref"
    limit: int | None = None
    registry_path: Path | None = None
    timeout: float | None = None
    targets: Sequence[str] | None = None  # transcode: None = every target
    progress: bool = False
    html: bool = True  # also write report.html (interface.ops_html)


@dataclass
class Run:
    ok: bool
    output: str | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    command: list[str] | None = None
    duration_ms: float = 0.0
    version: str | None = None


@dataclass
class Ctx:
    config: OpsConfig
    entries: list[divergence.Divergence]
    records: list[dict[str, Any]] = field(default_factory=list)
    refs: list[dict[str, Any]] = field(default_factory=list)


def default_corpus(op: str) -> list[Path]:
    """The sample files of an op's default corpus (``dump``/``info``: plus pydicom's character-set files)."""
    from interface.samples import find

    names = {
        "dump": DUMP_FILES,
        "info": DUMP_FILES,
        "stats": STATS_FILES,
        "histogram": STATS_FILES,
        "transcode": TRANSCODE_FILES,
        "anonymize": ANON_FILES,
    }[op]
    files: list[Path] = []
    for name in names:
        try:
            files.append(find(name))
        except KeyError:
            continue
    if op in ("dump", "info"):
        from pydicom.data import get_charset_files

        files += sorted(Path(p) for p in get_charset_files("*.dcm"))
    return files


def corpus_files(config: OpsConfig) -> list[Path]:
    if not config.corpus:
        files = default_corpus(config.op)
    else:
        files = []
        for c in config.corpus:
            files += sorted(p for p in c.rglob("*") if p.is_file()) if c.is_dir() else [c]
    return files[: config.limit] if config.limit else files


def run_request(request: dict[str, Any], timeout: float | None) -> Run:
    from interface.api import run

    if timeout is not None:
        request = {**request, "timeout": timeout}
    resp = run(request)
    return Run(
        ok=resp.ok,
        output=resp.outputs[0] if resp.outputs else None,
        result=resp.result,
        error=resp.error.model_dump() if resp.error else None,
        command=resp.command,
        duration_ms=resp.duration_ms,
        version=resp.backend_version,
    )


def _case(backend: str, profile: str, path: Path, options: dict[str, Any]) -> divergence.Case:
    try:
        import pydicom

        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        ts = str(ds.file_meta.TransferSyntaxUID) if "TransferSyntaxUID" in getattr(ds, "file_meta", {}) else None
    except Exception:
        ds, ts = None, None
    return divergence.Case(
        backend=backend, profile=profile, input=str(path), options=options, dataset=ds, transfer_syntax=ts
    )


def explain(ctx: Ctx, backend: str, profile: str, path: Path, options: dict[str, Any]) -> divergence.Explanation:
    """A registry entry naming this profile explicitly (ops never borrow to_image entries)."""
    entries = [e for e in ctx.entries if e.profiles is not None and profile in e.profiles]
    return divergence.find_explanation(entries, _case(backend, profile, path, options), math.inf, False)


def record(
    ctx: Ctx,
    *,
    case: str,
    path: Path,
    profile: str,
    options: dict[str, Any],
    backend: str,
    run: Run,
    problems: list[Any] | None,
    reference: Run | None,
    metrics: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One result record; ``problems`` None means the comparison could not run (see the run's error)."""
    div: dict[str, Any] | None = None
    exceeded: tuple[str, ...] = ()
    if reference is not None and not reference.ok:
        status = REFERENCE_ERROR
    elif not run.ok:
        code = (run.error or {}).get("code")
        status = UNSUPPORTED if code in UNSUPPORTED_CODES else ERROR
    elif not problems:
        status = MATCH
    else:
        found = explain(ctx, backend, profile, path, options)
        exceeded = found.exceeded
        if found.entry is not None:
            status, div = EXPLAINED, {"id": found.entry.id, "cause": found.entry.cause, "source": found.entry.source}
        else:
            status = MISMATCH
    rec = {
        "case": case,
        "input": str(path),
        "file": path.name,
        "profile": profile,
        "options": options,
        "backend": backend,
        "backend_version": run.version,
        "status": status,
        "metrics": {**(metrics or {}), "problems": len(problems or []), "details": (problems or [])[:20]},
        "divergence": div,
        "exceeded": list(exceeded),
        "output": run.output,
        "error": run.error,
        "duration_ms": run.duration_ms,
        "command": run.command,
        "reference_output": reference.output if reference else None,
        "reference_error": reference.error if reference else None,
    }
    ctx.records.append(rec)
    return rec


def _ref_record(ctx: Ctx, case: str, path: Path, profile: str, options: dict[str, Any], run: Run) -> None:
    ctx.refs.append(
        {
            "case": case,
            "input": str(path),
            "file": path.name,
            "profile": profile,
            "options": options,
            "ok": run.ok,
            "output": run.output,
            "error": run.error,
            "duration_ms": run.duration_ms,
            "command": run.command,
        }
    )


def _diffs(items: list[compare_ops.Difference]) -> list[Any]:
    return [d.as_dict() for d in items]


# -- per op -----------------------------------------------------------------------------------------
def compare_pair(op: str, ref: Run, got: Run, ref_output: Path, got_output: Path) -> list[Any]:
    """The differences of one backend's dump/info/stats/histogram from the reference's."""
    if op == "dump":
        a, b = compare_ops.load_json(ref_output), compare_ops.load_json(got_output)
        return _diffs(compare_ops.compare_dicom_json(a, b))
    if op == "info":
        return _diffs(compare_ops.compare_info(ref.result or {}, got.result or {}))
    if op == "stats":
        return _diffs(compare_ops.compare_stats(ref.result or {}, got.result or {}))
    return _diffs(compare_ops.compare_histogram(ref.result or {}, got.result or {}))


def compare_results(ctx: Ctx, op: str, path: Path, case: str, backends: Sequence[str], case_dir: Path) -> None:
    """dump, info, stats, histogram: each backend against the reference."""
    options: dict[str, Any] = {}
    outputs = {b: case_dir / f"{b}.json" for b in (ctx.config.reference, *backends)}

    def req(backend: str) -> dict[str, Any]:
        r: dict[str, Any] = {"op": op, "input": str(path), "backend": backend, "options": options}
        if op == "dump":
            r.update(output=str(outputs[backend]), overwrite=True)
        return r

    ref = run_request(req(ctx.config.reference), ctx.config.timeout)
    _ref_record(ctx, case, path, op, options, ref)
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


def transcode_file(
    ctx: Ctx, path: Path, case: str, backends: Sequence[str], case_dir: Path, matrix: dict[str, Any]
) -> None:
    targets = ctx.config.targets or (*LOSSLESS_TARGETS, *LOSSY_TARGETS)
    everyone = (ctx.config.reference, *backends)
    try:
        reference_pixels = compare_ops.read_pixels(path)
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
                    check = compare_ops.verify_transcode(path, got.output, TRANSFER_SYNTAXES[target], lossless)
                except Exception as exc:  # an unreadable output is a finding
                    check = {"problems": [f"output not verifiable: {type(exc).__name__}: {exc}"[:300]], "pixels": None}
                problems = list(check["problems"])
                metrics = {"pixels": check["pixels"], "size_bytes": (got.result or {}).get("size_bytes")}
                if lossless and check["pixels"] and check["pixels"]["identical"]:
                    encoded[backend] = got.output
            if backend == ctx.config.reference:
                _ref_record(ctx, f"{case}/{target}", path, profile, options, got)
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
            cells = compare_ops.cross_decode(encoded, reference_pixels)
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


def anonymize_file(ctx: Ctx, path: Path, case: str, backends: Sequence[str], case_dir: Path) -> None:
    everyone = (ctx.config.reference, *backends)
    digest = compare_ops.file_digest(path)
    for backend in everyone:
        out = case_dir / f"anon.{backend}.dcm"
        got = run_request(
            {"op": "anonymize", "input": str(path), "output": str(out), "backend": backend, "overwrite": True},
            ctx.config.timeout,
        )
        problems: list[Any] | None = None
        if got.ok and got.output:
            try:
                problems = list(compare_ops.verify_anonymize(path, got.output, {})["problems"])
            except Exception as exc:  # an unreadable output is a finding
                problems = [f"output not verifiable: {type(exc).__name__}: {exc}"[:300]]
            if compare_ops.file_digest(path) != digest:
                problems.append("the input file changed")
        if backend == ctx.config.reference:
            _ref_record(ctx, case, path, "anonymize", {}, got)
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
                maps = [compare_ops.verify_anonymize(path, r.output or "", options)["uid_map"] for r in runs]
                problems = compare_ops.batch_uid_conflicts(maps)
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


# -- the run ----------------------------------------------------------------------------------------
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


def run_ops_conformance(config: OpsConfig) -> dict[str, Any]:
    """Run the op's conformance check and write ``report.json`` into ``config.out``; return the report."""
    from interface import conform_report

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
    matrix: dict[str, Any] = {}
    files = corpus_files(config)
    for index, path in enumerate(files):
        case = f"{index:04d}-{path.name}"
        case_dir = config.out / "cases" / config.op / case
        case_dir.mkdir(parents=True, exist_ok=True)
        if config.op == "transcode":
            transcode_file(ctx, path, case, names, case_dir, matrix)
        elif config.op == "anonymize":
            anonymize_file(ctx, path, case, names, case_dir)
        else:
            compare_results(ctx, config.op, path, case, names, case_dir)
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
    )
    records = [{**r, "output": conform_report.rel(r["output"], config.out)} for r in ctx.records]
    refs = [{**r, "output": conform_report.rel(r["output"], config.out)} for r in ctx.refs]
    report: dict[str, Any] = {
        "summary": {**conform_report.summary(records, refs, info), "op": config.op},
        "results": records,
        "references": refs,
    }
    if config.op == "transcode":
        report["matrix"] = matrix
        report["summary"]["cross_decoding"] = matrix_summary(matrix)
    conform_report.write(report, config.out / REPORT_JSON)
    if config.html:
        from interface import ops_html

        ops_html.write(report, config.out / REPORT_HTML)
    return report


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
    """``dcmharness conform --op OP``: the hook of ``interface/cmd_conform.py`` (its parsed arguments).

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
    )
    try:
        report = run_ops_conformance(config)
    except HarnessError as exc:
        print(f"dcmharness conform: {exc.code.value}: {exc.message}", file=sys.stderr)
        return 2
    except ValueError as exc:  # a malformed registry
        print(f"dcmharness conform: {exc}", file=sys.stderr)
        return 2
    print(text_summary(report, config.out / REPORT_JSON))
    if config.html:
        print(f"report: {config.out / REPORT_HTML}")
    return 1 if report["summary"]["unexplained_mismatches"] else 0


def main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - thin CLI over run_ops_conformance
    import argparse

    p = argparse.ArgumentParser(prog="python -m interface.ops_conformance")
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
