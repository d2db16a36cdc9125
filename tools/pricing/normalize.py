"""Pure conversions that turn every pricing model into USD (pricing.md §2), and provider regions into
Necto's region vocabulary.

All money is ``Decimal``; nothing here does I/O or reads a clock. Errors::

    NectoError
    └── PricingError              a price that cannot be converted as given
        ├── DenomPriceMissing     a bid in a denom whose USD price was not supplied (e.g. uakt)
        └── SourceError           a price source failed (tools.pricing.sources)
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Literal

from tools.errors import NectoError
from tools.pricing.gpus import gpu_spec
from tools.request import HOURS_PER_MONTH, REGIONS

DEFAULT_BLOCK_TIME_S = Decimal("6.098")  # Akash Console's constant (akash.md §6); settings.block_time_s
SECONDS_PER_HOUR = Decimal(3600)
MICRO = Decimal(10) ** 6


class PricingError(NectoError):
    """A price that cannot be converted as given."""


class DenomPriceMissing(PricingError):
    """A price in a denom (uakt, an IBC token) whose USD price the caller did not supply."""

    def __init__(self, denom: str) -> None:
        super().__init__(
            f"Cannot convert a price in {denom!r} to USD without its USD price.",
            hint="Pass the token's USD price (e.g. akt_usd from the chain oracle or CoinGecko).",
        )
        self.denom = denom


def to_decimal(value: object, *, what: str = "amount") -> Decimal:
    """Parse a wire number (``"1000.000000000000000000"``, ``"1.29"``, ``129``) into a finite Decimal.

    Floats are converted through ``repr`` so ``0.1`` stays ``Decimal("0.1")``. Raises PricingError for
    anything that is not a finite number (bools, NaN, ``"abc"``).
    """
    if isinstance(value, bool) or value is None:
        raise PricingError(f"{what} is not a number: {value!r}")
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise PricingError(f"{what} is not a number: {value!r}") from None
    if not number.is_finite():
        raise PricingError(f"{what} is not a finite number: {value!r}")
    return number


# --- Akash: per block <-> per hour (pricing.md §2, akash.md §6) -----------------------------------------


def denom_usd_price(denom: str, *, akt_usd: Decimal | None = None) -> Decimal:
    """USD value of one whole token of ``denom`` (micro-denom on the wire): uact is 1 USD by design (BME),
    uakt needs ``akt_usd``; anything else raises DenomPriceMissing."""
    if denom == "uact":
        return Decimal(1)
    if denom == "uakt":
        if akt_usd is None:
            raise DenomPriceMissing(denom)
        return to_decimal(akt_usd, what="akt_usd")
    raise DenomPriceMissing(denom)


def usd_per_hour_from_block_price(
    amount: object,
    denom: str = "uact",
    *,
    block_time_s: Decimal = DEFAULT_BLOCK_TIME_S,
    akt_usd: Decimal | None = None,
) -> Decimal:
    """Akash per-block price -> USD/hour (pricing.md §2).

    ``usd_per_hour = amount / 10^6 * 3600 / block_time_s * denom_usd``. ``amount`` is the DecCoin amount in
    micro-denom per block and may arrive as ``"1000.000000000000000000"``. 1000 uact/block at 6.098 s is
    0.59035749... USD/hour.
    """
    price = to_decimal(amount, what="price per block")
    if price < 0:
        raise PricingError(f"negative price per block: {amount!r}")
    block = to_decimal(block_time_s, what="block_time_s")
    if block <= 0:
        raise PricingError(f"block time must be positive, got {block_time_s!r}")
    return price / MICRO * SECONDS_PER_HOUR / block * denom_usd_price(denom, akt_usd=akt_usd)


def block_price_from_usd_per_hour(
    usd_per_hour: Decimal,
    denom: str = "uact",
    *,
    block_time_s: Decimal = DEFAULT_BLOCK_TIME_S,
    akt_usd: Decimal | None = None,
) -> int:
    """USD/hour -> integer micro-denom per block, rounded UP (pricing.md §2, inverse of the above).

    Rounding up makes the result usable as a max-price cap: a bid at exactly the user's USD/hour is never
    rejected because of truncation. 0.59 USD/h at 6.098 s -> 1000 uact/block.
    """
    usd = to_decimal(usd_per_hour, what="usd_per_hour")
    if usd < 0:
        raise PricingError(f"negative USD/hour: {usd_per_hour!r}")
    per_block = (
        usd / denom_usd_price(denom, akt_usd=akt_usd) * to_decimal(block_time_s) / SECONDS_PER_HOUR * MICRO
    )
    # Drop division noise (28-digit context) before rounding up, so a round trip of 1000 stays 1000.
    per_block = per_block.quantize(Decimal("1e-9"))
    return int(per_block.to_integral_value(rounding=ROUND_CEILING))


def usd_per_month(usd_per_hour: Decimal) -> Decimal:
    """USD/hour -> USD/month with a 730-hour month (``tools.request.HOURS_PER_MONTH``)."""
    return to_decimal(usd_per_hour) * HOURS_PER_MONTH


def usd_per_hour_from_month(usd_per_month_: Decimal) -> Decimal:
    """USD/month -> USD/hour with a 730-hour month."""
    return to_decimal(usd_per_month_) / HOURS_PER_MONTH


# --- Billing: increments, minimums, egress (pricing.md §2) ----------------------------------------------


def billed_seconds(
    hours: Decimal | float, *, increment_s: Decimal | int = 1, minimum_s: Decimal | int = 0
) -> Decimal:
    """Seconds actually billed for ``hours`` of use: rounded up to the increment, then raised to the minimum.

    pricing.md §2 writes ``ceil(T / inc) * inc + max(0, min_commit - T)``; using the rounded time in the
    minimum term (``max(ceil(T/inc)*inc, min)``) is the same bill without counting a partial increment twice.
    """
    # Quantize first: hours often arrive as a 28-digit quotient (30/3600) whose noise must not add an increment.
    used_s = (to_decimal(hours) * SECONDS_PER_HOUR).quantize(Decimal("1e-6"))
    inc = to_decimal(increment_s, what="increment_s")
    if inc <= 0:
        raise PricingError("billing increment must be positive")
    rounded_s = (used_s / inc).to_integral_value(rounding=ROUND_CEILING) * inc
    return max(rounded_s, to_decimal(minimum_s))


def billed_hours(
    hours: Decimal | float, *, increment_s: Decimal | int = 1, minimum_s: Decimal | int = 0
) -> Decimal:
    """``billed_seconds`` in hours."""
    return billed_seconds(hours, increment_s=increment_s, minimum_s=minimum_s) / SECONDS_PER_HOUR


def billed_cost(
    usd_per_hour: Decimal,
    hours: Decimal | float,
    *,
    increment_s: Decimal | int = 1,
    minimum_s: Decimal | int = 0,
    egress_gb: Decimal | int = 0,
    usd_per_egress_gb: Decimal | int = 0,
    storage_usd: Decimal | int = 0,
) -> Decimal:
    """Total USD for a run (pricing.md §2): ``p * billed_hours + egress_GB * e + storage``.

    Lambda: increment 60 s, no minimum, no egress fee. AWS: increment 1 s, minimum 60 s, ~0.09 USD/GB egress.
    Akash: increment one block.
    """
    billed_s = billed_seconds(hours, increment_s=increment_s, minimum_s=minimum_s)
    return (
        to_decimal(usd_per_hour) * billed_s / SECONDS_PER_HOUR
        + to_decimal(egress_gb) * to_decimal(usd_per_egress_gb)
        + to_decimal(storage_usd)
    )


# --- Spot: expected cost under interruptions (pricing.md §2) --------------------------------------------

InterruptionBucket = Literal["<5%", "5-10%", "10-15%", "15-20%", ">20%"]

# Fraction of instances interrupted per month, AWS Spot Advisor buckets. We take each bucket's upper edge
# (conservative); ">20%" has none, so 30 % is assumed.
INTERRUPTION_BUCKETS: dict[str, Decimal] = {
    "<5%": Decimal("0.05"),
    "5-10%": Decimal("0.10"),
    "10-15%": Decimal("0.15"),
    "15-20%": Decimal("0.20"),
    ">20%": Decimal("0.30"),
}

# What an interruption costs when nothing better is known: 15 min to get a new machine and reload,
# 5 min to write a checkpoint.
DEFAULT_RESTART_OVERHEAD_H = Decimal("0.25")
DEFAULT_CHECKPOINT_WRITE_H = Decimal(5) / Decimal(60)


def hazard_per_hour(monthly_interruption_fraction: Decimal) -> Decimal:
    """Monthly interruption fraction ``f`` -> hazard per hour: ``-ln(1 - f) / 730`` (pricing.md §2)."""
    f = to_decimal(monthly_interruption_fraction)
    if not Decimal(0) <= f < 1:
        raise PricingError(f"interruption fraction must be in [0, 1), got {f}")
    return -((1 - f).ln()) / HOURS_PER_MONTH


def hazard_from_bucket(bucket: str) -> Decimal:
    """Spot Advisor bucket ("<5%", ..., ">20%") -> hazard per hour, using the bucket's upper edge."""
    if bucket not in INTERRUPTION_BUCKETS:
        raise PricingError(
            f"unknown interruption bucket {bucket!r}; known: {', '.join(INTERRUPTION_BUCKETS)}"
        )
    return hazard_per_hour(INTERRUPTION_BUCKETS[bucket])


