"""``report.html``: one self-contained page (no network) showing a conformance report.

The page holds the report data and the thumbnails (data: URIs, deduplicated) as JSON in a script tag; a
small inline script builds, per profile, a matrix of files x backends coloured by status, the filters
(status, backend, profile), and on a click the case's renders side by side with the diff heatmaps and the
metrics. The failing cases (mismatch, error, explained) are shown expanded at the top.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dcmharness.interface.conform.case import CaseOutcome
from dcmharness.interface.conform.status import STATUSES

COLOURS = {
    "match": "#2e7d32",
    "within_tolerance": "#8bc34a",
    "explained": "#1e88e5",
    "mismatch": "#e53935",
    "unsupported": "#9e9e9e",
    "error": "#fb8c00",
    "reference_error": "#8e24aa",
}
SYMBOLS = {
    "match": "=",
    "within_tolerance": "\u2248",
    "explained": "E",
    "mismatch": "\u2717",
    "unsupported": "U",
    "error": "!",
    "reference_error": "R",
}


def data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def page_data(report: dict[str, Any], outcomes: Sequence[CaseOutcome]) -> dict[str, Any]:
    """The JSON the page's script reads: summary, cases (with their results) and deduplicated images."""
    images: dict[str, str] = {}

    def key_of(mime: str, data: bytes) -> str:
        key = hashlib.sha1(data).hexdigest()[:16]
        images.setdefault(key, data_uri(mime, data))
        return key

    by_case: dict[str, list[dict[str, Any]]] = {}
    for rec in report["results"]:
        by_case.setdefault(rec["case"], []).append(rec)
    refs = {r["case"]: r for r in report["references"]}
    cases = []
    for oc in outcomes:
        cid = oc.task.case_id
        thumbs = {k: key_of(m, b) for k, (m, b) in oc.thumbs.items()}
        ref = refs.get(cid, {})
        results = []
        for rec in by_case.get(cid, []):
            b = rec["backend"]
            img = thumbs.get(b) or (thumbs.get("reference") if rec["status"] == "match" else None)
            results.append(
                {
                    "backend": b,
                    "status": rec["status"],
                    "metrics": rec["metrics"],
                    "divergence": rec["divergence"],
                    "error": rec["error"],
                    "output": rec["output"],
                    "img": img,
                    "diff": thumbs.get(f"{b}.diff"),
                }
            )
        cases.append(
            {
                "id": cid,
                "file": Path(oc.task.input).name,
                "input": oc.task.input,
                "profile": oc.task.profile,
                "options": oc.task.options,
                "ref": {
                    "ok": ref.get("ok", False),
                    "error": ref.get("error"),
                    "output": ref.get("output"),
                    "img": thumbs.get("reference"),
                },
                "results": results,
            }
        )
    return {
        "summary": report["summary"],
        "cases": cases,
        "images": images,
        "statuses": list(STATUSES),
        "descriptions": STATUSES,
        "colours": COLOURS,
        "symbols": SYMBOLS,
    }


STATIC = Path(__file__).with_name("static")


def asset(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def build_html(report: dict[str, Any], outcomes: Sequence[CaseOutcome]) -> str:
    data = json.dumps(page_data(report, outcomes), allow_nan=False, default=str).replace("</", "<\\/")
    s = report["summary"]
    title = f"dcmharness conformance: {s['unexplained_mismatches']} unexplained mismatches"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
        f"<style>{asset('conform_report.css')}</style></head><body>"
        f'<header><h1>{html.escape(title)}</h1><div id="summary"></div></header>'
        '<main><div id="filters"></div><details id="attention" open><summary><b id="attention-title"></b></summary>'
        '<div id="attention-list"></div></details>'
        '<div id="matrix"></div></main>'
        f'<script type="application/json" id="report-data">{data}</script>'
        f"<script>{asset('conform_report.js')}</script></body></html>\n"
    )


def write(report: dict[str, Any], outcomes: Sequence[CaseOutcome], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(build_html(report, outcomes), encoding="utf-8")
    os.replace(tmp, path)
