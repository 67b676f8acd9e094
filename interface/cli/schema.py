"""``dcmharness schema``: print the JSON Schema of requests (or responses)."""

from __future__ import annotations

import argparse
from typing import Any

from dcmharness.contract.schema import render, request_schema, response_schema


def register(sub: Any) -> None:
    p = sub.add_parser("schema", help="print the JSON Schema of requests (or --response)")
    p.add_argument("--response", action="store_true", help="the response schema instead")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    print(render(response_schema() if args.response else request_schema()), end="")
    return 0
