"""Props for the chat's custom elements (``public/elements/*.jsx``), built by code from service data.

No Chainlit import: every builder takes the plain dicts the service, the tools and the event bus produce
and returns JSON-ready props, so the tests check exactly what the page receives.

What the page shows is decided here, never by the model (security.md rule 1): the numbers come from the
quote, the bids on chain, the ledger and the provider, and the model's words never reach a prop. Anything a
remote party can shape (provider names, bid metadata, URIs, log lines, cluster events) goes through
``render.plain_text`` (no control characters, ANSI codes or tags, bounded length) and URIs through
``render.safe_href`` (plain http(s) hosts only). The JSX renders props as React text, never as HTML.
Keys never reach props (rule 5): nothing here reads a signer or a secret.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ui.render import plain_text, provider_label, safe_href, usd_text

# The names of the JSX files in public/elements/ (Chainlit loads public/elements/<name>.jsx).
OFFER_TABLE = "OfferTable"
BID_COUNTDOWN = "BidCountdown"
DEPLOYMENT_CARD = "DeploymentCard"
LOG_STREAM = "LogStream"

# Action names the elements call back with (callAction); ui/app.py registers their callbacks.
CLOSE_JOB_ACTION = "necto_close_job"
LOG_ACTION = "necto_logs"

OFFER_SORT_KEYS = ("rank", "usd_per_hour", "usd_per_gpu_hour", "provider", "source", "uptime", "age_s")
LOG_BUFFER_LINES = 200  # the element keeps the newest lines; older ones are dropped (and counted)
LOG_LINE_CHARS = 500
MAX_URIS = 6
MAX_EVENTS = 12
MAX_BIDS_SHOWN = 8  # the cheapest bids (and the chosen one); the element says how many more came in
HOURS_PER_MONTH = 730

__all__ = [
    "BID_COUNTDOWN",
    "CLOSE_JOB_ACTION",
    "DEPLOYMENT_CARD",
    "LOG_ACTION",
    "LOG_STREAM",
    "OFFER_TABLE",
    "BidBoard",
    "LogBuffer",
    "deployment_card_props",
    "offer_table_props",
]


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return float(number) if number.is_finite() else None


def _when(value: Any) -> datetime | None:
    """An ISO-8601 timestamp (``...Z`` or with an offset) as an aware datetime; None when unreadable."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _short_decimal(value: Any, places: int = 4) -> str:
    """A chain decimal (``3.202339000000000000``) to at most ``places`` decimals: ``3.2023``."""
    number = _number(value)
    if number is None:
        return plain_text(value, 30) or "—"
    return f"{number:,.{places}f}".rstrip("0").rstrip(".")


def age_text(seconds: float | None) -> str:
    """``12 s ago``, ``4 min ago``, ``3 h ago``, ``2 d ago`` (the JSX writes the same while it ticks)."""
    if seconds is None:
        return "—"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{int(seconds)} s ago"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} d ago"


