"""Tool results as bot messages that Slack (mrkdwn) and Discord (Markdown) both show well.

Pure functions from the tool result dicts to text; no Chainlit import. Neither client renders Markdown
tables, so offers are a fixed-width table inside a code block, jobs a bullet list. Everything a remote
party can shape (provider names, regions, log lines, URIs) is untrusted (security.md rule 2): control and
ANSI codes go, markup characters go from labels, ``&``/``<``/``>`` are escaped for Slack (which would
otherwise read ``<!channel>`` as a mention) and ``@`` is defused for Discord (``@everyone``). Messages are
cut to what the platform accepts (a Slack section: 3,000 characters; a Discord message: 2,000).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

Dialect = Literal["slack", "discord"]

HOURS_PER_MONTH = 730  # pricing.md
MAX_CHARS: dict[str, int] = {"slack": 2900, "discord": 1900}
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")
_LABEL_MARKUP = re.compile(r"[`*_~|<>\[\]{}#\\]")
_SAFE_URL = re.compile(r"^https?://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?(/[A-Za-z0-9._~/%-]*)?$")
_BARE_HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$")


# ---------------------------------------------------------------------------------------- text
def _platform_safe(text: str, dialect: Dialect) -> str:
    if dialect == "slack":
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("@", "@\u200b")  # Discord pings @everyone/@here/<@id> in any message text


def _label(value: Any, limit: int) -> str:
    if value is None:
        return ""
    text = _CONTROL.sub("", _ANSI.sub("", str(value)))
    text = " ".join(_LABEL_MARKUP.sub("", text).split())
    if len(text) > limit:
        text = text[: max(1, limit - 1)].rstrip() + "…"
    return text


def clean(value: Any, limit: int, dialect: Dialect) -> str:
    """One line of untrusted text as a label: no controls, no markup characters, at most ``limit`` chars."""
    return _platform_safe(_label(value, limit), dialect)


def code_line(value: Any, limit: int, dialect: Dialect) -> str:
    """A line for inside a code block: no controls or ANSI codes, no backticks (they would end the block)."""
    text = _CONTROL.sub("", _ANSI.sub("", str(value or ""))).replace("`", "'").replace("\t", "  ").rstrip()
    if len(text) > limit:
        text = text[: max(1, limit - 1)] + "…"
    return _platform_safe(text, dialect)


def bold(text: str, dialect: Dialect) -> str:
    return f"*{text}*" if dialect == "slack" else f"**{text}**"


def ident(value: Any) -> str:
    """A Necto id (job, plan, dseq) as inline code; ids are Necto's own, but keep them tame anyway."""
    text = re.sub(r"[^A-Za-z0-9_.:-]", "", str(value or ""))[:64]
    return f"`{text}`" if text else "—"


def link(url: str, label: str, dialect: Dialect) -> str:
    if dialect == "slack":
        return f"<{url}|{label}>"
    return f"[{label}](<{url}>)"  # <...> keeps Discord from unfurling a preview of the link


def safe_url(uri: Any) -> str | None:
    """A provider URI as an http(s) URL when it is a plain host (and path); None otherwise."""
    text = _CONTROL.sub("", str(uri or "")).strip()
    if _BARE_HOST.match(text):
        text = f"http://{text}"
    return text if _SAFE_URL.match(text) else None


def fit(text: str, dialect: Dialect) -> str:
    """Cut a message to what the platform accepts, closing a code block the cut left open."""
    limit = MAX_CHARS[dialect]
    if len(text) <= limit:
        return text
    cut = text[: limit - 40].rstrip()
    if cut.count("```") % 2:
        cut += "\n```"
    return cut + "\n… (cut; the web chat shows everything)"


