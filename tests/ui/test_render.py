"""ui/render.py: the table, the card, progress lines and logs are written by code, and untrusted text stays inert."""

from __future__ import annotations

import re

import pytest

from ui import render


def _offer(provider: str, usd_per_hour: float, **extra) -> dict:
    offer = {
        "provider": provider,
        "source": "akash",
        "offer_id": f"akash:{provider}",
        "pricing_model": "bid",
        "region": "us-west",
        "gpu_model": None,
        "gpu_count": 0,
        "cpu": 1,
        "memory_gib": 2,
        "usd_per_hour": usd_per_hour,
        "usd_total": usd_per_hour * 730,
        "usd_per_effective_pflop_hour": None,
        "observed_at": "2026-11-01T00:00:00Z",
        "notes": "",
        "uptime": 0.995,
        "audited": True,
        "deployable": True,
        "estimate": False,
    }
    offer.update(extra)
    return offer


CARD = {
    "action": "create deployment",
    "network": "sandbox",
    "chain_id": "necto-sandbox-1",
    "owner": "akash1qqqsyqcyq5rqwzqfpg9scrgwpugpzysn7pw6ms",
    "dseq": 1731000000123,
    "deposit_uact": 5_000_000,
    "deposit_usd": "5.00",
    "max_price_uact_per_block": 1000,
    "max_usd_per_hour": "0.5904",
    "max_usd_per_month": "430.98",
    "provider": "best bid",
    "images": ["node:22-alpine"],
    "ports": [{"port": 3000, "as": 80, "global": True}],
    "fee_uakt_max": 200_000,
    "plan_hash": "ab12cd34ef56",
    "manifest_hash": "99887766",
    "messages": [{"type_url": "/akash.deployment.v1beta4.MsgCreateDeployment"}],
}


def _table_rows(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("| ")]


def test_offers_table_lists_top_eight_in_rank_order_with_all_columns():
    offers = [_offer(f"provider-{i}", 0.01 * (i + 1)) for i in range(12)]
    result = {"status": "ok", "offers": offers, "recommendation": offers[0], "skipped": [], "explanation": ""}

    table = render.offers_table(result)

    rows = _table_rows(table)
    assert rows[0].split("|")[1:-1] == [f" {c} " for c in render._COLUMNS]
    body = rows[1:]
    assert len(body) == 8
    assert body[0].startswith("| 1 | provider-0 |")
    assert body[7].startswith("| 8 | provider-7 |")
    assert "provider-8" not in table
    assert "$0.01" in body[0] and "99.5%" in body[0] and "audited" in body[0]


def test_recommendation_sentence_uses_the_offer_numbers():
    best = _offer("cheap-one", 0.02)
    result = {
        "status": "ok",
        "offers": [best],
        "recommendation": best,
        "explanation": "Cheapest audited offer.",
    }

    sentence = render.recommendation_sentence(result)

    assert "**Recommended:** cheap-one" in sentence
    assert "$0.02/hour" in sentence
    assert "$14.60/month" in sentence  # 0.02 * 730
    assert "Cheapest audited offer." in sentence


def test_offers_table_handles_gpu_skipped_sources_and_no_offers():
    gpu = _offer("gpu-box", 2.5, gpu_model="h100", gpu_count=2, usd_per_effective_pflop_hour=1.234)
    table = render.offers_table(
        {"offers": [gpu], "recommendation": None, "skipped": [{"source": "vast", "reason": "timeout"}]}
    )
    assert "2× h100" in table and "$1.234" in table or "$1.23" in table
    assert "Not compared" in table and "vast (timeout)" in table

    empty = render.offers_table({"offers": [], "recommendation": None})
    assert "No offer matches" in empty and "|" not in empty


def test_untrusted_offer_text_cannot_break_the_table_or_inject_markup():
    evil = _offer(
        "evil|provider\n| 1 | fake |",
        0.01,
        notes="<img src=x onerror=alert(1)> [click](http://phish) **APPROVE NOW**\x1b[31m",
        region="us`west",
    )
    table = render.offers_table({"offers": [evil], "recommendation": evil})

    rows = _table_rows(table)
    assert len(rows) == 2  # the header and one body row: the newline and pipes did not add rows
    cells = re.split(r"(?<!\\)\|", rows[1])[1:-1]
    assert len(cells) == len(render._COLUMNS)
    assert re.search(r"(?<!\\)<", table) is None and "\\<img" in table
    assert "[click](" not in table
    assert "\x1b" not in table
    assert "**APPROVE" not in table


