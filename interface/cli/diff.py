"""``dcmharness diff A/report.json B/report.json``: what changed from run A to run B (e.g. two versions of one
toolkit on the same corpus), in the terminal, and as HTML / JSON / JUnit on request.

Exit status: 0 when no result fails ``--fail-on`` (default: a new mismatch or error, or a status that got
worse), 1 otherwise, 2 unusable arguments (a file that is not a report.json, an unknown --fail-on value).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from dcmharness.contract.errors import HarnessError

EXIT_OK, EXIT_FAILING, EXIT_UNUSABLE = 0, 1, 2


def register(sub: Any) -> None:
    p = sub.add_parser(
        "diff",
        help="compare two conformance reports (report.json): better, worse, changed, new, vanished",
        description="Classify every result of report B against report A (the older run): unchanged, better, "
        "worse, changed, metrics (moved beyond --metric-tolerance), new, vanished. Exit status: 0 when no "
        "result fails --fail-on, 1 otherwise, 2 unusable arguments.",
    )
    p.add_argument("a", type=Path, metavar="A", help="the earlier report.json (the baseline)")
    p.add_argument("b", type=Path, metavar="B", help="the later report.json")
    p.add_argument("--fail-on", metavar="A,B", help="what fails (default new-mismatch,new-error,worse)")
    p.add_argument("--metric-tolerance", metavar="NAME=V,...", help="as for `conform` (default max_abs_diff=1,...)")
    p.add_argument("--html", type=Path, metavar="FILE", help="write the comparison as one HTML page")
    p.add_argument("--json", type=Path, metavar="FILE", help="write the comparison as JSON (summary.baseline's form)")
    p.add_argument("--junit", type=Path, metavar="FILE", help="write B's results as JUnit XML, judged against A")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from dcmharness.interface.conform import baseline as bl
    from dcmharness.interface.conform import gate, junit

    try:
        fail_on = bl.parse_fail_on(args.fail_on, has_baseline=True)
        tolerance = bl.MetricTolerance.parse(args.metric_tolerance) if args.metric_tolerance else None
        comparison, failing = gate.diff(args.a, args.b, fail_on=fail_on, tolerance=tolerance)
    except (ValueError, HarnessError) as exc:
        print(f"dcmharness diff: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return EXIT_UNUSABLE
    text = bl.text_summary(comparison, fail_on)
    block = comparison.as_dict(fail_on)
    print(text)
    if args.json is not None:
        args.json.write_text(json.dumps(block, indent=1) + "\n", encoding="utf-8")
        print(f"json: {args.json}")
    if args.html is not None:
        args.html.write_text(gate.diff_page(block, f"dcmharness diff: {args.a} -> {args.b}"), encoding="utf-8")
        print(f"html: {args.html}")
    if args.junit is not None:
        report_b = gate.load_report(args.b, "B")
        junit.write(junit.build(report_b, comparison=comparison, fail_on=fail_on, summary_text=text), args.junit)
        print(f"junit: {args.junit}")
    return EXIT_FAILING if failing else EXIT_OK
