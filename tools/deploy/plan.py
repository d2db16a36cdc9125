"""Deploy plans: everything that will be signed, computed and stored by code before the user is asked.

A plan fixes the SDL, the manifest hash, the dseq, the deposit and the max price per block, and the exact
TxBody bytes of MsgCreateDeployment. The confirmation card is rendered from those bytes (security.md
rule 1) and the plan hash covers them, so approving a card approves exactly one transaction body.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import secrets
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

from tools.errors import BudgetExceeded
from tools.request import HOURS_PER_MONTH

MICRO = Decimal(1_000_000)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(6)}"


def usd_per_hour_to_uact_per_block(usd_per_hour: Decimal, block_time_s: Decimal) -> Decimal:
    """Inverse of pricing.md §2 for ACT (1 ACT = 1 USD): uact/block = usd/h * 10^6 * T / 3600, kept exact
    (not rounded to an integer like ``block_price_from_usd_per_hour``): caps carry fractional uact."""
    return usd_per_hour * MICRO * block_time_s / Decimal(3600)


def uact_per_block_to_usd_per_hour(uact_per_block: Decimal, block_time_s: Decimal) -> Decimal:
    """pricing.md §2 for ACT (1 ACT = 1 USD); the one formula lives in tools.pricing.normalize."""
    from tools.pricing.normalize import usd_per_hour_from_block_price

    return usd_per_hour_from_block_price(uact_per_block, "uact", block_time_s=block_time_s)


def blocks_for_hours(hours: Decimal, block_time_s: Decimal) -> int:
    return math.ceil(hours * Decimal(3600) / block_time_s)


@dataclass(frozen=True)
class PlanPricing:
    """The money side of a deploy plan, all integers in uact except the per-block cap (a decimal)."""

    max_price_uact_per_block: Decimal
    max_usd_per_hour: Decimal
    deposit_uact: int
    expected_usd_per_hour: Decimal | None
    funded_hours: Decimal
    notes: tuple[str, ...]


def price_plan(
    *,
    expected_usd_per_hour: Decimal | None,
    max_usd_per_hour: Decimal | None,
    hours: Decimal,
    block_time_s: Decimal,
    min_deposit_uact: int,
    max_deposit_uact: int,
    max_price_uact_per_block: int,
) -> PlanPricing:
    """Pick the max price per block and the escrow deposit (pure).

    The max price is the user's budget when given; otherwise 1.5x the expected price (bids cluster
    around the estimate and a tight cap is the main reason for "no bids", akash.md §8), with a floor
    of 1 uact/block. The deposit funds the requested hours at the max price, within the caps.
    """
    notes: list[str] = []
    if max_usd_per_hour is not None:
        cap = usd_per_hour_to_uact_per_block(max_usd_per_hour, block_time_s)
        if expected_usd_per_hour is not None and expected_usd_per_hour > max_usd_per_hour:
            notes.append(
                f"Your budget (${max_usd_per_hour:.4f}/h) is below the expected price "
                f"(${expected_usd_per_hour:.4f}/h): bids may not come."
            )
    elif expected_usd_per_hour is not None:
        cap = usd_per_hour_to_uact_per_block(expected_usd_per_hour * Decimal("1.5"), block_time_s)
    else:
        cap = Decimal(max_price_uact_per_block)
        notes.append("No price estimate was available: the cap is your max price setting.")
    cap = max(Decimal(1), cap.quantize(Decimal("0.001"), rounding=ROUND_CEILING))
    if cap > max_price_uact_per_block:
        limit_usd = uact_per_block_to_usd_per_hour(Decimal(max_price_uact_per_block), block_time_s)
        raise BudgetExceeded(
            f"This would allow up to {cap} uact per block, above your cap of {max_price_uact_per_block} "
            f"(about ${limit_usd:.2f}/hour).",
            hint="Ask for less (smaller GPU or fewer GPUs), or raise NECTO_MAX_PRICE_UACT_PER_BLOCK.",
        )
    deposit = math.ceil(cap * blocks_for_hours(hours, block_time_s))
    funded_hours = hours
    if deposit < min_deposit_uact:
        deposit = min_deposit_uact
    if deposit > max_deposit_uact:
        deposit = max_deposit_uact
        funded_hours = (Decimal(deposit) / cap * block_time_s / Decimal(3600)).quantize(Decimal("0.1"))
        notes.append(
            f"The deposit is capped at {Decimal(deposit) / MICRO} ACT, which covers about {funded_hours} hours at "
            "the max price; top it up later to keep it running."
        )
    else:
        funded_hours = min(hours, (Decimal(deposit) / cap * block_time_s / Decimal(3600)).quantize(Decimal("0.1")))
    return PlanPricing(
        max_price_uact_per_block=cap,
        max_usd_per_hour=uact_per_block_to_usd_per_hour(cap, block_time_s),
        deposit_uact=deposit,
        expected_usd_per_hour=expected_usd_per_hour,
        funded_hours=funded_hours,
        notes=tuple(notes),
    )


def plan_hash(body: dict[str, Any], tx_body: bytes) -> str:
    """sha256 over the canonical plan JSON and the exact TxBody bytes."""
    digest = hashlib.sha256()
    digest.update(canonical_json(body).encode())
    digest.update(b"\x00")
    digest.update(tx_body)
    return digest.hexdigest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode())


def money(value: Decimal, places: str = "0.000001") -> str:
    return str(value.quantize(Decimal(places)))


def _filters_phrase(filters: dict[str, Any]) -> str:
    from tools.pricing.rank import OfferFilters, describe_filters

    return describe_filters(OfferFilters.model_validate(filters))


def deploy_card(body: dict[str, Any], messages: list[dict[str, Any]], plan_id: str, digest: str) -> dict[str, Any]:
    """The confirmation card, from the stored plan and the decoded TxBody (never from model text)."""
    cap = Decimal(body["max_price_uact_per_block"])
    usd_h = Decimal(body["max_usd_per_hour"])
    return {
        "action": "create deployment",
        "plan_id": plan_id,
        "network": body["network"],
        "chain_id": body["chain_id"],
        "owner": body["owner_address"],
        "dseq": body["dseq"],
        "deposit_uact": body["deposit_uact"],
        "deposit_act": money(Decimal(body["deposit_uact"]) / MICRO),
        "deposit_usd": money(Decimal(body["deposit_uact"]) / MICRO, "0.01"),
        "max_price_uact_per_block": str(cap),
        "max_usd_per_hour": money(usd_h, "0.0001"),
        "max_usd_per_month": money(usd_h * HOURS_PER_MONTH, "0.01"),
        "expected_usd_per_hour": body.get("expected_usd_per_hour"),
        "funded_hours": body["funded_hours"],
        "provider": (
            f"{body['preferred_provider_name']} preferred (expected)"
            if body.get("preferred_provider_name")
            else "best bid at or under the max price"
        ),
        "provider_rule": "the lease goes to the best-ranked bid at or under the max price"
        + (f" that passes your filters ({_filters_phrase(body['filters'])})" if body.get("filters") else ""),
        "resources": body.get("resources", ""),
        "tracking": (
            f"tracked: recorded in the {body.get('tracking') or 'ComputeRouter contract'}"
            if body.get("tracked") else "untracked (Necto's ledger only)"
        ),
        **(
            {"routing_decision_hash": body["routing_decision"]["decision_hash"]}
            if body.get("routing_decision") else {}
        ),
        "images": [s["image"] for s in body["services"]],
        "ports": [p for s in body["services"] for p in s["ports"]],
        "workload": body["workload"],
        "fee_uakt_max": body["fee_uakt_max"],
        "manifest_hash": body["manifest_hash"],
        "plan_hash": digest,
        "messages": messages,
        "notes": body.get("notes", []),
        **rail_fields(body, messages),
    }


# --- console rail: the card says who pays, read from the decoded request it approves -----------------------
SELF_RAIL = "self-custody: your key signs and pays in ACT"
CONSOLE_RAIL = "Akash Console managed wallet: Console signs and pays network fees, billed in USD to your Console credit"


def rail_fields(body: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The payment rail line (and, on the Console rail, what differs: Console picks the dseq and pays the fee;
    the card shows the sha256 of the SDL Console receives). A Console request whose deposit differs from the
    plan's is refused, never shown."""
    from tools.errors import PolicyDenied

    console = next((m for m in messages if m.get("rail") == "console"), None)
    if console is None:
        return {"payment_rail": SELF_RAIL}
    fields = console.get("fields") or {}
    extra: dict[str, Any] = {"payment_rail": CONSOLE_RAIL, "fee_uakt_max": 0}
    if "sdl_sha256" in fields:
        if Decimal(str(fields.get("deposit_usd"))) != Decimal(body["deposit_uact"]) / MICRO:
            raise PolicyDenied("The Console request does not match its plan's deposit; it will not be sent.",
                               hint="Ask again for a fresh plan.")
        extra.update(dseq="assigned by Console on approval", sdl_sha256=fields["sdl_sha256"])
    return extra


