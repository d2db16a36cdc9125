"""SDL text -> deployment groups, provider manifest and manifest hash (akash.md §4).

Pipeline: bounded YAML load (``loader``) -> shape check (``structure``; optionally also Akash's JSON
schema, ``schema``) -> typed parse with unit conversion (``units``) -> the reference parser's
cross-reference checks -> group/manifest build -> Go canonical JSON and sha256 (``canonical_json``).

The build replays chain-sdk ``go/sdl`` (``groupBuilder_v2.go``, ``groupBuilder_v2_1.go``,
``manifest/v2beta3``), whose output the conformance fixtures are. Orderings that matter for the hash:

- groups sorted by placement name; within a group resource ids 1..n are handed out while walking services
  sorted by name, then their placements sorted by name; manifest services are sorted by name;
- a service's exposes become one manifest entry per ``to`` (one non-global entry when there is no ``to``),
  sorted by (service, port, proto, global first);
- each global expose yields endpoints ``[LEASED_IP seq]`` + ``SHARED_HTTP`` (TCP and external port 80) or
  ``RANDOM_PORT``, sorted by sequence number; a resource's endpoints are those lists concatenated;
- storage volumes are ordered by Go's ``SliceStable`` with the reference comparator (``gosort``);
- IP endpoint sequence numbers: the sorted list of ``to.ip`` of every non-"global without ip" target
  (so non-global targets add ``""`` entries), each name taking the 1-based index of its last occurrence.

v2.0 gives every (service, placement) its own resource unit. v2.1 merges services that share a compute
profile in one placement into one unit: counts are summed and endpoints appended then sorted by sequence
number, while each manifest service keeps its own endpoints and points at the shared resource id.

Everything that goes wrong is an ``InvalidSDL`` whose message starts with the YAML path; unexpected
exceptions are converted too, so a caller never sees a traceback.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from tools.errors import InvalidSDL
from tools.sdl.canonical_json import manifest_json_bytes
from tools.sdl.gosort import slice_stable
from tools.sdl.loader import DOCUMENT, load_yaml
from tools.sdl.schema import format_path, validate_structure
from tools.sdl.structure import check_structure
from tools.sdl.units import (
    format_dec_amount,
    gpu_ram_attribute,
    parse_bytes,
    parse_cpu_millis,
    parse_gpu_units,
    parse_price_amount,
)

__all__ = ["CompiledSDL", "ResourcePrice", "compile_sdl"]

T = TypeVar("T")

# Endpoint kinds (akash.base.resources.v1beta4.Endpoint.Kind)
SHARED_HTTP, RANDOM_PORT, LEASED_IP = 0, 1, 2

# Per-unit and per-deployment limits the chain enforces (akash.md §2, deployment v1beta4 validation).
MAX_UNIT_CPU_MILLIS = 384_000
MAX_UNIT_GPU = 24
MAX_UNIT_MEMORY = 2 * 1024**4
MAX_UNIT_STORAGE = 32 * 1024**4
MAX_UNIT_COUNT = 50
MAX_GROUPS = 20
MAX_GROUP_UNITS = 20

# http_options defaults and ceilings (go/sdl/v2.go, v2HTTPOptions.asManifest)
_HTTP_DEFAULTS = {"max_body_size": 1_048_576, "read_timeout": 60_000, "send_timeout": 60_000, "next_tries": 3}
_HTTP_LIMITS = {"max_body_size": 104_857_600, "read_timeout": 60_000, "send_timeout": 60_000}
_NEXT_CASES = {"error", "timeout", "500", "502", "503", "504", "403", "404", "429", "off"}

_SERVICE_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")  # manifest/v2beta3 serviceNameValidationRegex
_ENDPOINT_NAME = re.compile(r"^[a-z]+[a-z\-_0-9]+$")  # go/sdl endpointNameValidationRegex
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")  # k8s IsEnvVarName
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_HOSTNAME = re.compile(rf"^{_DNS_LABEL}(\.{_DNS_LABEL})*$")  # k8s IsDNS1123Subdomain
_STORAGE_CLASSES = {"default", "beta1", "beta2", "beta3", "ram"}


# --------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ResourcePrice:
    """The bid ceiling of one resource unit: ``amount`` ``denom`` per block, for each of ``count`` replicas."""

    group: str
    resource_id: int
    services: tuple[str, ...]
    count: int
    denom: str
    amount: Decimal


@dataclass(frozen=True)
class CompiledSDL:
    """Everything a deployment needs from an SDL.

    ``manifest``, ``groups`` and ``services`` are plain JSON values. ``services`` is the confirmation-card
    summary: ``{name, image, count, placements, ports: [{port, as, proto, global, to, ip}]}`` per service.
    ``prices`` holds one entry per resource unit; the chain's bid ceiling for a unit is amount x count.
    """

    version: str
    manifest: list[dict[str, Any]]
    groups: list[dict[str, Any]]
    manifest_json: bytes
    manifest_hash: bytes
    services: list[dict[str, Any]]
    prices: tuple[ResourcePrice, ...]
    reclamation_min_window: str | None = None

    @property
    def manifest_hash_hex(self) -> str:
        return self.manifest_hash.hex()

    @property
    def denoms(self) -> frozenset[str]:
        return frozenset(price.denom for price in self.prices)


# ----------------------------------------------------------------------------------------------- entry


def compile_sdl(text: str, *, schema_path: Path | None = None) -> CompiledSDL:
    """Compile SDL YAML text; raise InvalidSDL (message starts with the YAML path) on any problem.

    The shape check is Necto's own (``structure``). ``schema_path`` names a copy of Akash's JSON schema to
    check against as well (conformance runs; needs ``jsonschema``); nothing outside the package is read
    without it.
    """
    try:
        return _compile(text, schema_path)
    except InvalidSDL:
        raise
    except RecursionError:
        raise InvalidSDL("SDL is nested too deeply", path=DOCUMENT) from None
    except Exception as exc:  # the compiler must never leak a traceback to a tool result
        raise InvalidSDL(f"could not compile the SDL ({type(exc).__name__})", path=DOCUMENT) from None


def load_document(text: str) -> dict[str, Any]:
    """SDL text -> the mapping the shape check sees (bounded YAML load, unquoted ``version`` as text)."""
    document = load_yaml(text)
    if not isinstance(document, dict):
        raise InvalidSDL(
            "an SDL is a YAML mapping with version, services, profiles and deployment", path=DOCUMENT
        )
    document = dict(document)
    if isinstance(document.get("version"), int | float) and not isinstance(document.get("version"), bool):
        # yaml.v3 hands the parser the scalar text, so `version: 2.0` works unquoted upstream too
        document["version"] = repr(document["version"])
    return document


def _compile(text: str, schema_path: Path | None) -> CompiledSDL:
    document = load_document(text)
    check_structure(document)
    if schema_path is not None:
        validate_structure(document, schema_path)
    sdl = _parse(document)
    _check_references(sdl)
    manifest, groups, prices = _build(sdl)
    _check_manifest(manifest)
    _check_groups(groups)
    manifest_json = manifest_json_bytes(manifest)
    return CompiledSDL(
        version=sdl.version,
        manifest=manifest,
        groups=groups,
        manifest_json=manifest_json,
        manifest_hash=hashlib.sha256(manifest_json).digest(),
        services=_summaries(sdl),
        prices=tuple(prices),
        reclamation_min_window=sdl.reclamation_min_window,
    )


# ------------------------------------------------------------------------------------------ typed model


@dataclass
class _Volume:
    name: str
    size: int
    attributes: list[tuple[str, str]] | None  # None: no attributes block at all


@dataclass
class _Compute:
    cpu: int
    cpu_attributes: list[tuple[str, str]]
    memory: int
    storage: list[_Volume]
    gpu: int
    gpu_attributes: list[tuple[str, str]]


@dataclass
class _Target:
    service: str
    is_global: bool
    ip: str


@dataclass
class _Expose:
    port: int
    as_port: int
    proto: str
    targets: list[_Target]
    hosts: list[str] | None
    http_options: dict[str, Any]


@dataclass
class _Service:
    name: str
    image: str
    command: list[str] | None
    args: list[str] | None
    env: list[str] | None
    exposes: list[_Expose]
    params: dict[str, Any] | None
    credentials: dict[str, str] | None


@dataclass
class _Placement:
    attributes: list[tuple[str, str]] | None
    any_of: list[str] | None
    all_of: list[str] | None
    pricing: dict[str, tuple[str, Decimal]]


@dataclass
class _SDL:
    version: str
    services: dict[str, _Service]
    compute: dict[str, _Compute]
    placements: dict[str, _Placement]
    deployment: dict[str, dict[str, tuple[str, int]]]  # service -> placement -> (profile, count)
    endpoints: dict[str, str]
    reclamation_min_window: str | None = None


# ---------------------------------------------------------------------------------------------- parse


def _fail(parts: list[str | int], message: str) -> InvalidSDL:
    return InvalidSDL(message, path=format_path(parts))


def _convert(parts: list[str | int], convert: Callable[[Any], T], value: Any) -> T:
    try:
        return convert(value)
    except ValueError as exc:
        raise _fail(parts, str(exc)) from None


def _parse(doc: dict[str, Any]) -> _SDL:
    if "include" in doc:
        raise _fail(["include"], "is not supported: an SDL must be self-contained")
    profiles = doc["profiles"]
    compute = {name: _parse_compute(name, body) for name, body in profiles["compute"].items()}
    placements = {name: _parse_placement(name, body) for name, body in profiles["placement"].items()}
    services = {name: _parse_service(name, body, doc["version"]) for name, body in doc["services"].items()}
    deployment: dict[str, dict[str, tuple[str, int]]] = {}
    for svc_name, by_placement in doc["deployment"].items():
        deployment[svc_name] = {
            placement: (entry["profile"], entry["count"]) for placement, entry in by_placement.items()
        }
    endpoints = {name: body["kind"] for name, body in (doc.get("endpoints") or {}).items()}
    reclamation = (doc.get("reclamation") or {}).get("min_window")
    return _SDL(
        version=doc["version"],
        services=services,
        compute=compute,
        placements=placements,
        deployment=deployment,
        endpoints=endpoints,
        reclamation_min_window=reclamation,
    )


def _parse_compute(name: str, body: dict[str, Any]) -> _Compute:
    base: list[str | int] = ["profiles", "compute", name, "resources"]
    res = body["resources"]
    cpu = _convert([*base, "cpu", "units"], parse_cpu_millis, res["cpu"]["units"])
    cpu_attributes = _parse_cpu_attributes([*base, "cpu", "attributes"], res["cpu"].get("attributes"))
    memory = _convert([*base, "memory", "size"], parse_bytes, res["memory"]["size"])
    gpu, gpu_attributes = _parse_gpu([*base, "gpu"], res.get("gpu"))
    storage = _parse_storage([*base, "storage"], res["storage"])
    if cpu > MAX_UNIT_CPU_MILLIS:
        raise _fail([*base, "cpu", "units"], "the chain allows at most 384 CPU cores per replica")
    if memory > MAX_UNIT_MEMORY:
        raise _fail([*base, "memory", "size"], "the chain allows at most 2Ti of memory per replica")
    if gpu > MAX_UNIT_GPU:
        raise _fail([*base, "gpu", "units"], "the chain allows at most 24 GPUs per replica")
    return _Compute(cpu, cpu_attributes, memory, storage, gpu, gpu_attributes)


def _parse_cpu_attributes(parts: list[str | int], attributes: Any) -> list[tuple[str, str]]:
    if not attributes:
        return []
    result = []
    for key, value in attributes.items():
        if key != "arch":  # go/sdl/cpu.go accepts only `arch`
            raise _fail([*parts, key], "unsupported CPU attribute (only arch)")
        if not isinstance(value, str):
            raise _fail([*parts, key], "must be a string")
        result.append((key, value))
    return sorted(result)


def _parse_gpu(parts: list[str | int], gpu: Any) -> tuple[int, list[tuple[str, str]]]:
    if gpu is None:
        return 0, []
    units = _convert([*parts, "units"], parse_gpu_units, gpu.get("units", 0))
    attributes = gpu.get("attributes")
    if units > 0 and not attributes:
        raise _fail(
            [*parts, "attributes"], "is required when GPU units > 0 (e.g. vendor: {nvidia: [{model: a100}]})"
        )
    if units == 0 and attributes is not None:
        raise _fail([*parts, "attributes"], "must not be set when GPU units is 0")
    if attributes is None:
        return 0, []
    vendor = attributes.get("vendor")
    if not vendor:
        raise _fail([*parts, "attributes", "vendor"], "at least one vendor must be set (nvidia)")
    keys = []
    for index, model in enumerate(vendor.get("nvidia") or []):
        where = [*parts, "attributes", "vendor", "nvidia", index]
        if not model.get("model"):
            raise _fail([*where, "model"], "is required")
        key = f"vendor/nvidia/model/{model['model']}"
        if "ram" in model:
            key += "/ram/" + _convert([*where, "ram"], gpu_ram_attribute, model["ram"])
        if "interface" in model:
            key += f"/interface/{model['interface']}"
        keys.append(key)
    if not keys:
        keys = ["vendor/nvidia/model/*"]
    return units, sorted((key, "true") for key in keys)


def _go_scalar_text(value: Any) -> str:
    """A YAML scalar as Go's yaml.v3 would decode it into a string field."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    if isinstance(value, int | str):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    raise ValueError("must be a plain value")