def optimal_checkpoint_interval_h(checkpoint_write_h: Decimal, hazard: Decimal) -> Decimal:
    """Young's optimum ``c* = sqrt(2 delta / lambda)`` in hours (pricing.md §2)."""
    if hazard <= 0:
        raise PricingError("hazard must be positive for a checkpoint interval")
    return (2 * to_decimal(checkpoint_write_h) / to_decimal(hazard)).sqrt()


def spot_expected_wall_hours(
    useful_hours: Decimal | float,
    hazard: Decimal,
    *,
    restart_overhead_h: Decimal = DEFAULT_RESTART_OVERHEAD_H,
    checkpoint_interval_h: Decimal | None = None,
    checkpoint_write_h: Decimal = DEFAULT_CHECKPOINT_WRITE_H,
) -> Decimal:
    """Expected wall time ``W = T (1 + delta/c) / (1 - lambda (R + c/2))`` (pricing.md §2).

    ``checkpoint_interval_h`` defaults to the optimum. Zero hazard gives ``T`` exactly (nothing to
    checkpoint against). Raises PricingError when ``lambda (R + c/2) >= 0.5``, where the formula is no longer
    a fair approximation.
    """
    T = to_decimal(useful_hours)
    lam = to_decimal(hazard)
    if lam == 0:
        return T
    c = (
        checkpoint_interval_h
        if checkpoint_interval_h is not None
        else optimal_checkpoint_interval_h(checkpoint_write_h, lam)
    )
    loss = lam * (to_decimal(restart_overhead_h) + c / 2)
    if loss >= Decimal("0.5"):
        raise PricingError(f"interruption rate too high for the spot model (lambda*(R+c/2) = {loss:.3f})")
    return T * (1 + to_decimal(checkpoint_write_h) / c) / (1 - loss)