def close_card(body: dict[str, Any], messages: list[dict[str, Any]], plan_id: str, digest: str) -> dict[str, Any]:
    return {
        "action": "close deployment",
        "plan_id": plan_id,
        "network": body["network"],
        "chain_id": body["chain_id"],
        "owner": body["owner_address"],
        "dseq": body["dseq"],
        "job_id": body["job_id"],
        "provider": body.get("provider_name") or body.get("provider") or "-",
        "refund_estimate_act": body.get("refund_estimate_act"),
        "fee_uakt_max": body["fee_uakt_max"],
        "plan_hash": digest,
        "messages": messages,
        **rail_fields(body, messages),
    }


MINT_TYPE_URL = "/akash.bme.v1.MsgMintACT"


def mint_card(body: dict[str, Any], messages: list[dict[str, Any]], plan_id: str, digest: str) -> dict[str, Any]:
    """The mint card. The burn and the owner are read from the decoded MsgMintACT bytes and must equal the
    plan's: a card that disagrees with the bytes to be signed is refused, never shown."""
    from tools.errors import PolicyDenied

    fields = messages[0].get("fields", {}) if len(messages) == 1 and messages[0].get("type_url") == MINT_TYPE_URL else {}
    coin = fields.get("coins_to_burn") or {}
    if (
        not fields
        or coin.get("denom") != "uakt"
        or str(coin.get("amount")) != str(body["burn_uakt"])
        or fields.get("owner") != body["owner_address"]
        or fields.get("to") != fields.get("owner")
    ):
        raise PolicyDenied("The mint transaction does not match its plan; it will not be signed.",
                           hint="Ask again for a fresh mint plan.")
    burn = Decimal(str(coin["amount"]))
    return {
        "action": "mint ACT",
        "plan_id": plan_id,
        "network": body["network"],
        "chain_id": body["chain_id"],
        "owner": fields["owner"],
        "burn_uakt": int(burn),
        "burn_akt": money(burn / MICRO),
        "burn_usd": body["usd_value"],
        "akt_usd": body["akt_usd"],
        "expected_uact": body["expected_uact"],
        "expected_act": money(Decimal(body["expected_uact"]) / MICRO),
        "min_act": money(Decimal(body["target_uact"]) / MICRO),
        "for_plan_id": body.get("for_plan_id"),
        "fee_uakt_max": body["fee_uakt_max"],
        "plan_hash": digest,
        "messages": messages,
        "notes": body.get("notes", []),
    }