def _unify_bool(text: str) -> str | None:
    if text in ("true", "on", "yes"):
        return "true"
    if text in ("false", "off", "no"):
        return "false"
    return None


def _parse_storage(parts: list[str | int], storage: Any) -> list[_Volume]:
    entries = (
        [(storage, parts)]
        if isinstance(storage, dict)
        else [(item, [*parts, index]) for index, item in enumerate(storage)]
    )
    if not entries:
        raise _fail(parts, "at least one storage volume is required")
    volumes: list[_Volume] = []
    for item, where in entries:
        # go/sdl/storage.go: the single-mapping form is always "default"; unnamed list items too
        name = "default" if isinstance(storage, dict) else (item.get("name") or "default")
        size = _convert([*where, "size"], parse_bytes, item["size"])
        if size > MAX_UNIT_STORAGE:
            raise _fail([*where, "size"], "the chain allows at most 32Ti per volume")
        attributes = None
        if item.get("attributes") is not None:
            attributes = _storage_attributes([*where, "attributes"], item["attributes"])
        if any(volume.name == name for volume in volumes):
            raise _fail([*where, "name"], f"duplicate volume name {name!r}")
        volumes.append(_Volume(name, size, attributes))
    return slice_stable(volumes, _storage_less)


def _storage_attributes(parts: list[str | int], raw: dict[str, Any]) -> list[tuple[str, str]]:
    """go/sdl/storage.go v2StorageAttributes.UnmarshalYAML, including its raw-text comparisons."""
    values = {key: _convert([*parts, key], _go_scalar_text, value) for key, value in raw.items()}
    values.setdefault("persistent", "false")
    persistent, storage_class = values["persistent"], values.get("class", "")
    if storage_class == "":
        if persistent == "true":
            values["class"] = "default"
    elif storage_class == "ram":
        if persistent != "false":
            raise _fail([*parts, "persistent"], "ram storage cannot be persistent")
    elif persistent == "false":
        raise _fail([*parts, "class"], "an ephemeral volume must not set a storage class")
    result = []
    for key, value in values.items():
        if key == "persistent":
            unified = _unify_bool(value)
            if unified is None:
                raise _fail([*parts, key], "must be true or false")
            value = unified
        elif key == "class":
            if value not in _STORAGE_CLASSES:
                raise _fail([*parts, key], "must be one of: " + ", ".join(sorted(_STORAGE_CLASSES)))
        else:
            raise _fail([*parts, key], "unsupported storage attribute")
        result.append((key, value))
    return sorted(result)


