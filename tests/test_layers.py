"""The layering of the code, checked from the source (no import is executed).

- contract < backends < adapters < interface: a module imports only from its own layer or a lower one
  (``dcmharness/__init__.py``, the public facade, sits on top);
- every import of the project's code goes through its one import name, ``dcmharness``;
- no import cycle between files (imports under ``if TYPE_CHECKING:`` are not executed and do not count);
- an adapter package (one per toolkit) does not import another toolkit's package.

Imports inside functions count: they run too, only later.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LAYERS = {"contract": 0, "backends": 1, "adapters": 2, "interface": 3}
TOP = "dcmharness"


def _module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[0] != TOP:
        parts.insert(0, TOP)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    """Every module of the package, by its dotted name under ``dcmharness``."""
    found: dict[str, Path] = {}
    for top in (*LAYERS, TOP):
        for path in sorted((REPO / top).rglob("*.py")):
            if path.is_relative_to(REPO / TOP) and top != TOP:
                continue
            if "target" in path.parts or any(p.startswith(".") for p in path.relative_to(REPO).parts):
                continue
            if top == TOP and path.parent != REPO / TOP:
                continue  # dcmharness/<layer> are links to the folders above, already walked
            if not (path.parent / "__init__.py").exists():
                continue  # scripts beside the package (e.g. backends/rust_render/tools), not importable
            found[_module_name(path)] = path
    return found


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                for child in node.body:
                    for sub in ast.walk(child):
                        if hasattr(sub, "lineno"):
                            lines.add(sub.lineno)
    return lines


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> Iterator[tuple[int, str]]:
    """(line, imported name) for every import executed at run time; ``from P import m`` yields ``P.m``
    when that is a module of the project, else ``P``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    skip = _type_checking_lines(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            for alias in node.names:
                candidate = f"{source}.{alias.name}"
                yield node.lineno, candidate if candidate in modules else source


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != TOP:
        return None
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else TOP


def test_the_walk_finds_the_package() -> None:
    modules = project_modules()
    assert "dcmharness.interface.api" in modules
    assert "dcmharness.adapters.dcmtk.render" in modules
    assert "dcmharness.contract.models" in modules
    assert len(modules) > 90


def test_imports_go_through_the_one_import_name() -> None:
    modules = project_modules()
    bad = [
        f"{modules[name].relative_to(REPO)}:{line} imports {target}"
        for name in modules
        for line, target in imports_of(name, modules[name], modules)
        if target.split(".")[0] in LAYERS
    ]
    assert bad == []


def test_no_upward_import() -> None:
    modules = project_modules()
    rank = {**LAYERS, TOP: len(LAYERS)}
    bad = []
    for name, path in modules.items():
        own = _layer(name)
        for line, target in imports_of(name, path, modules):
            theirs = _layer(target)
            if own is None or theirs is None or theirs == TOP:
                continue
            if rank[theirs] > rank[own]:
                bad.append(f"{path.relative_to(REPO)}:{line} ({own}) imports {target} ({theirs})")
    assert bad == []


def _graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for _, target in imports_of(name, path, modules):
            if target in modules and target != name:
                graph[name].add(target)
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative): the components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert strongly_connected(graph) == [["a", "b", "c"]]


def test_no_import_cycle_between_files() -> None:
    assert strongly_connected(_graph(project_modules())) == []


def _toolkit_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == [TOP, "adapters"] else None


TOOLKITS = sorted(p.name for p in (REPO / "adapters").iterdir() if (p / "__init__.py").exists())


@pytest.mark.parametrize("toolkit", TOOLKITS)
def test_a_toolkit_package_does_not_import_another(toolkit: str) -> None:
    modules = project_modules()
    others = set(TOOLKITS) - {toolkit}
    prefix = f"{TOP}.adapters.{toolkit}"
    bad = [
        f"{modules[name].relative_to(REPO)}:{line} imports {target}"
        for name in modules
        if name == prefix or name.startswith(prefix + ".")
        for line, target in imports_of(name, modules[name], modules)
        if _toolkit_of(target) in others
    ]
    assert bad == []
