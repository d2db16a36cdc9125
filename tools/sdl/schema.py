"""Structural validation against Akash's SDL input schema (draft-07, chain-sdk ``go/sdl/sdl-input.schema.yaml``).

The schema catches shape errors (unknown fields, wrong types, ports outside 1..65535, count < 1, GPU units
without attributes, ...). This module turns the single most relevant jsonschema error into one readable
line that names the YAML path, e.g. ``services.web.expose[0].port: must be 1..65535``.

The schema file is the shared conformance copy (``../shared/conformance/sdl/`` beside the repo, akash.md §4);
``load_schema`` takes another path when the file lives elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError, best_match

from tools.errors import InvalidSDL
from tools.sdl.loader import load_trusted_yaml

__all__ = ["DEFAULT_SCHEMA_PATH", "format_path", "load_schema", "validate_structure"]

DEFAULT_SCHEMA_PATH = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "conformance" / "sdl" / "sdl-input.schema.yaml"
)

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "empty",
}
_FRIENDLY_BY_FIELD = {
    "cpu.units": 'must be a positive amount (cores like 0.5 or 2, millicores like "500m")',
    "port": "must be 1..65535",
    "as": "must be 1..65535",
    "mount": "must be an absolute path like /data",
    "min_window": 'must be a whole number followed by s, m or h, like "24h"',
}


@lru_cache(maxsize=4)
def load_schema(path: Path = DEFAULT_SCHEMA_PATH) -> jsonschema.Draft7Validator:
    """Load and compile the schema once per path."""
    schema = load_trusted_yaml(Path(path).read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def validate_structure(document: Any, schema_path: Path = DEFAULT_SCHEMA_PATH) -> None:
    """Raise InvalidSDL for the most relevant schema violation, if any."""
    error = best_match(load_schema(schema_path).iter_errors(document))
    if error is None:
        return
    path, message = describe(error)
    raise InvalidSDL(message, path=path or "(document)")


def format_path(parts: Iterable[str | int]) -> str:
    """``["services", "web", "expose", 0, "port"]`` -> ``services.web.expose[0].port``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            text += f".{part}" if text else part
        else:
            text += f"[{_quote(part)}]"
    return text


def describe(error: ValidationError) -> tuple[str, str]:
    """(YAML path, one-line message) for a jsonschema error."""
    parts: list[str | int] = list(error.absolute_path)
    validator = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    if validator == "required":
        missing = _quoted_name(error.message)
        if missing == "global" and "then" in error.schema_path:
            # exposeToWithIpEnforcesGlobal: a leased IP only exists on a global expose
            return format_path([*parts, missing]), "must be true when an ip endpoint is set"
        return format_path([*parts, missing]), "is required"
    if validator == "additionalProperties" and isinstance(error.instance, dict):
        extra = _unexpected_keys(error.instance, schema)
        allowed = sorted(schema.get("properties", {}))
        hint = f" (allowed here: {', '.join(allowed)})" if allowed else ""
        name = extra[0] if extra else "?"
        return format_path([*parts, name]), f"unknown field{hint}"
    field = parts[-1] if parts and isinstance(parts[-1], str) else ""
    if field == "units" and len(parts) > 1:
        field = f"{parts[-2]}.units"
    if field in _FRIENDLY_BY_FIELD and validator in ("minimum", "maximum", "pattern", "not", "oneOf", "type"):
        return format_path(parts), _FRIENDLY_BY_FIELD[field]
    return format_path(parts), _generic_message(error, schema)


def _generic_message(error: ValidationError, schema: dict) -> str:
    validator, value = error.validator, error.validator_value
    if validator == "type":
        wanted = value if isinstance(value, list) else [value]
        return "must be " + " or ".join(_TYPE_WORDS.get(str(w), str(w)) for w in wanted)
    if validator == "minimum":
        return f"must be at least {value}"
    if validator == "maximum":
        return f"must be at most {value}"
    if validator == "exclusiveMinimum":
        return f"must be greater than {value}"
    if validator == "minLength":
        return "must not be empty" if value == 1 else f"must be at least {value} characters"
    if validator == "enum":
        return "must be one of: " + ", ".join(str(v) for v in value)
    if validator == "const":
        return f"must be {_yaml_scalar(value)}"
    if validator == "pattern":
        return f"{_short(error.instance)} is not in the expected format"
    if validator == "minProperties":
        return "must not be empty"
    if validator in ("oneOf", "anyOf"):
        return "does not match any allowed form"
    if validator == "not":
        return "is not allowed here"
    flat = " ".join(error.message.split())
    return flat if len(flat) <= 160 else flat[:159] + "…"


def _unexpected_keys(instance: dict, schema: dict) -> list[str]:
    known = set(schema.get("properties", {}))
    patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
    return sorted(
        str(key) for key in instance if key not in known and not any(p.search(str(key)) for p in patterns)
    )


def _quoted_name(message: str) -> str:
    match = re.match(r"^'(.*)' is a required property$", message)
    return match.group(1) if match else "?"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _yaml_scalar(value: object) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return repr(value)


def _short(value: object, limit: int = 60) -> str:
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