def _attribute(attributes: list[tuple[str, str]] | None, key: str) -> str | None:
    for name, value in attributes or ():
        if name == key:
            return value
    return None


def _go_parse_bool(text: str | None) -> bool:
    return text in ("1", "t", "T", "TRUE", "true", "True")


def _storage_less(a: _Volume, b: _Volume) -> bool:
    """The reference comparator verbatim, including its lookup of `persistent` where it means `class`."""
    if a.size != b.size:
        return a.size < b.size
    a_class, b_class = _attribute(a.attributes, "persistent"), _attribute(b.attributes, "persistent")
    if (a_class is None and b_class is not None) or (
        a_class is not None and b_class is not None and a_class < b_class
    ):
        return True
    if a_class is not None and b_class is None:
        return False
    if not _go_parse_bool(_attribute(a.attributes, "persistent")):
        return True
    if not _go_parse_bool(_attribute(b.attributes, "persistent")):
        return False
    return a.name < b.name


def _parse_placement(name: str, body: dict[str, Any]) -> _Placement:
    parts: list[str | int] = ["profiles", "placement", name]
    attributes = None
    if body.get("attributes"):
        attributes = sorted(
            (str(key), _convert([*parts, "attributes", str(key)], _go_scalar_text, value))
            for key, value in body["attributes"].items()
        )
    signed_by = body.get("signedBy") or {}
    pricing = {}
    for profile, coin in body["pricing"].items():
        amount = _convert([*parts, "pricing", profile, "amount"], parse_price_amount, coin["amount"])
        pricing[profile] = (coin["denom"], amount)
    return _Placement(attributes, signed_by.get("anyOf"), signed_by.get("allOf"), pricing)


