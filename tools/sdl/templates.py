"""Workload templates: the only source of SDL that Necto deploys.

Each ``sdl_templates/<id>.yaml`` is a complete SDL 2.0 document with sensible defaults plus an ``x-necto``
metadata block (title, description, ``requires_image``, ``required_env``, ``storage_volume``, ``service``,
``env_links``). Rendering
loads the YAML into a dict, removes ``x-necto`` (the SDL schema forbids unknown top-level keys), sets
fields from typed ``TemplateVars`` in code and dumps YAML again. Values are data, never spliced into
text, so nothing a user or a model types can add fields, services or ports (security: the model can
never supply SDL). The rendered text is compiled before it is returned, so it always compiles.

Template conventions: one *primary* service (``x-necto.service``, or the only service) that the variables
resize and re-image, one placement named ``akash``. Every compute profile is priced at
``price_uact_per_block`` in ``uact`` (a per-replica ceiling: the chain's unit price is amount x count).
Helper services (the WordPress database) keep their template settings; ``env_links`` copies a secret
from the primary's env into theirs, so one password is asked for once. With a custom image the
template's command/args are dropped: they belong to the default image (e.g. the Next.js starter).
"""

from __future__ import annotations

import copy
import math
import re
from decimal import ROUND_DOWN, Context, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tools.errors import InvalidRequest, InvalidSDL, UnknownTemplate
from tools.request import normalize_gpu_model
from tools.sdl.compiler import compile_sdl
from tools.sdl.loader import load_trusted_yaml
from tools.sdl.units import parse_bytes, parse_cpu_millis, parse_gpu_units

__all__ = [
    "TEMPLATES_DIR",
    "TemplateInfo",
    "TemplateVars",
    "list_templates",
    "render_sdl",
    "template_defaults",
]

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "sdl_templates"
METADATA_KEY = "x-necto"
PLACEMENT = "akash"
DENOM = "uact"

_TEMPLATE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")
_ENV_KEY = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_REGION = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_IMAGE = re.compile(r"^[a-z0-9][A-Za-z0-9._\-/:@+]*$")
_GIB = 1024**3


class TemplateVars(BaseModel):
    """What a caller may set on a template. ``None`` keeps the template's default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    image: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535, description="container port the image listens on")
    cpu: float | None = Field(default=None, gt=0, le=384, description="CPU cores")
    memory_gib: float | None = Field(default=None, gt=0, le=2048)
    storage_gib: float | None = Field(default=None, gt=0, le=32768)
    gpu_model: str | None = None
    gpu_count: int | None = Field(default=None, ge=0, le=24)
    region: str | None = None
    price_uact_per_block: Decimal = Field(gt=0, description="bid ceiling per replica per block, in uact")
    env: dict[str, str] = Field(default_factory=dict)
    count: int = Field(default=1, ge=1, le=50)
    model: str | None = Field(default=None, description="model to serve, for templates with a model_arg (vllm)")

    @field_validator("model")
    @classmethod
    def _model_id(cls, value: str | None) -> str | None:
        # A Hugging Face repo id ("Qwen/Qwen2.5-7B-Instruct"): it becomes one container argument, so keep it to
        # the characters such ids use.
        if value is not None and not _MODEL_ID.match(value):
            raise ValueError("a model is a Hugging Face repo id like 'Qwen/Qwen2.5-7B-Instruct'")
        return value

    @field_validator("price_uact_per_block")
    @classmethod
    def _dec_precision(cls, value: Decimal) -> Decimal:
        # LegacyDec keeps 18 decimals; computed prices (e.g. USD/h -> uact/block) carry 28 digits, so round
        # down: a ceiling that is a hair lower can never exceed the budget it came from.
        if not value.is_finite():
            raise ValueError("must be a finite amount")
        value = value.quantize(Decimal(1).scaleb(-18), rounding=ROUND_DOWN, context=Context(prec=100))
        if value <= 0:
            raise ValueError("must be greater than 0 (at 18 decimal places)")
        return value

    @field_validator("image")
    @classmethod
    def _image_reference(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value or len(value) > 255 or not _IMAGE.match(value):
            raise ValueError("an image is a reference like 'nginx:1.27' or 'ghcr.io/me/app:tag'")
        return value

    @field_validator("gpu_model")
    @classmethod
    def _known_gpu(cls, value: str | None) -> str | None:
        return normalize_gpu_model(value)

    @field_validator("region")
    @classmethod
    def _region_value(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lower()
        if not _REGION.match(value):
            raise ValueError("a region is lower-case letters, digits and '-', like 'us-west'")
        return value

    @field_validator("env")
    @classmethod
    def _env_entries(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            if not _ENV_KEY.match(key):
                raise ValueError(f"environment variable name {key!r} must match [A-Z_][A-Z0-9_]*")
            if any(ord(char) < 32 and char != "\t" for char in text) or len(text) > 4096:
                raise ValueError(f"value of {key} must be one line of at most 4096 characters")
        return value

    @field_validator("cpu", "memory_gib", "storage_gib")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @classmethod
    def parse(cls, data: dict[str, Any]) -> TemplateVars:
        """Validate ``data``; raise InvalidRequest with one readable sentence (never a pydantic dump)."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = [
                f"{'.'.join(str(p) for p in err['loc']) or 'vars'}: {err['msg'].removeprefix('Value error, ')}"
                for err in exc.errors()
            ]
            raise InvalidRequest("Template settings are invalid: " + "; ".join(problems) + ".") from None


