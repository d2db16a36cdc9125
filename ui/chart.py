"""Price versus performance as an SVG scatter plot, drawn by code from the ranked offers.

Pure function, no Chainlit import, deterministic output (same offers -> same bytes), so the chat, the CLI
and the tests agree. x = USD per hour (log scale when prices span more than a factor of 8), y = sustained
performance: effective dense BF16 PFLOPS for GPU offers (count x eta x peak, tools.pricing.gpus), vCPUs
for CPU-only requests. The recommended offer is ringed; the cheapest per unit of performance lies toward
the upper left. Every label comes from provider data, so it is XML-escaped and cut.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 640, 360
LEFT, RIGHT, TOP, BOTTOM = 64, 170, 28, 48
MAX_POINTS = 80
MIN_DISTINCT_POINTS = 3
# Colour per source family (colour-blind-safe Okabe-Ito palette); anything else is grey.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
OTHER = "#999999"


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _label(value: Any, limit: int = 24) -> str:
    text = " ".join(str(value or "").split())
    return escape(text[:limit] + ("…" if len(text) > limit else ""), {'"': "&quot;"})


def _family(source: str) -> str:
    """``skypilot:runpod`` -> ``runpod`` (the cloud is what the reader compares), else the source itself."""
    return source.split(":", 1)[1] if source.startswith("skypilot:") else source


def chart_points(offers: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """The plottable offers and the y-axis name: GPU offers by effective PFLOPS, else vCPUs."""
    gpu = [o for o in offers if _number(o.get("effective_pflops")) and _number(o.get("usd_per_hour"))]
    if gpu:
        return [
            {"x": _number(o["usd_per_hour"]), "y": _number(o["effective_pflops"]), "offer": o}
            for o in gpu[:MAX_POINTS]
        ], "effective PFLOPS (BF16)"
    cpu = [o for o in offers if _number(o.get("cpu")) and _number(o.get("usd_per_hour"))]
    return [
        {"x": _number(o["usd_per_hour"]), "y": _number(o["cpu"]), "offer": o} for o in cpu[:MAX_POINTS]
    ], "vCPUs"


def _scale(lo: float, hi: float, log: bool, pixels: int, offset: int, invert: bool = False):
    if log:
        lo, hi = math.log10(lo), math.log10(hi)
    span = (hi - lo) or 1.0

    def to_px(value: float) -> float:
        v = math.log10(value) if log else value
        frac = (v - lo) / span
        return offset + (1 - frac if invert else frac) * pixels

    return to_px


def _ticks(lo: float, hi: float, log: bool) -> list[float]:
    if log:
        ticks = []
        for exp in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
            for mult in (1, 2, 5):
                value = mult * 10**exp
                if lo <= value <= hi:
                    ticks.append(value)
        return ticks or [lo, hi]
    step = (hi - lo) / 4 or 1.0
    return [lo + i * step for i in range(5)]


def _fmt(value: float, money: bool) -> str:
    if money:
        return f"${value:,.2f}" if value >= 1 else f"${value:.3f}"
    return f"{value:,.0f}" if value >= 10 else f"{value:.2g}"


def price_performance_svg(offers: Sequence[Mapping[str, Any]], *, recommended: str | None = None) -> str | None:
    """An SVG document, or None when fewer than three distinct (price, performance) points can be placed."""
    points, y_name = chart_points(offers)
    if len({(p["x"], p["y"]) for p in points}) < MIN_DISTINCT_POINTS:
        return None  # a chart of one or two dots says nothing the table does not
    xs = [p["x"] for p in points]
    ys = [p["y"] for p in points]
    x_lo, x_hi = min(xs) * 0.9, max(xs) * 1.1
    y_lo, y_hi = 0.0, max(ys) * 1.1
    x_log = x_hi / x_lo > 8
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    to_x = _scale(x_lo, x_hi, x_log, plot_w, LEFT)
    to_y = _scale(y_lo, y_hi, False, plot_h, TOP, invert=True)

    families = sorted({_family(str(p["offer"].get("source") or "?")) for p in points})
    colour = {f: PALETTE[i] if i < len(PALETTE) else OTHER for i, f in enumerate(families)}

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" font-family="sans-serif" font-size="11" role="img" '
        f'aria-label="Price versus performance of {len(points)} offers">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text x="{LEFT}" y="16" font-size="13" font-weight="bold">Price vs performance '
        f"(up and left is better)</text>",
    ]
    for tick in _ticks(x_lo, x_hi, x_log):
        x = to_x(tick)
        out.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + plot_h}" stroke="#eeeeee"/>')
        out.append(f'<text x="{x:.1f}" y="{TOP + plot_h + 14}" text-anchor="middle">{_fmt(tick, True)}</text>')
    for tick in _ticks(y_lo, y_hi, False):
        y = to_y(tick)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" stroke="#eeeeee"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(tick, False)}</text>')
    out.append(
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#888888"/>'
    )
    x_title = "USD per hour" + (" (log scale)" if x_log else "")
    out.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle">{x_title}</text>')
    out.append(
        f'<text transform="translate(14 {TOP + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle">'
        f"{escape(y_name)}</text>"
    )
    # Draw worst-ranked first so the best offers sit on top.
    for point in reversed(points):
        offer = point["offer"]
        x, y = to_x(point["x"]), to_y(point["y"])
        fill = colour[_family(str(offer.get("source") or "?"))]
        shape = "circle" if not offer.get("estimate") else "rect"
        title = (
            f"{_label(offer.get('provider'), 40)} · {_label(offer.get('source'), 30)} · "
            f"{_fmt(point['x'], True)}/h · {point['y']:.3g} {escape(y_name)}"
        )
        if shape == "circle":
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{fill}" fill-opacity="0.8">'
                       f"<title>{title}</title></circle>")
        else:
            out.append(f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="{fill}" '
                       f'fill-opacity="0.6"><title>{title}</title></rect>')
        if recommended and offer.get("offer_id") == recommended:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="10" fill="none" stroke="#D55E00" stroke-width="2"/>')
            out.append(f'<text x="{x + 12:.1f}" y="{y - 8:.1f}" fill="#D55E00">recommended</text>')
    legend_x = LEFT + plot_w + 14
    for i, family in enumerate(families[:14]):
        y = TOP + 8 + i * 16
        out.append(f'<circle cx="{legend_x}" cy="{y}" r="5" fill="{colour[family]}"/>')
        out.append(f'<text x="{legend_x + 10}" y="{y + 4}">{_label(family, 20)}</text>')
    y = TOP + 8 + min(len(families), 14) * 16 + 8
    out.append(f'<text x="{legend_x}" y="{y}" fill="#555555">● firm price  ■ estimate</text>')
    out.append("</svg>")
    return "\n".join(out)


__all__ = ["chart_points", "price_performance_svg"]