# --------------------------------------------------------------------------------------- offers
def _offer_row(rank: int, offer: Mapping[str, Any], *, now: datetime, recommended: str | None) -> dict[str, Any]:
    gpu_count = _number(offer.get("gpu_count")) or 0.0
    gpu_model = plain_text(offer.get("gpu_model"), 24)
    usd_per_hour = _number(offer.get("usd_per_hour"))
    per_gpu = usd_per_hour / gpu_count if usd_per_hour is not None and gpu_count > 0 else None
    observed = _when(offer.get("observed_at"))
    age_s = max(0.0, (now - observed).total_seconds()) if observed is not None else None
    ttl_s = _number(offer.get("ttl_s"))
    uptime = _number(offer.get("uptime"))
    if uptime is not None and uptime > 1:
        uptime = uptime / 100  # a percentage: the service gives a 0-1 fraction, some sources do not
    notes = offer.get("notes")
    if isinstance(notes, (list, tuple)):
        notes = "; ".join(str(n) for n in notes)
    offer_id = plain_text(offer.get("offer_id"), 120) or f"row-{rank}"
    cpu, memory = _number(offer.get("cpu")), _number(offer.get("memory_gib"))
    resources = [f"{int(gpu_count)}× {gpu_model}"] if gpu_model and gpu_count > 0 else []
    resources += [f"{cpu:g} vCPU"] if cpu is not None else []
    resources += [f"{memory:g} GiB"] if memory is not None else []
    flags = [
        flag
        for flag, on in (
            ("audited", offer.get("audited")),
            ("estimate", offer.get("estimate")),
            ("not deployable here", offer.get("deployable") is False),
        )
        if on
    ]
    return {
        "id": offer_id,
        "rank": rank,
        "provider": plain_text(offer.get("provider"), 40) or "—",
        "source": plain_text(offer.get("source"), 24) or "—",
        "region": plain_text(offer.get("region"), 20) or "—",
        "gpu": f"{int(gpu_count)}× {gpu_model}" if gpu_model and gpu_count > 0 else "—",
        "cpu": cpu,
        "memory_gib": memory,
        "resources_text": " · ".join(resources) or "—",
        "usd_per_hour": usd_per_hour,
        "usd_per_gpu_hour": round(per_gpu, 6) if per_gpu is not None else None,
        "usd_total": _number(offer.get("usd_total")),
        # The column headers carry the units ($/hour, $/GPU-h): the cells stay narrow enough for the chat.
        "price_text": usd_text(usd_per_hour),
        "per_gpu_text": usd_text(per_gpu) if per_gpu is not None else "—",
        "total_text": usd_text(offer.get("usd_total")),
        "uptime": uptime,
        "uptime_text": f"{uptime * 100:.1f}%" if uptime is not None else "—",
        "observed_at": observed.isoformat() if observed is not None else None,
        "age_s": round(age_s, 1) if age_s is not None else None,
        "age_text": age_text(age_s),
        "ttl_s": ttl_s,
        # Past its TTL the price may have moved: the row says so (the ranking already discounts it).
        "stale": bool(age_s is not None and ttl_s is not None and age_s > ttl_s),
        "flags": flags,
        "notes": plain_text(notes, 120),
        "recommended": recommended is not None and offer_id == recommended,
    }


def offer_table_props(result: Mapping[str, Any], *, now: datetime | None = None, top: int = 8) -> dict[str, Any]:
    """Props for ``OfferTable.jsx`` from a ``list_providers`` result: the same offers, in the same rank order,
    as the Markdown table (``render.offers_table``), with numeric sort keys and each price's age."""
    now = now or datetime.now(UTC)
    recommendation = result.get("recommendation")
    recommended = (
        plain_text(recommendation.get("offer_id"), 120) if isinstance(recommendation, Mapping) else None
    ) or None
    offers = [o for o in result.get("offers") or [] if isinstance(o, Mapping)][:top]
    rows = [_offer_row(rank, offer, now=now, recommended=recommended) for rank, offer in enumerate(offers, 1)]
    return {
        "rows": rows,
        "sort_keys": list(OFFER_SORT_KEYS),
        "recommended_id": recommended,
        "generated_at": now.isoformat(),
        "offers_total": int(_number(result.get("offers_total")) or len(rows)),
    }