CERTIFICATE_TYPE_URL = "/akash.cert.v1.MsgCreateCertificate"


def certificate_card(body: dict[str, Any], messages: list[dict[str, Any]], plan_id: str, digest: str) -> dict[str, Any]:
    """The card for publishing an mTLS client certificate. Owner and certificate are read from the decoded
    MsgCreateCertificate bytes and must equal the plan's (the certificate's sha256 fingerprint)."""
    import hashlib

    from tools.errors import PolicyDenied

    ok = len(messages) == 1 and messages[0].get("type_url") == CERTIFICATE_TYPE_URL
    fields = messages[0].get("fields", {}) if ok else {}
    cert_pem = str(fields.get("cert") or "")
    if (
        not fields
        or fields.get("owner") != body["owner_address"]
        or hashlib.sha256(cert_pem.encode()).hexdigest() != body["cert_pem_sha256"]
    ):
        raise PolicyDenied("The certificate transaction does not match its plan; it will not be signed.",
                           hint="Ask again for a fresh certificate plan.")
    return {
        "action": "publish certificate",
        "plan_id": plan_id,
        "network": body["network"],
        "chain_id": body["chain_id"],
        "owner": fields["owner"],
        "serial": body["serial"],
        "fingerprint": body["fingerprint"],
        "not_after": body["not_after"],
        "fee_uakt_max": body["fee_uakt_max"],
        "plan_hash": digest,
        "messages": messages,
        "notes": [
            "Publishes a public client certificate (no funds move; only the network fee). Providers that "
            "accept only mTLS check it against the chain; its private key stays in Necto's key directory."
        ],
    }


