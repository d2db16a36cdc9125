"""Offer: one priced way to run a ComputeRequest, whatever the provider's pricing model.

JSON convention: in JSON mode (``model_dump(mode="json")``, ``model_dump_json()``) every Decimal money
field is a JSON **number** (float), and the exact decimal string of each figure sits in ``inputs``
(``inputs["usd_per_hour"]``, ``inputs["usd_total"]``, ...) so nothing is lost. In Python mode the fields
stay Decimal. ``observed_at`` is an ISO-8601 UTC string in JSON.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer, field_validator

PricingModel = Literal["fixed", "spot", "auction", "token"]

Money = Annotated[Decimal, PlainSerializer(lambda v: float(v), return_type=float, when_used="json")]


class Offer(BaseModel):
    """A priced way to run the request. ``usd_total`` covers the request's hours with billing rules applied."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str  # display name
    provider_address: str | None = None  # Akash owner address
    source: str  # "akash", "lambda", "skypilot:runpod"
    offer_id: str  # stable and deterministic: "akash:<owner>", "lambda:gpu_1x_a100:us-west-1"
    pricing_model: PricingModel
    region: str | None = None  # Necto vocabulary (tools.request.REGIONS); None when unknown
    provider_region: str | None = None  # the provider's own name for it ("us-west-1", "kansascity-usa-2")
    gpu_model: str | None = None  # lower-case Akash name
    gpu_count: int = Field(default=0, ge=0)
    gpu_memory_gib: float | None = None
    cpu: float = Field(ge=0)
    memory_gib: float = Field(ge=0)
    storage_gib: float | None = None  # None: the source does not say
    usd_per_hour: Money = Field(ge=0)
    usd_total: Money = Field(ge=0)
    usd_per_effective_pflop_hour: Money | None = None
    effective_pflops: Money | None = None  # count * eta * peak dense BF16
    observed_at: AwareDatetime
    ttl_s: int = Field(ge=0)
    notes: list[str] = Field(default_factory=list)
    uptime: float | None = Field(default=None, ge=0, le=1)
    audited: bool | None = None
    capacity_available: bool | None = None
    deployable: bool = False  # True only for Akash: Necto deploys only there today
    estimate: bool = False  # True: a prior or snapshot, not a firm quote or bid
    inputs: dict[str, str] = Field(default_factory=dict)

    @field_validator("observed_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @property
    def expires_at(self) -> datetime:
        return self.observed_at + timedelta(seconds=self.ttl_s)

    def age_s(self, now: datetime) -> float:
        """Seconds since the price was observed (never negative)."""
        return max(0.0, (now - self.observed_at).total_seconds())

    def is_expired(self, now: datetime) -> bool:
        return now > self.expires_at


def exact_inputs(**figures: object) -> dict[str, str]:
    """``inputs`` entries as exact strings (Decimal via ``str``, None dropped), sorted for stable JSON."""
    return {key: str(value) for key, value in sorted(figures.items()) if value is not None}


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_usd(amount: Decimal | None) -> str:
    """``$1,234.57`` for a dollar or more, ``$0.590`` below (three decimals keep cheap offers apart)."""
    if amount is None:
        return "-"
    if abs(amount) >= 1:
        return f"${amount.quantize(Decimal('0.01')):,}"
    return f"${amount.quantize(Decimal('0.001'))}"