# ----------------------------------------------------------------------------------------- bids
class BidBoard:
    """The live state behind ``BidCountdown.jsx``: folds deploy progress events into countdown props.

    The deadline is the chain's: ``bid_wait_blocks`` blocks after the order opened (each bid event says how
    many blocks are left), bounded by the wall-clock ``bid_deadline_s``. ``now`` is a monotonic clock in
    seconds, passed in so the tests can drive it.
    """

    def __init__(
        self,
        *,
        block_time_s: float | None,
        wait_blocks: int | None,
        deadline_s: float | None,
        now: float,
        names: Mapping[str, str] | None = None,
    ) -> None:
        # Provider names by address, from the quote the user saw (bids on chain carry addresses only).
        self.names = {str(k): str(v) for k, v in (names or {}).items() if k and v}
        self.block_time_s = block_time_s if block_time_s and block_time_s > 0 else None
        self.wait_blocks = wait_blocks
        self.deadline_s = deadline_s
        self.job_id: str | None = None
        self.phase = "waiting"  # waiting -> collecting -> choosing -> leased | failed
        self.opened_at: float | None = None
        self.deadline_at: float | None = None
        self.blocks_left: int | None = None
        self.bids: dict[str, dict[str, Any]] = {}
        self.chosen: str | None = None
        self.chosen_name: str | None = None
        self.message = ""
        self.created = now

    def _open(self, now: float) -> None:
        if self.opened_at is not None:
            return
        self.opened_at = now
        window = None
        if self.block_time_s and self.wait_blocks:
            window = self.block_time_s * self.wait_blocks
        if self.deadline_s:
            window = min(window, self.deadline_s) if window is not None else self.deadline_s
        self.deadline_at = now + window if window is not None else None

    def take(self, event: Any, *, now: float) -> bool:
        """Fold one bus event in; True when the element should be updated."""
        if not isinstance(event, Mapping) or event.get("kind") not in (None, "progress"):
            return False
        job_id = str(event.get("job_id") or "")
        if self.job_id and job_id and job_id != self.job_id:
            return False  # another of this user's jobs
        state = str(event.get("state") or "")
        data = event.get("data") if isinstance(event.get("data"), Mapping) else {}
        if state == "bids":
            self.job_id = self.job_id or job_id or None
            self._open(now)
            if "bids" in data:
                for bid in data.get("bids") or []:
                    if isinstance(bid, Mapping) and bid.get("provider"):
                        self._bid(bid)
                left = _number(data.get("blocks_left"))
                if left is not None:
                    self.blocks_left = max(0, int(left))
                    if self.block_time_s:
                        chain_deadline = now + self.blocks_left * self.block_time_s
                        self.deadline_at = min(self.deadline_at or chain_deadline, chain_deadline)
                if self.phase == "waiting":
                    self.phase = "collecting"
            elif data.get("provider"):  # "Accepting the bid of ..."
                self._choose(data)
                self.phase = "choosing"
            else:
                self.phase = "collecting" if self.phase == "waiting" else self.phase
            self.message = plain_text(event.get("message"), 160)
            return True
        if self.opened_at is None:
            return False  # before the order opened (signing, broadcast): nothing to count down yet
        if state == "lease":
            if data.get("provider"):
                self._choose(data)
            self.phase = "leased"
            self.blocks_left = 0
            self.message = plain_text(event.get("message"), 160)
            return True
        if state in ("failed", "closed") and self.phase not in ("leased",):
            self.phase = "failed"
            self.message = plain_text(event.get("message"), 200)
            return True
        return False

    def _bid(self, bid: Mapping[str, Any]) -> None:
        address = plain_text(bid.get("provider"), 80)
        price = _number(bid.get("uact_per_block"))
        self.bids[address] = {
            "address": address,
            "provider": provider_label(bid.get("provider_name") or self.names.get(address) or address),
            "uact": price,
            "uact_per_block": _short_decimal(bid.get("uact_per_block")),
            "usd_per_hour": _number(bid.get("usd_per_hour")),
        }

    def _choose(self, data: Mapping[str, Any]) -> None:
        self.chosen = plain_text(data.get("provider"), 80)
        self.chosen_name = provider_label(data.get("provider_name") or self.names.get(self.chosen) or self.chosen)

    def seconds_left(self, now: float) -> float | None:
        if self.deadline_at is None or self.phase in ("leased", "failed"):
            return 0.0 if self.phase in ("leased", "failed") else None
        return round(max(0.0, self.deadline_at - now), 1)

    def props(self, *, now: float) -> dict[str, Any]:
        # The chain's own price (uact per block, one denom) orders the bids; USD is its conversion.
        bids = sorted(self.bids.values(), key=lambda b: (b["uact"] is None, b["uact"] or 0.0, b["address"]))
        cheapest = bids[0]["address"] if bids and bids[0]["uact"] is not None else None
        shown = bids[:MAX_BIDS_SHOWN]
        shown += [b for b in bids[MAX_BIDS_SHOWN:] if b["address"] == self.chosen]
        window = None
        if self.opened_at is not None and self.deadline_at is not None:
            window = round(self.deadline_at - self.opened_at, 1)
        return {
            "job_id": self.job_id,
            "phase": self.phase,
            "seconds_left": self.seconds_left(now),
            "window_s": window,
            "blocks_left": self.blocks_left,
            "bids": [
                {
                    **{k: v for k, v in bid.items() if k != "uact"},
                    "usd_per_hour_text": usd_text(bid["usd_per_hour"], per="/h"),
                    "usd_per_month_text": usd_text(
                        bid["usd_per_hour"] * HOURS_PER_MONTH if bid["usd_per_hour"] is not None else None,
                        per="/month",
                    ),
                    "chosen": bid["address"] == self.chosen,
                    "cheapest": bid["address"] == cheapest,
                }
                for bid in shown
            ],
            "bids_total": len(bids),
            "chosen": self.chosen_name,
            "message": self.message,
            # A new value each update: the JSX restarts its local countdown from ``seconds_left``.
            "stamp": round(now - self.created, 3),
        }


# ----------------------------------------------------------------------------------- deployment
_TONES = {
    "running": "ok",
    "failed": "bad",
    "closed": "off",
}


