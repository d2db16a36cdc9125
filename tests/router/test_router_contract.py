"""ComputeRouter on an in-process EVM (py-evm via EthereumTesterProvider): the contract's rules and the client."""

from __future__ import annotations

import math
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from eth_account import Account
from eth_utils import keccak
from web3 import Web3
from web3.logs import DISCARD

from tools.errors import BudgetExceeded, NectoError, RouterError
from tools.router import (
    ADI_MAINNET,
    ADI_TESTNET,
    ComputeRouterClient,
    JobRecordedEvent,
    JobStatusChangedEvent,
    RouterStatus,
    connect,
    decode_job_id,
    encode_job_id,
    load_artifact,
    price_from_e18,
    price_to_e18,
    status_for_ledger_state,
)
from tools.router.contract import DEFAULT_GAS_MARGIN
from tools.router.testing import RevertDataTesterProvider, funded_account

JOB = "job_4d3a8f003f31"
PROVIDER = "akash1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq8s"  # shape of an Akash address (44 chars)
REQUEST_HASH = bytes.fromhex("11" * 32)
DECISION_HASH = "0x" + "22" * 32


class RecordingProvider(RevertDataTesterProvider):
    """The tester chain, remembering every JSON-RPC method the client used."""

    def __init__(self) -> None:
        super().__init__()
        self.methods: list[str] = []
        self.sent = threading.Event()

    def make_request(self, method, params):
        self.methods.append(method)
        response = super().make_request(method, params)
        if method == "eth_sendRawTransaction":
            self.sent.set()  # the tx is in the pool once the call returns
        return response


@pytest.fixture
def provider() -> RecordingProvider:
    return RecordingProvider()


@pytest.fixture
def w3(provider) -> Web3:
    return Web3(provider)


@pytest.fixture
def owner(w3):
    return funded_account(w3)


@pytest.fixture
def router(w3, owner) -> ComputeRouterClient:
    return ComputeRouterClient.deploy(w3, owner, poll_s=0.01)


def _as(router: ComputeRouterClient, account) -> ComputeRouterClient:
    return ComputeRouterClient.from_address(router.w3, router.address, account, poll_s=0.01)


def _record(router: ComputeRouterClient, job_id: str = JOB, **overrides):
    fields = {
        "buyer": "alice@example.com",
        "provider": PROVIDER,
        "request_hash": REQUEST_HASH,
        "decision_hash": DECISION_HASH,
        "price_uact_per_block": Decimal("1.234567"),
        "dseq": 20_260_101,
    }
    fields.update(overrides)
    return router.record_job(job_id, **fields)


def _block_time(w3: Web3, tx) -> datetime:
    return datetime.fromtimestamp(w3.eth.get_block(tx.block_number)["timestamp"], UTC)


def _travel(w3: Web3, seconds: int) -> None:
    tester = w3.provider.ethereum_tester
    tester.time_travel(tester.get_block_by_number("pending")["timestamp"] + seconds)


# --- the happy path --------------------------------------------------------------------------------


def test_record_then_running_then_closed(w3, router, owner):
    recorded = _record(router)
    _travel(w3, 120)
    running = router.update_status(JOB, RouterStatus.RUNNING)
    _travel(w3, 3600)
    closed = router.update_status(JOB, "closed")

    job = router.get_job(JOB)
    assert job.job_id == JOB
    assert job.submitter == owner.address
    assert job.buyer == "0x" + keccak(b"alice@example.com").hex() == router.buyer_id("alice@example.com")
    assert job.provider == PROVIDER
    assert job.request_hash == "0x" + REQUEST_HASH.hex()
    assert job.decision_hash == DECISION_HASH == router.decision_hash_of(JOB)
    assert job.price_uact_per_block == Decimal("1.234567")
    assert job.dseq == 20_260_101
    assert job.status is RouterStatus.CLOSED
    assert job.created_at == _block_time(w3, recorded)
    assert job.running_at == _block_time(w3, running)
    assert job.ended_at == job.updated_at == _block_time(w3, closed)
    assert (job.running_at - job.created_at).total_seconds() >= 120
    assert (job.ended_at - job.running_at).total_seconds() >= 3600


def test_submitted_job_can_fail_without_running(router):
    _record(router)
    router.update_status(JOB, RouterStatus.FAILED)
    job = router.get_job(JOB)
    assert job.status is RouterStatus.FAILED
    assert job.running_at is None
    assert job.ended_at == job.updated_at


