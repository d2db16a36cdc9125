"""ComputeRequest: what a buyer asked for, in one validated shape.

The field set is a contract (CLI ``--json`` output, the planner, the ledger): keep exactly these fields.
A month is 730 hours. Limits follow the chain's per-unit limits (akash.md §2): 384 CPU cores, 2 TiB
memory, 32 TiB storage, 24 GPUs.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)

from tools.errors import InvalidRequest

HOURS_PER_MONTH = 730

Workload = Literal[
    "nextjs", "react", "vue", "static", "wordpress", "postgres", "jupyter", "vllm", "ollama", "comfyui", "custom"
]
WORKLOADS: tuple[str, ...] = Workload.__args__  # type: ignore[attr-defined]

Objective = Literal["cheapest", "fastest", "reliable", "balanced"]
OBJECTIVES: tuple[str, ...] = Objective.__args__  # type: ignore[attr-defined]

# Lower-case Akash GPU model names (the `model` segment of vendor/nvidia/model/<m>).
GPU_MODELS: tuple[str, ...] = (
    "h200", "h100", "a100", "l40s", "l40", "l4", "a6000", "a5000", "a4000", "rtx4090", "rtx3090", "rtx3080",
    "rtx5090", "a40", "a10", "a30", "t4", "v100", "p100",
)

# Region vocabulary: broad areas and the finer regions inside them (used by the hard filter).
REGIONS: dict[str, tuple[str, ...]] = {
    "na": ("us", "us-west", "us-east", "us-central", "ca", "ca-central"),
    "us": ("us-west", "us-east", "us-central"),
    "us-west": (),
    "us-east": (),
    "us-central": (),
    "ca": ("ca-central",),
    "ca-central": (),
    "eu": ("eu-west", "eu-central", "eu-north", "eu-south"),
    "eu-west": (),
    "eu-central": (),
    "eu-north": (),
    "eu-south": (),
    "asia": ("asia-east", "asia-southeast", "asia-south"),
    "asia-east": (),
    "asia-southeast": (),
    "asia-south": (),
    "sa": ("sa-east",),
    "sa-east": (),
    "oceania": ("au-southeast",),
    "au-southeast": (),
}

MoneyFloat = Annotated[Decimal, PlainSerializer(lambda v: float(v), return_type=float, when_used="json")]


def normalize_gpu_model(value: str | None) -> str | None:
    """The lower-case Akash model name ("RTX 4090" -> "rtx4090"); ValueError for an unknown model."""
    if value is None:
        return None
    value = value.strip().lower().replace(" ", "").replace("-", "")
    if value not in GPU_MODELS:
        raise ValueError(f"unknown GPU model {value!r}; known: {', '.join(GPU_MODELS)}")
    return value


def region_matches(wanted: str | None, offered: str | None) -> bool:
    """True when an offer in region ``offered`` satisfies a request for ``wanted`` (None = anywhere)."""
    if wanted is None:
        return True
    if offered is None:
        return False
    if wanted == offered:
        return True
    stack = list(REGIONS.get(wanted, ()))
    while stack:
        region = stack.pop()
        if region == offered:
            return True
        stack.extend(REGIONS.get(region, ()))
    return False


class ComputeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    workload: Workload = "custom"
    image: str | None = None
    cpu: float = Field(default=1.0, gt=0, le=384)
    memory_gib: float = Field(default=1.0, gt=0, le=2048)
    storage_gib: float = Field(default=1.0, gt=0, le=32768)
    gpu_model: str | None = None
    gpu_count: int = Field(default=0, ge=0, le=24)
    region: str | None = None
    max_usd_per_hour: MoneyFloat | None = Field(default=None, gt=0)
    hours: float = Field(default=730.0, gt=0, le=24 * 366)
    objective: Objective = "balanced"

    @field_validator("gpu_model")
    @classmethod
    def _known_gpu(cls, value: str | None) -> str | None:
        return normalize_gpu_model(value)

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lower()
        if value not in REGIONS:
            raise ValueError(f"unknown region {value!r}; known: {', '.join(REGIONS)}")
        return value

    @field_validator("image")
    @classmethod
    def _clean_image(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value or any(c.isspace() for c in value) or len(value) > 255:
            raise ValueError("an image is a reference like 'nginx:1.27' or 'ghcr.io/me/app:tag'")
        return value

    @model_validator(mode="after")
    def _gpu_consistent(self) -> ComputeRequest:
        if self.gpu_model and self.gpu_count == 0:
            object.__setattr__(self, "gpu_count", 1)
        return self

    @property
    def monthly_budget_usd(self) -> Decimal | None:
        return None if self.max_usd_per_hour is None else self.max_usd_per_hour * HOURS_PER_MONTH

    @classmethod
    def parse(cls, data: dict) -> ComputeRequest:
        """Validate ``data``; raise InvalidRequest with a readable sentence (never a pydantic dump)."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = []
            for err in exc.errors():
                where = ".".join(str(p) for p in err["loc"]) or "request"
                problems.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
            raise InvalidRequest(
                "That request can't be met as written: " + "; ".join(problems) + ".",
                hint="Check the numbers (CPU up to 384 cores, memory up to 2048 GiB, up to 24 GPUs).",
            ) from None