def deployment_card_props(
    job: Mapping[str, Any], *, kube_events: Iterable[Mapping[str, Any]] = (), can_close: bool | None = None
) -> dict[str, Any]:
    """Props for ``DeploymentCard.jsx`` from the service's job view (``service.status(...)["job"]``).

    Every figure is the service's: state, provider, URIs, cost so far (price on the lease x hours running),
    escrow left on chain and the hours it lasts at the lease price. ``kube_events`` are the provider's
    cluster events (``service.lease_events``), if any.
    """
    state = plain_text(job.get("state"), 20) or "unknown"
    uris = []
    for uri in list(job.get("uris") or [])[:MAX_URIS]:
        href = safe_href(uri)
        uris.append({"href": href, "text": plain_text(href or uri, 120)})
    escrow_act = _number(job.get("escrow_left_act"))
    escrow_hours = _number(job.get("escrow_hours_left"))
    events = [e for e in job.get("events") or [] if isinstance(e, Mapping)][-MAX_EVENTS:]
    cluster = [e for e in kube_events if isinstance(e, Mapping)][-MAX_EVENTS:]
    open_states = {"plan", "confirmed", "signed", "broadcast", "bids", "lease", "manifest_sent", "running"}
    return {
        "job_id": plain_text(job.get("job_id"), 40),
        "state": state,
        "tone": _TONES.get(state, "wait"),
        "workload": plain_text(job.get("workload"), 40),
        "network": plain_text(job.get("network"), 30),
        "dseq": plain_text(job.get("dseq"), 30),
        "provider": provider_label(job.get("provider")) or "—",
        "provider_address": plain_text(job.get("provider_address"), 80),
        "uris": uris,
        "usd_per_hour": _number(job.get("usd_per_hour")),
        "price_text": usd_text(job.get("usd_per_hour"), per="/h") if job.get("usd_per_hour") is not None else "—",
        "cost_so_far_usd": _number(job.get("cost_so_far_usd")),
        "cost_text": usd_text(job.get("cost_so_far_usd") or 0),
        "hours_running": _number(job.get("hours_running")),
        "escrow_left_act": escrow_act,
        "escrow_text": f"{escrow_act:,.2f} ACT" if escrow_act is not None else "—",
        "escrow_hours_left": escrow_hours,
        "escrow_hours_text": f"about {escrow_hours:,.1f} h" if escrow_hours is not None else "—",
        "deposit_act": _number(job.get("deposit_act")),
        "refund_act": _number(job.get("refund_act")),
        "warning": plain_text(job.get("warning"), 200),
        "error": plain_text(job.get("error"), 200),
        "events": [
            {"state": plain_text(e.get("state"), 20), "message": plain_text(e.get("message"), 200),
             "at": plain_text(e.get("at"), 40)}
            for e in events
        ],
        "kube_events": [
            {"type": plain_text(e.get("type"), 16), "reason": plain_text(e.get("reason"), 40),
             "note": plain_text(e.get("note"), 200), "object": plain_text(e.get("object_name"), 80),
             "service": plain_text(e.get("service"), 40)}
            for e in cluster
        ],
        "can_close": state in open_states if can_close is None else bool(can_close),
        "close_action": CLOSE_JOB_ACTION,
        "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


# ----------------------------------------------------------------------------------------- logs
class LogBuffer:
    """The newest ``limit`` log lines of one stream, sanitised on the way in; the source of ``LogStream`` props."""

    def __init__(self, limit: int = LOG_BUFFER_LINES) -> None:
        self.lines: deque[dict[str, str]] = deque(maxlen=limit)
        self.dropped = 0
        self.services: set[str] = set()

    def add(self, line: Any) -> bool:
        if not isinstance(line, Mapping):
            return False
        service = plain_text(line.get("service"), 40)
        if len(self.lines) == self.lines.maxlen:
            self.dropped += 1
        self.lines.append({"service": service, "text": plain_text(line.get("message"), LOG_LINE_CHARS)})
        if service:
            self.services.add(service)
        return True

    def clear(self) -> None:
        self.lines.clear()
        self.dropped = 0

    def props(
        self,
        *,
        stream_id: str,
        job_id: str,
        following: bool,
        service_filter: str | None,
        services: Iterable[str] = (),
        note: str = "",
    ) -> dict[str, Any]:
        known = sorted({plain_text(s, 40) for s in services if s} | self.services)
        return {
            "stream_id": stream_id,
            "job_id": plain_text(job_id, 40),
            "lines": list(self.lines),
            "dropped": self.dropped,
            "following": following,
            "services": known,
            "filter": plain_text(service_filter, 40) or None,
            "note": plain_text(note, 200),
            "action": LOG_ACTION,
            "stamp": time.monotonic(),
        }
