"""``dcmharness backends``: every backend, available or not, with version and capabilities."""

from __future__ import annotations

import argparse
import json
from typing import Any

from dcmharness.interface import registry


def register(sub: Any) -> None:
    p = sub.add_parser("backends", help="list backends, availability, versions and capabilities")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=main)


def describe() -> list[dict[str, Any]]:
    rows = []
    for name in registry.names():
        backend = registry.get(name)
        avail = backend.availability()
        rows.append(
            {
                "name": name,
                "kind": backend.kind,
                "available": avail.available,
                "version": avail.version,
                "location": avail.location,
                "reason": avail.reason,
                "ops": list(backend.ops),
                "description": backend.description,
                "capabilities": backend.capabilities() if avail.available else None,
            }
        )
    return rows


def main(args: argparse.Namespace) -> int:
    rows = describe()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        state = "available" if r["available"] else "unavailable"
        print(f"{r['name']:<12} {state:<12} {r['version'] or '-':<32} ops: {', '.join(r['ops'])}")
        print(f"    {r['description']}")
        if r["available"]:
            print(f"    at: {r['location']}")
            for op, caps in (r["capabilities"] or {}).items():
                print(f"    {op}: {json.dumps(caps)}")
        else:
            print(f"    why: {r['reason']}")
    return 0
