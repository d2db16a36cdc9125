"""What the web chat shows, as pure functions from tool results and events to Markdown.

No Chainlit import here: every function takes the plain dicts that ``tools/agent_tools.py`` and the
service's event bus produce and returns a string, so the chat, the CLI and the tests render the same way.

Security (../shared/specs/security.md rule 1 and 2): the confirmation card is built here from the CARD dict
that code built from the plan, never from the model's text. Anything a remote party can shape (provider
names, notes, image names, bid metadata, log lines, URIs) is untrusted: control characters and Markdown
markup are neutralised and long values are cut before they reach the page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

HOURS_PER_MONTH = 730  # pricing.md: a month is 730 hours
UACT_PER_ACT = 1_000_000
UAKT_PER_AKT = 1_000_000

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")
# Characters that carry Markdown (or HTML) meaning when they reach react-markdown.
_MARKUP = re.compile(r"([\\`*_{}\[\]()<>#+!|~>])")
_SAFE_URI = re.compile(r"^https?://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?(/[A-Za-z0-9._~/%-]*)?$")
_BARE_HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$")
# Terminal colour codes and other ANSI sequences containers print; the ESC alone would be stripped anyway,
# but the "[31m" after it would stay as noise.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
# HTML-ish tags: element props are React text (inert), but a copied line should not carry markup either.
_TAG = re.compile(r"</?[A-Za-z!?][^<>]{0,200}>")

__all__ = [
    "confirmation_card",
    "deployment_heading",
    "deployment_summary",
    "error_text",
    "logs_block",
    "offers_table",
    "plain_text",
    "progress_line",
    "provider_label",
    "recommendation_sentence",
    "safe_text",
    "tool_input",
    "tool_summary",
    "uri_link",
    "safe_href",
    "usd_text",
]


# --------------------------------------------------------------------------------------------- text
def safe_text(value: Any, limit: int = 80) -> str:
    """One line of untrusted text, safe inside Markdown (and a table cell): no controls, no markup."""
    if value is None:
        return ""
    text = _CONTROL.sub("", str(value))
    text = " ".join(text.split())  # newlines would break a table row
    if len(text) > limit:
        text = text[: max(1, limit - 1)].rstrip() + "…"
    return _MARKUP.sub(r"\\\1", text)


def plain_text(value: Any, limit: int = 80) -> str:
    """One line of untrusted text for a custom element's props: no controls, no ANSI codes, no tags.

    Props are rendered by React as text nodes (never as HTML or Markdown), so Markdown characters are inert
    there and stay as written; everything else follows ``safe_text``.
    """
    if value is None:
        return ""
    text = _TAG.sub("", _ANSI.sub("", str(value)))
    text = " ".join(_CONTROL.sub("", text).split())
    if len(text) > limit:
        text = text[: max(1, limit - 1)].rstrip() + "…"
    return text


def _code(value: Any, limit: int = 120) -> str:
    """An inline code span for identifiers (hashes, images, addresses); backticks cannot close it."""
    text = _CONTROL.sub("", str(value))
    text = " ".join(text.split()).replace("`", "'")
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"`{text}`" if text else "—"


def _number(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _usd(value: Any, *, per: str = "") -> str:
    """USD with enough digits to tell cheap offers apart ($0.0123/h) and cents for big amounts."""
    number = _number(value)
    if number is None:
        return "—"
    if number != 0 and abs(number) < 1:
        text = f"{number:.4f}".rstrip("0")
        if len(text.split(".")[1]) < 2:
            text = f"{number:.2f}"
    else:
        text = f"{number:,.2f}"
    return f"${text}{per}"


def usd_text(value: Any, per: str = "") -> str:
    """USD as the table and the card write it (``$0.0123/h``, ``$1,234.50``); ``—`` when unknown."""
    return _usd(value, per=per)


def _plain_number(value: Any, digits: int = 2) -> str:
    number = _number(value)
    if number is None:
        return "—"
    if number == number.to_integral_value():
        return f"{int(number):,}"
    return f"{number:,.{digits}f}".rstrip("0").rstrip(".")


def _micro(value: Any, unit: str, per_unit: int) -> str:
    """An integer micro-denomination amount and its whole-token value: ``5,000,000 uact (5 ACT)``."""
    number = _number(value)
    if number is None:
        return "—"
    whole = number / per_unit
    return f"{int(number):,} u{unit.lower()} ({_plain_number(whole, 6)} {unit})"


# --------------------------------------------------------------------------------------- offers
_COLUMNS = (
    "#",
    "Provider",
    "Source",
    "GPU",
    "vCPU",
    "Mem (GiB)",
    "Region",
    "$/hour",
    "Total",
    "$/PFLOP-h",
    "Uptime",
    "Notes",
)


def _gpu(offer: Mapping[str, Any]) -> str:
    count = _number(offer.get("gpu_count")) or Decimal(0)
    model = offer.get("gpu_model")
    if not model or count <= 0:
        return "—"
    return f"{int(count)}× {safe_text(model, 24)}"


def _uptime(value: Any) -> str:
    number = _number(value)
    if number is None:
        return "—"
    percent = number * 100 if number <= 1 else number  # the service gives a 0-1 fraction
    return f"{percent:.1f}%"


def _offer_notes(offer: Mapping[str, Any]) -> str:
    flags = []
    if offer.get("audited"):
        flags.append("audited")
    notes = offer.get("notes")
    if isinstance(notes, (list, tuple)):
        notes = "; ".join(str(n) for n in notes)
    if offer.get("estimate") and not str(notes or "").lower().startswith("estimate"):
        flags.append("estimate")
    if offer.get("deployable") is False:
        flags.append("not deployable here")
    parts = [safe_text(", ".join(flags), 60)] if flags else []
    if notes:
        # The table must fit the chat column: the first clause only (the full notes stay in the tool step).
        first = str(notes).split(";")[0].split(" (")[0]
        parts.append(safe_text(first, 32))
    return "; ".join(parts) or ""


def _offer_row(rank: int, offer: Mapping[str, Any]) -> list[str]:
    return [
        str(rank),
        safe_text(offer.get("provider"), 40) or "—",
        safe_text(offer.get("source"), 20) or "—",
        _gpu(offer),
        _plain_number(offer.get("cpu")),
        _plain_number(offer.get("memory_gib")),
        safe_text(offer.get("region"), 20) or "—",
        _usd(offer.get("usd_per_hour")),
        _usd(offer.get("usd_total")),
        _usd(offer.get("usd_per_effective_pflop_hour")),
        _uptime(offer.get("uptime")),
        _offer_notes(offer) or " ",
    ]


def offers_table(result: Mapping[str, Any], top: int = 8) -> str:
    """The comparison table for a ``list_providers`` result, then the recommendation and what was skipped."""
    offers = [o for o in result.get("offers") or [] if isinstance(o, Mapping)][:top]
    lines: list[str] = []
    if offers:
        lines.append("| " + " | ".join(_COLUMNS) + " |")
        lines.append(
            "|"
            + "|".join(
                "---:" if c in {"#", "vCPU", "Mem (GiB)", "$/hour", "Total", "$/PFLOP-h", "Uptime"} else "---"
                for c in _COLUMNS
            )
            + "|"
        )
        for rank, offer in enumerate(offers, start=1):
            lines.append("| " + " | ".join(_offer_row(rank, offer)) + " |")
    else:
        lines.append("No offer matches this request. Relax the budget, region or GPU, and ask again.")
    sentence = recommendation_sentence(result)
    if sentence:
        lines += ["", sentence]
    skipped = [s for s in result.get("skipped") or [] if isinstance(s, Mapping)]
    if skipped:
        listed = "; ".join(
            f"{safe_text(s.get('source'), 30)} ({safe_text(s.get('reason'), 80)})" for s in skipped[:6]
        )
        lines += ["", f"_Not compared:_ {listed}."]
    return "\n".join(lines)


def recommendation_sentence(result: Mapping[str, Any]) -> str:
    """One sentence naming the recommended offer, with its price from the offer dict (not the model)."""
    offer = result.get("recommendation")
    if not isinstance(offer, Mapping):
        return ""
    per_hour = _number(offer.get("usd_per_hour"))
    per_month = _usd(per_hour * HOURS_PER_MONTH) if per_hour is not None else "—"
    where = ", ".join(
        x for x in (safe_text(offer.get("source"), 20), safe_text(offer.get("region"), 20)) if x
    )
    sentence = (
        f"**Recommended:** {safe_text(offer.get('provider'), 40) or 'the first offer'}"
        f"{f' ({where})' if where else ''} at {_usd(per_hour, per='/hour')} (about {per_month}/month)"
    )
    if _number(offer.get("usd_total")) is not None:
        sentence += f", {_usd(offer.get('usd_total'))} in total for the requested time"
    sentence += "."
    explanation = result.get("explanation")
    if explanation:
        sentence += " " + safe_text(explanation, 300)
    return sentence


# ---------------------------------------------------------------------------------- the card
_CARD_KNOWN = {
    "action",
    "resources",
    "network",
    "chain_id",
    "owner",
    "dseq",
    "deposit_uact",
    "deposit_usd",
    "deposit_act",
    "max_price_uact_per_block",
    "max_usd_per_hour",
    "max_usd_per_month",
    "provider",
    "provider_rule",
    "images",
    "ports",
    "fee_uakt_max",
    "plan_hash",
    "manifest_hash",
    "messages",
    "plan_id",
    "job_id",
    "workload",
    "expected_usd_per_hour",
    "funded_hours",
    "refund_estimate_act",
    "notes",
    # mint ACT cards
    "burn_uakt",
    "burn_akt",
    "burn_usd",
    "akt_usd",
    "expected_uact",
    "expected_act",
    "min_act",
    "for_plan_id",
}


def _ports(ports: Any) -> str:
    if not ports:
        return "—"
    shown = []
    for port in list(ports)[:12]:
        if isinstance(port, Mapping):
            inner = port.get("port") or port.get("container_port")
            outer = port.get("as") or port.get("external_port")
            proto = port.get("proto") or port.get("protocol")
            text = str(inner)
            if outer and str(outer) != str(inner):
                text += f" → {outer}"
            if port.get("global") is True or port.get("expose_global") is True:
                text += " (public)"
            if proto and str(proto).lower() != "tcp":
                text += f" {proto}"
            shown.append(_code(text, 40))
        else:
            shown.append(_code(port, 40))
    return ", ".join(shown)


def confirmation_card(card: Mapping[str, Any]) -> str:
    """The confirmation card: every number comes from the CARD dict code built for the plan to be signed."""
    action = safe_text(card.get("action") or "signed action", 40)
    rows: list[tuple[str, str]] = []

    def row(label: str, value: str) -> None:
        rows.append((label, value))

    network = safe_text(card.get("network"), 30)
    chain_id = card.get("chain_id")
    row("Network", f"{network or '—'} (chain id {_code(chain_id, 40)})")
    if "owner" in card:
        row("Owner", _code(card.get("owner"), 80))
    if "dseq" in card:
        row("Deployment (dseq)", _code(card.get("dseq"), 30))
    if card.get("job_id"):
        row("Job", _code(card.get("job_id"), 40))
    if card.get("workload"):
        row("Workload", safe_text(card.get("workload"), 40))
    if "dseq" in card:
        provider = safe_text(card.get("provider"), 60) or "best bid"
        if card.get("provider_rule"):
            provider += f" ({safe_text(card.get('provider_rule'), 100)})"
        row("Provider", provider)
    if "burn_uakt" in card:
        row(
            "Burns",
            f"{_micro(card.get('burn_uakt'), 'AKT', UAKT_PER_AKT)} ≈ {_usd(card.get('burn_usd'))} "
            f"at {_usd(card.get('akt_usd'))} per AKT (chain oracle)",
        )
        row(
            "Mints (expected)",
            f"{_micro(card.get('expected_uact'), 'ACT', UACT_PER_ACT)}, at least {_plain_number(card.get('min_act'), 6)}"
            " ACT, credited when the chain settles the mint a few blocks later",
        )
        if card.get("for_plan_id"):
            row("For deployment plan", _code(card.get("for_plan_id"), 40))
    if "deposit_uact" in card or "deposit_usd" in card:
        row(
            "Deposit (escrow)",
            f"{_micro(card.get('deposit_uact'), 'ACT', UACT_PER_ACT)} ≈ {_usd(card.get('deposit_usd'))}",
        )
    if "max_price_uact_per_block" in card:
        row(
            "Max price",
            f"{_plain_number(card.get('max_price_uact_per_block'), 6)} uact per block "
            f"≈ {_usd(card.get('max_usd_per_hour'), per='/hour')} ≈ {_usd(card.get('max_usd_per_month'), per='/month')}",
        )
    if card.get("expected_usd_per_hour") is not None:
        row(
            "Expected price",
            f"≈ {_usd(card.get('expected_usd_per_hour'), per='/hour')} (from the recommended offer)",
        )
    if card.get("funded_hours") is not None:
        row("Deposit lasts", f"about {_plain_number(card.get('funded_hours'), 1)} hours at the max price")
    if "refund_estimate_act" in card:
        refund = card.get("refund_estimate_act")
        row(
            "Refund estimate", f"{_plain_number(refund, 6)} ACT" if _number(refund) is not None else "unknown"
        )
    if card.get("resources"):
        row("Resources", safe_text(card.get("resources"), 200))
    if "images" in card:
        images = card.get("images") or []
        row("Images", ", ".join(_code(i, 100) for i in list(images)[:8]) or "—")
    if "ports" in card:
        row("Ports", _ports(card.get("ports")))
    if "fee_uakt_max" in card:
        row("Fee cap", _micro(card.get("fee_uakt_max"), "AKT", UAKT_PER_AKT))
    # Fields other actions carry (close: refund estimate, ...): shown as given, never dropped.
    for key, value in card.items():
        if key in _CARD_KNOWN or isinstance(value, (Mapping, list, tuple)):
            continue
        label = safe_text(key.replace("_", " ").capitalize(), 40)
        if key.endswith("_usd") or key.startswith("usd_") or "_usd_" in key:
            row(label, _usd(value))
        elif key.endswith("_uact"):
            row(label, _micro(value, "ACT", UACT_PER_ACT))
        elif key.endswith("_uakt"):
            row(label, _micro(value, "AKT", UAKT_PER_AKT))
        else:
            row(label, safe_text(value, 120) or "—")
    notes = card.get("notes")
    if notes:
        items = notes if isinstance(notes, (list, tuple)) else [notes]
        row("Notes", "; ".join(safe_text(n, 160) for n in items[:5]))
    messages = [m for m in card.get("messages") or [] if isinstance(m, Mapping)]
    if messages:
        row("Messages signed", ", ".join(_code(m.get("type_url"), 80) for m in messages[:6]))
    if "manifest_hash" in card:
        row("Manifest hash", _code(card.get("manifest_hash"), 80))
    if card.get("plan_id"):
        row("Plan", _code(card.get("plan_id"), 40))
    row("Plan hash", _code(card.get("plan_hash"), 80))

    lines = [
        f"### Confirm: {action}",
        "",
        "Necto built this from the exact transaction it will sign. Check it, then approve or reject.",
        "",
        "| Field | Value |",
        "|---|---|",
    ]
    lines += [f"| **{label}** | {value} |" for label, value in rows]
    lines += ["", "_Nothing is signed until you press Approve._"]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------- progress
def safe_href(uri: Any) -> str | None:
    """A provider URI as an http(s) link target when it is a plain host (and path); None otherwise."""
    text = _CONTROL.sub("", str(uri or "")).strip()
    if _BARE_HOST.match(text):
        text = f"http://{text}"
    return text if _SAFE_URI.match(text) else None


def uri_link(uri: Any) -> str:
    """A provider URI as a clickable link only when it is a plain http(s) host; otherwise as code."""
    href = safe_href(uri)
    if href is not None:
        return f"[{href}]({href})"
    return _code(_CONTROL.sub("", str(uri or "")).strip(), 120)


def provider_label(value: Any) -> str:
    """A provider name, or its bech32 address shortened (``akash1abcd…wxyz``), as plain text."""
    text = plain_text(value, 200)
    if text.startswith("akash1") and len(text) > 20 and text.isalnum():
        return f"{text[:10]}…{text[-4:]}"
    return plain_text(text, 40)


def _provider_label(value: Any) -> str:
    """A provider name, or its bech32 address shortened to something a person can compare."""
    text = _CONTROL.sub("", str(value or "")).strip()
    if text.startswith("akash1") and len(text) > 20 and text.isalnum():
        return f"{text[:10]}…{text[-4:]}"
    return safe_text(text, 40)


def _bid(bid: Mapping[str, Any]) -> str:
    name = bid.get("provider_name") or bid.get("provider")
    return f"{_provider_label(name) or '?'} {_usd(bid.get('usd_per_hour'), per='/h')}"


def progress_line(event: Mapping[str, Any]) -> str | None:
    """One line for a deploy progress event; None for events the chat does not show."""
    if event.get("kind") not in (None, "progress"):
        return None
    state = str(event.get("state") or "")
    data = event.get("data") if isinstance(event.get("data"), Mapping) else {}
    message = safe_text(event.get("message"), 160)
    provider = _provider_label(data.get("provider_name") or data.get("provider"))
    if state == "plan":
        return f"**Plan** ready. {message}".strip()
    if state == "confirmed":
        return "**Approved**: preparing the transaction."
    if state == "signed":
        return "**Signed** the transaction."
    if state == "broadcast":
        dseq = data.get("dseq")
        tx = data.get("tx_hash") or data.get("txhash")
        extra = f" (dseq {_code(dseq, 30)})" if dseq else ""
        extra += f", tx {_code(tx, 70)}" if tx else ""
        return f"**Broadcast** the deployment{extra}; waiting for bids."
    if state == "bids" and "bids" not in data:
        return f"**Bids**: {message}" if message else None  # "collecting bids", "accepting the bid of ..."
    if state == "bids":
        bids = [b for b in data.get("bids") or [] if isinstance(b, Mapping)]
        shown = ", ".join(_bid(b) for b in bids[:6]) or "none yet"
        more = f" and {len(bids) - 6} more" if len(bids) > 6 else ""
        left = data.get("blocks_left")
        tail = f" ({_plain_number(left)} blocks left)" if left is not None else ""
        return f"**Bids**: {len(bids)} bid{'s' if len(bids) != 1 else ''}: {shown}{more}{tail}"
    if state == "lease":
        if not provider and message:
            return f"**Lease**: {message}"
        price = data.get("usd_per_hour")
        at = f" at {_usd(price, per='/h')}" if price is not None else ""
        return f"**Lease** created with {provider or 'the provider'}{at}."
    if state == "manifest_sent":
        if not provider and message:
            return f"**Manifest**: {message}"
        return f"**Manifest** sent to {provider or 'the provider'}; starting containers."
    if state == "running":
        uris = [u for u in data.get("uris") or []][:4]
        links = ", ".join(uri_link(u) for u in uris)
        return f"**Running** on {provider or 'the provider'}" + (f": {links}" if links else ".")
    if state == "failed":
        return f"**Failed**: deploy failed: {message or 'the provider did not start it'}."
    if state == "closed":
        return f"**Closed** the deployment. {message}".strip()
    return f"**{safe_text(state, 30)}**: {message}" if (state or message) else None


def deployment_heading(card: Mapping[str, Any]) -> str:
    """One line over the web's deployment card element (the element carries the figures)."""
    return (
        f"**Deployment {safe_text(card.get('dseq'), 30)}** (job {_code(card.get('job_id'), 40)}):"
        f" {safe_text(card.get('state'), 20)}, kept up to date below."
    )