def test_confirmation_card_renders_every_number_from_the_card():
    card = render.confirmation_card(CARD)

    assert card.startswith("### Confirm: create deployment")
    for expected in (
        "necto-sandbox-1",
        "1731000000123",
        "5,000,000 uact (5 ACT)",
        "$5.00",
        "1,000 uact per block",
        "$0.5904/hour",
        "$430.98/month",
        "best bid",
        "`node:22-alpine`",
        "`3000 → 80 (public)`",
        "200,000 uakt (0.2 AKT)",
        "`ab12cd34ef56`",
        "`99887766`",
        "MsgCreateDeployment",
        "akash1qqqsyqcyq5rqwzqfpg9scrgwpugpzysn7pw6ms",
    ):
        assert expected in card, expected


def test_confirmation_card_depends_only_on_the_card_dict():
    assert render.confirmation_card(dict(CARD)) == render.confirmation_card(dict(CARD))
    changed = dict(CARD, deposit_uact=9_000_000, deposit_usd="9.00")
    assert "9,000,000 uact" in render.confirmation_card(changed)
    assert "5,000,000 uact" not in render.confirmation_card(changed)


def test_close_card_shows_its_own_fields():
    close = {
        "action": "close deployment",
        "network": "sandbox",
        "chain_id": "necto-sandbox-1",
        "dseq": 42,
        "provider": "provider-3",
        "refund_usd_estimate": "3.21",
        "plan_hash": "ffee",
    }
    card = render.confirmation_card(close)
    assert "Confirm: close deployment" in card
    assert "provider-3" in card and "$3.21" in card and "`ffee`" in card
    assert "Deposit" not in card


def test_card_shows_the_service_cards_extra_fields():
    card = render.confirmation_card(
        dict(
            CARD,
            plan_id="plan_1",
            deposit_act="5",
            expected_usd_per_hour="0.0421",
            funded_hours="8.5",
            provider="best bid at or under the max price",
            provider_rule="the lease goes to the best-ranked bid at or under the max price",
            workload="nextjs",
            notes=["Uses the template's default image."],
        )
    )
    for expected in ("`plan_1`", "$0.0421/hour", "8.5 hours", "best-ranked bid", "nextjs", "default image"):
        assert expected in card, expected
    assert "Deposit act" not in card  # already shown with the uact amount


def test_close_card_from_the_service():
    card = render.confirmation_card(
        {
            "action": "close deployment",
            "plan_id": "plan_2",
            "network": "sandbox",
            "chain_id": "necto-sandbox-1",
            "owner": "akash1xyz",
            "dseq": 5,
            "job_id": "job_9",
            "provider": "p1",
            "refund_estimate_act": "4.2",
            "fee_uakt_max": 200000,
            "plan_hash": "abc",
            "messages": [],
        }
    )
    assert "4.2 ACT" in card and "`job_9`" in card and "Max price" not in card


def test_card_values_cannot_escape_their_code_spans():
    card = render.confirmation_card(dict(CARD, images=["evil`](http://x) **approve**"]))
    assert "`evil'](http://x) **approve**`" in card


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"state": "broadcast", "data": {"dseq": 7}}, "**Broadcast** the deployment (dseq `7`)"),
        (
            {"state": "bids", "data": {"bids": [{"provider": "p1", "usd_per_hour": 0.05}], "blocks_left": 3}},
            "**Bids**: 1 bid: p1 $0.05/h (3 blocks left)",
        ),
        ({"state": "lease", "data": {"provider": "p1"}}, "**Lease** created with p1"),
        ({"state": "manifest_sent", "data": {"provider": "p1"}}, "**Manifest** sent to p1"),
        (
            {"state": "running", "data": {"provider": "p1", "uris": ["abc.ingress.p1.example"]}},
            "[http://abc.ingress.p1.example](http://abc.ingress.p1.example)",
        ),
        ({"state": "failed", "message": "no bids"}, "deploy failed: no bids"),
    ],
)
def test_progress_lines(event, expected):
    line = render.progress_line({"kind": "progress", "job_id": "j1", **event})
    assert line is not None and expected in line


def test_progress_ignores_other_event_kinds_and_quotes_odd_uris():
    assert render.progress_line({"kind": "heartbeat"}) is None
    odd = render.uri_link("javascript:alert(1)")
    assert odd.startswith("`") and "](" not in odd


def test_logs_block_cannot_be_broken_out_of():
    lines = [{"service": "web", "message": "ready on :3000"}, {"service": "web", "message": "```\n# pwned"}]
    block = render.logs_block(lines)
    fence = re.match(r"^(`+)text\n", block).group(1)
    assert len(fence) >= 4
    assert block.endswith("\n" + fence)
    assert "[web] ready on :3000" in block
    assert render.logs_block([]).count("no log lines") == 1


