"""``dcmharness synth --out DIR``: write the synthetic DICOM cases with their expected renderings."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "synth",
        help="write the synthetic DICOM cases (files, expected .npy renderings, manifest.json)",
        description="Write small deterministic DICOM files covering every stage and option of the rendering "
        "contract, each with its expected rendering computed from the standard's formulas.",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write into (created)")
    p.add_argument("--case", action="append", metavar="NAME", help="only this case (repeatable)")
    p.add_argument("--list", action="store_true", help="list the case names and exit")
    p.add_argument(
        "--series",
        action="store_true",
        help="write the synthetic series of volume / nifti instead (folders, expected volumes, manifest.json)",
    )
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from dcmharness.interface.synth import all_builders, generate

    if args.series:
        from dcmharness.interface.synth.series import generate as generate_series

        written = generate_series(Path(args.out))
        for case in written:
            print(f"{case['name']}: {case['input']}  {case['description']}")
        print(f"{len(written)} series case(s) and manifest.json written to {args.out}")
        return 0
    if args.list:
        for b in all_builders():
            print(b.__name__)
        return 0
    known = {b.__name__ for b in all_builders()}
    unknown = sorted(set(args.case or []) - known)
    if unknown:
        print(f"dcmharness synth: unknown case(s): {', '.join(unknown)} (see --list)")
        return 2
    cases = generate(Path(args.out), args.case)
    for c in cases:
        print(f"{c.path}  {c.description}")
    print(f"{len(cases)} case(s) and manifest.json written to {args.out}")
    return 0
