"""The ``dcmharness`` command line. Subcommands live in their own modules (``cmd_*.py``) and register here."""

from __future__ import annotations

import argparse
import importlib
import sys

from dcmharness import __version__

#: Subcommand modules, each with ``register(subparsers)`` setting ``func`` on its parser.
COMMANDS = [
    "dcmharness.interface.cli.run",
    "dcmharness.interface.cli.backends",
    "dcmharness.interface.cli.schema",
    "dcmharness.interface.cli.synth",
    "dcmharness.interface.cli.conform",
    "dcmharness.interface.cli.serve",
    "dcmharness.interface.cli.scp",
    "dcmharness.interface.cli.diff",
    "dcmharness.interface.cli.dicomweb_server",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dcmharness",
        description="One JSON contract in front of every major DICOM toolkit, and conformance testing across them.",
    )
    parser.add_argument("--version", action="version", version=f"dcmharness {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    if args_list in (["--version"], ["-V"]):  # fast path: no subcommand imports
        print(f"dcmharness {__version__}")
        return 0
    from dcmharness.interface.input_warnings import quiet_terminal

    quiet_terminal()  # pydicom's warnings about an input are in that request's response.warnings
    parser = build_parser()
    args = parser.parse_args(args_list)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        print("dcmharness: interrupted", file=sys.stderr)
        code = 130
    except BrokenPipeError:
        code = 1
    finally:
        from dcmharness.interface import registry

        registry.close_all()
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