def _number(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def usd(value: Any, per: str = "") -> str:
    number = _number(value)
    if number is None:
        return "—"
    if number != 0 and abs(number) < 1:
        text = f"{number:.4f}".rstrip("0")
        text = f"{number:.2f}" if len(text.split(".")[1]) < 2 else text
    else:
        text = f"{number:,.2f}"
    return f"${text}{per}"


# ---------------------------------------------------------------------------------------- quotes
def _gpu(offer: Mapping[str, Any], dialect: Dialect) -> str:
    count = _number(offer.get("gpu_count")) or Decimal(0)
    model = offer.get("gpu_model")
    return f"{int(count)}x{clean(model, 10, dialect)}" if model and count > 0 else "-"


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in [header, *rows]]
    return "```\n" + "\n".join(lines) + "\n```"


def quote_text(result: Mapping[str, Any], dialect: Dialect, top: int = 6, *, next_step: bool = True) -> str:
    """The offer comparison (``list_providers``) as a compact fixed-width table and the recommendation."""
    offers = [o for o in result.get("offers") or [] if isinstance(o, Mapping)][:top]
    if not offers:
        return "No offer matches this request. Relax the budget, region or GPU, and ask again."
    rows = [
        [str(rank), clean(o.get("provider"), 18, dialect),
         clean(o.get("source"), 10, dialect),
         _gpu(o, dialect), usd(o.get("usd_per_hour")), usd(o.get("usd_total")),
         clean(o.get("region"), 10, dialect) or "-"]
        for rank, o in enumerate(offers, start=1)
    ]
    parts = [bold(f"{len(offers)} best offers", dialect),
             _table(rows, ["#", "Provider", "Source", "GPU", "$/hour", "Total", "Region"])]
    best = result.get("recommendation")
    if isinstance(best, Mapping):
        per_hour = _number(best.get("usd_per_hour"))
        month = usd(per_hour * HOURS_PER_MONTH) if per_hour is not None else "—"
        where = ", ".join(x for x in (clean(best.get("source"), 20, dialect), clean(best.get("region"), 20, dialect)) if x)
        line = (f"{bold('Recommended:', dialect)} {clean(best.get('provider'), 40, dialect) or 'the first offer'}"
                f"{f' ({where})' if where else ''} at {usd(per_hour, '/hour')} (about {month}/month)")
        if _number(best.get("usd_total")) is not None:
            line += f", {usd(best.get('usd_total'))} in total"
        parts.append(line + ".")
    if next_step:
        parts.append("Say “deploy it” to get a link that opens the plan in the web chat for approval.")
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------- jobs
def _job_line(job: Mapping[str, Any], dialect: Dialect) -> str:
    bits = [f"{ident(job.get('job_id'))} {bold(clean(job.get('state'), 20, dialect) or '?', dialect)}"]
    what = clean(job.get("workload"), 20, dialect)
    provider = clean(job.get("provider"), 30, dialect)
    if what or provider:
        bits.append(f"{what or 'job'}{f' on {provider}' if provider else ''}")
    if _number(job.get("usd_per_hour")) is not None:
        bits.append(usd(job.get("usd_per_hour"), "/hour"))
    urls = [u for u in (safe_url(x) for x in list(job.get("uris") or [])[:2]) if u]
    if urls:
        bits.append(" ".join(urls))
    return "• " + " · ".join(bits)


def jobs_text(result: Mapping[str, Any], dialect: Dialect, top: int = 10) -> str:
    jobs = [j for j in result.get("jobs") or [] if isinstance(j, Mapping)]
    if not jobs:
        return "You have no jobs yet. Ask for a quote, e.g. “compare prices for one H100 for 10 hours”."
    lines = [bold(f"Your jobs ({len(jobs)})", dialect)] + [_job_line(j, dialect) for j in jobs[:top]]
    if len(jobs) > top:
        lines.append(f"… and {len(jobs) - top} more.")
    return "\n".join(lines)