def _parse_service(name: str, body: dict[str, Any], version: str) -> _Service:
    parts: list[str | int] = ["services", name]
    exposes = [_parse_expose([*parts, "expose", i], item) for i, item in enumerate(body.get("expose") or [])]
    params = body.get("params")
    if params is not None and "tee" in params:
        raise _fail([*parts, "params", "tee"], "confidential compute (TEE) is not supported by Necto yet")
    credentials = None
    if body.get("credentials") is not None:
        raw = body["credentials"]
        for key in ("host", "username", "password"):
            if not str(raw.get(key, "")).strip():
                raise _fail([*parts, "credentials", key], "must not be blank")
        # v2.0 drops the email and keeps whitespace; v2.1 trims every field (groupBuilder_v2*.go)
        if version == "2.0":
            credentials = {
                "host": raw["host"],
                "email": "",
                "username": raw["username"],
                "password": raw["password"],
            }
        else:
            credentials = {
                key: str(raw.get(key, "")).strip() for key in ("host", "email", "username", "password")
            }
    return _Service(
        name=name,
        image=body["image"],
        command=body.get("command"),
        args=body.get("args"),
        env=body.get("env"),
        exposes=exposes,
        params=params,
        credentials=credentials,
    )


def _parse_expose(parts: list[str | int], item: dict[str, Any]) -> _Expose:
    proto = (item.get("proto") or "TCP").upper()
    targets = [
        _Target(
            service=to.get("service") or "", is_global=bool(to.get("global", False)), ip=to.get("ip") or ""
        )
        for to in item.get("to") or []
    ]
    http = dict(item.get("http_options") or {})
    if "proxy_buffer_size" in http:
        raise _fail(
            [*parts, "http_options", "proxy_buffer_size"], "is not supported by this manifest version"
        )
    options: dict[str, Any] = {}
    for key, default in _HTTP_DEFAULTS.items():
        value = http.get(key) or default
        limit = _HTTP_LIMITS.get(key)
        if limit is not None and value > limit:
            raise _fail([*parts, "http_options", key], f"must be at most {limit}")
        options[key] = value
    options["next_timeout"] = http.get("next_timeout") or 0
    cases = http.get("next_cases") or ["error", "timeout"]
    for index, case in enumerate(cases):
        if case not in _NEXT_CASES:
            raise _fail([*parts, "http_options", "next_cases", index], "unknown next case")
        if case == "off" and len(cases) != 1:
            raise _fail([*parts, "http_options", "next_cases"], "'off' cannot be combined with other cases")
    options["next_cases"] = list(cases)
    accept = item.get("accept")
    return _Expose(
        port=item["port"],
        as_port=item.get("as") or 0,
        proto=proto,
        targets=targets,
        hosts=list(accept) if accept is not None else None,
        http_options=options,
    )


