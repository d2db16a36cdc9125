"""Necto's structural validator (tools.sdl.structure) against Akash's JSON schema as the oracle.

The schema is read in place from ../shared (never copied into the repo); these differential tests skip
when it is absent. For every conformance input, every rendered template and a few hundred mutated
documents, Necto and jsonschema must agree: both accept or both reject.

Deliberate differences (Necto is stricter on purpose). The oracle below is the schema read with these
rules, and ``test_deliberate_differences_are_exactly_these`` pins each one against plain jsonschema:

1. Whole numbers must be integers. JSON Schema (draft 6+) counts 80.0 as an integer, so jsonschema
   accepts ``port: 80.0`` or ``count: 1.0``; Go's yaml.v3 refuses a float for an int field, and Necto would
   put 80.0 into the manifest and change its hash.
2. NaN and +-infinity are not numbers. jsonschema lets ``cpu.units: .nan`` through ``exclusiveMinimum: 0``
   (every comparison with NaN is false) and takes ``.inf`` as a price amount or GPU count.
3. ``$`` ends the text. JSON Schema patterns are ECMA-262 regexes, where ``$`` (no multiline flag) only
   matches at the very end; Python's ``re`` also matches before a final newline, so plain jsonschema takes
   ``min_window: "24h\\n"`` or ``units: "1\\n"``. Necto follows ECMA-262 (the spec), as does the oracle.

Necto's messages sometimes differ from what ``schema.describe`` makes of the jsonschema error (never its
accept/reject decision): conditional rules name the field to change (``storage[0].attributes.class: is
required when storage attributes are set ...`` rather than a bare ``is required``; ``gpu.units: must be
more than 0 when GPU attributes are set`` rather than ``does not match any allowed form``), and with
several problems Necto reports the shallowest one first in document order, where jsonschema's best_match
may prefer another sibling.
"""

from __future__ import annotations

import copy
import math
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sdl_paths import CONFORMANCE, INVALID_FILES, VALID_CASES

import tools.sdl.compiler as compiler
from tools.errors import InvalidSDL
from tools.sdl import TemplateVars, compile_sdl, list_templates, render_sdl
from tools.sdl.compiler import load_document
from tools.sdl.loader import load_trusted_yaml
from tools.sdl.structure import structure_issues

SCHEMA_FILE = CONFORMANCE / "sdl-input.schema.yaml"
REPO = Path(compiler.__file__).resolve().parents[2]  # the checkout holding tools/ and sdl_templates/
needs_schema = pytest.mark.skipif(not SCHEMA_FILE.is_file(), reason="shared SDL schema not present")


# ------------------------------------------------------------------------------------------- oracle


def _ecma_anchors(node: Any) -> Any:
    """The schema with every pattern's final ``$`` written as ``\\Z`` (difference 3)."""

    def fix(pattern: str) -> str:
        return pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith(r"\$") else pattern

    if isinstance(node, dict):
        result = {}
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                result[key] = fix(value)
            elif key == "patternProperties" and isinstance(value, dict):
                result[key] = {fix(p): _ecma_anchors(v) for p, v in value.items()}
            else:
                result[key] = _ecma_anchors(value)
        return result
    if isinstance(node, list):
        return [_ecma_anchors(item) for item in node]
    return node


@cache
def _schema() -> dict[str, Any]:
    return load_trusted_yaml(SCHEMA_FILE.read_text(encoding="utf-8"))  # type: ignore[return-value]


@cache
def plain_oracle() -> Any:
    import jsonschema

    return jsonschema.Draft7Validator(_schema())


@cache
def oracle() -> Any:
    import jsonschema

    def is_integer(_checker: object, value: object) -> bool:  # difference 1
        return isinstance(value, int) and not isinstance(value, bool)

    def is_number(_checker: object, value: object) -> bool:  # difference 2
        return is_integer(_checker, value) or (isinstance(value, float) and math.isfinite(value))

    types = jsonschema.Draft7Validator.TYPE_CHECKER.redefine_many(
        {"integer": is_integer, "number": is_number}
    )
    strict = jsonschema.validators.extend(jsonschema.Draft7Validator, type_checker=types)
    schema = _ecma_anchors(_schema())
    strict.check_schema(schema)
    return strict(schema)