def status_text(result: Mapping[str, Any], dialect: Dialect) -> str:
    job = result.get("job") if isinstance(result.get("job"), Mapping) else result
    lines = [f"{bold('Job', dialect)} {ident(job.get('job_id'))}: {bold(clean(job.get('state'), 20, dialect) or '?', dialect)}"]
    if job.get("provider"):
        lines.append(f"• Provider: {clean(job.get('provider'), 40, dialect)}")
    if job.get("dseq"):
        lines.append(f"• Deployment: dseq {ident(job.get('dseq'))}")
    urls = [u for u in (safe_url(x) for x in list(job.get("uris") or [])[:4]) if u]
    if urls:
        lines.append("• Open: " + " ".join(urls))
    if _number(job.get("usd_per_hour")) is not None:
        lines.append(f"• Price: {usd(job.get('usd_per_hour'), '/hour')}; so far {usd(job.get('cost_so_far_usd'))}")
    if job.get("escrow_left_act") is not None:
        hours = job.get("escrow_hours_left")
        lines.append(f"• Escrow left: {clean(job.get('escrow_left_act'), 20, dialect)} ACT"
                     + (f" (about {clean(hours, 12, dialect)} hours)" if hours is not None else ""))
    for key in ("warning", "error", "provider_note"):
        if job.get(key):
            lines.append(f"• {clean(job.get(key), 300, dialect)}")
    return "\n".join(lines)


def logs_text(result: Mapping[str, Any], dialect: Dialect, lines: int = 20) -> str:
    """The last ``lines`` log lines, sanitised and cut, in one code block (log text is untrusted data)."""
    rows = [x for x in result.get("lines") or [] if isinstance(x, Mapping)]
    shown = rows[-lines:]
    header = f"{bold('Logs', dialect)} of {ident(result.get('job_id'))} (last {len(shown)} of {len(rows)} lines)"
    body = []
    for row in shown:
        service = clean(row.get("service"), 20, dialect)
        message = code_line(row.get("message"), 160, dialect)
        body.append(f"[{service}] {message}" if service else message)
    block = "```\n" + ("\n".join(body) if body else "(no log lines yet)") + "\n```"
    text = header + "\n" + block
    while len(text) > MAX_CHARS[dialect] and len(body) > 1:  # keep the newest lines that fit
        body = body[1:]
        text = header + "\n```\n" + "\n".join(body) + "\n```"
    return text


def error_text(result: Mapping[str, Any], dialect: Dialect) -> str:
    message = clean(result.get("message"), 300, dialect) or "That request failed on Necto's side."
    hint = clean(result.get("hint"), 300, dialect)
    return f"{bold('Sorry.', dialect)} {message}" + (f" {hint}" if hint else "")


# ---------------------------------------------------------------------------------------- hand-off
def handoff_text(card: Mapping[str, Any], url: str, dialect: Dialect, ttl_s: int) -> str:
    """The short summary a bot sends with a hand-off link; the full card is shown only in the web chat."""
    action = clean(card.get("action"), 40, dialect) or "this action"
    facts = []
    for key, label in (("provider", "provider"), ("deposit_usd", "deposit"), ("max_usd_per_hour", "at most")):
        value = card.get(key)
        if value is None or value == "":
            continue
        shown = usd(value, "/hour" if key == "max_usd_per_hour" else "") if key != "provider" else clean(value, 40, dialect)
        facts.append(f"{label} {shown}")
    minutes = max(1, ttl_s // 60)
    return "\n".join([
        f"{bold('Approval needed:', dialect)} {action}" + (f" ({'; '.join(facts)})" if facts else "") + ".",
        "Bots cannot show a trustworthy confirmation, so nothing was signed here.",
        f"{link(url, 'Open the plan in the web chat', dialect)} to check the full card and approve it "
        f"(the link is yours alone, works once, for {minutes} minutes).",
    ])


def plain_reply(text: str, dialect: Dialect) -> str:
    """The agent's own words (Markdown) as bot text: sanitised, ``**bold**`` as Slack's ``*bold*``."""
    cleaned = "\n".join(_CONTROL.sub("", _ANSI.sub("", line)).rstrip() for line in str(text or "").splitlines())
    cleaned = _platform_safe(cleaned, dialect)
    if dialect == "slack":
        cleaned = re.sub(r"\*\*(.+?)\*\*", r"*\1*", cleaned)
    return cleaned.strip()


def join(parts: Iterable[str]) -> str:
    return "\n\n".join(p for p in parts if p)