def deployment_summary(card: Mapping[str, Any]) -> str:
    """The deployment card as Markdown (the text under the web element, and all Slack/Discord get).

    ``card`` is ``ui.elements.deployment_card_props`` output: figures from the service, never the model.
    """
    uris = [uri_link(u.get("href") or u.get("text")) for u in card.get("uris") or [] if isinstance(u, Mapping)]
    lines = [
        f"**Deployment {safe_text(card.get('dseq'), 30)}**: {safe_text(card.get('state'), 20)}"
        f" on {safe_text(card.get('provider'), 40) or 'no provider yet'}"
        f" (job {_code(card.get('job_id'), 40)}).",
        f"Price {safe_text(card.get('price_text'), 30)}; cost so far {safe_text(card.get('cost_text'), 30)};"
        f" escrow left {safe_text(card.get('escrow_text'), 30)} ({safe_text(card.get('escrow_hours_text'), 30)}).",
    ]
    if uris:
        lines.append("URIs: " + ", ".join(uris[:4]))
    for key in ("warning", "error"):
        if card.get(key):
            lines.append(f"_{safe_text(card.get(key), 200)}_")
    return "\n\n".join(lines)


# ---------------------------------------------------------------------------------- logs
def logs_block(lines: Iterable[Mapping[str, Any]], *, limit: int = 200) -> str:
    """Log lines (untrusted) in one fenced code block that no line can break out of."""
    rendered = []
    for line in list(lines)[-limit:]:
        service = _CONTROL.sub("", str(line.get("service") or "")).strip()[:30]
        message = _CONTROL.sub("", str(line.get("message") or "")).rstrip()[:500]
        rendered.append(f"[{service}] {message}" if service else message)
    body = "\n".join(rendered) if rendered else "(no log lines yet)"
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{body}\n{fence}"


