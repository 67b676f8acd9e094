"""The committed JSON Schema matches the models, and validates requests the way a non-Python client would."""

from __future__ import annotations

import json

import jsonschema
import pytest

from dcmharness.contract.schema import SCHEMA_DIR, render, schemas

EXAMPLES_OK = [
    {"op": "to_image", "input": "ct.dcm"},
    {
        "op": "to_image",
        "input": "ct.dcm",
        "output": "ct.png",
        "id": 7,
        "options": {"window_center": 40, "window_width": 400},
    },
    {
        "op": "to_image",
        "input": "ct.dcm",
        "backend": "dcmtk",
        "overwrite": True,
        "options": {"frame": "all", "bit_depth": 16},
    },
    {"op": "to_image", "input": "ct.dcm", "options": {"window_preset": "lung", "voi_function": "sigmoid"}},
    {
        "op": "to_image",
        "input": "x.dcm",
        "options": {"overlays": [0, 2], "overlay_value": "#ff0000", "format": "jpeg", "quality": 80},
    },
]
EXAMPLES_BAD = [
    {"op": "to_image"},  # no input
    {"op": "to_image", "input": "x", "options": {"nope": 1}},  # unknown option
    {"op": "to_image", "input": "x", "options": {"bit_depth": 12}},
    {"op": "to_image", "input": "x", "options": {"frame": "last"}},
    {"op": "to_image", "input": "x", "options": {"quality": 101}},
    {"op": "explode", "input": "x"},
    {"op": "to_image", "input": "x", "surprise": True},
]


@pytest.mark.parametrize("name", sorted(schemas()))
def test_committed_schema_matches_models(name: str) -> None:
    committed = (SCHEMA_DIR / name).read_text(encoding="utf-8")
    assert committed == render(schemas()[name]), f"{name} drifted: run `python -m dcmharness.contract.schema --write`"


@pytest.mark.parametrize("example", EXAMPLES_OK)
def test_schema_accepts_valid_requests(example: dict[str, object]) -> None:
    schema = json.loads((SCHEMA_DIR / "request.schema.json").read_text())
    jsonschema.validate(example, schema)


@pytest.mark.parametrize("example", EXAMPLES_BAD)
def test_schema_rejects_invalid_requests(example: dict[str, object]) -> None:
    schema = json.loads((SCHEMA_DIR / "request.schema.json").read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(example, schema)


def test_schema_command_prints_the_request_schema(cli) -> None:  # type: ignore[no-untyped-def]
    status, out, _ = cli("schema")
    assert status == 0
    assert json.loads(out)["title"] == "dcmharness request"
    status, out, _ = cli("schema", "--response")
    assert "duration_ms" in json.loads(out)["properties"]