# --------------------------------------------------------------------------------- cross-references


def _check_references(sdl: _SDL) -> None:
    """The reference parsers' semantic checks (go/sdl/v2.go validate, ts validateSDL)."""
    for name, kind in sdl.endpoints.items():
        if not _ENDPOINT_NAME.match(name):
            raise _fail(
                ["endpoints", name], "is not a valid endpoint name (lower-case letters, digits, - and _)"
            )
        if kind != "ip":
            raise _fail(["endpoints", name, "kind"], "must be ip")
    for svc_name in sdl.services:
        if svc_name not in sdl.deployment:
            raise _fail(["deployment", svc_name], f"service {svc_name!r} is defined but never deployed")
    endpoints_used: set[str] = set()
    ports_used: dict[tuple[str, int, str], str] = {}
    for svc_name in sorted(sdl.deployment):
        if svc_name not in sdl.services:
            raise _fail(["deployment", svc_name], f"no service named {svc_name!r} in services")
        if not _SERVICE_NAME.match(svc_name) or len(svc_name) > 63:
            raise _fail(
                ["services", svc_name], "service names are lower-case letters, digits and '-' (DNS label)"
            )
        service = sdl.services[svc_name]
        for placement_name in sorted(sdl.deployment[svc_name]):
            profile, _count = sdl.deployment[svc_name][placement_name]
            where: list[str | int] = ["deployment", svc_name, placement_name]
            if profile not in sdl.compute:
                raise _fail([*where, "profile"], f"no compute profile named {profile!r}")
            placement = sdl.placements.get(placement_name)
            if placement is None:
                raise _fail(where, f"no placement profile named {placement_name!r} in profiles.placement")
            if profile not in placement.pricing:
                raise _fail(
                    ["profiles", "placement", placement_name, "pricing"],
                    f"no price for compute profile {profile!r}",
                )
            _check_storage_params(svc_name, service, profile, sdl.compute[profile])
        for index, expose in enumerate(service.exposes):
            for to_index, target in enumerate(expose.targets):
                if not target.ip:
                    continue
                at: list[str | int] = ["services", svc_name, "expose", index, "to", to_index, "ip"]
                if not target.is_global:
                    raise _fail(at[:-1] + ["global"], "must be true when an ip endpoint is set")
                if target.ip not in sdl.endpoints:
                    raise _fail(at, f"no endpoint named {target.ip!r} in endpoints")
                endpoints_used.add(target.ip)
                key = (target.ip, expose.as_port or expose.port, expose.proto)
                if key in ports_used:
                    raise _fail(
                        at, f"port {key[1]}/{key[2]} on {target.ip!r} is already used by {ports_used[key]!r}"
                    )
                ports_used[key] = svc_name
    for name in sdl.endpoints:
        if name not in endpoints_used:
            raise _fail(["endpoints", name], "declared but never used")


