"""``dcmharness run``: requests from stdin or --request FILE (object, array or JSON Lines) or from flags."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Generator
from pathlib import Path
from typing import IO, Any

from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import Response
from dcmharness.interface.answers import Ready, answers
from dcmharness.interface.api import RunContext, error_response
from dcmharness.interface.cli.jsonio import read_requests

EXIT_OK, EXIT_FAILED, EXIT_UNUSABLE = 0, 1, 2


def register(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="run JSON requests (stdin, --request FILE, or flags)",
        description="Run requests. Input: one JSON object, a JSON array, or JSON Lines (answered line by line "
        "as each finishes). A request whose input is a folder is answered per file, then by a summary. "
        "Exit status: 0 all succeeded, 1 any failed, 2 unusable input.",
    )
    p.add_argument("--request", metavar="FILE", help="read requests from FILE instead of stdin ('-' = stdin)")
    p.add_argument("--op", help="build one request from flags: the op (e.g. to_image)")
    p.add_argument("--input", dest="input_path", metavar="PATH", help="with --op: the input file or folder")
    p.add_argument("--output", metavar="PATH", help="with --op: the output file (a folder for a folder input)")
    p.add_argument("--recursive", action="store_true", help="with --op and a folder input: include sub-folders")
    p.add_argument("--backend", help="with --op: the backend (default python_ref)")
    p.add_argument("--options", metavar="JSON", help="with --op: the options as a JSON object")
    p.add_argument("--id", dest="request_id", help="with --op: the request id")
    p.add_argument("--overwrite", action="store_true", help="with --op: replace an existing output")
    p.add_argument("--timeout", type=float, help="default timeout (s) for external backends")
    p.add_argument("--root", metavar="DIR", help="confine every input and output path to DIR")
    p.add_argument("--pretty", action="store_true", help="indent JSON responses")
    p.add_argument(
        "--jobs",
        type=_jobs,
        default=1,
        metavar="N",
        help="run on N worker processes (default 1); requests are then read ahead of the answers",
    )
    p.add_argument(
        "--unordered", action="store_true", help="with --jobs: answer as each finishes, not in request order"
    )
    p.set_defaults(func=main)


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 1 <= value <= 256:
        raise argparse.ArgumentTypeError("--jobs must be within 1..256")
    return value


def _dump(resp: Response, pretty: bool) -> str:
    return resp.model_dump_json(indent=2 if pretty else None)


def _flag_request(args: argparse.Namespace) -> dict[str, Any]:
    req: dict[str, Any] = {"op": args.op}
    if args.input_path is not None:
        req["input"] = args.input_path
    if args.output is not None:
        req["output"] = args.output
    if args.backend is not None:
        req["backend"] = args.backend
    if args.request_id is not None:
        req["id"] = args.request_id
    if args.overwrite:
        req["overwrite"] = True
    if args.recursive:
        req["recursive"] = True
    if args.options is not None:
        try:
            req["options"] = json.loads(args.options)
        except json.JSONDecodeError as exc:
            raise HarnessError(ErrorCode.INVALID_JSON, f"--options is not JSON: {exc.msg}", "options") from None
    return req


def _terminate(signum: int, frame: Any) -> None:
    """SIGTERM unwinds like Ctrl-C: the request in flight discards its temporary files, its tool is killed."""
    raise SystemExit(128 + signum)


def main(args: argparse.Namespace) -> int:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    ctx = RunContext(root=Path(args.root) if args.root else None, default_timeout=args.timeout)
    out = sys.stdout
    if args.root and not Path(args.root).is_dir():
        err = HarnessError(ErrorCode.INVALID_REQUEST, f"--root is not a folder: {args.root}", "root")
        out.write(_dump(error_response(err), args.pretty) + "\n")
        return EXIT_UNUSABLE
    if args.op:
        try:
            request = _flag_request(args)
        except HarnessError as exc:
            out.write(_dump(error_response(exc), args.pretty) + "\n")
            return EXIT_UNUSABLE
        return _write(answers([request], ctx, args.jobs, not args.unordered), "lines", out, args.pretty)
    stream: IO[bytes]
    if args.request and args.request != "-":
        try:
            stream = open(args.request, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            err = HarnessError(
                ErrorCode.INVALID_REQUEST, f"cannot read --request {args.request}: {exc.strerror}", "request"
            )
            out.write(_dump(error_response(err), args.pretty) + "\n")
            return EXIT_UNUSABLE
    else:
        stream = sys.stdin.buffer
    try:
        return _run_stream(stream, ctx, out, args.pretty, args.jobs, not args.unordered)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def _run_stream(
    stream: IO[bytes], ctx: RunContext, out: IO[str], pretty: bool, jobs: int = 1, ordered: bool = True
) -> int:
    try:
        shape, items = read_requests(stream)
    except HarnessError as exc:
        out.write(_dump(error_response(exc), pretty) + "\n")
        return EXIT_UNUSABLE
    requests = (Ready(error_response(item.error)) if item.error is not None else item.data for item in items)
    return _write(answers(requests, ctx, jobs, ordered), shape, out, pretty)


def _write(responses: Generator[Response, None, None], shape: str, out: IO[str], pretty: bool) -> int:
    """Each answer on its own line as it comes (an array input: one array at the end); the exit status. The
    answers are closed on every way out, so that an interrupt stops the worker processes at once."""
    failed = False
    held: list[Response] = []
    with contextlib.closing(responses):
        for resp in responses:
            failed |= not resp.ok
            if shape == "array":
                held.append(resp)
            else:
                out.write(_dump(resp, pretty) + "\n")
                out.flush()
    if shape == "array":
        out.write("[" + ",\n".join(_dump(r, pretty) for r in held) + "]\n")
    return EXIT_FAILED if failed else EXIT_OK