def test_fresh_record_has_only_creation_times(router):
    _record(router)
    job = router.get_job(JOB)
    assert job.status is RouterStatus.SUBMITTED
    assert job.created_at == job.updated_at
    assert job.running_at is None and job.ended_at is None


# --- events ----------------------------------------------------------------------------------------


def test_every_transition_emits_an_event(w3, router, owner):
    recorded = _record(router)
    running = router.update_status(JOB, "running")
    closed = router.update_status(JOB, "closed")
    _record(router, "job_other")  # another job's events stay out of this one's history

    events = router.events(JOB)
    assert [type(e) for e in events] == [
        JobRecordedEvent,
        JobStatusChangedEvent,
        JobStatusChangedEvent,
        JobStatusChangedEvent,
    ]
    first = events[0]
    assert (first.job_id, first.submitter, first.provider, first.dseq) == (
        JOB,
        owner.address,
        PROVIDER,
        20_260_101,
    )
    assert first.decision_hash == DECISION_HASH
    assert first.price_uact_per_block == Decimal("1.234567")
    assert [(e.from_status, e.to_status) for e in events[1:]] == [
        (RouterStatus.UNKNOWN, RouterStatus.SUBMITTED),
        (RouterStatus.SUBMITTED, RouterStatus.RUNNING),
        (RouterStatus.RUNNING, RouterStatus.CLOSED),
    ]
    assert [e.tx_hash for e in events] == [
        recorded.tx_hash,
        recorded.tx_hash,
        running.tx_hash,
        closed.tx_hash,
    ]
    assert all(e.by == owner.address for e in events[1:])
    assert events[3].changed_at == _block_time(w3, closed)


def test_logs_decode_from_receipts(w3, router, owner):
    tx = _record(router)
    receipt = w3.eth.get_transaction_receipt(tx.tx_hash)
    (recorded,) = router.contract.events.JobRecorded().process_receipt(receipt, errors=DISCARD)
    assert decode_job_id(recorded["args"]["jobId"]) == JOB
    assert recorded["args"]["priceUactPerBlockE18"] == 1_234_567 * 10**12
    (changed,) = router.contract.events.JobStatusChanged().process_receipt(receipt, errors=DISCARD)
    assert (changed["args"]["from"], changed["args"]["to"]) == (0, 1)

    stranger = Account.create()
    receipt = w3.eth.get_transaction_receipt(router.set_operator(stranger.address, True).tx_hash)
    (operator_set,) = router.contract.events.OperatorSet().process_receipt(receipt, errors=DISCARD)
    assert operator_set["args"] == {"operator": stranger.address, "allowed": True}


# --- who may do what -------------------------------------------------------------------------------


def test_a_stranger_cannot_update_a_job(w3, router):
    _record(router)
    stranger = _as(router, funded_account(w3))
    with pytest.raises(RouterError) as caught:
        stranger.update_status(JOB, "running")
    assert caught.value.error_name == "NotAuthorized"
    assert caught.value.error_args == {"caller": stranger.account.address}
    assert "submitter or an operator" in caught.value.hint
    assert router.get_job(JOB).status is RouterStatus.SUBMITTED


def test_an_operator_can_update_until_revoked(w3, router):
    _record(router)
    operator = _as(router, funded_account(w3))
    router.set_operator(operator.account.address, True)
    assert router.is_operator(operator.account.address)
    operator.update_status(JOB, "running")
    router.set_operator(operator.account.address, False)
    with pytest.raises(RouterError) as caught:
        operator.update_status(JOB, "closed")
    assert caught.value.error_name == "NotAuthorized"
    assert router.get_job(JOB).status is RouterStatus.RUNNING
    assert router.events(JOB)[-1].by == operator.account.address


def test_only_the_owner_sets_operators(w3, router, owner):
    stranger = _as(router, funded_account(w3))
    assert router.owner() == owner.address
    with pytest.raises(RouterError) as caught:
        stranger.set_operator(stranger.account.address, True)
    assert caught.value.error_name == "NotAuthorized"
    assert not router.is_operator(stranger.account.address)


