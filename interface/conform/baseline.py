"""One conformance report against an earlier one: what got better, worse, changed, appeared or vanished.

``compare(baseline, current)`` works on two ``report.json`` documents (``dcmharness conform`` of any op) and
is pure: ``dcmharness conform --baseline OLD/report.json`` puts its result in ``summary.baseline``,
``dcmharness diff A/report.json B/report.json`` prints it (and writes it as HTML). ``failing(...)`` is the
CI gate: the results that make the run fail under ``--fail-on``.

A result is identified by its file (the shortest trailing part of ``input`` that is unique in its report:
usually the file name, so reports made on two machines compare), its profile and its backend; where those
three still repeat (the cross-decoding records of ``--op transcode`` differ only by their options) the
options are part of the key. Each key gets one category:

- ``unchanged``: same status, same error code, same registry entry, metrics within the tolerance;
- ``better`` / ``worse``: the status moved down / up the order of ``RANK``;
- ``changed``: another status of the same rank (``error`` <-> ``mismatch``), or the same status with another
  error code or another registry entry;
- ``metrics``: same status, a metric moved beyond ``MetricTolerance``;
- ``new``: not in the baseline; ``vanished``: only in the baseline.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import PurePath
from typing import Any

from dcmharness.interface.conform.status import (
    ERROR,
    EXPLAINED,
    MATCH,
    MISMATCH,
    REFERENCE_ERROR,
    UNSUPPORTED,
    WITHIN_TOLERANCE,
)

#: The order of the statuses for "better" and "worse": a move to a higher rank is worse. A backend that
#: stops supporting something (-> unsupported) got worse; ``error``, ``mismatch`` and ``reference_error``
#: are equally bad (nothing usable was compared), a move between them is ``changed``.
RANK: dict[str, int] = {
    MATCH: 0,
    WITHIN_TOLERANCE: 1,
    EXPLAINED: 2,
    UNSUPPORTED: 3,
    ERROR: 4,
    MISMATCH: 4,
    REFERENCE_ERROR: 4,
}

UNCHANGED, BETTER, WORSE, CHANGED, METRICS, NEW, VANISHED = (
    "unchanged",
    "better",
    "worse",
    "changed",
    "metrics",
    "new",
    "vanished",
)
CATEGORIES: dict[str, str] = {
    UNCHANGED: "same status, error code, registry entry; metrics within the tolerance",
    BETTER: "the status improved (match < within_tolerance < explained < unsupported < error = mismatch)",
    WORSE: "the status got worse in that order",
    CHANGED: "another status of the same rank, or the same status with another error code or registry entry",
    METRICS: "same status, a metric moved beyond the tolerance",
    NEW: "a result the baseline does not have",
    VANISHED: "a baseline result this run does not have",
}

#: ``--fail-on`` tokens: what makes a run fail. The first two look at this run only.
FAIL_ON: dict[str, str] = {
    "mismatch": "any result with status mismatch (the rule without --baseline)",
    "error": "any result with status error",
    "new-mismatch": "a mismatch the baseline did not have (a new result, or one that was not mismatch)",
    "new-error": "an error the baseline did not have",
    WORSE: CATEGORIES[WORSE],
    BETTER: CATEGORIES[BETTER],
    CHANGED: CATEGORIES[CHANGED],
    METRICS: CATEGORIES[METRICS],
    NEW: CATEGORIES[NEW],
    VANISHED: CATEGORIES[VANISHED],
    "none": "never fail (report only)",
}
DEFAULT_FAIL_ON = ("mismatch",)
DEFAULT_FAIL_ON_BASELINE = ("new-mismatch", "new-error", WORSE)
#: Tokens that need a baseline.
NEEDS_BASELINE = frozenset(FAIL_ON) - {"mismatch", "error", "none"}


@dataclass(frozen=True)
class MetricTolerance:
    """How far a metric may move between two runs with the same status and still count as unchanged."""

    max_abs_diff: float = 1.0  # levels of the output's bit depth
    mean_abs_diff: float = 0.1
    rmse: float = 0.1
    psnr: float = 1.0  # dB
    frac_diff_gt1: float = 0.001
    fidelity_psnr: float = 1.0
    problems: float = 0.0  # the ops' number of differences

    @classmethod
    def parse(cls, text: str) -> MetricTolerance:
        """``max_abs_diff=2,psnr=0.5`` (the others keep their defaults); ``ValueError`` if unusable."""
        known = {f.name for f in fields(cls)}
        values: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, sep, value = part.partition("=")
            if not sep or name.strip() not in known:
                raise ValueError(f"unknown metric tolerance {part!r}; known: {', '.join(sorted(known))}")
            number = float(value)
            if not math.isfinite(number) or number < 0:
                raise ValueError(f"metric tolerance {part!r} must be a finite number >= 0")
            values[name.strip()] = number
        return cls(**values)


@dataclass
class Change:
    key: str
    category: str
    file: str
    profile: str
    backend: str
    before: str | None  # the baseline's status (None: new)
    after: str | None  # this run's status (None: vanished)
    reasons: list[str] = field(default_factory=list)
    divergence: dict[str, str | None] = field(default_factory=dict)  # {"before": id, "after": id} if they differ


@dataclass
class Comparison:
    baseline: str
    current: str
    tolerance: MetricTolerance
    changes: list[Change]  # every key, in this run's order, then the vanished ones in the baseline's order

    @property
    def counts(self) -> dict[str, int]:
        c = Counter(ch.category for ch in self.changes)
        return {cat: c.get(cat, 0) for cat in CATEGORIES}

    def of(self, *categories: str) -> list[Change]:
        return [c for c in self.changes if c.category in categories]

    def as_dict(self, fail_on: Sequence[str] = DEFAULT_FAIL_ON_BASELINE) -> dict[str, Any]:
        """The ``summary.baseline`` block: counts, transitions, and every result that is not unchanged."""
        transitions = Counter(
            f"{c.before} -> {c.after}" for c in self.changes if c.category in (BETTER, WORSE, CHANGED)
        )
        gate = failing(self, fail_on)
        return {
            "baseline": self.baseline,
            "tolerance": asdict(self.tolerance),
            "counts": self.counts,
            "transitions": dict(sorted(transitions.items())),
            "fail_on": list(fail_on),
            "failing": len(gate),
            "changes": [asdict(c) for c in self.changes if c.category != UNCHANGED],
        }


def file_keys(inputs: Iterable[str]) -> dict[str, str]:
    """Each input path -> its shortest trailing part that no other input of the report shares."""
    paths = sorted(set(inputs))
    parts = {p: PurePath(p).parts for p in paths}
    keys: dict[str, str] = {}
    for p in paths:
        for n in range(1, len(parts[p]) + 1):
            tail = parts[p][-n:]
            if all(q == p or parts[q][-n:] != tail for q in paths):
                keys[p] = "/".join(tail)
                break
        else:
            keys[p] = p
    return keys


def case_names(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """``<file key>/<profile>`` of each result record (plus its options where that still repeats per backend)."""
    names = file_keys(str(r.get("input") or r.get("file") or "") for r in results)
    base = [f"{names[str(r.get('input') or r.get('file') or '')]}/{r['profile']}" for r in results]
    repeated = {k for k, n in Counter(zip(base, (r["backend"] for r in results), strict=True)).items() if n > 1}
    return [
        f"{b} {json.dumps(r.get('options') or {}, sort_keys=True)}" if (b, r["backend"]) in repeated else b
        for b, r in zip(base, results, strict=True)
    ]


def result_keys(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """The key of each result record: ``<case name>/<backend>`` (see the module's docstring), in order."""
    return [f"{name}/{r['backend']}" for name, r in zip(case_names(results), results, strict=True)]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def metric_moves(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, tol: MetricTolerance) -> list[str]:
    """The metrics that moved beyond the tolerance, as ``name a -> b`` (null = not measured or infinite)."""
    moves = []
    a, b = before or {}, after or {}
    for f in fields(tol):
        if f.name not in a and f.name not in b:
            continue
        x, y = _number(a.get(f.name)), _number(b.get(f.name))
        if x is None and y is None:
            continue
        if x is None or y is None or abs(x - y) > getattr(tol, f.name):
            moves.append(f"{f.name} {a.get(f.name)} -> {b.get(f.name)}")
    return moves


def _code(rec: Mapping[str, Any]) -> str | None:
    err = rec.get("error")
    return err.get("code") if isinstance(err, dict) else None


def _entry(rec: Mapping[str, Any]) -> str | None:
    div = rec.get("divergence")
    return div.get("id") if isinstance(div, dict) else None


def classify(before: Mapping[str, Any], after: Mapping[str, Any], tol: MetricTolerance) -> tuple[str, list[str]]:
    """The category of one result present in both reports, with the reasons."""
    s0, s1 = before["status"], after["status"]
    if s0 != s1:
        r0, r1 = RANK.get(s0, max(RANK.values())), RANK.get(s1, max(RANK.values()))
        category = WORSE if r1 > r0 else BETTER if r1 < r0 else CHANGED
        return category, [f"status {s0} -> {s1}"]
    reasons = []
    if _code(before) != _code(after):
        reasons.append(f"error code {_code(before)} -> {_code(after)}")
    if _entry(before) != _entry(after):
        reasons.append(f"registry entry {_entry(before)} -> {_entry(after)}")
    if reasons:
        return CHANGED, reasons
    moves = metric_moves(before.get("metrics"), after.get("metrics"), tol)
    return (METRICS, moves) if moves else (UNCHANGED, [])


def _change(
    key: str,
    category: str,
    rec: Mapping[str, Any],
    before: str | None,
    after: str | None,
    reasons: list[str] | None = None,
) -> Change:
    return Change(
        key, category, str(rec.get("file")), str(rec["profile"]), str(rec["backend"]), before, after, reasons or []
    )


def compare(
    baseline: Mapping[str, Any],
    current: Mapping[str, Any],
    *,
    tolerance: MetricTolerance | None = None,
    names: tuple[str, str] = ("baseline", "current"),
) -> Comparison:
    """Every result of ``current`` against ``baseline`` (two ``report.json`` documents)."""
    tol = tolerance or MetricTolerance()
    old_results, new_results = list(baseline.get("results") or []), list(current.get("results") or [])
    old = dict(zip(result_keys(old_results), old_results, strict=True))
    new_keys = result_keys(new_results)
    changes = []
    for key, rec in zip(new_keys, new_results, strict=True):
        prev = old.get(key)
        if prev is None:
            changes.append(_change(key, NEW, rec, None, rec["status"]))
            continue
        category, reasons = classify(prev, rec, tol)
        change = _change(key, category, rec, prev["status"], rec["status"], reasons)
        if _entry(prev) != _entry(rec):
            change.divergence = {"before": _entry(prev), "after": _entry(rec)}
        changes.append(change)
    seen = set(new_keys)
    changes += [_change(k, VANISHED, r, r["status"], None) for k, r in old.items() if k not in seen]
    return Comparison(names[0], names[1], tol, changes)


def fails(change: Change, token: str) -> bool:
    """Whether one result fails the run under one ``--fail-on`` token."""
    if token == "none":
        return False
    if token in ("mismatch", "error"):
        return change.after == token
    if token in ("new-mismatch", "new-error"):
        status = token.removeprefix("new-")
        return change.after == status and change.before != status
    return change.category == token


def failing(comparison: Comparison, fail_on: Sequence[str]) -> list[Change]:
    """The results that make the run fail (each once), in report order."""
    return [c for c in comparison.changes if any(fails(c, t) for t in fail_on)]


def parse_fail_on(text: str | None, *, has_baseline: bool) -> tuple[str, ...]:
    """The ``--fail-on`` tokens (default by whether there is a baseline); ``ValueError`` names a bad one."""
    if text is None:
        return DEFAULT_FAIL_ON_BASELINE if has_baseline else DEFAULT_FAIL_ON
    tokens = tuple(t.strip() for t in text.split(",") if t.strip())
    unknown = [t for t in tokens if t not in FAIL_ON]
    if unknown or not tokens:
        raise ValueError(f"unknown --fail-on value(s) {', '.join(unknown) or '(none)'}; known: {', '.join(FAIL_ON)}")
    if not has_baseline and NEEDS_BASELINE.intersection(tokens):
        raise ValueError(f"--fail-on {', '.join(sorted(NEEDS_BASELINE.intersection(tokens)))} needs --baseline")
    return tokens


def without_baseline(current: Mapping[str, Any]) -> Comparison:
    """This run alone, as a comparison where every result is new (the gate's view without ``--baseline``)."""
    return compare({"results": []}, current, names=("(none)", "current"))


def text_summary(comparison: Comparison, fail_on: Sequence[str], limit: int = 40) -> str:
    """The comparison for a terminal: counts, status transitions, and the results that fail the run."""
    d = comparison.as_dict(fail_on)
    lines = [
        f"against {comparison.baseline}: " + ", ".join(f"{k} {v}" for k, v in d["counts"].items() if v),
    ]
    if d["transitions"]:
        lines.append("transitions: " + ", ".join(f"{k} ({v})" for k, v in d["transitions"].items()))
    gate = failing(comparison, fail_on)
    lines.append(f"fail-on {','.join(fail_on)}: {len(gate)} result(s) fail the run")
    for c in gate[:limit]:
        why = f" ({'; '.join(c.reasons)})" if c.reasons else ""
        lines.append(f"  {c.category:9} {c.key}: {c.before} -> {c.after}{why}")
    if len(gate) > limit:
        lines.append(f"  ... and {len(gate) - limit} more (report.json summary.baseline.changes)")
    return "\n".join(lines)