def spot_expected_cost(
    spot_usd_per_hour: Decimal,
    useful_hours: Decimal | float,
    *,
    bucket: str = ">20%",
    restart_overhead_h: Decimal = DEFAULT_RESTART_OVERHEAD_H,
    checkpoint_write_h: Decimal = DEFAULT_CHECKPOINT_WRITE_H,
    storage_usd: Decimal = Decimal(0),
) -> tuple[Decimal, Decimal]:
    """Expected USD and wall hours for ``useful_hours`` of work on spot capacity: ``p * W + storage``.

    ``bucket`` defaults to the most pessimistic Spot Advisor bucket, for catalogs that carry no
    interruption data. Returns ``(cost, wall_hours)``.
    """
    wall = spot_expected_wall_hours(
        useful_hours,
        hazard_from_bucket(bucket),
        restart_overhead_h=restart_overhead_h,
        checkpoint_write_h=checkpoint_write_h,
    )
    return to_decimal(spot_usd_per_hour) * wall + storage_usd, wall


# --- Token exposure (pricing.md §2) --------------------------------------------------------------------

Z_95_ONE_SIDED = Decimal("1.65")


def token_risk_adjusted_usd(
    usd: Decimal,
    *,
    sigma_daily: Decimal,
    days: Decimal | float,
    z: Decimal = Z_95_ONE_SIDED,
    fees_usd: Decimal = Decimal(0),
) -> Decimal:
    """Risk-adjusted price of funds held ``days`` in a volatile token: ``usd (1 + z sigma sqrt(d)) + fees``.

    ``sigma_daily`` is the standard deviation of daily log returns (30 days); z = 1.65 is a 95 % one-sided
    bound. ACT-priced Akash and USDC-quoted io.net have sigma ~ 0.
    """
    d = to_decimal(days)
    if d < 0 or sigma_daily < 0:
        raise PricingError("days and sigma must not be negative")
    return to_decimal(usd) * (1 + z * to_decimal(sigma_daily) * d.sqrt()) + fees_usd


