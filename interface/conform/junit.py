"""JUnit XML of a conformance report, so CI systems (GitHub, GitLab, Jenkins) show the results natively.

One ``<testsuite>`` per backend, one ``<testcase>`` per result (file x profile x backend):

- ``<failure>`` when the result's status is ``mismatch`` or ``error``, or when it fails the run's gate
  (``--fail-on`` against ``--baseline``, e.g. ``match -> within_tolerance`` with ``worse``); ``type`` is the
  status or the gate's category, the text holds the metrics, the error and the registry entry;
- ``<skipped>`` for ``unsupported`` (the backend refused an option) and ``reference_error`` (nothing to
  compare against);
- passed otherwise (``match``, ``within_tolerance``, ``explained``).

The document is valid against both JUnit schemas CI tools read (Jenkins' xunit ``junit-10.xsd`` and the
Apache Ant schema): ``<testsuites>`` without attributes, each suite with ``package``, ``id``, a zone-less
``timestamp``, ``hostname``, ``<properties>`` first and ``<system-out>``/``<system-err>`` last, each
test case with at most one child. ``tests/data/junit.xsd`` states those rules; a test validates against it.
"""

from __future__ import annotations

import json
import os
import re
import socket
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dcmharness.interface.conform.baseline import Change, Comparison, case_names, failing, result_keys, without_baseline
from dcmharness.interface.conform.status import ERROR, MISMATCH, REFERENCE_ERROR, UNSUPPORTED

#: Characters XML 1.0 cannot carry (C0 controls but tab/newline/CR, surrogates, U+FFFE/FFFF).
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
FAILED_STATUSES = (MISMATCH, ERROR)
SKIPPED_STATUSES = (UNSUPPORTED, REFERENCE_ERROR)


def xml_text(value: Any, limit: int = 4000) -> str:
    """``value`` as text XML can carry: invalid characters as ``\\xNN``, at most ``limit`` characters."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = _NOT_XML.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _seconds(ms: Any) -> str:
    return f"{(float(ms) if isinstance(ms, int | float) else 0.0) / 1000:.3f}"


def _timestamp(started_at: Any) -> str:
    """The report's start time without zone and fraction (the Ant schema's pattern: YYYY-MM-DDTHH:MM:SS)."""
    m = re.match(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})", str(started_at or ""))
    return m.group(1) if m else "1970-01-01T00:00:00"


def failure_message(rec: Mapping[str, Any], change: Change | None) -> tuple[str, str]:
    """(type, message) of a failing result."""
    status = rec["status"]
    if status == MISMATCH:
        m = rec.get("metrics") or {}
        detail = (
            f"max_abs_diff {m.get('max_abs_diff')}" if "max_abs_diff" in m else f"{m.get('problems')} difference(s)"
        )
        return MISMATCH, f"unexplained difference from the reference: {detail}"
    if status == ERROR:
        err = rec.get("error") or {}
        known = rec.get("divergence")
        text = f"{err.get('code')}: {err.get('message')}"
        return ERROR, text + (f" (known: {known.get('id')})" if isinstance(known, dict) else "")
    assert change is not None
    why = f": {'; '.join(change.reasons)}" if change.reasons else ""
    return change.category, f"{change.before} -> {change.after}{why}"


def failure_body(rec: Mapping[str, Any], change: Change | None) -> str:
    body = {
        k: rec.get(k)
        for k in ("input", "options", "status", "metrics", "error", "divergence", "output", "reference_output")
        if rec.get(k) is not None
    }
    if change is not None and change.before is not None:
        body["baseline"] = {"status": change.before, "category": change.category, "reasons": change.reasons}
    return json.dumps(body, indent=1, default=str)


def build(
    report: Mapping[str, Any],
    *,
    comparison: Comparison | None = None,
    fail_on: Sequence[str] = ("mismatch",),
    summary_text: str = "",
) -> ET.Element:
    """The ``<testsuites>`` element of a report (see the module's docstring)."""
    s = report["summary"]
    op = s.get("op", "to_image")
    results = list(report.get("results") or [])
    keys = result_keys(results)
    names = dict(zip(keys, case_names(results), strict=True))
    comp = comparison or without_baseline(report)
    by_key = {c.key: c for c in comp.changes}
    gate = {c.key for c in failing(comp, fail_on)}
    hostname = socket.gethostname() or "localhost"
    properties = {
        "reference": f"{s['reference']['name']} {s['reference'].get('version') or ''}".strip(),
        **{f"backend.{b['name']}": str(b.get("version") or "") for b in s.get("backends", [])},
        "profiles": ",".join(s.get("profiles", [])),
        "fail_on": ",".join(fail_on),
        "baseline": comp.baseline if comparison is not None else "",
    }
    root = ET.Element("testsuites")
    backends = [b["name"] for b in s.get("backends", [])] or sorted({r["backend"] for r in results})
    for suite_id, backend in enumerate(backends):
        mine = [(k, r) for k, r in zip(keys, results, strict=True) if r["backend"] == backend]
        suite = ET.SubElement(root, "testsuite")
        props = ET.SubElement(suite, "properties")
        for name, value in properties.items():
            ET.SubElement(props, "property", name=name, value=xml_text(value, 500))
        failures = skipped = 0
        total_ms = 0.0
        for key, rec in mine:
            total_ms += float(rec.get("duration_ms") or 0.0)
            case = ET.SubElement(
                suite,
                "testcase",
                name=xml_text(names[key], 500),
                classname=f"dcmharness.{op}.{backend}",
                time=_seconds(rec.get("duration_ms")),
            )
            change = by_key.get(key)
            if rec["status"] in FAILED_STATUSES or key in gate:
                kind, message = failure_message(rec, change if key in gate else None)
                el = ET.SubElement(case, "failure", type=kind, message=xml_text(message, 1000))
                el.text = xml_text(failure_body(rec, change))
                failures += 1
            elif rec["status"] in SKIPPED_STATUSES:
                err = rec.get("error") or rec.get("reference_error") or {}
                what = "reference failed" if rec["status"] == REFERENCE_ERROR else "unsupported"
                text = f"{what}: {err.get('code')}: {err.get('message')}"
                ET.SubElement(case, "skipped", message=xml_text(text, 1000))
                skipped += 1
        suite.attrib.update(
            {
                "name": f"dcmharness.{op}.{backend}",
                "package": f"dcmharness.{op}",
                "id": str(suite_id),
                "timestamp": _timestamp(s.get("started_at")),
                "hostname": hostname,
                "tests": str(len(mine)),
                "failures": str(failures),
                "errors": "0",
                "skipped": str(skipped),
                "time": _seconds(total_ms),
            }
        )
        ET.SubElement(suite, "system-out").text = xml_text(summary_text, 20000)
        ET.SubElement(suite, "system-err").text = ""
    return root


def write(root: ET.Element, path: Path) -> None:
    """The XML file (UTF-8, with declaration), written atomically."""
    ET.indent(root)
    tmp = path.with_name(path.name + ".tmp")
    ET.ElementTree(root).write(tmp, encoding="utf-8", xml_declaration=True)
    os.replace(tmp, path)
