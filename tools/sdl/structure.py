"""Necto's structural check of an SDL document, written in plain Python (no JSON schema at run time).

It enforces the shape rules of Akash's SDL input format, section by section:

- every mapping allows only its known keys and has its required ones (``version``, ``services``,
  ``profiles``, ``deployment`` at the top; ``image`` per service; ``port`` per expose; ``resources`` with
  ``cpu``/``memory``/``storage`` per compute profile; ``pricing`` per placement; ``denom`` and ``amount`` per
  price; ``profile`` and ``count`` per deployment entry; ``kind`` per endpoint; ``min_window``);
- value types (mappings, lists, strings, whole numbers, booleans, lists that may be empty);
- closed vocabularies: SDL versions, price denoms, protocols, retry cases (``next_cases``), GPU vendors and
  interfaces, log permissions, TEE modes, endpoint kinds;
- formats and ranges: ports 1..65535, replica count >= 1, CPU units (a positive number, or digits with an
  optional unit suffix such as ``500m``), price amounts, absolute mount paths, endpoint names,
  ``min_window`` like ``24h``, non-negative ``http_options`` with their ceilings, credential lengths;
- rules that tie fields together: GPU attributes are required exactly when GPU units are above zero;
  storage attributes name both ``class`` and ``persistent``, ``ram`` is never persistent and the disk
  classes always are; a ``to`` entry with an ``ip`` endpoint must be ``global: true``; ``off`` is the only
  entry of ``next_cases`` when present.

It does not look across sections (unknown profiles, unused endpoints, ...): the compiler does that after.

Differences from the JSON schema's letter, all on the strict side (``tests/sdl/test_structure_vs_schema.py``
checks the rest agrees): whole numbers must be written as integers (``80``, not ``80.0``); NaN and
infinities are not numbers; ``$`` in a format means the end of the text (ECMA-262, as JSON Schema specifies,
so ``"24h\\n"`` is not a ``min_window``).

Problems come back as ``InvalidSDL`` naming the YAML path, worded like the rest of the compiler
(``tools.sdl.schema``). With several problems, the one closest to the top of the document is reported.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from tools.errors import InvalidSDL
from tools.sdl.loader import DOCUMENT
from tools.sdl.schema import explain, format_path, missing_field, unknown_field

__all__ = ["StructureIssue", "check_structure", "structure_issues"]

Parts = tuple[str | int, ...]

VERSIONS = ("2.0", "2.1")
DENOMS = ("uakt", "uact")
PROTOCOLS = ("TCP", "UDP", "tcp", "udp")
NEXT_CASES = ("error", "timeout", "500", "502", "503", "504", "403", "404", "429", "off")
GPU_VENDORS = ("nvidia",)
GPU_INTERFACES = ("pcie", "sxm")
DISK_CLASSES = ("beta1", "beta2", "beta3", "default")  # always persistent
RAM_CLASS = "ram"  # never persistent
READ_PERMISSIONS = ("deployment", "logs", "events")
TEE_MODES = ("cpu", "cpu-gpu")
ENDPOINT_KINDS = ("ip",)
MIN_PORT, MAX_PORT = 1, 65535
# http_options: every value is a whole number >= 0; these have a ceiling (bytes or milliseconds)
HTTP_OPTION_CEILINGS: dict[str, int | None] = {
    "max_body_size": 104_857_600,
    "next_timeout": None,
    "next_tries": None,
    "proxy_buffer_size": 1_048_576,
    "read_timeout": 60_000,
    "send_timeout": 60_000,
}
CREDENTIAL_MIN_LENGTHS = {"host": 1, "username": 1, "password": 6, "email": 5}

# formats, always matched against the whole text
_CPU_UNITS = re.compile(r"[0-9]+(?:\.[0-9]+)?[A-Za-z]*")
_ZERO_CPU = re.compile(r"0+(?:\.0+)?m?")
_ZERO_GPU = re.compile(r"0+(?:\.0+)?")
_PRICE_TEXT = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_ENDPOINT_NAME = re.compile(r"[a-z]+[-_0-9a-z]+")
_MIN_WINDOW = re.compile(r"[1-9][0-9]*[smh]")

_TOP_FIELDS = ("deployment", "endpoints", "include", "profiles", "reclamation", "services", "version")
_SERVICE_FIELDS = ("args", "command", "credentials", "dependencies", "env", "expose", "image", "params")
_EXPOSE_FIELDS = ("accept", "as", "http_options", "port", "proto", "to")
_RESOURCE_FIELDS = ("cpu", "gpu", "memory", "storage")


@dataclass(frozen=True)
class StructureIssue:
    """One problem: ``path: message``. ``depth`` is how far down the document it was found."""

    path: str
    message: str
    depth: int

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def check_structure(document: Any) -> None:
    """Raise InvalidSDL for the most relevant structural problem of a loaded SDL document, if any.

    The most relevant problem is the one found closest to the top (a missing section before a bad port
    deep inside another), the first in document order among those.
    """
    issues = structure_issues(document)
    if issues:
        best = min(issues, key=lambda issue: issue.depth)
        raise InvalidSDL(best.message, path=best.path)


def structure_issues(document: Any) -> list[StructureIssue]:
    """Every structural problem of a loaded SDL document, in document order (empty when it is sound)."""
    checker = _Checker()
    checker.document(document)
    return checker.issues


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return _is_whole(value) or (isinstance(value, float) and math.isfinite(value))


def _key(key: Any) -> str:
    return key if isinstance(key, str) else str(key)


def _gpu_units_above_zero(units: Any) -> bool:
    if isinstance(units, str):
        return _ZERO_GPU.fullmatch(units) is None
    return _is_number(units) and units > 0


def _is_persistent(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value == "true")


class _Checker:
    def __init__(self) -> None:
        self.issues: list[StructureIssue] = []

    # ------------------------------------------------------------------------------------ primitives

    def fail(self, parts: Parts, message: str, *, depth: int | None = None) -> None:
        """Record a problem with the value at ``parts`` (or, with ``depth``, with its parent mapping)."""
        depth = len(parts) if depth is None else depth
        self.issues.append(StructureIssue(format_path(parts) or DOCUMENT, message, depth))

    def rule(self, parts: Parts, rule: str, expected: Any = None, instance: Any = None) -> None:
        self.fail(parts, explain(parts, rule, expected, instance))

    def mapping(
        self,
        parts: Parts,
        value: Any,
        fields: Iterable[str] | None = None,
        required: Iterable[str] = (),
    ) -> dict[str, Any] | None:
        """``value`` must be a mapping; with ``fields``, only with those keys. None when not a mapping."""
        if not isinstance(value, dict):
            self.rule(parts, "type", "object")
            return None
        if fields is not None:
            allowed = tuple(fields)
            for key in value:
                if key not in allowed:
                    path, message = unknown_field(parts, _key(key), allowed)
                    self.issues.append(StructureIssue(path, message, len(parts)))
        for name in required:
            if name not in value:
                path, message = missing_field(parts, name)
                self.issues.append(StructureIssue(path, message, len(parts)))
        return value

    def entries(self, parts: Parts, value: Any, check: Callable[[Parts, Any], None]) -> None:
        """A mapping with names of the user's choosing; ``check`` each value."""
        named = self.mapping(parts, value)
        for name, body in (named or {}).items():
            check((*parts, _key(name)), body)

    def items(
        self, parts: Parts, value: Any, check: Callable[[Parts, Any], None], *, nullable: bool = False
    ) -> None:
        """A list (or, when ``nullable``, nothing); ``check`` each item."""
        if value is None and nullable:
            return
        if not isinstance(value, list):
            self.rule(parts, "type", ["array", "null"] if nullable else "array")
            return
        for index, item in enumerate(value):
            check((*parts, index), item)

    def string(self, parts: Parts, value: Any, min_length: int = 0) -> None:
        if not isinstance(value, str):
            self.rule(parts, "type", "string")
        elif len(value) < min_length:
            self.rule(parts, "minLength", min_length)

    def strings(self, parts: Parts, value: Any, *, nullable: bool = False) -> None:
        self.items(parts, value, self.string, nullable=nullable)

    def whole(self, parts: Parts, value: Any, minimum: int | None = None, maximum: int | None = None) -> None:
        if not _is_whole(value):
            self.rule(parts, "type", "integer")
        elif minimum is not None and value < minimum:
            self.rule(parts, "minimum", minimum)
        elif maximum is not None and value > maximum:
            self.rule(parts, "maximum", maximum)

    def boolean(self, parts: Parts, value: Any) -> None:
        if not isinstance(value, bool):
            self.rule(parts, "type", "boolean")

    def choice(self, parts: Parts, value: Any, options: tuple[str, ...]) -> None:
        if not (isinstance(value, str) and value in options):
            self.rule(parts, "enum", options)

    def any_mapping(self, parts: Parts, value: Any) -> None:
        self.mapping(parts, value)

    # ------------------------------------------------------------------------------------- document

    def document(self, value: Any) -> None:
        top = self.mapping((), value, _TOP_FIELDS, required=("version", "services", "profiles", "deployment"))
        sections: dict[str, Callable[[Parts, Any], None]] = {
            "version": lambda parts, v: self.choice(parts, v, VERSIONS),
            "include": lambda parts, v: self.strings(parts, v),
            "services": lambda parts, v: self.entries(parts, v, self.service),
            "profiles": self.profiles,
            "deployment": lambda parts, v: self.entries(parts, v, self.deployment_service),
            "endpoints": self.endpoints,
            "reclamation": self.reclamation,
        }
        for key, body in (top or {}).items():
            if key in sections:
                sections[key]((key,), body)

    # ------------------------------------------------------------------------------------- services

    def service(self, parts: Parts, value: Any) -> None:
        service = self.mapping(parts, value, _SERVICE_FIELDS, required=("image",))
        for key, body in (service or {}).items():
            at = (*parts, key)
            if key == "image":
                self.string(at, body, min_length=1)
            elif key in ("command", "args", "env"):
                self.strings(at, body, nullable=True)
            elif key == "expose":
                self.items(at, body, self.expose, nullable=True)
            elif key == "credentials":
                self.credentials(at, body)
            elif key == "dependencies":
                self.items(at, body, self.dependency)
            elif key == "params":
                self.params(at, body)

    def credentials(self, parts: Parts, value: Any) -> None:
        credentials = self.mapping(
            parts, value, CREDENTIAL_MIN_LENGTHS, required=("host", "username", "password")
        )
        for key, body in (credentials or {}).items():
            if key in CREDENTIAL_MIN_LENGTHS:
                self.string((*parts, key), body, min_length=CREDENTIAL_MIN_LENGTHS[key])

    def dependency(self, parts: Parts, value: Any) -> None:
        dependency = self.mapping(parts, value, ("service",))
        if dependency and "service" in dependency:
            self.string((*parts, "service"), dependency["service"])

    def expose(self, parts: Parts, value: Any) -> None:
        expose = self.mapping(parts, value, _EXPOSE_FIELDS, required=("port",))
        for key, body in (expose or {}).items():
            at = (*parts, key)
            if key in ("port", "as"):
                self.whole(at, body, MIN_PORT, MAX_PORT)
            elif key == "proto":
                self.choice(at, body, PROTOCOLS)
            elif key == "accept":
                self.strings(at, body)
            elif key == "to":
                self.items(at, body, self.target)
            elif key == "http_options":
                self.http_options(at, body)

    def target(self, parts: Parts, value: Any) -> None:
        target = self.mapping(parts, value, ("global", "ip", "service"))
        if target is None:
            return
        if "global" in target:
            self.boolean((*parts, "global"), target["global"])
        if "ip" in target:
            self.string((*parts, "ip"), target["ip"], min_length=1)
        if "service" in target:
            self.string((*parts, "service"), target["service"])
        ip = target.get("ip")
        if isinstance(ip, str) and ip and target.get("global") is not True:
            # a leased IP is reachable from outside only: the expose must be global
            depth = len(parts) + 1 if "global" in target else len(parts)
            self.fail((*parts, "global"), "must be true when an ip endpoint is set", depth=depth)

    def http_options(self, parts: Parts, value: Any) -> None:
        options = self.mapping(parts, value, (*HTTP_OPTION_CEILINGS, "next_cases"))
        for key, body in (options or {}).items():
            if key == "next_cases":
                self.next_cases((*parts, key), body)
            elif key in HTTP_OPTION_CEILINGS:
                self.whole((*parts, key), body, 0, HTTP_OPTION_CEILINGS[key])

    def next_cases(self, parts: Parts, value: Any) -> None:
        if not isinstance(value, list):
            self.rule(parts, "type", "array")
            return
        for index, case in enumerate(value):
            self.choice((*parts, index), case, NEXT_CASES)
        if "off" in value and len(value) != 1:
            self.fail(parts, "'off' cannot be combined with other cases")

    def params(self, parts: Parts, value: Any) -> None:
        params = self.mapping(parts, value, ("permissions", "storage", "tee"))
        for key, body in (params or {}).items():
            at = (*parts, key)
            if key == "storage":
                self.entries(at, body, self.volume_mount)
            elif key == "permissions":
                permissions = self.mapping(at, body, ("read",))
                if permissions and "read" in permissions:
                    self.items(
                        (*at, "read"), permissions["read"], lambda p, v: self.choice(p, v, READ_PERMISSIONS)
                    )
            elif key == "tee":
                self.choice(at, body, TEE_MODES)

    def volume_mount(self, parts: Parts, value: Any) -> None:
        mount = self.mapping(parts, value, ("mount", "readOnly"))
        for key, body in (mount or {}).items():
            if key == "mount" and not (isinstance(body, str) and body.startswith("/")):
                self.rule((*parts, key), "pattern", instance=body)
            elif key == "readOnly":
                self.boolean((*parts, key), body)

    # ------------------------------------------------------------------------------------- profiles

    def profiles(self, parts: Parts, value: Any) -> None:
        profiles = self.mapping(parts, value, ("compute", "placement"), required=("compute", "placement"))
        for key, body in (profiles or {}).items():
            if key == "compute":
                self.entries((*parts, key), body, self.compute_profile)
            elif key == "placement":
                self.entries((*parts, key), body, self.placement)

    def compute_profile(self, parts: Parts, value: Any) -> None:
        profile = self.mapping(parts, value, ("resources",), required=("resources",))
        if profile and "resources" in profile:
            self.resources((*parts, "resources"), profile["resources"])

    def resources(self, parts: Parts, value: Any) -> None:
        resources = self.mapping(parts, value, _RESOURCE_FIELDS, required=("cpu", "memory", "storage"))
        for key, body in (resources or {}).items():
            at = (*parts, key)
            if key == "cpu":
                self.cpu(at, body)
            elif key == "memory":
                memory = self.mapping(at, body, ("size",), required=("size",))
                if memory and "size" in memory:
                    self.string((*at, "size"), memory["size"])
            elif key == "gpu":
                self.gpu(at, body)
            elif key == "storage":
                if isinstance(body, list):
                    self.items(at, body, self.storage_volume)
                elif isinstance(body, dict):
                    self.storage_volume(at, body)
                else:
                    self.rule(at, "type", ["object", "array"])

    def cpu(self, parts: Parts, value: Any) -> None:
        cpu = self.mapping(parts, value, ("attributes", "units"), required=("units",))
        for key, body in (cpu or {}).items():
            if key == "attributes":
                self.any_mapping((*parts, key), body)
            elif key == "units":
                if isinstance(body, str):
                    sound = _CPU_UNITS.fullmatch(body) is not None and _ZERO_CPU.fullmatch(body) is None
                else:
                    sound = _is_number(body) and body > 0
                if not sound:
                    self.rule((*parts, key), "pattern", instance=body)

    def gpu(self, parts: Parts, value: Any) -> None:
        gpu = self.mapping(parts, value, ("attributes", "units"))
        if gpu is None:
            return
        if "units" in gpu and not (isinstance(gpu["units"], str) or _is_number(gpu["units"])):
            self.rule((*parts, "units"), "type", ["string", "number"])
        if "attributes" in gpu:
            self.gpu_attributes((*parts, "attributes"), gpu["attributes"])
        above_zero = "units" in gpu and _gpu_units_above_zero(gpu["units"])
        if above_zero and "attributes" not in gpu:
            self.fail(
                (*parts, "attributes"),
                "is required when GPU units > 0 (e.g. vendor: {nvidia: [{model: a100}]})",
                depth=len(parts),
            )
        elif "attributes" in gpu and not above_zero:
            if "units" not in gpu:
                self.fail((*parts, "units"), "is required when GPU attributes are set", depth=len(parts))
            else:
                self.fail((*parts, "units"), "must be more than 0 when GPU attributes are set")

    def gpu_attributes(self, parts: Parts, value: Any) -> None:
        attributes = self.mapping(parts, value, ("vendor",))
        if not attributes or "vendor" not in attributes:
            return
        at = (*parts, "vendor")
        vendor = self.mapping(at, attributes["vendor"], GPU_VENDORS)
        if vendor is None:
            return
        if not vendor:
            self.fail(at, "must name a vendor (" + ", ".join(GPU_VENDORS) + ")")
        if "nvidia" in vendor:
            self.items((*at, "nvidia"), vendor["nvidia"], self.gpu_model, nullable=True)

    def gpu_model(self, parts: Parts, value: Any) -> None:
        model = self.mapping(parts, value, ("interface", "model", "ram"))
        for key, body in (model or {}).items():
            if key == "interface":
                self.choice((*parts, key), body, GPU_INTERFACES)
            elif key in ("model", "ram"):
                self.string((*parts, key), body)

    def storage_volume(self, parts: Parts, value: Any) -> None:
        volume = self.mapping(parts, value, ("attributes", "name", "size"), required=("size",))
        for key, body in (volume or {}).items():
            if key in ("name", "size"):
                self.string((*parts, key), body)
            elif key == "attributes":
                self.storage_attributes((*parts, key), body)

    def storage_attributes(self, parts: Parts, value: Any) -> None:
        classes = ", ".join((*DISK_CLASSES, RAM_CLASS))
        attributes = self.mapping(parts, value, ("class", "persistent"))
        if attributes is None:
            return
        if "class" not in attributes:
            self.fail(
                (*parts, "class"),
                f"is required when storage attributes are set ({classes})",
                depth=len(parts),
            )
        if "persistent" not in attributes:
            self.fail(
                (*parts, "persistent"),
                "is required when storage attributes are set (true or false)",
                depth=len(parts),
            )
        storage_class, persistent = attributes.get("class"), attributes.get("persistent")
        if "class" in attributes and not isinstance(storage_class, str):
            self.rule((*parts, "class"), "type", "string")
        if "persistent" in attributes and not isinstance(persistent, bool | str):
            self.rule((*parts, "persistent"), "type", "boolean")
        if "persistent" not in attributes:
            return
        if storage_class == RAM_CLASS and _is_persistent(persistent):
            self.fail((*parts, "persistent"), "ram storage cannot be persistent")
        elif (
            isinstance(storage_class, str)
            and storage_class in DISK_CLASSES
            and not _is_persistent(persistent)
        ):
            self.fail((*parts, "persistent"), f"must be true for storage class {storage_class}")

    def placement(self, parts: Parts, value: Any) -> None:
        placement = self.mapping(parts, value, ("attributes", "pricing", "signedBy"), required=("pricing",))
        for key, body in (placement or {}).items():
            at = (*parts, key)
            if key == "attributes":
                self.any_mapping(at, body)
            elif key == "pricing":
                self.entries(at, body, self.price)
            elif key == "signedBy":
                signed_by = self.mapping(at, body, ("allOf", "anyOf"))
                for name, auditors in (signed_by or {}).items():
                    if name in ("allOf", "anyOf"):
                        self.strings((*at, name), auditors)

    def price(self, parts: Parts, value: Any) -> None:
        price = self.mapping(parts, value, ("amount", "denom"), required=("denom", "amount"))
        for key, body in (price or {}).items():
            if key == "denom":
                self.choice((*parts, key), body, DENOMS)
            elif key == "amount":
                if isinstance(body, str):
                    sound = _PRICE_TEXT.fullmatch(body) is not None
                else:
                    sound = _is_number(body) and body >= 0
                if not sound:
                    self.fail((*parts, key), 'must be a non-negative amount like 100 or "0.25"')

    # ------------------------------------------------------------------- deployment, endpoints, ...

    def deployment_service(self, parts: Parts, value: Any) -> None:
        self.entries(parts, value, self.deployment_entry)

    def deployment_entry(self, parts: Parts, value: Any) -> None:
        entry = self.mapping(parts, value, ("count", "profile"), required=("profile", "count"))
        for key, body in (entry or {}).items():
            if key == "profile":
                self.string((*parts, key), body)
            elif key == "count":
                self.whole((*parts, key), body, minimum=1)

    def endpoints(self, parts: Parts, value: Any) -> None:
        endpoints = self.mapping(parts, value)
        for name, body in (endpoints or {}).items():
            at = (*parts, _key(name))
            if not (isinstance(name, str) and _ENDPOINT_NAME.fullmatch(name)):
                self.fail(
                    at,
                    "is not a valid endpoint name (lower-case letters first, then letters, digits, - and _)",
                    depth=len(parts),
                )
                continue
            endpoint = self.mapping(at, body, ("kind",), required=("kind",))
            if endpoint and "kind" in endpoint:
                self.choice((*at, "kind"), endpoint["kind"], ENDPOINT_KINDS)

    def reclamation(self, parts: Parts, value: Any) -> None:
        reclamation = self.mapping(parts, value, ("min_window",), required=("min_window",))
        if reclamation and "min_window" in reclamation:
            window = reclamation["min_window"]
            if not (isinstance(window, str) and _MIN_WINDOW.fullmatch(window)):
                self.rule((*parts, "min_window"), "pattern", instance=window)