def sigma_daily_from_prices(prices: list[Decimal]) -> Decimal:
    """Sample standard deviation of daily log returns of a price series (oldest first)."""
    values = [to_decimal(p) for p in prices]
    if len(values) < 3 or any(p <= 0 for p in values):
        raise PricingError("need at least three positive daily prices")
    returns = [(b / a).ln() for a, b in zip(values, values[1:], strict=False)]
    mean = sum(returns, Decimal(0)) / len(returns)
    variance = sum(((r - mean) ** 2 for r in returns), Decimal(0)) / (len(returns) - 1)
    return variance.sqrt()


# --- Performance per dollar (pricing.md §2, §5) --------------------------------------------------------


def effective_pflops(
    gpu_model: str | None, gpu_count: int, *, interface: str | None = None, memory_gib: float | None = None
) -> Decimal | None:
    """Sustained dense PFLOPS of ``gpu_count`` cards (``count * eta * peak``), None when unknown or CPU-only."""
    spec = gpu_spec(gpu_model, interface=interface, memory_gib=memory_gib)
    if spec is None or gpu_count <= 0:
        return None
    return spec.effective_pflops * gpu_count


def usd_per_effective_pflop_hour(
    usd_per_hour: Decimal,
    gpu_model: str | None,
    gpu_count: int,
    *,
    interface: str | None = None,
    memory_gib: float | None = None,
) -> Decimal | None:
    """``usd_per_gpu_hour / (eta * peak_dense_bf16_PFLOPS)`` (pricing.md §2); None for CPU-only/unknown GPUs.

    The whole instance price is divided by the GPU count: CPU and memory ride along with the GPUs. An A100
    (312 TFLOPS, eta 0.87) at 1.29 USD/h is 1.29 / 0.27144 = 4.7524... USD per effective PFLOP-hour.
    """
    spec = gpu_spec(gpu_model, interface=interface, memory_gib=memory_gib)
    if spec is None or gpu_count <= 0:
        return None
    return to_decimal(usd_per_hour) / gpu_count / spec.effective_pflops


