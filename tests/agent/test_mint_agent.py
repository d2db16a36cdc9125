"""Minting ACT through the agent: the offline planner's phrases, plan-then-confirm, and a deploy whose deposit
the account can't pay yet (the mint card first, then the deploy card), with a real ADK Runner."""

from __future__ import annotations

import hashlib
from typing import Any

from fake_backend import FakeBackend
from helpers import new_session

from agent.conversation import answer_confirmation, run_turn
from agent.intent import parse_intent
from tools.errors import BmeHalted


class ShortOfActBackend(FakeBackend):
    """The fake backend on an account with AKT but no ACT: deploy plans say funding is short."""

    def __init__(self, *, halted: bool = False) -> None:
        super().__init__()
        self.halted = halted

    async def create_deploy_plan(self, request, *, port, offer_id, owner) -> dict[str, Any]:
        result = await super().create_deploy_plan(request, port=port, offer_id=offer_id, owner=owner)
        result["funding"] = {"status": "short", "act_balance": "0", "deposit_act": "5", "mint_possible": True,
                             "message": "Your account holds 0 ACT; this deposit needs 5 ACT."}
        return result

    async def create_mint_plan(self, owner: str, *, act_amount=None, for_plan_id=None) -> dict[str, Any]:
        self._record("create_mint_plan", owner=owner, act_amount=act_amount, for_plan_id=for_plan_id)
        if self.halted:
            raise BmeHalted("Minting ACT is paused on chain: the vault's collateral ratio is below the circuit "
                            "breaker. Your AKT is untouched and nothing was signed.", hint="Ask again later.")
        plan_id = f"mint-{len(self.plans) + 1}"
        digest = hashlib.sha256(f"{plan_id}{act_amount}{for_plan_id}".encode()).hexdigest()
        self.plans[plan_id] = {"owner": owner, "hash": digest, "kind": "mint", "for_plan_id": for_plan_id}
        return {"status": "ok", "plan_id": plan_id, "plan_hash": digest, "summary": {"action": "mint ACT"}}

    async def execute_mint_plan(self, plan_id: str, *, confirmed_hash: str, owner: str) -> dict[str, Any]:
        self._record("execute_mint_plan", plan_id=plan_id, confirmed_hash=confirmed_hash, owner=owner)
        plan = self._check(plan_id, confirmed_hash, owner)
        self.executed.append((plan_id, confirmed_hash))
        result = {"status": "ok", "plan_id": plan_id, "settled": True, "minted_act": "10.5", "burned_akt": "8.4",
                  "message": "Minted 10.5 ACT by burning 8.4 AKT; your balance is 10.5 ACT."}
        if plan["for_plan_id"]:
            result["for_plan_id"] = plan["for_plan_id"]
        return result


async def approve(runner, session, turn):
    card = turn.confirmation
    assert card is not None
    return await answer_confirmation(runner, user_id="u1", session_id=session,
                                     confirmation_call_id=card.confirmation_call_id, approved=True,
                                     payload=card.payload)


def test_mint_phrases():
    assert (parse_intent("mint 20 ACT").action, parse_intent("mint 20 ACT").act_amount) == ("mint", 20)
    assert parse_intent("please mint 12.5 act").act_amount == 12.5
    for text in ("I need ACT", "top up ACT", "top-up my ACT", "I'm out of ACT", "convert my AKT to ACT"):
        intent = parse_intent(text)
        assert intent.action == "mint" and intent.act_amount is None, text
    for text in ("deploy nginx:1.27", "close job 7f3a1", "what is 1000 uact per block in dollars",
                 "top up the escrow of job 7f3a1"):
        assert parse_intent(text).action != "mint", text
    assert parse_intent("send 20 ACT to akash1qqqqqqqqqqqq").action == "refuse"  # minting never moves funds


async def test_mint_an_amount_shows_a_card_and_signs_once_after_approval():
    backend = ShortOfActBackend()
    runner, session = await new_session(backend)
    turn = await run_turn(runner, user_id="u1", session_id=session, text="mint 20 ACT")
    assert [(c.name, c.args, c.executed) for c in turn.tool_calls] == [("mint_act", {"act_amount": 20}, False)]
    assert backend.executed == [] and turn.confirmation is not None
    assert turn.confirmation.original_call["name"] == "mint_act"
    done = await approve(runner, session, turn)
    assert backend.executed == [(turn.confirmation.plan_id, backend.plans[turn.confirmation.plan_id]["hash"])]
    assert "Minted 10.5 ACT" in done.text


async def test_a_deploy_the_account_cannot_pay_offers_the_mint_first_then_the_deploy_card():
    backend = ShortOfActBackend()
    runner, session = await new_session(backend)
    await run_turn(runner, user_id="u1", session_id=session, text="cheapest A100 for 10 hours, image vllm/vllm-openai:v0.9")
    turn = await run_turn(runner, user_id="u1", session_id=session, text="deploy it")
    assert [c.name for c in turn.tool_calls] == ["list_providers", "build_sdl", "mint_act"]
    assert turn.tool_calls[-1].args == {"for_plan_id": "plan-1"}
    assert "execute_deploy_plan" not in backend.names()
    after_mint = await approve(runner, session, turn)
    assert [name for name, _ in backend.executed] == [turn.confirmation.plan_id]  # only the mint so far
    assert after_mint.confirmation is not None and after_mint.confirmation.original_call["name"] == "deploy"
    deployed = await approve(runner, session, after_mint)
    assert [name for name, _ in backend.executed] == [turn.confirmation.plan_id, "plan-1"]
    assert "job-7f3a" in deployed.text


async def test_i_need_act_mints_for_the_plan_that_was_short_and_asks_otherwise():
    backend = ShortOfActBackend()
    runner, session = await new_session(backend)
    turn = await run_turn(runner, user_id="u1", session_id=session, text="I need ACT")
    assert turn.tool_calls == [] and "How much ACT" in turn.text
    await run_turn(runner, user_id="u1", session_id=session, text="cheapest A100 for 10 hours, image vllm/vllm-openai:v0.9")
    turn = await run_turn(runner, user_id="u1", session_id=session, text="deploy it")
    await answer_confirmation(runner, user_id="u1", session_id=session,
                              confirmation_call_id=turn.confirmation.confirmation_call_id, approved=False,
                              payload=turn.confirmation.payload)
    again = await run_turn(runner, user_id="u1", session_id=session, text="top up ACT")
    assert [(c.name, c.args) for c in again.tool_calls] == [("mint_act", {"for_plan_id": "plan-1"})]
    assert backend.executed == []


async def test_halted_mints_come_back_as_a_typed_error_in_words():
    backend = ShortOfActBackend(halted=True)
    runner, session = await new_session(backend)
    turn = await run_turn(runner, user_id="u1", session_id=session, text="mint 20 ACT")
    assert turn.tool_calls[0].result["error"] == "BmeHalted"
    assert "Minting ACT is paused on chain" in turn.text and turn.confirmation is None
    assert backend.executed == []
