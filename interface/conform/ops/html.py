"""``report.html`` of ``dcmharness conform --op OP``: one self-contained page (no script, no network).

The same data as ``report.json``: the counts per status, a table of profiles x backends (each cell the
counts of its statuses, coloured by the worst one), every result that is not a match (status, file,
profile, backend, the error or the registry's cause, the comparison's details), and for ``transcode`` the
cross-decoding matrix (each backend's lossless encoding decoded by every decoder). Pure: report -> text.
"""

from __future__ import annotations

import html
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dcmharness.interface.conform.report_html import COLOURS
from dcmharness.interface.conform.status import STATUSES

#: Worst first: the colour of a cell is that of its worst status.
SEVERITY = ("mismatch", "error", "reference_error", "explained", "unsupported", "within_tolerance", "match")
CELL_COLOURS = {"identical": "#2e7d32", "differs": "#e53935", "cannot": "#9e9e9e", "failed": "#fb8c00"}

CSS = """
body{font:14px system-ui,sans-serif;margin:0;color:#222}
header{background:#263238;color:#fff;padding:12px 16px}
h1{font-size:20px;margin:0 0 6px}
main{padding:12px 16px}
table{border-collapse:collapse;margin:8px 0 18px}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#eceff1}
.badge{display:inline-block;color:#fff;border-radius:9px;padding:1px 8px;margin:1px 2px;font-size:12px}
.cell{color:#fff;font-size:12px;white-space:nowrap}
.details{font-size:12px;color:#555;max-width:700px}
"""


def _esc(value: Any) -> str:
    return html.escape(str(value))


def badge(status: str, count: int | None = None) -> str:
    label = status if count is None else f"{status}: {count}"
    return f'<span class="badge" style="background:{COLOURS.get(status, "#607d8b")}">{_esc(label)}</span>'


def worst(counts: Mapping[str, int]) -> str | None:
    """The most severe status with a non-zero count."""
    return next((s for s in SEVERITY if counts.get(s)), None)


def profile_backend_table(results: Sequence[Mapping[str, Any]], backends: Sequence[str]) -> str:
    """Profiles x backends; each cell lists its status counts on the colour of the worst."""
    cells: dict[tuple[str, str], Counter[str]] = {}
    profiles: list[str] = []
    for r in results:
        if r["profile"] not in profiles:
            profiles.append(r["profile"])
        cells.setdefault((r["profile"], r["backend"]), Counter())[r["status"]] += 1
    rows = ["<tr><th>profile</th>" + "".join(f"<th>{_esc(b)}</th>" for b in backends) + "</tr>"]
    for p in profiles:
        tds = []
        for b in backends:
            counts = cells.get((p, b), Counter())
            w = worst(counts)
            if w is None:
                tds.append("<td></td>")
                continue
            text = ", ".join(f"{s} {counts[s]}" for s in STATUSES if counts.get(s))
            tds.append(f'<td class="cell" style="background:{COLOURS[w]}">{_esc(text)}</td>')
        rows.append(f"<tr><th>{_esc(p)}</th>{''.join(tds)}</tr>")
    return "<table>" + "".join(rows) + "</table>"


def findings_table(results: Sequence[Mapping[str, Any]]) -> str:
    """Every result that is not a match, worst first."""
    rank = {s: i for i, s in enumerate(SEVERITY)}
    rows = sorted((r for r in results if r["status"] != "match"), key=lambda r: rank.get(r["status"], 99))
    if not rows:
        return "<p>Every result matches the reference.</p>"
    out = ["<tr><th>status</th><th>file</th><th>profile</th><th>backend</th><th>why</th><th>details</th></tr>"]
    for r in rows:
        why = ""
        if r.get("divergence"):
            d = r["divergence"]
            why = f"{d['id']}: {d['cause']} [{d['source']}]"
        elif r.get("error"):
            e = r["error"]
            why = f"{e.get('code')}: {e.get('message')}" + (f" ({e['field']})" if e.get("field") else "")
        details = (r.get("metrics") or {}).get("details") or []
        shown = "; ".join(str(d) for d in details[:5]) + (f" (+{len(details) - 5} more)" if len(details) > 5 else "")
        out.append(
            f"<tr><td>{badge(r['status'])}</td><td>{_esc(r.get('file') or Path(r['input']).name)}</td>"
            f"<td>{_esc(r['profile'])}</td><td>{_esc(r['backend'])}</td><td>{_esc(why)}</td>"
            f'<td class="details">{_esc(shown)}</td></tr>'
        )
    return "<table>" + "".join(out) + "</table>"


def matrix_cells(matrix: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Counter[str]]]:
    """(target, encoder) -> decoder -> counts of outcomes over the files."""
    cells: dict[tuple[str, str], dict[str, Counter[str]]] = {}
    for per_target in matrix.values():
        for target, per_encoder in per_target.items():
            for encoder, per_decoder in per_encoder.items():
                for decoder, outcome in per_decoder.items():
                    kind = (str(outcome).split() or ["failed"])[0].rstrip(":")  # identical, differs, cannot
                    cells.setdefault((target, encoder), {}).setdefault(decoder, Counter())[kind] += 1
    return cells