def _check_storage_params(svc_name: str, service: _Service, profile: str, compute: _Compute) -> None:
    volumes = {volume.name: volume for volume in compute.storage}
    storage_params = (service.params or {}).get("storage") or {}
    mounts: dict[str, str] = {}
    for volume_name, params in storage_params.items():
        where: list[str | int] = ["services", svc_name, "params", "storage", volume_name]
        if volume_name not in volumes:
            raise _fail(where, f"compute profile {profile!r} has no storage volume named {volume_name!r}")
        mount = (params or {}).get("mount") or ""
        if not mount.startswith("/"):
            raise _fail([*where, "mount"], "must be an absolute path like /data")
        if mount in mounts:
            raise _fail([*where, "mount"], f"{mount} is already used by volume {mounts[mount]!r}")
        mounts[mount] = volume_name
        if _attribute(volumes[volume_name].attributes, "class") == "ram" and (params or {}).get("readOnly"):
            raise _fail([*where, "readOnly"], "a ram volume cannot be read-only")
    for volume in compute.storage:
        if _go_parse_bool(_attribute(volume.attributes, "persistent")) and volume.name not in mounts.values():
            raise _fail(
                ["services", svc_name, "params", "storage", volume.name, "mount"],
                f"is required: volume {volume.name!r} of profile {profile!r} is persistent",
            )


# ---------------------------------------------------------------------------------------------- build


def _endpoint_sequence_numbers(sdl: _SDL) -> dict[str, int]:
    names = []
    for svc_name in sorted(sdl.deployment):
        for expose in sdl.services[svc_name].exposes:
            for target in expose.targets:
                if target.is_global and not target.ip:
                    continue
                names.append(target.ip)
    return {name: index for index, name in enumerate(sorted(names), start=1)}


def _manifest_exposes(service: _Service, sequence: Mapping[str, int]) -> list[dict[str, Any]]:
    entries = []
    for expose in service.exposes:
        targets = expose.targets or [_Target(service="", is_global=False, ip="")]
        for target in targets:
            entries.append(
                {
                    "port": expose.port,
                    "externalPort": expose.as_port,
                    "proto": expose.proto,
                    "service": target.service,
                    "global": target.is_global,
                    "hosts": list(expose.hosts) if expose.hosts is not None else None,
                    "httpOptions": {
                        "maxBodySize": expose.http_options["max_body_size"],
                        "readTimeout": expose.http_options["read_timeout"],
                        "sendTimeout": expose.http_options["send_timeout"],
                        "nextTries": expose.http_options["next_tries"],
                        "nextTimeout": expose.http_options["next_timeout"],
                        "nextCases": list(expose.http_options["next_cases"]),
                    },
                    "ip": target.ip,
                    "endpointSequenceNumber": sequence.get(target.ip, 0)
                    if target.is_global and target.ip
                    else 0,
                }
            )
    return sorted(entries, key=lambda e: (e["service"], e["port"], e["proto"], not e["global"]))