def necto_accepts(document: Any) -> bool:
    return not structure_issues(document)


def assert_agree(document: Any, label: str) -> bool:
    """Both accept or both reject; returns whether the document is accepted."""
    issues = structure_issues(document)
    errors = list(oracle().iter_errors(document))
    schema_says = "accepts" if not errors else f"rejects ({errors[0].json_path}: {errors[0].message[:200]})"
    necto_says = "accepts" if not issues else f"rejects ({issues[0]})"
    assert bool(issues) == bool(errors), (
        f"{label}: Necto {necto_says} but the schema {schema_says}\n"
        + yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    )
    return not issues


def _fixture_text(case: str) -> str:
    return (CONFORMANCE / "input" / "v2.0" / case / "input.yaml").read_text(encoding="utf-8")


def _template_vars(info: Any) -> TemplateVars:
    values: dict[str, Any] = {"price_uact_per_block": Decimal("1234.5")}
    if info.requires_image:
        values["image"] = "ghcr.io/acme/app:1.0"
    if info.required_env:
        values["env"] = {key: "s3cr3t-value" for key in info.required_env}
    return TemplateVars(**values)


def _rendered_templates() -> dict[str, str]:
    return {info.id: render_sdl(info.id, _template_vars(info)) for info in list_templates()}


# ---------------------------------------------------------------------------------- fixed corpora


@needs_schema
@pytest.mark.parametrize("case", VALID_CASES)
def test_v2_0_fixtures_agree_and_are_accepted(case: str) -> None:
    assert assert_agree(load_document(_fixture_text(case)), case)


@needs_schema
@pytest.mark.parametrize("name", INVALID_FILES)
def test_invalid_inputs_agree(name: str) -> None:
    text = (CONFORMANCE / "input" / "invalid" / name).read_text(encoding="utf-8")
    assert_agree(load_document(text), name)


@needs_schema
@pytest.mark.parametrize(("template_id", "text"), sorted(_rendered_templates().items()))
def test_rendered_templates_agree_and_are_accepted(template_id: str, text: str) -> None:
    assert assert_agree(load_document(text), template_id)


# One document that uses every field the schema knows, so mutations reach every rule.
KITCHEN_SINK = {
    "version": "2.1",
    "include": [],
    "services": {
        "web": {
            "image": "nginx:1.27",
            "command": ["nginx"],
            "args": None,
            "env": ["A=1"],
            "credentials": {"host": "ghcr.io", "username": "me", "password": "secret1", "email": "a@b.cd"},
            "dependencies": [{"service": "db"}],
            "expose": [
                {
                    "port": 80,
                    "as": 80,
                    "proto": "TCP",
                    "accept": ["example.com"],
                    "to": [{"global": True, "ip": "myip"}, {"service": "db"}],
                    "http_options": {
                        "max_body_size": 1024,
                        "read_timeout": 100,
                        "send_timeout": 100,
                        "next_tries": 2,
                        "next_timeout": 10,
                        "next_cases": ["error", "503"],
                        "proxy_buffer_size": 4096,
                    },
                },
                {"port": 53, "proto": "udp", "http_options": {"next_cases": ["off"]}},
            ],
            "params": {
                "storage": {"data": {"mount": "/data", "readOnly": False}},
                "permissions": {"read": ["logs", "events"]},
                "tee": "cpu",
            },
        },
        "db": {"image": "postgres:16", "expose": None},
    },
    "profiles": {
        "compute": {
            "big": {
                "resources": {
                    "cpu": {"units": "2.5", "attributes": {"arch": "amd64"}},
                    "memory": {"size": "4Gi"},
                    "gpu": {
                        "units": "1",
                        "attributes": {"vendor": {"nvidia": [{"model": "a100", "ram": "80Gi", "interface": "sxm"}]}},
                    },
                    "storage": [
                        {"size": "1Gi"},
                        {"name": "data", "size": "10Gi", "attributes": {"class": "beta2", "persistent": "true"}},
                        {"name": "shm", "size": "1Gi", "attributes": {"class": "ram", "persistent": False}},
                    ],
                }
            },
            "small": {"resources": {"cpu": {"units": 0.5}, "memory": {"size": "1Gi"}, "storage": {"size": "1Gi"},
                                    "gpu": {"units": 0}}},
        },
        "placement": {
            "akash": {
                "attributes": {"region": "us-west"},
                "signedBy": {"anyOf": ["akash1x"], "allOf": []},
                "pricing": {"big": {"denom": "uact", "amount": "1.5"}, "small": {"denom": "uakt", "amount": 0}},
            }
        },
    },
    "deployment": {
        "web": {"akash": {"profile": "big", "count": 2}},
        "db": {"akash": {"profile": "small", "count": 1}},
    },
    "endpoints": {"myip": {"kind": "ip"}},
    "reclamation": {"min_window": "24h"},
}  # fmt: skip


