"""Turning raw JSON into a validated request, with pydantic's errors mapped onto the contract's."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from dcmharness.contract.catalog import OPS, REQUEST_ADAPTER
from dcmharness.contract.errors import ErrorCode, HarnessError
from dcmharness.contract.models import RequestBase
from dcmharness.contract.options import OptionError

# Labels pydantic puts in an error location for the member of a union it tried: not field names.
_UNION_LABELS = {"int", "float", "str", "bool", "none", "is-instance", "function-after", "function-before"}


def field_path(loc: tuple[int | str, ...]) -> str:
    """A dotted field path (``options.overlays[1]``) from a pydantic error location."""
    parts: list[str] = []
    for i, item in enumerate(loc):
        if isinstance(item, int):
            if parts:
                parts[-1] += f"[{item}]"
            continue
        if i == 0 and item in OPS:  # the discriminated union's tag
            continue
        if item in _UNION_LABELS or "[" in item or "(" in item:
            continue
        parts.append(item)
    return ".".join(parts)


def error_from_validation(exc: ValidationError) -> HarnessError:
    """The first validation error as a contract error naming its field."""
    first = exc.errors()[0]
    loc = tuple(first["loc"])
    field = field_path(loc)
    ctx = first.get("ctx") or {}
    err = ctx.get("error")
    message = first["msg"]
    if isinstance(err, OptionError):
        field = f"{field}.{err.option}" if field else err.option
        message = str(err)
    elif first["type"] == "union_tag_invalid":
        field = "op"
        message = f"unknown op {first.get('input', {}).get('op')!r}; known: {', '.join(sorted(OPS))}"
    elif first["type"] == "union_tag_not_found":
        field = "op"
        message = "the request has no 'op' (known: " + ", ".join(sorted(OPS)) + ")"
    elif first["type"] == "extra_forbidden":
        message = f"unknown field {loc[-1]!r}"
    elif first["type"] == "model_attributes_type" and not field:
        message = "a request must be a JSON object"
    elif first["type"] == "missing":
        message = f"missing required field {field!r}"
    others = len(exc.errors()) - 1
    if others > 0 and first["type"] not in ("union_tag_invalid", "union_tag_not_found"):
        message += f" (and {others} more problem{'s' if others > 1 else ''})"
    return HarnessError(ErrorCode.INVALID_REQUEST, message, field or None)


def parse_request(data: Any) -> RequestBase:
    """Validate a decoded JSON value (or a request model) into a request; raise ``HarnessError``."""
    if isinstance(data, RequestBase):
        return data
    try:
        request: RequestBase = REQUEST_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise error_from_validation(exc) from None
    return request


def parse_request_text(text: str | bytes) -> RequestBase:
    """Decode one JSON text and validate it."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        data = json.loads(text)
    except UnicodeDecodeError as exc:
        raise HarnessError(ErrorCode.INVALID_JSON, f"request is not UTF-8: {exc.reason}") from None
    except json.JSONDecodeError as exc:
        raise HarnessError(
            ErrorCode.INVALID_JSON, f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise HarnessError(ErrorCode.INVALID_JSON, "invalid JSON: nested too deeply") from None
    return parse_request(data)
