"""The divergence registry: known, explained disagreements between a backend and the reference.

The data lives in ``interface/conform/divergences.toml`` (format in its header). ``load`` parses and validates it;
``find_explanation`` returns the first entry whose conditions hold for a result and whose allowed effect
covers the measured difference. Matching is pure: it reads the request options and the dataset only.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_REGISTRY = Path(__file__).with_name("divergences.toml")

_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_KEYS = {
    "id",
    "backends",
    "profiles",
    "dataset",
    "options",
    "files",
    "max_abs_diff",
    "any_difference",
    "tool_fails",
    "cause",
    "source",
}

#: dataset condition values with a special meaning
PRESENT, ABSENT = "*", "!"


class RegistryError(ValueError):
    """The registry file is malformed (the message names the entry and the field)."""


@dataclass(frozen=True)
class Divergence:
    id: str
    backends: tuple[str, ...]
    cause: str
    source: str
    profiles: tuple[str, ...] | None = None
    dataset: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    files: tuple[str, ...] | None = None
    max_abs_diff: float | None = None
    any_difference: bool = False
    tool_fails: bool = False  # the backend fails here: names the cause of an ``error``, explains no difference

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "backends": list(self.backends)}
        if self.profiles is not None:
            d["profiles"] = list(self.profiles)
        if self.dataset:
            d["dataset"] = {k: list(v) for k, v in self.dataset.items()}
        if self.options:
            d["options"] = dict(self.options)
        if self.files is not None:
            d["files"] = list(self.files)
        if self.any_difference:
            d["any_difference"] = True
        elif self.tool_fails:
            d["tool_fails"] = True
        else:
            d["max_abs_diff"] = self.max_abs_diff
        d["cause"], d["source"] = self.cause, self.source
        return d


def _str_list(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise RegistryError(f"{where}: expected a non-empty list of strings")
    return tuple(value)


def parse_entry(raw: Mapping[str, Any], index: int) -> Divergence:
    """One ``[[divergence]]`` table as a ``Divergence``; ``RegistryError`` naming what is wrong."""
    ident = raw.get("id")
    where = f"divergence #{index + 1} ({ident!r})"
    unknown = set(raw) - _KEYS
    if unknown:
        raise RegistryError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    if not isinstance(ident, str) or not _ID.match(ident):
        raise RegistryError(f"{where}: id must be kebab-case (a-z, 0-9, '-')")
    for key in ("backends", "cause", "source"):
        if key not in raw:
            raise RegistryError(f"{where}: {key} is required")
    for key in ("cause", "source"):
        if not isinstance(raw[key], str) or not raw[key].strip():
            raise RegistryError(f"{where}: {key} must be a non-empty string")
    has_max, has_any = "max_abs_diff" in raw, bool(raw.get("any_difference", False))
    has_fails = bool(raw.get("tool_fails", False))
    if has_max + has_any + has_fails != 1:
        raise RegistryError(
            f"{where}: give exactly one effect: max_abs_diff = N, any_difference = true or tool_fails = true"
        )
    if "tool_fails" in raw and not isinstance(raw["tool_fails"], bool):
        raise RegistryError(f"{where}: tool_fails must be true or false")
    max_diff = raw.get("max_abs_diff")
    if has_max and (isinstance(max_diff, bool) or not isinstance(max_diff, int | float) or max_diff < 0):
        raise RegistryError(f"{where}: max_abs_diff must be a number >= 0")
    if "any_difference" in raw and not isinstance(raw["any_difference"], bool):
        raise RegistryError(f"{where}: any_difference must be true or false")
    dataset = raw.get("dataset", {})
    if not isinstance(dataset, dict):
        raise RegistryError(f"{where}: dataset must be a table keyword -> value or list")
    options = raw.get("options", {})
    if not isinstance(options, dict):
        raise RegistryError(f"{where}: options must be a table option -> value")
    return Divergence(
        id=ident,
        backends=_str_list(raw["backends"], f"{where}.backends"),
        cause=raw["cause"].strip(),
        source=raw["source"].strip(),
        profiles=_str_list(raw["profiles"], f"{where}.profiles") if "profiles" in raw else None,
        dataset={k: tuple(v) if isinstance(v, list) else (v,) for k, v in dataset.items()},
        options=dict(options),
        files=_str_list(raw["files"], f"{where}.files") if "files" in raw else None,
        max_abs_diff=float(max_diff) if has_max and max_diff is not None else None,
        any_difference=has_any,
        tool_fails=has_fails,
    )


def parse(text: str) -> list[Divergence]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"not valid TOML: {exc}") from None
    extra = set(doc) - {"divergence"}
    if extra:
        raise RegistryError(f"unknown top-level key(s): {', '.join(sorted(extra))}")
    entries = doc.get("divergence", [])
    if not isinstance(entries, list):
        raise RegistryError("use [[divergence]] tables")
    out = [parse_entry(e, i) for i, e in enumerate(entries)]
    seen: set[str] = set()
    for d in out:
        if d.id in seen:
            raise RegistryError(f"duplicate divergence id {d.id!r}")
        seen.add(d.id)
    return out


def load(path: str | Path | None = None) -> list[Divergence]:
    """The registry's entries (default: ``interface/conform/divergences.toml``)."""
    p = Path(path) if path is not None else DEFAULT_REGISTRY
    if not p.exists():
        return []
    return parse(p.read_text(encoding="utf-8"))