def _expose_endpoints(exposes: list[dict[str, Any]]) -> list[dict[str, int]]:
    endpoints: list[dict[str, int]] = []
    for expose in exposes:
        if not expose["global"]:
            continue
        pair = []
        if expose["ip"]:
            pair.append((LEASED_IP, expose["endpointSequenceNumber"]))
        external = expose["externalPort"] or expose["port"]
        pair.append((SHARED_HTTP if expose["proto"] == "TCP" and external == 80 else RANDOM_PORT, 0))
        endpoints.extend(_endpoint_json(kind, seq) for kind, seq in sorted(pair, key=lambda p: p[1]))
    return endpoints


def _endpoint_json(kind: int, sequence_number: int) -> dict[str, int]:
    # gogoproto JSON: `kind` is omitempty, so SHARED_HTTP (0) has no kind key
    return (
        {"kind": kind, "sequence_number": sequence_number} if kind else {"sequence_number": sequence_number}
    )


def _attributes_json(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in pairs]


def _resources_json(resource_id: int, compute: _Compute, endpoints: list[dict[str, int]]) -> dict[str, Any]:
    cpu: dict[str, Any] = {"units": {"val": str(compute.cpu)}}
    if compute.cpu_attributes:
        cpu["attributes"] = _attributes_json(compute.cpu_attributes)
    storage = []
    for volume in compute.storage:
        entry: dict[str, Any] = {"name": volume.name, "size": {"val": str(volume.size)}}
        if volume.attributes:
            entry["attributes"] = _attributes_json(volume.attributes)
        storage.append(entry)
    gpu: dict[str, Any] = {"units": {"val": str(compute.gpu)}}
    if compute.gpu_attributes:
        gpu["attributes"] = _attributes_json(compute.gpu_attributes)
    return {
        "id": resource_id,
        "cpu": cpu,
        "memory": {"size": {"val": str(compute.memory)}},
        "storage": storage,
        "gpu": gpu,
        "endpoints": endpoints,
    }


def _params_json(params: dict[str, Any] | None) -> dict[str, Any] | None:
    if params is None:
        return None
    storage = params.get("storage") or {}
    result: dict[str, Any] = {
        "storage": [
            {
                "name": name,
                "mount": (storage[name] or {}).get("mount") or "",
                "readOnly": bool((storage[name] or {}).get("readOnly", False)),
            }
            for name in sorted(storage)
        ]
        or None
    }
    permissions = params.get("permissions")
    if permissions is not None:
        result["permissions"] = {"read": list(permissions["read"])} if permissions.get("read") else {}
    return result


@dataclass
class _GroupBuilder:
    spec: dict[str, Any]
    services: list[dict[str, Any]] = field(default_factory=list)
    bound: dict[str, int] = field(default_factory=dict)  # compute profile -> index in spec resources
    unit_services: list[list[str]] = field(default_factory=list)


def _build(sdl: _SDL) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[ResourcePrice]]:
    sequence = _endpoint_sequence_numbers(sdl)
    builders: dict[str, _GroupBuilder] = {}
    merge = sdl.version != "2.0"
    for svc_name in sorted(sdl.deployment):
        service = sdl.services[svc_name]
        for placement_name in sorted(sdl.deployment[svc_name]):
            profile, count = sdl.deployment[svc_name][placement_name]
            compute = sdl.compute[profile]
            placement = sdl.placements[placement_name]
            denom, amount = placement.pricing[profile]
            builder = builders.get(placement_name)
            if builder is None:
                builder = builders[placement_name] = _GroupBuilder(
                    spec=_group_spec(placement_name, placement)
                )
            exposes = _manifest_exposes(service, sequence)
            units = builder.spec["resources"]
            if merge and profile in builder.bound:
                location = builder.bound[profile]
                unit = units[location]
                unit["count"] += count
                unit["resource"]["endpoints"] = sorted(
                    unit["resource"]["endpoints"] + _expose_endpoints(exposes),
                    key=lambda e: e["sequence_number"],
                )
                resource_id = unit["resource"]["id"]
                builder.unit_services[location].append(svc_name)
            else:
                resource_id = len(units) + 1
                units.append(
                    {
                        "resource": _resources_json(resource_id, compute, _expose_endpoints(exposes)),
                        "count": count,
                        "price": {"denom": denom, "amount": format_dec_amount(amount)},
                    }
                )
                builder.bound[profile] = len(units) - 1
                builder.unit_services.append([svc_name])
            manifest_service: dict[str, Any] = {
                "name": svc_name,
                "image": service.image,
                "command": _list_or_none(service.command),
                "args": _list_or_none(service.args),
                "env": _list_or_none(service.env),
                "resources": _resources_json(resource_id, compute, _expose_endpoints(exposes)),
                "count": count,
                "expose": exposes,
            }
            params = _params_json(service.params)
            if params is not None:
                manifest_service["params"] = params
            manifest_service["credentials"] = dict(service.credentials) if service.credentials else None
            builder.services.append(manifest_service)
    manifest, groups, prices = [], [], []
    for name in sorted(builders):
        builder = builders[name]
        manifest.append({"name": name, "services": sorted(builder.services, key=lambda s: s["name"])})
        groups.append(builder.spec)
        for unit, names in zip(builder.spec["resources"], builder.unit_services, strict=True):
            denom, amount = sdl.placements[name].pricing[sdl.deployment[names[0]][name][0]]
            prices.append(
                ResourcePrice(name, unit["resource"]["id"], tuple(names), unit["count"], denom, amount)
            )
    return manifest, groups, prices