def matrix_table(matrix: Mapping[str, Any]) -> str:
    """The cross-decoding matrix: rows (target, encoder), columns decoders, cells ``k/n identical``."""
    cells = matrix_cells(matrix)
    if not cells:
        return ""
    decoders = sorted({d for per in cells.values() for d in per})
    rows = ["<tr><th>target</th><th>encoder</th>" + "".join(f"<th>decoded by {_esc(d)}</th>" for d in decoders)]
    for (target, encoder), per in sorted(cells.items()):
        tds = []
        for d in decoders:
            counts = per.get(d, Counter())
            n = sum(counts.values())
            if not n:
                tds.append("<td></td>")
                continue
            kind = next((k for k in ("differs", "failed", "cannot") if counts.get(k)), "identical")
            extra = ", ".join(f"{counts[k]} {k}" for k in ("differs", "failed", "cannot") if counts.get(k))
            text = f"{counts.get('identical', 0)}/{n} identical" + (f" ({extra})" if extra else "")
            tds.append(f'<td class="cell" style="background:{CELL_COLOURS.get(kind, "#607d8b")}">{_esc(text)}</td>')
        rows.append(f"<tr><td>{_esc(target)}</td><td>{_esc(encoder)}</td>{''.join(tds)}</tr>")
    return "<h2>Cross-decoding matrix (lossless targets)</h2><table>" + "".join(rows) + "</table>"


NETWORK_OPS = ("echo", "store", "find", "get")


def network_matrix_table(matrix: Mapping[str, Any]) -> str:
    """``--op network``: rows client, columns server x op, each cell the statuses counted; the servers left out
    and why. Pure."""
    cells = matrix.get("cells") or {}
    if not cells:
        return ""
    servers = list(matrix.get("servers") or sorted({srv for per in cells.values() for srv in per}))
    head = "".join(f'<th colspan="{len(NETWORK_OPS)}">server: {_esc(srv)}</th>' for srv in servers)
    ops = "".join(f"<th>{op}</th>" for _ in servers for op in NETWORK_OPS)
    rows = [f"<tr><th rowspan=2>client</th>{head}</tr>", f"<tr>{ops}</tr>"]
    for client, per_server in cells.items():
        tds = []
        for srv in servers:
            for op in NETWORK_OPS:
                counts = (per_server.get(srv) or {}).get(op) or {}
                tds.append("<td>" + ("".join(badge(k, v) for k, v in counts.items()) or "-") + "</td>")
        rows.append(f"<tr><th>{_esc(client)}</th>{''.join(tds)}</tr>")
    left = matrix.get("servers_left_out") or {}
    note = "".join(f"<li>{_esc(srv)}: {_esc(why)}</li>" for srv, why in left.items())
    return (
        "<h2>Network matrix (client x server x op)</h2><table>"
        + "".join(rows)
        + "</table>"
        + (f"<div>Servers left out:<ul>{note}</ul></div>" if note else "")
    )


def build_html(report: Mapping[str, Any]) -> str:
    s = report["summary"]
    op = s.get("op", "?")
    title = f"dcmharness conform --op {op}: {s['unexplained_mismatches']} unexplained mismatches"
    backends = [s["reference"]["name"], *(b["name"] for b in s["backends"] if b["name"] != s["reference"]["name"])]
    versions = ", ".join(f"{b['name']} ({b['version']})" for b in s["backends"])
    reg = s.get("registry", {})
    header = (
        f"<h1>{_esc(title)}</h1>"
        f"<div>Reference: {_esc(s['reference']['name'])} ({_esc(s['reference']['version'])}); "
        f"backends: {_esc(versions or 'none')}</div>"
        f"<div>{s['files']} files, {s['results']} results in {s['duration_s']} s; "
        f"started {_esc(s['started_at'])}</div>"
        f"<div>{''.join(badge(k, v) for k, v in s['counts'].items())}</div>"
        f"<div>Registry entries used: {_esc(', '.join(reg.get('used', {})) or 'none')}</div>"
    )
    body = (
        "<h2>Profiles x backends</h2>"
        + profile_backend_table(report["results"], backends)
        + matrix_table(report.get("matrix") or {})
        + network_matrix_table(report.get("network_matrix") or {})
        + "<h2>Every result that is not a match</h2>"
        + findings_table(report["results"])
        + slices_section(report.get("slices") or [])
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_esc(title)}</title>"
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        f"<style>{CSS}</style></head><body><header>{header}</header><main>{body}</main></body></html>\n"
    )


def slices_section(cases: Sequence[Mapping[str, Any]]) -> str:
    """``nifti`` / ``volume``: per input, the middle slice of each canonical axis (sagittal, coronal, axial)
    per backend, and each backend's absolute difference from the reference (data: URIs, no files)."""
    if not cases:
        return ""
    parts = ["<h2>Middle slices (sagittal, coronal, axial; canonical RAS orientation) and differences</h2>"]
    for case in cases:
        lo, hi = case.get("window", [0, 0])
        parts.append(f"<h3>{_esc(case['case'])}</h3><div class='details'>window {lo:.6g} .. {hi:.6g}</div><table>")
        for row in case["rows"]:
            views = "".join(f'<img alt="view" src="{_esc(v)}">' for v in row["views"])
            diffs = "".join(
                f'<img alt="difference" src="{_esc(d["image"])}"><br><small>max {d["max"]:.6g}</small>'
                for d in row["diffs"]
            )
            parts.append(f"<tr><th>{_esc(row['backend'])}</th><td>{views}</td><td>{diffs}</td></tr>")
        parts.append("</table>")
    return "".join(parts)


def write(report: Mapping[str, Any], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(build_html(report), encoding="utf-8")
    os.replace(tmp, path)