@needs_schema
def test_kitchen_sink_agrees_and_is_accepted() -> None:
    assert assert_agree(copy.deepcopy(KITCHEN_SINK), "kitchen sink")


# Conditional and boundary rules, one small change each (accepted or not, the two must agree).
def _edit(path: tuple, value: Any = None, *, delete: bool = False) -> dict:
    document = copy.deepcopy(KITCHEN_SINK)
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return document


GPU = ("profiles", "compute", "big", "resources", "gpu")
VOLUME = ("profiles", "compute", "big", "resources", "storage", 1, "attributes")
EXPOSE = ("services", "web", "expose", 0)
TARGET = (*EXPOSE, "to", 0)
CASES = {
    "gpu units 0 with attributes": _edit((*GPU, "units"), 0),
    "gpu units '0.00' with attributes": _edit((*GPU, "units"), "0.00"),
    "gpu units '00' with attributes": _edit((*GPU, "units"), "00"),
    "gpu units -1 with attributes": _edit((*GPU, "units"), -1),
    "gpu units missing with attributes": _edit((*GPU, "units"), delete=True),
    "gpu attributes missing with units": _edit((*GPU, "attributes"), delete=True),
    "gpu units 'abc' without attributes": _edit(GPU, {"units": "abc"}),
    "gpu units -1 without attributes": _edit(GPU, {"units": -1}),
    "gpu empty vendor": _edit((*GPU, "attributes", "vendor"), {}),
    "gpu no vendor": _edit((*GPU, "attributes"), {}),
    "gpu nvidia null": _edit((*GPU, "attributes", "vendor", "nvidia"), None),
    "gpu amd": _edit((*GPU, "attributes", "vendor"), {"amd": None}),
    "gpu interface nvlink": _edit((*GPU, "attributes", "vendor", "nvidia", 0, "interface"), "nvlink"),
    "storage class without persistent": _edit((*VOLUME, "persistent"), delete=True),
    "storage persistent without class": _edit((*VOLUME, "class"), delete=True),
    "storage beta2 not persistent": _edit((*VOLUME, "persistent"), False),
    "storage beta2 persistent 'True'": _edit((*VOLUME, "persistent"), "True"),
    "storage ram persistent": _edit((*VOLUME, "class"), "ram"),
    "storage ram persistent 'true'": _edit(VOLUME, {"class": "ram", "persistent": "true"}),
    "storage ram persistent 'yes'": _edit(VOLUME, {"class": "ram", "persistent": "yes"}),
    "storage unknown class": _edit((*VOLUME, "class"), "fast"),
    "storage empty list": _edit(("profiles", "compute", "big", "resources", "storage"), []),
    "ip without global": _edit((*TARGET, "global"), delete=True),
    "ip with global false": _edit((*TARGET, "global"), False),
    "empty ip": _edit((*TARGET, "ip"), ""),
    "empty ip without global": _edit(TARGET, {"ip": ""}),
    "next_cases off alone": _edit((*EXPOSE, "http_options", "next_cases"), ["off"]),
    "next_cases off twice": _edit((*EXPOSE, "http_options", "next_cases"), ["off", "off"]),
    "next_cases off and error": _edit((*EXPOSE, "http_options", "next_cases"), ["error", "off"]),
    "next_cases empty": _edit((*EXPOSE, "http_options", "next_cases"), []),
    "next_cases 501": _edit((*EXPOSE, "http_options", "next_cases"), ["501"]),
    "port 65535": _edit((*EXPOSE, "port"), 65535),
    "port 65536": _edit((*EXPOSE, "port"), 65536),
    "as 0": _edit((*EXPOSE, "as"), 0),
    "max body 100Mi": _edit((*EXPOSE, "http_options", "max_body_size"), 104_857_600),
    "max body over": _edit((*EXPOSE, "http_options", "max_body_size"), 104_857_601),
    "read timeout over": _edit((*EXPOSE, "http_options", "read_timeout"), 60_001),
    "proxy buffer over": _edit((*EXPOSE, "http_options", "proxy_buffer_size"), 1_048_577),
    "next tries negative": _edit((*EXPOSE, "http_options", "next_tries"), -1),
    "cpu units 0m": _edit(("profiles", "compute", "small", "resources", "cpu", "units"), "0m"),
    "cpu units 0.000": _edit(("profiles", "compute", "small", "resources", "cpu", "units"), "0.000"),
    "cpu units 0": _edit(("profiles", "compute", "small", "resources", "cpu", "units"), 0),
    "cpu units 100mi": _edit(("profiles", "compute", "small", "resources", "cpu", "units"), "100mi"),
    "cpu units .5": _edit(("profiles", "compute", "small", "resources", "cpu", "units"), ".5"),
    "price amount '1.'": _edit(("profiles", "placement", "akash", "pricing", "big", "amount"), "1."),
    "price amount -0.5": _edit(("profiles", "placement", "akash", "pricing", "big", "amount"), -0.5),
    "denom usd": _edit(("profiles", "placement", "akash", "pricing", "big", "denom"), "usd"),
    "min_window 0h": _edit(("reclamation", "min_window"), "0h"),
    "min_window 90d": _edit(("reclamation", "min_window"), "90d"),
    "reclamation empty": _edit(("reclamation",), {}),
    "endpoint name one letter": _edit(("endpoints",), {"a": {"kind": "ip"}}),
    "endpoint name upper": _edit(("endpoints",), {"MyIp": {"kind": "ip"}}),
    "endpoint kind shared": _edit(("endpoints", "myip", "kind"), "shared"),
    "email too short": _edit(("services", "web", "credentials", "email"), "a@bc"),
    "email of 5 characters": _edit(("services", "web", "credentials", "email"), "a@b.c"),
    "template metadata left in": _edit(("x-necto",), {"title": "web"}),
    "storage ram persistent 1": _edit(VOLUME, {"class": "ram", "persistent": 1}),
    "storage class 1": _edit((*VOLUME, "class"), 1),
    "password too short": _edit(("services", "web", "credentials", "password"), "12345"),
    "credentials without host": _edit(("services", "web", "credentials", "host"), delete=True),
    "tee sev": _edit(("services", "web", "params", "tee"), "sev"),
    "permission write": _edit(("services", "web", "params", "permissions", "read"), ["write"]),
    "relative mount": _edit(("services", "web", "params", "storage", "data", "mount"), "data"),
    "empty mount": _edit(("services", "web", "params", "storage", "data", "mount"), ""),
    "volume params null": _edit(("services", "web", "params", "storage", "data"), None),
    "count 0": _edit(("deployment", "web", "akash", "count"), 0),
    "version 2.2": _edit(("version",), "2.2"),
    "dependency extra key": _edit(("services", "web", "dependencies", 0, "name"), "db"),
    "command null": _edit(("services", "web", "command"), None),
    "env with a number": _edit(("services", "web", "env"), ["A=1", 2]),
}