def usd_per_tb_s_hour(
    usd_per_hour: Decimal,
    gpu_model: str | None,
    gpu_count: int,
    *,
    interface: str | None = None,
    memory_gib: float | None = None,
) -> Decimal | None:
    """USD per (TB/s of memory bandwidth)-hour: the figure for memory-bound work such as LLM decoding."""
    spec = gpu_spec(gpu_model, interface=interface, memory_gib=memory_gib)
    if spec is None or gpu_count <= 0:
        return None
    return to_decimal(usd_per_hour) / gpu_count / spec.bandwidth_tb_s


# --- Regions: provider names -> Necto vocabulary (tools.request.REGIONS) -------------------------------

# fmt: off
_US_STATES: dict[str, tuple[str, str]] = {  # code -> (name, Necto region)
    "WA": ("washington", "us-west"), "OR": ("oregon", "us-west"), "CA": ("california", "us-west"),
    "NV": ("nevada", "us-west"), "ID": ("idaho", "us-west"), "UT": ("utah", "us-west"),
    "AZ": ("arizona", "us-west"), "MT": ("montana", "us-west"), "WY": ("wyoming", "us-west"),
    "CO": ("colorado", "us-west"), "NM": ("new mexico", "us-west"), "AK": ("alaska", "us-west"),
    "HI": ("hawaii", "us-west"),
    "TX": ("texas", "us-central"), "OK": ("oklahoma", "us-central"), "KS": ("kansas", "us-central"),
    "NE": ("nebraska", "us-central"), "SD": ("south dakota", "us-central"), "ND": ("north dakota", "us-central"),
    "MN": ("minnesota", "us-central"), "IA": ("iowa", "us-central"), "MO": ("missouri", "us-central"),
    "AR": ("arkansas", "us-central"), "LA": ("louisiana", "us-central"), "WI": ("wisconsin", "us-central"),
    "IL": ("illinois", "us-central"), "MI": ("michigan", "us-central"), "IN": ("indiana", "us-central"),
    "OH": ("ohio", "us-east"), "KY": ("kentucky", "us-east"), "TN": ("tennessee", "us-east"),
    "AL": ("alabama", "us-east"), "MS": ("mississippi", "us-east"), "GA": ("georgia", "us-east"),
    "FL": ("florida", "us-east"), "SC": ("south carolina", "us-east"), "NC": ("north carolina", "us-east"),
    "VA": ("virginia", "us-east"), "WV": ("west virginia", "us-east"), "MD": ("maryland", "us-east"),
    "DE": ("delaware", "us-east"), "PA": ("pennsylvania", "us-east"), "NJ": ("new jersey", "us-east"),
    "NY": ("new york", "us-east"), "CT": ("connecticut", "us-east"), "RI": ("rhode island", "us-east"),
    "MA": ("massachusetts", "us-east"), "VT": ("vermont", "us-east"), "NH": ("new hampshire", "us-east"),
    "ME": ("maine", "us-east"), "DC": ("district of columbia", "us-east"),
}
# fmt: on
_US_STATE_NAMES = {name: region for name, region in _US_STATES.values()}

