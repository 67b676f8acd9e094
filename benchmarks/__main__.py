"""``python -m benchmarks [NAME ...] [OPTIONS]``: run each ``benchmarks/bench_*.py`` module's ``main()``, or some.

A NAME is a module (``speed`` or ``bench_speed``) or one benchmark inside a module's ``BENCHMARKS``
table (``batch``, ``large``, ``overhead``, ``cold``, ``jobs`` of ``bench_speed``).
OPTIONS (e.g. ``--repeat 3``) are passed to each module's ``main``.
Exit status: the worst of the modules' statuses; 2 for an unknown name.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent


def module_names() -> list[str]:
    """``bench_*`` module names, sorted."""
    return sorted(p.stem for p in HERE.glob("bench_*.py"))


def load(name: str) -> ModuleType:
    return importlib.import_module(f"benchmarks.{name}")


def resolve(name: str) -> tuple[str, list[str]] | None:
    """(module, argv for its main) that runs ``name``; None when nothing is called that."""
    modules = module_names()
    for candidate in (name, f"bench_{name}"):
        if candidate in modules:
            return candidate, []
    for module in modules:
        table = getattr(load(module), "BENCHMARKS", None)
        if isinstance(table, dict) and name in table:
            return module, [name]
    return None


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    split = next((i for i, a in enumerate(args) if a.startswith("-")), len(args))
    names, passed = args[:split], args[split:]  # options after the names go to every module's main
    if any(n in ("-h", "--help") for n in passed) and not names:
        print(__doc__)
        print("modules: " + ", ".join(module_names()))
        return 0
    plan: list[tuple[str, list[str]]] = []
    for name in names:
        target = resolve(name)
        if target is None:
            print(f"benchmarks: nothing called {name!r}; modules: {', '.join(module_names())}", file=sys.stderr)
            return 2
        plan.append(target)
    if not plan:
        plan = [(m, []) for m in module_names()]
    status = 0
    for module, args in plan:
        print(f"== {module} {' '.join(args)}".rstrip(), flush=True)
        code = load(module).main(args + passed)
        status = max(status, int(code or 0))
    return status


if __name__ == "__main__":
    sys.exit(main())