# --- matching ---------------------------------------------------------------------------------------------


def values_equal(expected: Any, actual: Any) -> bool:
    """Loose equality of a registry value and a DICOM/option value: numbers numerically, text stripped."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual if isinstance(expected, bool) and isinstance(actual, bool) else False
    try:
        return float(str(expected).strip()) == float(str(actual).strip())
    except ValueError:
        return str(expected).strip() == str(actual).strip()


def _dataset_values(dataset: Any, keyword: str, transfer_syntax: str | None) -> list[Any] | None:
    """The attribute's values (a list; multi-valued attributes give all), None when absent."""
    if keyword == "TransferSyntaxUID":
        return None if not transfer_syntax else [transfer_syntax]
    if dataset is None:
        return None
    try:
        value = dataset.get(keyword)
    except Exception:
        return None
    if value is None or value == "":
        return None
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        return [value]
    return list(value)


def dataset_matches(conditions: Mapping[str, Sequence[Any]], dataset: Any, transfer_syntax: str | None) -> bool:
    for keyword, wanted in conditions.items():
        actual = _dataset_values(dataset, keyword, transfer_syntax)
        if ABSENT in wanted and actual is None:
            continue
        if actual is None:
            return False
        if PRESENT in wanted:
            continue
        if not any(values_equal(w, a) for w in wanted for a in actual):
            return False
    return True


def effective_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The request's to_image options with the contract's defaults filled in (as given when invalid)."""
    from dcmharness.contract.options import ToImageOptions

    try:
        return ToImageOptions.model_validate(dict(options)).model_dump()
    except ValueError:
        return dict(options)


def options_match(conditions: Mapping[str, Any], options: Mapping[str, Any]) -> bool:
    """Every condition equals the request's option, defaults included (an option that is null never matches)."""
    effective = effective_options(options)
    for key, wanted in conditions.items():
        actual = effective.get(key)
        if actual is None or not values_equal(wanted, actual):
            return False
    return True


def files_match(globs: Sequence[str], path: str) -> bool:
    name = Path(path).name
    return any(fnmatch.fnmatchcase(path if "/" in g else name, g) for g in globs)


@dataclass(frozen=True)
class Case:
    """What a registry entry is matched against: one compared result."""

    backend: str
    profile: str
    input: str
    options: Mapping[str, Any]
    dataset: Any = None  # pydicom Dataset (or any mapping with .get), None if unreadable
    transfer_syntax: str | None = None


def conditions_hold(entry: Divergence, case: Case) -> bool:
    """Whether the entry's conditions (backend, profile, file, options, dataset) hold for the case."""
    if case.backend not in entry.backends:
        return False
    if entry.profiles is not None and case.profile not in entry.profiles:
        return False
    if entry.files is not None and not files_match(entry.files, case.input):
        return False
    if entry.options and not options_match(entry.options, case.options):
        return False
    return not entry.dataset or dataset_matches(entry.dataset, case.dataset, case.transfer_syntax)


def effect_covers(entry: Divergence, max_abs_diff: float, shape_and_mode_match: bool) -> bool:
    """Whether the entry's allowed effect covers the measured difference (a ``tool_fails`` entry covers none)."""
    if entry.tool_fails:
        return False
    if entry.any_difference:
        return True
    assert entry.max_abs_diff is not None
    return shape_and_mode_match and max_abs_diff <= entry.max_abs_diff


@dataclass(frozen=True)
class Explanation:
    entry: Divergence | None  # the entry that explains the result, if one does
    exceeded: tuple[str, ...] = ()  # entries whose conditions hold but whose effect is exceeded


def find_explanation(
    entries: Sequence[Divergence], case: Case, max_abs_diff: float, shape_and_mode_match: bool
) -> Explanation:
    exceeded: list[str] = []
    for entry in entries:
        if not conditions_hold(entry, case):
            continue
        if effect_covers(entry, max_abs_diff, shape_and_mode_match):
            return Explanation(entry, tuple(exceeded))
        exceeded.append(entry.id)
    return Explanation(None, tuple(exceeded))


def find_failure(entries: Sequence[Divergence], case: Case) -> Divergence | None:
    """The ``tool_fails`` entry whose conditions hold: the known cause of a backend's failure, if any."""
    return next((e for e in entries if e.tool_fails and conditions_hold(e, case)), None)


def concerns_run(entry: Divergence, backends_run: Sequence[str], profiles_run: Sequence[str]) -> bool:
    """Whether the run could have matched the entry: one of its backends and (if given) profiles ran."""
    if not set(entry.backends) & set(backends_run):
        return False
    return entry.profiles is None or bool(set(entry.profiles) & set(profiles_run))


def stale_entries(
    entries: Sequence[Divergence], used: set[str], backends_run: Sequence[str], profiles_run: Sequence[str]
) -> list[str]:
    """Entries the run could have matched that explained nothing (stale when the run was a full one).

    Entries for other ops (e.g. ``profiles = ["anonymize"]``) or for backends not run are never stale here.
    """
    return [e.id for e in entries if e.id not in used and concerns_run(e, backends_run, profiles_run)]