# fmt: off
_COUNTRIES: dict[str, str] = {  # ISO code -> Necto region
    "US": "us", "CA": "ca", "MX": "na",
    "GB": "eu-west", "UK": "eu-west", "IE": "eu-west", "FR": "eu-west", "NL": "eu-west", "BE": "eu-west",
    "LU": "eu-west", "ES": "eu-south", "PT": "eu-south", "IT": "eu-south", "GR": "eu-south", "HR": "eu-south",
    "SI": "eu-south", "MK": "eu-south", "RS": "eu-south", "BG": "eu-south", "MT": "eu-south", "CY": "eu-south",
    "DE": "eu-central", "CH": "eu-central", "AT": "eu-central", "PL": "eu-central", "CZ": "eu-central",
    "SK": "eu-central", "HU": "eu-central", "RO": "eu-central", "UA": "eu-central", "MD": "eu-central",
    "SE": "eu-north", "NO": "eu-north", "FI": "eu-north", "DK": "eu-north", "IS": "eu-north", "EE": "eu-north",
    "LV": "eu-north", "LT": "eu-north", "RU": "eu",
    "JP": "asia-east", "KR": "asia-east", "CN": "asia-east", "HK": "asia-east", "TW": "asia-east",
    "SG": "asia-southeast", "TH": "asia-southeast", "VN": "asia-southeast", "MY": "asia-southeast",
    "ID": "asia-southeast", "PH": "asia-southeast", "IN": "asia-south",
    "AU": "au-southeast", "NZ": "au-southeast", "BR": "sa-east", "AR": "sa-east", "CL": "sa-east",
}
# fmt: on
# fmt: off
_COUNTRY_NAMES: dict[str, str] = {
    "usa": "US", "unitedstates": "US", "canada": "CA", "uk": "GB", "unitedkingdom": "GB", "england": "GB",
    "ireland": "IE", "france": "FR", "netherlands": "NL", "belgium": "BE", "spain": "ES", "portugal": "PT",
    "italy": "IT", "greece": "GR", "germany": "DE", "switzerland": "CH", "austria": "AT", "poland": "PL",
    "czechia": "CZ", "hungary": "HU", "romania": "RO", "bulgaria": "BG", "sweden": "SE", "norway": "NO",
    "finland": "FI", "denmark": "DK", "iceland": "IS", "estonia": "EE", "japan": "JP", "korea": "KR",
    "china": "CN", "taiwan": "TW", "singapore": "SG", "thailand": "TH", "vietnam": "VN", "india": "IN",
    "australia": "AU", "brazil": "BR",
}
# fmt: on
# fmt: off
_CITIES: dict[str, str] = {  # cities met in provider region names -> Necto region
    "kansascity": "us-central", "desmoines": "us-central", "dallas": "us-central", "houston": "us-central",
    "austin": "us-central", "chicago": "us-central", "wichita": "us-central", "omaha": "us-central",
    "newyork": "us-east", "ashburn": "us-east", "atlanta": "us-east", "atl": "us-east", "beltsville": "us-east",
    "charlotte": "us-east", "culpeper": "us-east", "dulles": "us-east", "newark": "us-east", "raleigh": "us-east",
    "miami": "us-east", "boston": "us-east", "secaucus": "us-east", "phoenix": "us-west", "saltlakecity": "us-west",
    "sanjose": "us-west", "losangeles": "us-west", "seattle": "us-west", "portland": "us-west", "denver": "us-west",
    "casper": "us-west", "lasvegas": "us-west", "hillsboro": "us-west",
    "montreal": "ca-central", "toronto": "ca-central", "calgary": "ca", "vancouver": "ca",
    "mtl": "ca-central", "quebec": "ca-central", "ontario": "ca-central",
    "syd": "au-southeast", "sydney": "au-southeast", "tyo": "asia-east", "tokyo": "asia-east",
}
# fmt: on
# Cloud-style names: "<area>-<direction>-<n>" (Lambda, AWS, GCP, Akash "location-region").
# fmt: off
_AREA_DIRECTION: dict[tuple[str, str], str] = {
    ("us", "west"): "us-west", ("us", "east"): "us-east", ("us", "central"): "us-central",
    ("us", "midwest"): "us-central", ("us", "south"): "us-central", ("us", "southwest"): "us-west",
    ("us", "northwest"): "us-west", ("us", "north"): "us-central", ("us", "southeast"): "us-east",
    ("us", "northeast"): "us-east", ("ca", "central"): "ca-central", ("ca", "east"): "ca-central",
    ("ca", "west"): "ca",
    ("eu", "west"): "eu-west", ("eu", "central"): "eu-central", ("eu", "north"): "eu-north",
    ("eu", "south"): "eu-south", ("eu", "east"): "eu-central", ("eu", "southwest"): "eu-south",
    ("europe", "west"): "eu-west", ("europe", "central"): "eu-central", ("europe", "north"): "eu-north",
    ("europe", "south"): "eu-south", ("europe", "east"): "eu-central", ("europe", "southwest"): "eu-south",
    ("asia", "east"): "asia-east", ("asia", "northeast"): "asia-east", ("asia", "southeast"): "asia-southeast",
    ("asia", "south"): "asia-south", ("ap", "northeast"): "asia-east", ("ap", "east"): "asia-east",
    ("ap", "southeast"): "asia-southeast", ("ap", "south"): "asia-south",
    ("australia", "east"): "au-southeast", ("australia", "southeast"): "au-southeast",
    ("au", "southeast"): "au-southeast", ("au", "east"): "au-southeast",
    ("sa", "east"): "sa-east", ("southamerica", "east"): "sa-east",
}
# fmt: on
_CLOUD_STYLE = re.compile(r"^(?:na-|as-|oc-)?([a-z]+)-([a-z]+)(?:-?\d+)?$")


