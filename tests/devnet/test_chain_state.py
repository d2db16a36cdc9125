"""Chain state rules without servers: blocks produced by hand, bids placed directly."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest
from devnet_testkit import (
    URL_CREATE_DEPLOYMENT,
    URL_CREATE_LEASE,
    Wallet,
    create_deployment_msg,
    create_lease_msg,
    resource_unit,
)

from devnet.chain import Chain
from devnet.providers import ProviderFleet, build_fleet
from tools.akash.protogen.akash.deployment.v1 import deployment_pb2 as deployment_id_pb2
from tools.akash.protogen.akash.deployment.v1beta4 import deployment_pb2
from tools.akash.protogen.akash.market.v1 import bid_pb2
from tools.akash.protogen.akash.market.v1beta5 import lease_pb2


@pytest.fixture
def setup():
    chain = Chain(block_time_s=0.05, bid_window_blocks=10)
    fleet = ProviderFleet(chain, build_fleet(7, 20))
    for provider in fleet.providers:
        provider.host_uri = f"http://127.0.0.1:{10000 + provider.index}"
    fleet.register()
    chain.market_hooks.clear()  # bids are placed by hand here
    wallet = Wallet.from_name("chain-state")
    chain.faucet(wallet.address)
    return chain, fleet, wallet


def _send(chain: Chain, wallet: Wallet, messages) -> dict:
    account = chain.get_account(wallet.address)
    tx = wallet.sign_tx(
        messages, chain_id=chain.chain_id, account_number=account.account_number, sequence=account.sequence
    )
    result = chain.broadcast(tx)
    assert result["code"] == 0, result["raw_log"]
    chain.produce_block()
    record = chain.get_tx(result["txhash"])
    assert record is not None
    return {"code": record.code, "raw_log": record.raw_log, "height": record.height}


def _deploy_and_lease(chain, fleet, wallet, dseq, *, deposit, price):
    msg = create_deployment_msg(wallet.address, dseq, [resource_unit(price_uact=price * 2)], deposit=deposit)
    assert _send(chain, wallet, [(URL_CREATE_DEPLOYMENT, msg)])["code"] == 0
    provider = fleet.providers[0]
    bid = chain.place_bid(provider.owner, (wallet.address, dseq, 1, 1), Decimal(price), chain.height + 1)
    assert bid is not None
    assert (
        chain.place_bid(provider.owner, (wallet.address, dseq, 1, 1), Decimal(price), chain.height + 1)
        is None
    )  # once
    bid_id = {
        "owner": wallet.address,
        "dseq": dseq,
        "gseq": 1,
        "oseq": 1,
        "provider": provider.owner,
        "bseq": 0,
    }
    tx = _send(chain, wallet, [(URL_CREATE_LEASE, create_lease_msg(bid_id))])
    assert tx["code"] == 0, tx["raw_log"]
    return provider, tx["height"]


def test_bid_above_max_price_or_after_window_is_refused(setup):
    chain, fleet, wallet = setup
    msg = create_deployment_msg(wallet.address, 5, [resource_unit(price_uact=100, count=2)])
    assert _send(chain, wallet, [(URL_CREATE_DEPLOYMENT, msg)])["code"] == 0
    key = (wallet.address, 5, 1, 1)
    owners = [p.owner for p in fleet.providers]
    assert chain.place_bid(owners[0], key, Decimal("200.000001"), chain.height) is None  # max = 100 x 2
    assert chain.place_bid(owners[0], key, Decimal(200), chain.height) is not None
    order = chain.orders[key]
    assert chain.place_bid(owners[1], key, Decimal(1), order.bids_close_at) is None


def test_escrow_runs_dry(setup):
    chain, fleet, wallet = setup
    provider, lease_height = _deploy_and_lease(chain, fleet, wallet, 7, deposit=500_000, price=100_000)
    for _ in range(6):
        chain.produce_block()
    lease = chain.leases[(wallet.address, 7, 1, 1, provider.owner, 0)]
    deployment = chain.deployments[(wallet.address, 7)]
    # 5 blocks drain the 500000uact exactly; the 6th block cannot be paid
    assert lease.state == "insufficient_funds" and lease.closed_on == lease_height + 6
    assert deployment.groups[0].state == "insufficient_funds"
    assert deployment.escrow_state == "overdrawn" and deployment.escrow_funds == 0
    assert chain.balance(provider.owner, "uact") == 500_000


def test_close_lease_pauses_group_and_keeps_escrow(setup):
    chain, fleet, wallet = setup
    provider, lease_height = _deploy_and_lease(chain, fleet, wallet, 8, deposit=1_000_000, price=1_000)
    chain.produce_block()
    msg = lease_pb2.MsgCloseLease(
        id=bid_pb2.LeaseID(owner=wallet.address, dseq=8, gseq=1, oseq=1, provider=provider.owner, bseq=0),
        reason=1,
    )
    tx = _send(chain, wallet, [("/akash.market.v1beta5.MsgCloseLease", msg)])
    assert tx["code"] == 0, tx["raw_log"]
    lease = chain.leases[(wallet.address, 8, 1, 1, provider.owner, 0)]
    assert lease.state == "closed" and lease.paid == (tx["height"] - lease_height) * 1000
    deployment = chain.deployments[(wallet.address, 8)]
    assert deployment.groups[0].state == "paused" and deployment.state == "active"
    assert deployment.escrow_funds == 1_000_000 - lease.paid
    again = _send(chain, wallet, [("/akash.market.v1beta5.MsgCloseLease", msg)])
    assert again["code"] != 0 and "not active" in again["raw_log"]


def test_update_deployment_hash(setup):
    chain, _, wallet = setup
    msg = create_deployment_msg(wallet.address, 9, [resource_unit()])
    assert _send(chain, wallet, [(URL_CREATE_DEPLOYMENT, msg)])["code"] == 0
    new_hash = hashlib.sha256(b"v2").digest()
    update = deployment_pb2.MsgUpdateDeployment(
        id=deployment_id_pb2.DeploymentID(owner=wallet.address, dseq=9), hash=new_hash
    )
    assert _send(chain, wallet, [("/akash.deployment.v1beta4.MsgUpdateDeployment", update)])["code"] == 0
    assert chain.deployments[(wallet.address, 9)].hash == new_hash


def test_lease_on_someone_elses_bid_is_refused(setup):
    chain, fleet, wallet = setup
    other = Wallet.from_name("chain-state-other")
    chain.faucet(other.address)
    msg = create_deployment_msg(wallet.address, 10, [resource_unit()])
    assert _send(chain, wallet, [(URL_CREATE_DEPLOYMENT, msg)])["code"] == 0
    chain.place_bid(fleet.providers[0].owner, (wallet.address, 10, 1, 1), Decimal(1), chain.height)
    bid_id = {
        "owner": wallet.address,
        "dseq": 10,
        "gseq": 1,
        "oseq": 1,
        "provider": fleet.providers[0].owner,
        "bseq": 0,
    }
    account = chain.get_account(other.address)
    tx = other.sign_tx(
        [(URL_CREATE_LEASE, create_lease_msg(bid_id))],
        chain_id=chain.chain_id,
        account_number=account.account_number,
        sequence=0,
    )
    assert chain.broadcast(tx)["code"] != 0  # the signer is not the bid's owner