def describe_resources(groups: list[dict[str, Any]]) -> str:
    """What is being bought, read from the group specs that go on chain: "1 x (1 CPU, 2 GiB RAM, 10 GiB disk,
    2x a100)"."""
    units = []
    for group in groups:
        for unit in group.get("resources", []):
            resource = unit.get("resource", {})
            cpu = int(resource.get("cpu", {}).get("units", {}).get("val", "0")) / 1000
            memory = int(resource.get("memory", {}).get("size", {}).get("val", "0")) / 2**30
            disk = sum(int(s.get("size", {}).get("val", "0")) for s in resource.get("storage", [])) / 2**30
            parts = [f"{cpu:g} CPU", f"{memory:g} GiB RAM", f"{disk:g} GiB disk"]
            gpus = int(resource.get("gpu", {}).get("units", {}).get("val", "0"))
            if gpus:
                models = sorted({
                    a.get("key", "").split("/model/")[1].split("/")[0]
                    for a in resource.get("gpu", {}).get("attributes", [])
                    if "/model/" in a.get("key", "")
                }) or ["any"]
                parts.append(f"{gpus}x {'/'.join(models)} GPU")
            units.append(f"{unit.get('count', 1)} x ({', '.join(parts)})")
    return "; ".join(units)


def card_text(card: dict[str, Any]) -> str:
    """A plain-text rendering of a card (ADK confirmation hint, CLI, bots)."""
    if card["action"] == "mint ACT":
        return (
            f"Mint ACT on {card['network']} ({card['chain_id']}): burn {card['burn_akt']} AKT "
            f"(${card['burn_usd']} at the oracle's ${card['akt_usd']}/AKT) for about {card['expected_act']} ACT "
            f"(at least {card['min_act']} ACT), credited when the chain settles the mint a few blocks later. "
            f"Fee at most {card['fee_uakt_max']} uakt. Plan {card['plan_hash'][:12]}."
        )
    if card["action"] == "publish certificate":
        return (
            f"Publish mTLS client certificate {card['serial']} for {card['owner']} on {card['network']} "
            f"({card['chain_id']}), valid until {card['not_after']}, fingerprint {card['fingerprint'][:16]}... "
            f"No funds move. Fee at most {card['fee_uakt_max']} uakt. Plan {card['plan_hash'][:12]}."
        )
    if card["action"] == "close deployment":
        return (
            f"Close deployment {card['dseq']} ({card['provider']}) on {card['network']} ({card['chain_id']}). "
            f"Unused deposit is refunded (estimate {card.get('refund_estimate_act') or '?'} ACT). "
            f"Fee at most {card['fee_uakt_max']} uakt. Plan {card['plan_hash'][:12]}."
            + (f" Paid via {card['payment_rail']}." if card.get("payment_rail") else "")
        )
    return (
        f"Create deployment {card['dseq']} on {card['network']} ({card['chain_id']}): "
        f"{', '.join(card['images'])} on {card.get('resources') or 'the template resources'}, ports {', '.join(str(p['port']) + '->' + str(p['as']) for p in card['ports']) or 'none'}. "
        f"Deposit {card['deposit_act']} ACT (${card['deposit_usd']}), max price {card['max_price_uact_per_block']} uact/block "
        f"(${card['max_usd_per_hour']}/h, ${card['max_usd_per_month']}/month). Provider: {card['provider']}. "
        f"Fee at most {card['fee_uakt_max']} uakt. Plan {card['plan_hash'][:12]}."
        + (f" Paid via {card['payment_rail']}." if card.get("payment_rail") else "")
    )