def necto_region(raw: str | None) -> str | None:
    """Map a provider's region name to Necto's vocabulary (``tools.request.REGIONS``), or None if unknown.

    Handles cloud-style names ("us-west-1", "europe-central-1", "asia-northeast-1", Akash's "us-west"),
    RunPod zones ("US-TX-3", "EU-RO-1"), Vast locations ("Michigan, US, NA", "France, FR, EU"), Shadeform
    cities ("kansascity-usa-2", "helsinki-finland-1"), Spheron names ("CANADA-1", "Finland 3", "SYD2") and
    bare ISO country codes ("US", "IS").
    """
    if not raw or not raw.strip():
        return None
    text = raw.strip().lower()
    if text in REGIONS:
        return text
    cloud = _CLOUD_STYLE.match(text)
    if cloud and (cloud.group(1), cloud.group(2)) in _AREA_DIRECTION:
        return _AREA_DIRECTION[(cloud.group(1), cloud.group(2))]

    tokens = [t for t in re.split(r"[\s,_\-.]+", text) if t]
    words = [re.sub(r"\d+$", "", t) for t in tokens]
    words = [w for w in words if w]
    joined = "".join(words)
    us_context = any(w in ("us", "usa") for w in words) or "unitedstates" in joined

    # A US state, by code right after a US token ("us-tx-3") or by name ("Michigan, US, NA").
    for i, word in enumerate(words):
        if word in ("us", "usa") and i + 1 < len(words) and words[i + 1].upper() in _US_STATES:
            return _US_STATES[words[i + 1].upper()][1]
    for word in words:
        if word in _CITIES:
            return _CITIES[word]
    if us_context:
        for name, region in _US_STATE_NAMES.items():
            if name.replace(" ", "") in joined:
                return region
    # RunPod zones: "eu-ro-1", "ap-jp-1", "oc-au-1": area then country code.
    if (
        len(words) >= 2
        and words[0] in ("eu", "eur", "ap", "oc", "na", "sa", "as", "af", "sea")
        and words[1].upper() in _COUNTRIES
    ):
        return _COUNTRIES[words[1].upper()]
    for word in words:
        if word in _COUNTRY_NAMES:
            return _COUNTRIES[_COUNTRY_NAMES[word]]
    if "unitedstates" in joined:
        return "us"
    # Vast puts the country code second to last ("Bavaria, DE, EU"); a bare code ("IS") is the whole name.
    codes = [w.upper() for w in words if len(w) == 2 and w.upper() in _COUNTRIES]
    if len(words) >= 2 and words[-1] in ("na", "eu", "as", "oc", "sa", "af") and len(words[-2]) == 2:
        code = words[-2].upper()
        if code in _COUNTRIES:
            return _COUNTRIES[code]
    if codes:
        return _COUNTRIES[codes[0]]
    return None