@needs_schema
@pytest.mark.parametrize("label", sorted(CASES))
def test_rule_cases_agree(label: str) -> None:
    assert_agree(CASES[label], label)


@needs_schema
def test_rule_cases_cover_both_outcomes() -> None:
    outcomes = {label: necto_accepts(document) for label, document in CASES.items()}
    assert 5 < sum(outcomes.values()) < len(outcomes) - 20, outcomes


# --------------------------------------------------------------------------------- deliberate gaps


DIFFERENCES = {
    "1: float port": _edit((*EXPOSE, "port"), 80.0),
    "1: float count": _edit(("deployment", "web", "akash", "count"), 1.0),
    "2: NaN cpu units": _edit(("profiles", "compute", "small", "resources", "cpu", "units"), math.nan),
    "2: infinite price": _edit(("profiles", "placement", "akash", "pricing", "small", "amount"), math.inf),
    "3: min_window with a newline": _edit(("reclamation", "min_window"), "24h\n"),
    "3: cpu units with a newline": _edit(
        ("profiles", "compute", "small", "resources", "cpu", "units"), "1\n"
    ),
    "3: endpoint name with a newline": _edit(("endpoints",), {"myip\n": {"kind": "ip"}}),
}


@needs_schema
@pytest.mark.parametrize("label", sorted(DIFFERENCES))
def test_deliberate_differences_are_exactly_these(label: str) -> None:
    document = DIFFERENCES[label]
    assert plain_oracle().is_valid(document), "plain jsonschema should accept this"
    assert not necto_accepts(document), "Necto should refuse this"
    assert_agree(document, label)  # ... and the adjusted oracle agrees with Necto


