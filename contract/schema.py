"""The JSON Schema of requests and responses, generated from the models and committed under schema/.

``python -m dcmharness.contract.schema --write`` regenerates the committed files; a test fails when they drift.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from dcmharness.contract.catalog import REQUEST_ADAPTER
from dcmharness.contract.models import Response

SCHEMA_DIR = Path(__file__).with_name("schema")
SCHEMA_ID = "https://dcmharness.invalid/schema/"


def request_schema() -> dict[str, Any]:
    schema: dict[str, Any] = REQUEST_ADAPTER.json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID + "request.schema.json",
        "title": "dcmharness request",
        **schema,
    }


def response_schema() -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID + "response.schema.json",
        **Response.model_json_schema(),
    }


def schemas() -> dict[str, dict[str, Any]]:
    return {"request.schema.json": request_schema(), "response.schema.json": response_schema()}


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in schemas().items():
        path = directory / name
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover - developer command
    if "--write" in sys.argv:
        for p in write():
            print(p)
    else:
        print(render(request_schema()), end="")