def test_only_the_owner_and_operators_record_so_nobody_squats_a_job_id(w3, router, owner):
    stranger = _as(router, funded_account(w3))
    with pytest.raises(RouterError) as refused:
        _record(stranger, JOB)  # recording Necto's job id before Necto does
    assert refused.value.error_name == "NotAuthorized"
    with pytest.raises(RouterError) as unknown:
        router.get_job(JOB)
    assert unknown.value.error_name == "UnknownJob"

    # An operator (a second router account) records and updates its own jobs; the owner, not an operator
    # of its own contract, cannot update the operator's job.
    operator_router = _as(router, funded_account(w3))
    router.set_operator(operator_router.account.address, True)
    _record(operator_router, "job_self")
    operator_router.update_status("job_self", "running")
    assert router.get_job("job_self").submitter == operator_router.account.address
    with pytest.raises(RouterError, match="may not"):
        router.update_status("job_self", "closed")
    router.set_operator(operator_router.account.address, False)
    with pytest.raises(RouterError) as revoked:
        _record(operator_router, "job_other")
    assert revoked.value.error_name == "NotAuthorized"


# --- refusals --------------------------------------------------------------------------------------


def test_duplicate_job_id_reverts_whoever_records_it(w3, router):
    _record(router)
    with pytest.raises(RouterError) as caught:
        _record(router, dseq=1)
    assert caught.value.error_name == "DuplicateJob"
    assert caught.value.error_args == {"jobId": JOB}
    operator = _as(router, funded_account(w3))
    router.set_operator(operator.account.address, True)
    with pytest.raises(RouterError, match="already recorded"):
        _record(operator)
    assert router.get_job(JOB).dseq == 20_260_101


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        (["running", "closed"], "running"),
        (["closed"], "running"),
        (["failed"], "closed"),
        (["running", "failed"], "failed"),
        ([], "submitted"),
        (["running"], "running"),
        (["running"], "submitted"),
        ([], "unknown"),
    ],
)
def test_illegal_transitions_revert(router, path, illegal):
    _record(router)
    for status in path:
        router.update_status(JOB, status)
    before = router.get_job(JOB)
    with pytest.raises(RouterError) as caught:
        router.update_status(JOB, illegal)
    assert caught.value.error_name == "IllegalTransition"
    assert caught.value.error_args == {"jobId": JOB, "from": before.status.value, "to": illegal}
    assert router.get_job(JOB) == before


def test_unknown_job(router):
    for attempt in (
        lambda: router.get_job("job_missing"),
        lambda: router.decision_hash_of("job_missing"),
        lambda: router.update_status("job_missing", "running"),
    ):
        with pytest.raises(RouterError) as caught:
            attempt()
        assert caught.value.error_name == "UnknownJob"
        assert caught.value.error_args == {"jobId": "job_missing"}
    assert router.events("job_missing") == []


def test_router_error_is_a_necto_error_with_a_tool_result(router):
    with pytest.raises(NectoError) as caught:
        router.get_job("job_missing")
    result = caught.value.to_result()
    assert result["error"] == "RouterError" and result["reason"] == "UnknownJob"
    assert result["message"] == "Job job_missing is not recorded on the ComputeRouter."


# --- how transactions are sent ---------------------------------------------------------------------


def test_every_transaction_is_estimated_and_signed_locally(w3, provider, router):
    provider.methods.clear()
    tx = _record(router)
    assert "eth_estimateGas" in provider.methods
    assert provider.methods.index("eth_estimateGas") < provider.methods.index("eth_sendRawTransaction")
    assert "eth_sendTransaction" not in provider.methods  # never a node-held key
    assert tx.gas_limit == math.ceil(tx.gas_estimate * DEFAULT_GAS_MARGIN)
    assert tx.gas_used <= tx.gas_limit
    assert w3.eth.get_transaction(tx.tx_hash)["gas"] == tx.gas_limit
    assert router.deployment is not None and router.deployment.gas_estimate > 0


def test_a_revert_is_caught_by_the_estimate_before_signing(provider, router):
    _record(router)
    provider.methods.clear()
    with pytest.raises(RouterError, match="already recorded"):
        _record(router)
    assert "eth_sendRawTransaction" not in provider.methods