# ------------------------------------------------------------------------------------- hypothesis


def _seeds() -> list[dict]:
    texts = [_fixture_text(case) for case in VALID_CASES] + list(_rendered_templates().values())
    return [load_document(text) for text in texts] + [KITCHEN_SINK]


SEEDS = _seeds() if SCHEMA_FILE.is_file() else []

# Values at and around each rule's edge, by key name (the oracle, not this table, says which are valid).
PORTS = [0, 1, 80, 65535, 65536, -1, 80.0, "80", None]
HTTP_MS = [0, -1, 60_000, 60_001, 1.5]
BOUNDARIES: dict[str, list[Any]] = {
    "version": ["2.0", "2.1", "2.2", "3", 2],
    "port": PORTS,
    "as": PORTS,
    "count": [0, 1, -1, 1.0, 51, "1", True],
    "units": ["0", "00", "0.0", "0.000", "0m", "0.0m", "1", "100m", "1.5", "1.5Gi", ".5", "1.", "1.5.5", "-1",
              "1\n", "", 0, 0.0, -1, 0.5, 2, True, math.nan, math.inf, None],
    "amount": ["0", "1.", ".5", "1.5", "-1", "1e3", "", 0, -0.5, 1.5, math.inf, True, None],
    "denom": ["uakt", "uact", "usd", "UAKT", 1],
    "proto": ["TCP", "tcp", "UDP", "udp", "Tcp", "http", None],
    "next_cases": [["off"], ["off", "off"], ["error", "off"], [], ["501"], ["error", "timeout"], "off", None],
    "max_body_size": [0, -1, 104_857_600, 104_857_601],
    "proxy_buffer_size": [0, -1, 1_048_576, 1_048_577],
    "read_timeout": HTTP_MS,
    "send_timeout": HTTP_MS,
    "next_tries": [0, -1, 2**70, "3"],
    "next_timeout": [0, -1, 2**70, "3"],
    "class": ["ram", "beta1", "beta2", "beta3", "default", "fast", "", 1, None],
    "persistent": [True, False, "true", "false", "True", "yes", 1, None],
    "global": [True, False, "true", 1, None],
    "ip": ["", "myip", "endpoint-http", 1, None],
    "mount": ["/data", "/", "data", "", 1, None],
    "readOnly": [True, False, "true"],
    "min_window": ["24h", "1s", "0h", "01h", "90d", "24h\n", "", 24],
    "email": ["a@b.c", "a@b.cd", "", 1],
    "password": ["12345", "123456", ""],
    "host": ["", "h", None],
    "username": ["", "u"],
    "image": ["", "nginx", None, 1],
    "interface": ["pcie", "sxm", "nvlink", "PCIE"],
    "model": ["a100", "", 100],
    "ram": ["80Gi", 80],
    "tee": ["cpu", "cpu-gpu", "sev"],
    "kind": ["ip", "shared", None],
    "read": [["logs"], ["deployment", "events"], ["write"], "logs", []],
    "vendor": [{}, {"nvidia": None}, {"nvidia": []}, {"amd": None}, None],
    "nvidia": [None, [], [{}], [{"model": "a100", "interface": "sxm"}], [None], "a100"],
    "attributes": [None, {}, {"class": "beta2", "persistent": True}, {"persistent": True}, {"class": "ram"},
                   {"vendor": {"nvidia": None}}, {"region": "us"}, []],
    "gpu": [None, {}, {"units": 0}, {"units": 1}, {"units": "0"}, {"attributes": {"vendor": {"nvidia": None}}}],
    "storage": [[], {"size": "1Gi"}, [{"size": "1Gi"}], "1Gi", None, {}],
    "expose": [None, [], {}, [{"port": 80}], [{}]],
    "to": [None, [], [{}], [{"global": True}], [{"ip": "myip"}], {"global": True}],
    "accept": [[], ["a.com"], "a.com", [1]],
    "command": [None, [], ["a"], [1], "a"],
    "args": [None, [], ["a"], [None]],
    "env": [None, [], ["A=1"], [1], "A=1"],
    "size": ["1Gi", "", 1, None],
    "name": ["data", "", 1],
    "profile": ["big", "", 1],
    "pricing": [{}, None],
    "signedBy": [{}, {"anyOf": []}, {"oneOf": []}, None],
    "params": [{}, None, {"storage": None}],
    "credentials": [None, {}],
    "endpoints": [{}, None, {"ab": {"kind": "ip"}}, {"a": {"kind": "ip"}}, {"a-b_1": {}}],
    "reclamation": [{}, None, {"min_window": "1h"}],
    "include": [[], ["a.yaml"], [1], None],
    "dependencies": [[], [{}], [{"service": "db"}], [{"name": "db"}], None],
}  # fmt: skip


