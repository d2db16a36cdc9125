"""Error wording for SDL shape problems, and an optional cross-check against Akash's JSON schema.

Necto validates SDL structure with its own code (``structure``); nothing here is needed at run time.
This module holds the one-line, YAML-path-first wording both validators share, e.g.
``services.web.expose[0].port: must be 1..65535``, and ``validate_structure``, which additionally checks a
document against a copy of Akash's draft-07 input schema (chain-sdk ``go/sdl/sdl-input.schema.yaml``)
when a caller has one (developers' conformance runs, tests). ``jsonschema`` is imported only then.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.errors import InvalidSDL
from tools.sdl.loader import load_trusted_yaml

if TYPE_CHECKING:  # pragma: no cover - typing only; jsonschema is optional at run time
    import jsonschema
    from jsonschema.exceptions import ValidationError

__all__ = [
    "describe",
    "explain",
    "format_path",
    "load_schema",
    "missing_field",
    "unknown_field",
    "validate_structure",
]

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
_FRIENDLY_RULES = ("minimum", "maximum", "pattern", "not", "oneOf", "type")


# ------------------------------------------------------------------------------------------ wording


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


def missing_field(parts: Sequence[str | int], name: str) -> tuple[str, str]:
    """(path, message) for a required key ``name`` missing from the mapping at ``parts``."""
    return format_path([*parts, name]), "is required"


def unknown_field(parts: Sequence[str | int], name: str, allowed: Iterable[str]) -> tuple[str, str]:
    """(path, message) for a key the mapping at ``parts`` does not allow."""
    names = sorted(allowed)
    hint = f" (allowed here: {', '.join(names)})" if names else ""
    return format_path([*parts, name]), f"unknown field{hint}"


def explain(parts: Sequence[str | int], rule: str, expected: Any = None, instance: Any = None) -> str:
    """The message for a value at ``parts`` that breaks ``rule`` (a JSON-schema keyword).

    Well-known fields (ports, cpu units, mount paths, ...) get a fixed friendly sentence; otherwise the
    wording follows the rule: ``type`` (expected: a type name or list of them), ``minimum``, ``maximum``,
    ``exclusiveMinimum``, ``minLength``, ``enum`` (the allowed values), ``const``, ``pattern``,
    ``minProperties``, ``oneOf``/``anyOf``, ``not``.
    """
    field = parts[-1] if parts and isinstance(parts[-1], str) else ""
    if field == "units" and len(parts) > 1:
        field = f"{parts[-2]}.units"
    if field in _FRIENDLY_BY_FIELD and rule in _FRIENDLY_RULES:
        return _FRIENDLY_BY_FIELD[field]
    message = _rule_message(rule, expected, instance)
    return message if message is not None else f"breaks the {rule} rule"


def _rule_message(rule: str, value: Any, instance: Any) -> str | None:
    if rule == "type":
        wanted = value if isinstance(value, list | tuple) else [value]
        return "must be " + " or ".join(_TYPE_WORDS.get(str(w), str(w)) for w in wanted)
    if rule == "minimum":
        return f"must be at least {value}"
    if rule == "maximum":
        return f"must be at most {value}"
    if rule == "exclusiveMinimum":
        return f"must be greater than {value}"
    if rule == "minLength":
        return "must not be empty" if value == 1 else f"must be at least {value} characters"
    if rule == "enum":
        return "must be one of: " + ", ".join(str(v) for v in value)
    if rule == "const":
        return f"must be {_yaml_scalar(value)}"
    if rule == "pattern":
        return f"{_short(instance)} is not in the expected format"
    if rule == "minProperties":
        return "must not be empty"
    if rule in ("oneOf", "anyOf"):
        return "does not match any allowed form"
    if rule == "not":
        return "is not allowed here"
    return None


# ----------------------------------------------------------------------------- optional schema check


@lru_cache(maxsize=4)
def load_schema(path: Path) -> jsonschema.Draft7Validator:
    """Load and compile a JSON schema file once per path (needs the ``jsonschema`` package)."""
    import jsonschema

    schema = load_trusted_yaml(Path(path).read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def validate_structure(document: Any, schema_path: Path) -> None:
    """Raise InvalidSDL for the most relevant violation of the JSON schema at ``schema_path``, if any."""
    from jsonschema.exceptions import best_match

    error = best_match(load_schema(Path(schema_path)).iter_errors(document))
    if error is None:
        return
    path, message = describe(error)
    raise InvalidSDL(message, path=path or "(document)")


def describe(error: ValidationError) -> tuple[str, str]:
    """(YAML path, one-line message) for a jsonschema error."""
    parts: list[str | int] = list(error.absolute_path)
    validator = str(error.validator)
    schema = error.schema if isinstance(error.schema, dict) else {}
    if validator == "required":
        missing = _quoted_name(error.message)
        if missing == "global" and "then" in error.schema_path:
            # exposeToWithIpEnforcesGlobal: a leased IP only exists on a global expose
            return format_path([*parts, missing]), "must be true when an ip endpoint is set"
        return missing_field(parts, missing)
    if validator == "additionalProperties" and isinstance(error.instance, dict):
        extra = _unexpected_keys(error.instance, schema)
        return unknown_field(parts, extra[0] if extra else "?", schema.get("properties", {}))
    message = explain(parts, validator, error.validator_value, error.instance)
    if message == f"breaks the {validator} rule":  # a keyword without its own wording: jsonschema's text
        flat = " ".join(error.message.split())
        message = flat if len(flat) <= 160 else flat[:159] + "…"
    return format_path(parts), message


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
    # JSON escaping keeps a key with newlines or control characters on one line (found by fuzzing).
    return json.dumps(text[:60], ensure_ascii=False) if len(text) <= 60 else json.dumps(text[:57] + "...", ensure_ascii=False)


def _yaml_scalar(value: object) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return repr(value)


def _short(value: object, limit: int = 60) -> str:
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
