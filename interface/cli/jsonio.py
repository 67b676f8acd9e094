"""Reading requests from a stream: one JSON object, a JSON array, or JSON Lines (streamed)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, Literal

from dcmharness.contract.errors import ErrorCode, HarnessError

Shape = Literal["object", "array", "lines"]


@dataclass
class Item:
    """One request to run: the decoded JSON, or the error that prevented decoding it."""

    data: Any = None
    error: HarnessError | None = None
    line: int | None = None


def _decode(raw: bytes, line: int | None = None) -> Item:
    where = f" (line {line})" if line else ""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Item(error=HarnessError(ErrorCode.INVALID_JSON, f"request{where} is not UTF-8: {exc.reason}"), line=line)
    try:
        return Item(data=json.loads(text), line=line)
    except json.JSONDecodeError as exc:
        return Item(
            error=HarnessError(ErrorCode.INVALID_JSON, f"invalid JSON{where}: {exc.msg} at column {exc.colno}"),
            line=line,
        )
    except RecursionError:
        return Item(error=HarnessError(ErrorCode.INVALID_JSON, f"invalid JSON{where}: nested too deeply"), line=line)


def read_requests(stream: IO[bytes]) -> tuple[Shape, Iterator[Item]]:
    """Sniff the stream's shape and iterate its requests; JSON Lines are yielded as they arrive.

    Raises ``HarnessError(invalid_json)`` when the stream holds no request at all.
    """
    first = b""
    while True:
        first = stream.readline()
        if not first:
            raise HarnessError(ErrorCode.INVALID_JSON, "no request on the input (it is empty)")
        if first.strip():
            break
    head = first.lstrip()
    if head.startswith(b"["):
        whole = _decode(first + stream.read())
        if whole.error is not None:
            raise whole.error
        if not isinstance(whole.data, list):
            raise HarnessError(ErrorCode.INVALID_JSON, "expected a JSON array of requests")
        if not whole.data:
            raise HarnessError(ErrorCode.INVALID_JSON, "the array holds no request")
        return "array", iter([Item(data=d) for d in whole.data])
    one = _decode(first, 1)
    if one.error is None:
        return "lines", _lines(one, stream)
    rest = stream.read()
    whole = _decode(first + rest)
    if whole.error is None and isinstance(whole.data, dict):
        return "object", iter([whole])
    if not rest.strip():  # a single line that is not JSON: unusable input
        raise one.error if one.error else HarnessError(ErrorCode.INVALID_JSON, "invalid JSON")
    # JSON Lines whose first line is broken: answer each line on its own
    lines = [first, *rest.splitlines(keepends=True)]
    return "lines", (_decode(raw, n) for n, raw in enumerate(lines, 1) if raw.strip())


def _lines(first: Item, stream: IO[bytes]) -> Iterator[Item]:
    yield first
    n = 1
    for raw in stream:
        n += 1
        if raw.strip():
            yield _decode(raw, n)