ODD_STRINGS = [
    "", " ", "0", "00", "0.0", "0m", "1", "1.5", "1.5.5", "-1", "1e3", "100m", "2.5Gi", "512Mi", "24h", "0h",
    "24h\n", "1\n", "/data", "data", "off", "OFF", "tcp", "TCP", "UDP", "http", "uakt", "uact", "usd", "ram",
    "beta2", "default", "fast", "nvidia", "amd", "pcie", "sxm", "ip", "true", "false", "True", "2.0", "2.1",
    "cpu", "cpu-gpu", "logs", "error", "503", "a@b.cd", "secret1", "x" * 70, "ü", "myip",
]  # fmt: skip
NUMBERS = [0, 1, -1, 2, 80, 65535, 65536, 60_000, 60_001, 104_857_601, 2**31, 2**70, 0.5, -0.5, 1.0, 80.0,
           1e300, math.nan, math.inf, -math.inf]  # fmt: skip
REPLACEMENTS = st.one_of(
    st.sampled_from(ODD_STRINGS),
    st.sampled_from(NUMBERS),
    st.none(),
    st.booleans(),
    st.text(max_size=8),
    st.integers(-3, 70_000),
    st.lists(st.sampled_from(["a", "off", "error", 1, None]), max_size=3),
    st.dictionaries(st.sampled_from(["a", "size", "units", "kind", "port"]), st.sampled_from(["1", 1, None]),
                    max_size=2),
)  # fmt: skip
KEY_NAMES = st.one_of(
    st.sampled_from(sorted(BOUNDARIES) + ["x-necto", "Port", "unknown", ""]),
    st.text(min_size=1, max_size=6),
)  # fmt: skip