def _group_spec(name: str, placement: _Placement) -> dict[str, Any]:
    return {
        "name": name,
        "requirements": {
            "signed_by": {
                "all_of": _list_or_none(placement.all_of),
                "any_of": _list_or_none(placement.any_of),
            },
            "attributes": _attributes_json(placement.attributes) if placement.attributes else None,
        },
        "resources": [],
    }


def _list_or_none(value: list[Any] | None) -> list[Any] | None:
    # Go keeps nil slices (absent key) as null but an explicit empty YAML list as []
    return None if value is None else list(value)


# ------------------------------------------------------------------------------------- final checks


def _check_manifest(manifest: list[dict[str, Any]]) -> None:
    """manifest/v2beta3 Groups.Validate: env names, hostnames, at least one global service."""
    hostnames: set[str] = set()
    global_count = 0
    for group in manifest:
        for service in group["services"]:
            name = service["name"]
            for index, variable in enumerate(service["env"] or []):
                if not _ENV_NAME.match(variable.split("=", 1)[0]):
                    raise _fail(
                        ["services", name, "env", index], "must be NAME=value with a valid variable name"
                    )
            for expose in service["expose"]:
                global_count += expose["global"]
                for host in expose["hosts"] or []:
                    where: list[str | int] = ["services", name, "expose", "accept"]
                    if len(host) > 253 or not _HOSTNAME.match(host):
                        raise _fail(where, f"{host!r} is not a valid host name")
                    if host in hostnames:
                        raise _fail(where, f"host name {host!r} is used more than once")
                    hostnames.add(host)
    if global_count == 0:
        raise _fail(["services"], "no service is exposed globally (add `to: [{global: true}]` to an expose)")


def _check_groups(groups: list[dict[str, Any]]) -> None:
    """The chain's deployment-group checks (akash.md §2), so a bad SDL fails before a transaction."""
    if len(groups) > MAX_GROUPS:
        raise _fail(["profiles", "placement"], f"the chain allows at most {MAX_GROUPS} placement groups")
    denoms = {unit["price"]["denom"] for group in groups for unit in group["resources"]}
    if len(denoms) > 1:
        raise _fail(
            ["profiles", "placement"], "all prices must use the same denom, got " + ", ".join(sorted(denoms))
        )
    for group in groups:
        if len(group["resources"]) > MAX_GROUP_UNITS:
            raise _fail(
                ["profiles", "placement", group["name"]],
                f"at most {MAX_GROUP_UNITS} resource units per group",
            )
        for unit in group["resources"]:
            if unit["count"] > MAX_UNIT_COUNT:
                raise _fail(
                    ["deployment"],
                    f"group {group['name']!r}: at most {MAX_UNIT_COUNT} replicas per resource unit",
                )


# -------------------------------------------------------------------------------------------- summary


def _summaries(sdl: _SDL) -> list[dict[str, Any]]:
    result = []
    for name in sorted(sdl.deployment):
        service = sdl.services[name]
        ports = []
        for expose in service.exposes:
            global_targets = [t for t in expose.targets if t.is_global]
            ports.append(
                {
                    "port": expose.port,
                    "as": expose.as_port or None,
                    "proto": expose.proto,
                    "global": bool(global_targets),
                    "to": [t.service for t in expose.targets if t.service],
                    "ip": next((t.ip for t in global_targets if t.ip), None),
                }
            )
        placements = sdl.deployment[name]
        result.append(
            {
                "name": name,
                "image": service.image,
                "count": sum(count for _profile, count in placements.values()),
                "placements": sorted(placements),
                "ports": ports,
            }
        )
    return result
