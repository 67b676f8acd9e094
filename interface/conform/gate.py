"""The CI gate of a conformance run: ``--baseline``, ``--fail-on``, ``--junit``, and ``dcmharness diff``.

``apply`` takes a finished report (``report.json`` of ``dcmharness conform``, any op), compares it with the
baseline report when there is one (``interface.conform.baseline``), writes the comparison into
``summary.baseline`` (report.json) and as a section of report.html, writes the JUnit XML, and answers
how many results fail the run under ``--fail-on``. The exit status of ``conform`` and ``diff`` is 1 when
that number is not 0.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.interface.conform import baseline as bl
from dcmharness.interface.conform import junit

MAX_HTML_CHANGES = 500


@dataclass(frozen=True)
class GateOptions:
    baseline: Path | None = None
    fail_on: tuple[str, ...] = bl.DEFAULT_FAIL_ON
    junit: Path | None = None
    tolerance: bl.MetricTolerance = field(default_factory=bl.MetricTolerance)

    @classmethod
    def parse(
        cls, baseline: Path | None, fail_on: str | None, junit_path: Path | None, tolerance: str | None
    ) -> GateOptions:
        """From the CLI's arguments; ``ValueError`` names what is unusable."""
        return cls(
            baseline=baseline,
            fail_on=bl.parse_fail_on(fail_on, has_baseline=baseline is not None),
            junit=junit_path,
            tolerance=bl.MetricTolerance.parse(tolerance) if tolerance else bl.MetricTolerance(),
        )


@dataclass
class GateResult:
    comparison: bl.Comparison | None
    failing: list[bl.Change]
    text: str


def load_report(path: Path, name: str = "baseline") -> dict[str, Any]:
    """A ``report.json``; ``invalid_request`` (its field: ``name``) when it is not one."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise HarnessError(
            ErrorCode.INVALID_REQUEST, f"{name} {path}: not a readable report.json ({exc})", name
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), list) or "summary" not in doc:
        raise HarnessError(
            ErrorCode.INVALID_REQUEST, f"{name} {path}: no summary and results (not a report.json)", name
        )
    return doc


def baseline_section(block: Mapping[str, Any]) -> str:
    """The comparison (``summary.baseline``) as an HTML section: counts, transitions, every change."""
    esc = html.escape
    counts = " ".join(
        f'<span class="bl-count"><b>{esc(str(v))}</b> {esc(k)}</span>' for k, v in block["counts"].items()
    )
    transitions = ", ".join(f"{esc(k)} ({v})" for k, v in block["transitions"].items()) or "none"
    rows = []
    for c in block["changes"][:MAX_HTML_CHANGES]:
        rows.append(
            "<tr>"
            f'<td class="bl-{esc(c["category"])}">{esc(c["category"])}</td><td>{esc(c["key"])}</td>'
            f"<td>{esc(str(c['before']))}</td><td>{esc(str(c['after']))}</td><td>{esc('; '.join(c['reasons']))}</td>"
            "</tr>"
        )
    more = len(block["changes"]) - MAX_HTML_CHANGES
    return (
        '<section id="baseline"><h2>Against the baseline</h2>'
        f"<p>baseline: <code>{esc(str(block['baseline']))}</code>; fail-on <code>{esc(','.join(block['fail_on']))}"
        f"</code>: <b>{block['failing']}</b> result(s) fail the run</p>"
        f"<p>{counts}</p><p>status transitions: {transitions}</p>"
        "<table><thead><tr><th>category</th><th>result (file/profile/backend)</th><th>before</th><th>after</th>"
        f"<th>why</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        + (f"<p>... and {more} more in report.json (summary.baseline.changes)</p>" if more > 0 else "")
        + "</section>"
    )


BASELINE_CSS = (
    "#baseline table{border-collapse:collapse;font-size:13px}#baseline td,#baseline th{border:1px solid #ccc;"
    "padding:2px 6px;text-align:left}.bl-count{margin-right:1em}.bl-worse{background:#ffcdd2}"
    ".bl-better{background:#c8e6c9}.bl-changed,.bl-metrics{background:#fff9c4}.bl-new{background:#e3f2fd}"
    ".bl-vanished{background:#eeeeee}"
)


def insert_section(page: str, section: str) -> str:
    """``section`` at the top of the page's ``<main>`` (both report pages have one), with its style."""
    styled = f"<style>{BASELINE_CSS}</style>{section}"
    return page.replace("<main>", "<main>" + styled, 1) if "<main>" in page else page


def diff_page(block: Mapping[str, Any], title: str) -> str:
    """``dcmharness diff --html``: one self-contained page."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"</head><body><h1>{html.escape(title)}</h1><main>"
        + baseline_section(block)
        + "</main></body></html>\n"
    ).replace("<main>", f"<main><style>{BASELINE_CSS}</style>", 1)


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def apply(
    report: dict[str, Any],
    options: GateOptions,
    *,
    json_path: Path | None = None,
    html_path: Path | None = None,
) -> GateResult:
    """Compare, record and judge one finished run (see the module's docstring)."""
    from dcmharness.interface.conform.report_json import write as write_json

    comparison = None
    if options.baseline is not None:
        old = load_report(options.baseline)
        comparison = bl.compare(
            old, report, tolerance=options.tolerance, names=(str(options.baseline), str(json_path or "this run"))
        )
    judged = comparison or bl.without_baseline(report)
    gate = bl.failing(judged, options.fail_on)
    summary = report["summary"]
    summary["gate"] = {
        "fail_on": list(options.fail_on),
        "failing": len(gate),
        "baseline": str(options.baseline) if options.baseline else None,
    }
    text = f"fail-on {','.join(options.fail_on)}: {len(gate)} result(s) fail the run"
    if comparison is not None:
        block = comparison.as_dict(options.fail_on)
        summary["baseline"] = block
        text = bl.text_summary(comparison, options.fail_on)
        if html_path is not None and html_path.is_file():
            _write_text(html_path, insert_section(html_path.read_text(encoding="utf-8"), baseline_section(block)))
    if json_path is not None:
        write_json(report, json_path)
    if options.junit is not None:
        root = junit.build(report, comparison=comparison, fail_on=options.fail_on, summary_text=text)
        junit.write(root, options.junit)
    return GateResult(comparison, gate, text)


def diff(
    a: Path,
    b: Path,
    *,
    fail_on: Sequence[str] = bl.DEFAULT_FAIL_ON_BASELINE,
    tolerance: bl.MetricTolerance | None = None,
) -> tuple[bl.Comparison, list[bl.Change]]:
    """``dcmharness diff A B``: B (the newer run) against A."""
    comparison = bl.compare(load_report(a, "A"), load_report(b, "B"), tolerance=tolerance, names=(str(a), str(b)))
    return comparison, bl.failing(comparison, fail_on)