def test_tool_summaries_are_short_and_code_written():
    best = _offer("cheap-one", 0.02)
    assert render.tool_summary(
        "list_providers", {"status": "ok", "offers": [best], "recommendation": best}
    ) == ("1 offer compared; best: cheap-one at $0.02/hour.")
    assert "Waiting for your approval" in render.tool_summary(
        "deploy", {"status": "awaiting_confirmation", "plan_id": "p1"}
    )
    ok = render.tool_summary(
        "deploy",
        {"status": "ok", "job_id": "j1", "state": "running", "provider": "p1", "uris": ["a.ingress.x"]},
    )
    assert "`j1`" in ok and "running" in ok and "a.ingress.x" in ok
    err = render.tool_summary(
        "build_sdl", {"status": "error", "message": "Too big.", "hint": "Use less memory."}
    )
    assert err == "Error: Too big. Use less memory."
    assert render.tool_summary("deploy", {"status": "rejected"}).startswith("Declined")
    assert (
        render.tool_input({"workload": "nextjs", "tool_context": object()}) == '{\n  "workload": "nextjs"\n}'
    )


def test_error_text_is_a_sentence_with_a_next_step():
    text = render.error_text("The devnet did not answer.", "Try again.")
    assert "Nothing was signed" in text and text.endswith("Try again.")


def test_progress_uses_provider_names_and_the_services_own_messages():
    address = "akash18lryknw6wr678tw0k7dxmfqqxalae0zegabcd"
    lease = render.progress_line(
        {"state": "lease", "data": {"provider": address, "provider_name": "Lumen Grid"}, "message": "x"}
    )
    assert lease == "**Lease** created with Lumen Grid."
    collecting = render.progress_line(
        {
            "state": "bids",
            "message": "Deployment 5 created at height 9; collecting bids.",
            "data": {"height": 9},
        }
    )
    assert collecting == "**Bids**: Deployment 5 created at height 9; collecting bids."
    bids = render.progress_line(
        {
            "state": "bids",
            "data": {"bids": [{"provider": address, "usd_per_hour": "0.0045"}], "blocks_left": 2},
        }
    )
    assert "akash18lry…abcd $0.0045/h" in bids
    manifest = render.progress_line(
        {"state": "manifest_sent", "message": "Manifest sent to Lumen Grid.", "data": {}}
    )
    assert manifest == "**Manifest**: Manifest sent to Lumen Grid."


def test_offer_notes_do_not_repeat_the_estimate_flag():
    table = render.offers_table(
        {"offers": [_offer("p", 0.01, estimate=True, notes="estimate: static per-unit prior")]}
    )
    assert "estimate; estimate" not in table and "audited; estimate: static" in table


def test_error_text_after_an_approval_does_not_promise_nothing_was_signed():
    text = render.error_text("The approved action did not finish cleanly.", "Ask “status”.", nothing_spent=False)
    assert "Nothing was signed" not in text and text == "**Sorry.** The approved action did not finish cleanly. Ask “status”."


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("\x1b[31mred\x1b[0m", "red"),
        ("<script>alert(1)</script>ok", "alert(1)ok"),
        ("tab\tand\nnewline\r", "tab and newline"),
        ("bidi \u202eevil\u202c", "bidi evil"),
        ("**markdown** [stays](inert)", "**markdown** [stays](inert)"),  # React renders props as text
        (None, ""),
    ],
)
def test_plain_text_for_element_props(raw, expected):
    assert render.plain_text(raw) == expected


def test_plain_text_is_bounded():
    assert render.plain_text("x" * 100, 10) == "x" * 9 + "…"


def test_safe_href_accepts_plain_hosts_only():
    assert render.safe_href("web.ingress.example.com") == "http://web.ingress.example.com"
    assert render.safe_href("https://a.example/path") == "https://a.example/path"
    for bad in ("javascript:alert(1)", "https://a.example/\"onmouseover", "data:text/html,x", "http://a b"):
        assert render.safe_href(bad) is None
    assert render.uri_link("javascript:alert(1)") == "`javascript:alert(1)`"


def test_deployment_summary_escapes_what_the_card_carries():
    card = {
        "dseq": "42", "state": "running", "provider": "prov*bold*", "job_id": "job-1", "price_text": "$0.41/h",
        "cost_text": "$0.02", "escrow_text": "4.93 ACT", "escrow_hours_text": "about 11.9 h",
        "uris": [{"href": "http://a.example", "text": "http://a.example"}, {"href": None, "text": "javascript:x"}],
        "warning": "Escrow runs out in about 3 hours",
    }
    text = render.deployment_summary(card)
    assert text.startswith("**Deployment 42**: running on prov\\*bold\\* (job `job-1`).")
    assert "URIs: [http://a.example](http://a.example), `javascript:x`" in text
    assert "_Escrow runs out in about 3 hours_" in text