class TemplateInfo(BaseModel):
    """A template as the planner and the UI list it (defaults read from the template file itself)."""

    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    description: str
    image: str
    port: int
    cpu: float
    memory_gib: float
    storage_gib: float
    gpu: bool
    gpu_count: int
    requires_image: bool
    required_env: tuple[str, ...]


_MODEL_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")


def _apply_model_args(workload: str, service: dict[str, Any], metadata: dict[str, Any], vars: TemplateVars) -> None:
    """Set the served model and spread it over every GPU (``model_arg`` / ``gpu_parallel_arg`` in metadata)."""
    args = list(service.get("args") or [])
    model_arg, parallel_arg = metadata.get("model_arg"), metadata.get("gpu_parallel_arg")
    if vars.model is not None:
        if not model_arg or model_arg not in args:
            raise InvalidRequest(f"The {workload!r} template does not take a model name.")
        args[args.index(model_arg) + 1] = vars.model
    if parallel_arg and vars.gpu_count and vars.gpu_count > 1:
        # Without it vLLM loads the whole model on one GPU and the others sit idle (or it runs out of memory).
        args += [parallel_arg, str(vars.gpu_count)]
    if args:
        service["args"] = args


def list_templates(templates_dir: Path = TEMPLATES_DIR) -> list[TemplateInfo]:
    """Every template in ``templates_dir``, sorted by id."""
    return [_info(template_id, _load(templates_dir, template_id)) for template_id in _ids(templates_dir)]


def template_defaults(workload: str, templates_dir: Path = TEMPLATES_DIR) -> dict[str, Any]:
    """The template's sizing as ComputeRequest fields (cpu, memory_gib, storage_gib, gpu_count).

    The image is left out on purpose: a request's image means "the user brought one".
    """
    known = _ids(templates_dir)
    if workload not in known:
        raise UnknownTemplate(f"No template named {workload!r}. Known templates: {', '.join(known)}.")
    info = _info(workload, _load(templates_dir, workload))
    return {
        "cpu": info.cpu,
        "memory_gib": info.memory_gib,
        "storage_gib": info.storage_gib,
        "gpu_count": info.gpu_count,
    }


def render_sdl(workload: str, vars: TemplateVars, templates_dir: Path = TEMPLATES_DIR) -> str:
    """SDL text for ``workload`` with ``vars`` applied; it compiles with ``compile_sdl``.

    Raises UnknownTemplate for an unknown id and InvalidRequest when the variables do not fit the template.
    """
    known = _ids(templates_dir)
    if workload not in known:
        raise UnknownTemplate(
            f"No template named {workload!r}. Known templates: {', '.join(known)}.",
            hint="Pick one of the known templates, or 'custom' with an image.",
        )
    document = _load(templates_dir, workload)
    metadata = document.pop(METADATA_KEY)
    service_name, service, _profile, resources = _primary(document, metadata)

    if metadata.get("requires_image") and not vars.image:
        raise InvalidRequest(
            f"The {workload!r} template needs an image.", hint="Set image, e.g. 'ghcr.io/me/app:1.0'."
        )
    if vars.image and vars.image != service["image"]:
        service["image"] = vars.image
        service.pop("command", None)
        service.pop("args", None)
    if vars.port is not None:
        service["expose"][0]["port"] = vars.port
    service_env = _apply_env(service.get("env") or [], vars.env)
    missing = [
        key
        for key in metadata.get("required_env", [])
        if key not in {e.split("=", 1)[0] for e in service_env}
    ]
    if missing:
        raise InvalidRequest(
            f"The {workload!r} template needs {', '.join(missing)} in env.",
            hint="Provide a value (generate a strong secret; never reuse one).",
        )
    if service_env:
        service["env"] = service_env
    _link_env(document, metadata, dict(entry.split("=", 1) for entry in service_env if "=" in entry))

    if vars.cpu is not None:
        millis = round(vars.cpu * 1000)
        if millis < 1:
            raise InvalidRequest("cpu is too small: the minimum is 0.001 cores.")
        resources["cpu"] = {"units": f"{millis}m"}
    if vars.memory_gib is not None:
        resources["memory"] = {"size": _size_text(vars.memory_gib)}
    if vars.storage_gib is not None:
        _volume(resources, metadata.get("storage_volume", "default"))["size"] = _size_text(vars.storage_gib)
    _apply_gpu(workload, resources, vars)
    _apply_model_args(workload, service, metadata, vars)

    placement = document["profiles"]["placement"][PLACEMENT]
    if vars.region is not None:
        placement["attributes"] = {**(placement.get("attributes") or {}), "region": vars.region}
    amount = _amount_text(vars.price_uact_per_block)
    placement["pricing"] = {
        name: {"denom": DENOM, "amount": amount} for name in document["profiles"]["compute"]
    }
    document["deployment"][service_name][PLACEMENT]["count"] = vars.count

    text = yaml.safe_dump(document, sort_keys=False, default_flow_style=False, allow_unicode=True, width=100)
    try:
        compile_sdl(text)
    except InvalidSDL as exc:
        raise InvalidRequest(f"Those settings do not make a valid deployment: {exc.message}") from None
    return text


