"""The price-versus-performance chart: valid SVG, deterministic, escaped, placed by the offers' own figures."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from ui.chart import chart_points, price_performance_svg

SVG = "{http://www.w3.org/2000/svg}"


def offer(offer_id: str, usd: float, pflops: float | None, *, source: str = "akash", cpu: float = 8, **extra):
    return {
        "offer_id": offer_id,
        "provider": offer_id,
        "source": source,
        "usd_per_hour": usd,
        "effective_pflops": pflops,
        "cpu": cpu,
        **extra,
    }


OFFERS = [
    offer("a", 1.2, 0.27, source="akash"),
    offer("b", 2.4, 0.79, source="lambda"),
    offer("c", 3.0, 0.79, source="skypilot:runpod", estimate=True),
    offer("d", 0.8, None, source="akash"),  # unknown performance: not plotted
]


def test_svg_is_valid_xml_with_one_mark_per_plottable_offer():
    svg = price_performance_svg(OFFERS, recommended="b")
    root = ET.fromstring(svg)
    titles = [t.text for t in root.iter(f"{SVG}title")]
    assert len(titles) == 3  # "d" has no performance figure
    assert any(t.startswith("b ·") for t in titles)
    assert "recommended" in svg
    legend = [t.text for t in root.iter(f"{SVG}text")]
    assert "runpod" in legend and "lambda" in legend  # SkyPilot sources are shown by cloud


def test_chart_is_deterministic():
    assert price_performance_svg(OFFERS, recommended="a") == price_performance_svg(list(OFFERS), recommended="a")


def test_faster_offer_sits_higher_and_cheaper_sits_left():
    svg = price_performance_svg(OFFERS)
    root = ET.fromstring(svg)
    marks = {}
    for element in root.iter():
        title = element.find(f"{SVG}title")
        if title is not None:
            name = title.text.split(" ·")[0]
            x = float(element.get("cx") or float(element.get("x")) + 4)
            y = float(element.get("cy") or float(element.get("y")) + 4)
            marks[name] = (x, y)
    assert marks["a"][0] < marks["b"][0] < marks["c"][0]  # price on x
    assert marks["b"][1] < marks["a"][1]  # more PFLOPS = higher (smaller y)


def test_provider_supplied_text_is_escaped():
    hostile = [
        offer('<script>alert(1)</script>"', 1.0, 0.3, source="akash"),
        offer("ok", 2.0, 0.5, source="<b>x</b>"),
        offer("third", 3.0, 0.9),
    ]
    svg = price_performance_svg(hostile)
    ET.fromstring(svg)  # still well-formed
    assert "<script>" not in svg and "<b>" not in svg


def test_cpu_only_offers_plot_vcpus_and_too_few_points_give_none():
    cpu_offers = [offer("x", 0.05, None, cpu=2), offer("y", 0.2, None, cpu=8), offer("z", 0.4, None, cpu=16)]
    points, axis = chart_points(cpu_offers)
    assert axis == "vCPUs" and [p["y"] for p in points] == [2, 8, 16]
    assert price_performance_svg(cpu_offers) is not None
    assert price_performance_svg(cpu_offers[:2]) is None
    assert price_performance_svg([]) is None
    same = [offer(str(i), 0.1, None, cpu=1) for i in range(10)] + [offer("other", 0.2, None, cpu=2)]
    assert price_performance_svg(same) is None  # eleven offers but only two distinct points


def test_wide_price_range_switches_to_log_scale():
    spread = [offer("cheap", 0.1, 0.1), offer("mid", 2.0, 1.0), offer("dear", 40.0, 6.0)]
    assert "log scale" in price_performance_svg(spread)
    assert "log scale" not in price_performance_svg(OFFERS)
    assert re.search(r"\$0\.[0-9]{3}", price_performance_svg(spread))
