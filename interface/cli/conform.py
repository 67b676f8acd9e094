"""``dcmharness conform``: run every backend over a corpus and compare each render with the reference.

Exit status: 0 when no result fails the gate (``--fail-on``; by default an unexplained ``mismatch``, with
``--baseline`` a new mismatch or error or a status that got worse), 1 otherwise, 2 unusable arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from dcmharness.contract.errors import HarnessError

EXIT_OK, EXIT_MISMATCH, EXIT_UNUSABLE = 0, 1, 2
#: The ops compared by ``dcmharness.interface.conform.ops.runner`` (kept here so the CLI's help needs no import of it).
OPS = (
    "dump",
    "info",
    "stats",
    "histogram",
    "transcode",
    "anonymize",
    "validate",
    "decode",
    "nifti",
    "volume",
    "network",
    "dicomweb",
    "modify",
    "from_json",
)


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "conform",
        help="conformance: every backend vs the reference over a corpus, with JSON and HTML reports",
        description="Render every file with every fitting profile on the reference and on each backend, compare "
        "the outputs, explain known differences from the divergence registry, and write DIR/report.json and "
        "DIR/report.html. Exit status: 0 when no result fails --fail-on (by default: no unexplained mismatch; with "
        "--baseline: no new mismatch or error, no status that got worse), 1 otherwise, 2 unusable arguments.",
    )
    p.add_argument(
        "--corpus",
        action="append",
        metavar="DIR",
        type=Path,
        help="a folder (searched recursively) or file to check; repeatable "
        "(default: the sample files plus the synthetic cases)",
    )
    p.add_argument("--backends", type=_csv, metavar="A,B", help="backends to compare (default: every available one)")
    p.add_argument("--profiles", type=_csv, metavar="P,Q", help="profiles to apply (default: all; see --list-profiles)")
    p.add_argument("--reference", default="python_ref", help="the reference backend (default python_ref)")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="parallel worker processes (default 1)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run the cases on a Dask distributed cluster")
    p.add_argument("--limit", type=int, metavar="N", help="check at most N files")
    p.add_argument("--registry", type=Path, metavar="FILE", help="divergence registry (default: the built-in one)")
    p.add_argument("--timeout", type=float, metavar="S", help="timeout of each external backend request (s)")
    p.add_argument("--no-batch", action="store_true", help="send batch-capable backends one request at a time")
    p.add_argument("--no-html", action="store_true", help="write report.json only")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--out", type=Path, metavar="DIR", help="output folder (created; case renders go in DIR/cases)")
    p.add_argument("--list-profiles", action="store_true", help="list the profiles with their options and exit")
    gate = p.add_argument_group("CI gate (docs/ci.md)")
    gate.add_argument(
        "--baseline",
        type=Path,
        metavar="FILE",
        help="an earlier run's report.json: classify every result against it (unchanged, better, worse, changed, "
        "metrics, new, vanished) in the summary, report.json (summary.baseline) and report.html",
    )
    gate.add_argument(
        "--fail-on",
        metavar="A,B",
        help="what fails the run (exit 1): mismatch, error, new-mismatch, new-error, worse, better, changed, "
        "metrics, new, vanished, none (default: mismatch; with --baseline: new-mismatch,new-error,worse)",
    )
    gate.add_argument("--junit", type=Path, metavar="FILE", help="also write JUnit XML (one testcase per result)")
    gate.add_argument(
        "--metric-tolerance",
        metavar="NAME=V,...",
        help="how far a metric may move and still be unchanged (default max_abs_diff=1,mean_abs_diff=0.1,rmse=0.1,"
        "psnr=1,frac_diff_gt1=0.001,fidelity_psnr=1,problems=0)",
    )
    gate.add_argument(
        "--keep-all",
        action="store_true",
        help="keep every render on disk (default: only those of the cases needing attention and their references)",
    )
    p.add_argument(
        "--op",
        choices=("to_image", *OPS),
        default="to_image",
        help="the op to compare (default to_image; the others: contract/OPS.md, section Conformance)",
    )
    p.set_defaults(func=main)


def list_profiles() -> str:
    """One line per profile: name, description, and the options it gives CT_small.dcm as an example."""
    from dcmharness.backends.preflight import inspect
    from dcmharness.interface.conform.profiles import PROFILES
    from dcmharness.interface.samples import find

    try:
        example = inspect(str(find("CT_small.dcm")))
    except (KeyError, HarnessError):
        example = None
    lines = []
    for p in PROFILES.values():
        tol = f"tolerance {p.tolerance:g}" + (f" or PSNR >= {p.min_psnr:g} dB" if p.min_psnr is not None else "")
        if p.fidelity_margin_db is not None:
            tol += f" or fidelity within {p.fidelity_margin_db:g} dB of the reference's"
        opts = p.options_for(example) if example is not None else None
        shown = json.dumps(opts) if opts is not None else "(does not fit CT_small.dcm)"
        lines.append(f"{p.name:16} {p.description} [{tol}]\n{'':16} e.g. CT_small.dcm: {shown}")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    from dcmharness.interface.conform.gate import GateOptions
    from dcmharness.interface.conform.runner import REPORT_HTML, REPORT_JSON, ConformConfig, run_conformance

    if args.list_profiles:
        print(list_profiles())
        return EXIT_OK
    if args.out is None:
        print("dcmharness conform: --out DIR is required", file=sys.stderr)
        return EXIT_UNUSABLE
    try:
        args.gate = GateOptions.parse(args.baseline, args.fail_on, args.junit, args.metric_tolerance)
        if args.baseline is not None and not args.baseline.is_file():
            raise ValueError(f"--baseline {args.baseline}: no such file")
    except ValueError as exc:
        print(f"dcmharness conform: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    if args.op != "to_image":
        from dcmharness.interface.conform.ops.runner import cli_main

        return cli_main(args)
    if args.jobs < 1 or (args.limit is not None and args.limit < 1):
        print("dcmharness conform: --jobs and --limit must be >= 1", file=sys.stderr)
        return EXIT_UNUSABLE
    config = ConformConfig(
        out=args.out.resolve(),
        corpus=[c.resolve() for c in args.corpus] if args.corpus else None,
        backends=args.backends,
        profiles=args.profiles,
        reference=args.reference,
        jobs=args.jobs,
        scheduler=args.scheduler,
        limit=args.limit,
        registry_path=args.registry,
        html=not args.no_html,
        progress=not args.quiet,
        timeout=args.timeout,
        batch=not args.no_batch,
        keep_all=args.keep_all,
    )
    try:
        report, _ = run_conformance(config)
    except HarnessError as exc:
        print(f"dcmharness conform: {exc.code.value}: {exc.message}", file=sys.stderr)
        return EXIT_UNUSABLE
    except ValueError as exc:  # a malformed registry
        print(f"dcmharness conform: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    json_path, html_path = config.out / REPORT_JSON, None if args.no_html else config.out / REPORT_HTML
    return finish(report, args.gate, json_path, html_path, text_summary(report["summary"], json_path, html_path))


def finish(report: dict[str, Any], gate: Any, json_path: Path, html_path: Path | None, summary: str) -> int:
    """The gate over a finished run (any op): compare, write JUnit, print; the exit status."""
    from dcmharness.interface.conform.gate import apply

    try:
        result = apply(report, gate, json_path=json_path, html_path=html_path)
    except HarnessError as exc:
        print(summary)
        print(f"dcmharness conform: {exc.code.value}: {exc.message}", file=sys.stderr)
        return EXIT_UNUSABLE
    print(summary)
    print(result.text)
    if gate.junit is not None:
        print(f"junit: {gate.junit}")
    return EXIT_MISMATCH if result.failing else EXIT_OK


def text_summary(s: dict[str, Any], json_path: Path, html_path: Path | None) -> str:
    from dcmharness.interface.conform.status import STATUSES

    lines = [
        f"reference {s['reference']['name']} ({s['reference']['version']}); backends: "
        + (", ".join(f"{b['name']} ({b['version']})" for b in s["backends"]) or "none"),
        f"{s['files']} files, {s['cases']} cases, {s['results']} results in {s['duration_s']:.1f} s ({s['executor']})",
        "counts: " + ", ".join(f"{k} {v}" for k, v in s["counts"].items() if v),
    ]
    for backend, counts in s["by_backend"].items():
        lines.append(f"  {backend}: " + ", ".join(f"{k} {counts[k]}" for k in STATUSES if counts.get(k)))
    reg = s["registry"]
    if reg["full_run"] and reg["stale"]:
        lines.append("stale registry entries: " + ", ".join(reg["stale"]))
    lines += [f"note: {n}" for n in s["notes"]]
    lines.append(f"unexplained mismatches: {s['unexplained_mismatches']}")
    lines.append(f"report: {json_path}" + (f" and {html_path}" if html_path else ""))
    return "\n".join(lines)