# ---------------------------------------------------------------------------------------------- helpers


def _ids(templates_dir: Path) -> list[str]:
    return sorted(path.stem for path in Path(templates_dir).glob("*.yaml") if _TEMPLATE_ID.match(path.stem))


@lru_cache(maxsize=64)
def _read(path: Path, mtime_ns: int) -> dict[str, Any]:
    del mtime_ns  # part of the cache key only: an edited template is re-read
    document = load_trusted_yaml(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or not isinstance(document.get(METADATA_KEY), dict):
        raise ValueError(f"{path.name}: a template needs an {METADATA_KEY} mapping")
    return document


def _load(templates_dir: Path, template_id: str) -> dict[str, Any]:
    path = Path(templates_dir) / f"{template_id}.yaml"
    document = _read(path, path.stat().st_mtime_ns)
    return copy.deepcopy(document)  # the cached copy stays pristine


def _primary(
    document: dict[str, Any], metadata: dict[str, Any]
) -> tuple[str, dict[str, Any], str, dict[str, Any]]:
    service_name = metadata.get("service") or next(iter(document["services"]))
    service = document["services"][service_name]
    profile = document["deployment"][service_name][PLACEMENT]["profile"]
    return service_name, service, profile, document["profiles"]["compute"][profile]["resources"]


def _volume(resources: dict[str, Any], name: str) -> dict[str, Any]:
    storage = resources["storage"]
    if isinstance(storage, dict):
        return storage
    for volume in storage:
        if (volume.get("name") or "default") == name:
            return volume
    raise ValueError(f"template has no storage volume {name!r}")


def _link_env(document: dict[str, Any], metadata: dict[str, Any], primary_env: dict[str, str]) -> None:
    for other, links in (metadata.get("env_links") or {}).items():
        service = document["services"][other]
        env = dict(entry.split("=", 1) for entry in service.get("env") or [] if "=" in entry)
        env.update({target: primary_env[source] for target, source in links.items() if source in primary_env})
        service["env"] = [f"{key}={value}" for key, value in env.items()]


def _apply_env(template_env: list[str], overrides: dict[str, str]) -> list[str]:
    merged = dict(entry.split("=", 1) if "=" in entry else (entry, "") for entry in template_env)
    merged.update(overrides)
    return [f"{key}={value}" for key, value in merged.items()]


def _apply_gpu(workload: str, resources: dict[str, Any], vars: TemplateVars) -> None:
    template_units = parse_gpu_units((resources.get("gpu") or {}).get("units", 0))
    units = vars.gpu_count if vars.gpu_count is not None else (template_units or (1 if vars.gpu_model else 0))
    if units == 0:
        if template_units:
            raise InvalidRequest(f"The {workload!r} template needs at least one GPU.")
        if vars.gpu_model:
            raise InvalidRequest("gpu_model is set but gpu_count is 0.")
        resources.pop("gpu", None)
        return
    if vars.gpu_model:
        nvidia: list[dict[str, str]] | None = [{"model": vars.gpu_model}]
    else:
        nvidia = ((resources.get("gpu") or {}).get("attributes") or {}).get("vendor", {}).get("nvidia")
    resources["gpu"] = {"units": units, "attributes": {"vendor": {"nvidia": nvidia}}}


def _size_text(gib: float) -> str:
    """Whole GiB as ``<n>Gi``; fractions as whole ``Mi`` so the SDL stays exact."""
    if float(gib).is_integer():
        return f"{int(gib)}Gi"
    mib = round(gib * 1024)
    if mib < 1:
        raise InvalidRequest("sizes below 1 MiB are not possible.")
    return f"{mib}Mi"


def _amount_text(amount: Decimal) -> str:
    text = format(amount, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _info(template_id: str, document: dict[str, Any]) -> TemplateInfo:
    metadata = document[METADATA_KEY]
    _, service, _, resources = _primary(document, metadata)
    gpu_units = parse_gpu_units((resources.get("gpu") or {}).get("units", 0))
    volume = _volume(resources, metadata.get("storage_volume", "default"))
    return TemplateInfo(
        id=template_id,
        title=metadata["title"],
        description=metadata["description"],
        image=service["image"],
        port=service["expose"][0]["port"],
        cpu=parse_cpu_millis(resources["cpu"]["units"]) / 1000,
        memory_gib=parse_bytes(resources["memory"]["size"]) / _GIB,
        storage_gib=parse_bytes(volume["size"]) / _GIB,
        gpu=gpu_units > 0,
        gpu_count=gpu_units,
        requires_image=bool(metadata.get("requires_image", False)),
        required_env=tuple(metadata.get("required_env", [])),
    )