def _values_by_key(documents: list[dict]) -> dict[str, list[Any]]:
    """Every value the seeds hold under each key name: swapping these in makes near-valid documents."""
    found: dict[str, list[Any]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                found.setdefault(key, []).append(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for document in documents:
        walk(document)
    return found


BORROWED = _values_by_key(SEEDS)
ALL_BORROWED = [value for values in BORROWED.values() for value in values]


def _locations(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _locations(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _locations(value, (*prefix, index))
    return found


@st.composite
def mutated_documents(draw: st.DrawFn) -> dict:
    document = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3]))):
        locations = [p for p in _locations(document) if p]
        edges = [p for p in locations if p[-1] in BOUNDARIES]
        path = draw(st.sampled_from(edges if edges and draw(st.booleans()) else locations))
        parent = document
        for part in path[:-1]:
            parent = parent[part]
        key = path[-1]
        action = draw(st.sampled_from(["edge", "edge", "replace", "borrow", "drop", "add", "rename"]))
        if action == "edge" and key in BOUNDARIES:
            parent[key] = copy.deepcopy(draw(st.sampled_from(BOUNDARIES[key])))
        elif action == "borrow":  # a value the seeds use under the same key name, or anywhere
            same_key = BORROWED.get(key, []) if isinstance(key, str) else []
            pool = same_key if same_key and draw(st.booleans()) else ALL_BORROWED
            parent[key] = copy.deepcopy(draw(st.sampled_from(pool)))
        elif action == "drop":
            del parent[key]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(KEY_NAMES)] = draw(REPLACEMENTS)
        elif action == "rename" and isinstance(parent, dict):
            parent[draw(KEY_NAMES)] = parent.pop(key)
        else:
            parent[key] = draw(REPLACEMENTS)
    return document


@needs_schema
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_documents())
def test_mutated_documents_agree(document: dict) -> None:
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    try:
        loaded = load_document(text)  # what compile_sdl validates: same YAML rules, version as text
    except InvalidSDL:
        event("not loadable")
        return
    accepted = assert_agree(loaded, "mutated document")
    event("both accept" if accepted else "both reject")


# --------------------------------------------------------------------------- schema-free operation


def test_compile_never_reads_the_schema_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    import tools.sdl.schema as schema

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the JSON schema must not be needed by default")

    monkeypatch.setattr(schema, "load_schema", refuse)
    monkeypatch.setattr(compiler, "validate_structure", refuse)
    for text in _rendered_templates().values():
        compile_sdl(text)


_NO_SHARED_SCRIPT = """
import sys
sys.modules["jsonschema"] = None  # not installed on a user's machine: importing it must not be needed
import tools.sdl
assert tools.sdl.__file__.startswith(sys.argv[1]), tools.sdl.__file__
from decimal import Decimal
from tools.sdl import TemplateVars, compile_sdl, render_sdl
compiled = compile_sdl(render_sdl("static", TemplateVars(price_uact_per_block=Decimal(100))))
try:
    compile_sdl(render_sdl("static", TemplateVars(price_uact_per_block=Decimal(100))).replace("port: 80", "port: 0"))
except Exception as exc:
    print(exc)
print(compiled.manifest_hash_hex)
"""


def test_compile_works_without_the_shared_folder(tmp_path: Path) -> None:
    # a copy of the product (tools/ and sdl_templates/) with no ../shared beside it
    copy_root = tmp_path / "necto"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "tools", copy_root / "tools", ignore=ignore)
    shutil.copytree(REPO / "sdl_templates", copy_root / "sdl_templates", ignore=ignore)
    assert not (tmp_path / "shared").exists()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", _NO_SHARED_SCRIPT, str(copy_root)],
        cwd=copy_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    error, digest = result.stdout.strip().splitlines()
    assert error.startswith("services.") and error.endswith(".port: must be 1..65535"), error
    assert len(digest) == 64


@needs_schema
def test_optional_schema_path_also_checks_with_jsonschema(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (CONFORMANCE / "input" / "invalid" / "invalid-port.yaml").read_text(encoding="utf-8")
    for case in VALID_CASES:
        compile_sdl(_fixture_text(case), schema_path=SCHEMA_FILE)
    monkeypatch.setattr(compiler, "check_structure", lambda _document: None)
    with pytest.raises(InvalidSDL, match=r"^services\.web\.expose\[0\]\.port: must be 1\.\.65535$"):
        compile_sdl(text, schema_path=SCHEMA_FILE)