def test_a_mined_revert_is_replayed_for_its_reason(w3, provider, router):
    """Two records of one id race: both estimates pass, the second mined tx reverts with DuplicateJob."""
    other = ComputeRouterClient.from_address(
        w3, router.address, funded_account(w3), poll_s=0.01, receipt_timeout_s=10
    )
    router.set_operator(other.account.address, True)  # a second router account
    tester = w3.provider.ethereum_tester
    tester.disable_auto_mine_transactions()
    outcome: dict = {}

    def record_in_background() -> None:
        try:
            outcome["tx"] = _record(other, dseq=2)
        except RouterError as exc:
            outcome["error"] = exc

    # Our own record of the same id is pending first, so it lands first in the next block.
    call = router.contract.functions.recordJob(
        encode_job_id(JOB), b"\x01" * 32, PROVIDER, REQUEST_HASH, b"\x02" * 32, 1, 1
    )
    tx = call.build_transaction(
        {
            "from": router.account.address,
            "gas": 500_000,
            "nonce": w3.eth.get_transaction_count(router.account.address),
        }
    )
    first = w3.eth.send_raw_transaction(router.account.sign_transaction(tx).raw_transaction)
    provider.sent.clear()
    racer = threading.Thread(target=record_in_background)
    racer.start()
    assert provider.sent.wait(10)  # the racer's estimate (on the latest block) passed and it sent
    tester.mine_blocks(1)
    racer.join(10)

    assert w3.eth.get_transaction_receipt(first)["status"] == 1
    error = outcome["error"]
    assert error.error_name == "DuplicateJob"
    assert error.tx_hash.startswith("0x") and w3.eth.get_transaction_receipt(error.tx_hash)["status"] == 0
    assert router.get_job(JOB).dseq == 1


def test_receipt_wait_times_out_with_the_tx_hash(w3, owner):
    router = ComputeRouterClient.deploy(w3, owner, poll_s=0.01, receipt_timeout_s=0.2)
    w3.provider.ethereum_tester.disable_auto_mine_transactions()
    started = time.monotonic()
    with pytest.raises(RouterError) as caught:
        _record(router)
    assert time.monotonic() - started < 5
    assert caught.value.error_name == "Timeout"
    assert caught.value.tx_hash.startswith("0x")
    assert "look it up by hash" in caught.value.hint


def test_fee_cap_refuses_before_signing(w3, provider, owner):
    router = ComputeRouterClient.deploy(w3, owner, poll_s=0.01)
    capped = ComputeRouterClient.from_address(w3, router.address, owner, max_fee_wei=1)
    provider.methods.clear()
    with pytest.raises(BudgetExceeded):
        _record(capped)
    assert "eth_sendRawTransaction" not in provider.methods


def test_wrong_chain_is_refused(w3, owner):
    with pytest.raises(RouterError) as caught:
        ComputeRouterClient.deploy(w3, owner, expected_chain_id=ADI_TESTNET.chain_id)
    assert caught.value.error_name == "WrongChain"
    assert "99999" in caught.value.message


def test_only_local_accounts_sign(w3, router):
    with pytest.raises(RouterError, match="LocalAccount"):
        ComputeRouterClient.from_address(w3, router.address, w3.eth.accounts[0])


def test_from_address_needs_a_contract(w3, owner):
    with pytest.raises(RouterError, match="no contract"):
        ComputeRouterClient.from_address(w3, Account.create().address, owner)
    with pytest.raises(RouterError, match="not an EVM address"):
        ComputeRouterClient.from_address(w3, "akash1xyz", owner)


# --- encodings -------------------------------------------------------------------------------------


def test_job_ids_round_trip_as_left_aligned_bytes32():
    raw = encode_job_id(JOB)
    assert raw == JOB.encode() + b"\x00" * (32 - len(JOB))
    assert decode_job_id(raw) == JOB
    assert decode_job_id(encode_job_id("j" * 32)) == "j" * 32


@pytest.mark.parametrize("bad", ["", "j" * 33, "job\x00x", "job\nx"])
def test_bad_job_ids_are_refused_before_any_rpc(provider, router, bad):
    provider.methods.clear()
    with pytest.raises(RouterError) as caught:
        _record(router, bad)
    assert caught.value.error_name == "InvalidArgument"
    assert provider.methods == []


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"request_hash": b"\x01" * 31}, "32 bytes"),
        ({"decision_hash": "0xzz"}, "not hex"),
        ({"price_uact_per_block": 1.5}, "float"),
        ({"price_uact_per_block": "-1"}, "non-negative"),
        ({"price_uact_per_block": "0.0000000000000000001"}, "18 decimal places"),
        ({"price_uact_per_block": "NaN"}, "finite"),
        ({"dseq": -1}, "uint64"),
        ({"dseq": 2**64}, "uint64"),
        ({"provider": "akash1" + "x" * 200}, "at most"),
        ({"buyer": ""}, "empty"),
    ],
)
def test_bad_fields_are_refused_before_any_rpc(provider, router, overrides, words):
    provider.methods.clear()
    with pytest.raises(RouterError, match=words):
        _record(router, **overrides)
    assert provider.methods == []