# ---------------------------------------------------------------------------------- steps
def tool_input(args: Mapping[str, Any] | None) -> str:
    """A tool call's arguments as pretty JSON for the step's input pane."""
    shown = {k: v for k, v in (args or {}).items() if k != "tool_context"}
    try:
        return json.dumps(shown, indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(shown)


def tool_summary(name: str, result: Mapping[str, Any] | None) -> str:
    """A short, code-written summary of a tool result for the step's output pane."""
    if not isinstance(result, Mapping):
        return "no result yet"
    status = result.get("status")
    if status == "error":
        hint = result.get("hint")
        return f"Error: {safe_text(result.get('message'), 200)}" + (
            f" {safe_text(hint, 200)}" if hint else ""
        )
    if status == "rejected":
        return "Declined by you; nothing was signed."
    if status == "awaiting_confirmation":
        return f"Waiting for your approval of plan {_code(result.get('plan_id'), 40)}."
    if name == "list_providers":
        offers = result.get("offers") or []
        best = result.get("recommendation")
        text = f"{len(offers)} offer{'s' if len(offers) != 1 else ''} compared"
        if isinstance(best, Mapping):
            text += f"; best: {safe_text(best.get('provider'), 40)} at {_usd(best.get('usd_per_hour'), per='/hour')}"
        return text + "."
    if name == "build_sdl":
        summary = result.get("summary") if isinstance(result.get("summary"), Mapping) else {}
        text = f"Plan {_code(result.get('plan_id'), 40)} built"
        if summary.get("deposit_usd") is not None:
            text += f"; deposit ≈ {_usd(summary.get('deposit_usd'))}"
        if summary.get("max_usd_per_hour") is not None:
            text += f", max {_usd(summary.get('max_usd_per_hour'), per='/hour')}"
        return text + "."
    if name in {"deploy", "close_deployment", "deployment_status"}:
        job = result.get("job") if isinstance(result.get("job"), Mapping) else result
        parts = [f"job {_code(job.get('job_id'), 40)}" if job.get("job_id") else "done"]
        if job.get("state"):
            parts.append(f"state {safe_text(job.get('state'), 20)}")
        if job.get("provider"):
            parts.append(f"provider {safe_text(job.get('provider'), 40)}")
        uris = job.get("uris") or []
        if uris:
            parts.append("at " + ", ".join(uri_link(u) for u in list(uris)[:3]))
        if job.get("refund_act") is not None:
            parts.append(f"refunded {_plain_number(job.get('refund_act'), 6)} ACT")
        elif job.get("refund_usd") is not None:
            parts.append(f"refund ≈ {_usd(job.get('refund_usd'))}")
        return "; ".join(parts) + "."
    if name == "mint_act":
        return safe_text(result.get("message"), 200) or "Minted."
    if name == "normalize_price":
        return (
            f"{_usd(result.get('usd_per_hour'), per='/hour')} = {_usd(result.get('usd_per_month'), per='/month')}"
            f" = {_plain_number(result.get('uact_per_block'), 6)} uact/block."
        )
    if name == "tail_logs":
        return f"{len(result.get('lines') or [])} log lines."
    if name == "list_jobs":
        return f"{len(result.get('jobs') or [])} jobs."
    if name == "record_job":
        return "Recorded."
    return f"Status: {safe_text(status, 30) or 'done'}."


def error_text(what: str, next_step: str = "Try again in a moment.", *, nothing_spent: bool = True) -> str:
    """A sentence for the chat when something failed; never a raw exception or traceback.

    ``nothing_spent=False`` after an approval, when a transaction may have gone out: the sentence then
    does not promise that nothing was signed.
    """
    spent = " Nothing was signed or spent." if nothing_spent else ""
    return f"**Sorry.** {what}{spent} {next_step}"