def test_prices_are_exact_integers():
    assert price_to_e18("1.234567") == 1_234_567_000_000_000_000
    assert price_to_e18(Decimal("0.000000000000000001")) == 1
    assert price_to_e18(3) == 3 * 10**18
    assert price_from_e18(1_234_567_000_000_000_000) == Decimal("1.234567")
    assert str(price_from_e18(3 * 10**18)) == "3"
    assert price_from_e18(1) == Decimal("1e-18")


def test_buyer_pepper_changes_the_stored_id(w3, router, owner):
    peppered = ComputeRouterClient.from_address(w3, router.address, owner, buyer_pepper=b"secret")
    _record(peppered)
    assert peppered.get_job(JOB).buyer == "0x" + keccak(b"secret" + b"alice@example.com").hex()
    assert peppered.get_job(JOB).buyer != router.buyer_id("alice@example.com")


def test_ledger_states_fold_into_router_statuses():
    assert {status_for_ledger_state(s) for s in ("confirmed", "signed", "broadcast", "bids", "lease")} == {
        RouterStatus.SUBMITTED
    }
    assert status_for_ledger_state("manifest_sent") is RouterStatus.SUBMITTED
    assert status_for_ledger_state("running") is RouterStatus.RUNNING
    assert status_for_ledger_state("closed") is RouterStatus.CLOSED
    assert status_for_ledger_state("failed") is RouterStatus.FAILED
    with pytest.raises(RouterError):
        status_for_ledger_state("exploded")
    assert [s.code for s in RouterStatus] == [0, 1, 2, 3, 4]


# --- networks and the artifact ---------------------------------------------------------------------


def test_adi_presets():
    assert (ADI_TESTNET.chain_id, ADI_TESTNET.rpc_url) == (99999, "https://rpc.ab.testnet.adifoundation.ai/")
    assert (ADI_MAINNET.chain_id, ADI_MAINNET.rpc_url) == (36900, None)
    with pytest.raises(RouterError, match="no public RPC"):
        connect(ADI_MAINNET)
    w3 = connect("adi-mainnet", rpc_url="http://127.0.0.1:9/")  # builds only; nothing is requested
    assert w3.provider.endpoint_uri == "http://127.0.0.1:9/"
    assert connect("adi-testnet").provider.endpoint_uri == ADI_TESTNET.rpc_url
    with pytest.raises(RouterError, match="Unknown"):
        connect("ropsten")


def test_artifact_loads_and_missing_artifact_says_how_to_build(tmp_path):
    artifact = load_artifact()
    assert artifact.contract_name == "ComputeRouter"
    assert artifact.bytecode.startswith("0x60") and len(artifact.deployed_bytecode) > 1000
    names = {e.get("name") for e in artifact.abi}
    assert {"recordJob", "updateStatus", "setOperator", "getJob", "decisionHashOf"} <= names
    assert {"JobRecorded", "JobStatusChanged", "OperatorSet"} <= names
    assert {"NotAuthorized", "UnknownJob", "DuplicateJob", "IllegalTransition"} <= names
    with pytest.raises(RouterError, match="Cannot read the ComputeRouter artifact") as caught:
        load_artifact(tmp_path / "missing.json")
    assert "npm ci && node compile.mjs" in caught.value.hint


def test_an_unreachable_rpc_is_a_router_error_without_the_url():
    w3 = connect("adi-mainnet", rpc_url="http://127.0.0.1:9/secret-key", timeout_s=1)
    with pytest.raises(RouterError) as caught:
        ComputeRouterClient(w3, Account.create().address, Account.create())
    assert caught.value.error_name == "RpcError"
    assert "secret-key" not in caught.value.message
    assert "nothing was sent" in caught.value.hint
