"""Strictness audit of the devnet (issue 6): every chain and provider rule of akash.md §2/§5 the devnet
claims, each with a test that fails when the rule is removed (boundaries tested on both sides).

Chain-level checks run on a ``Chain`` without servers (``simulate`` runs the same decode and ValidateBasic
as CheckTx); provider checks drive the gateway app through ASGI. Network presets are checked against
akash.md §1.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import httpx
import pytest
from cosmos.base.v1beta1 import coin_pb2
from devnet_testkit import (
    GIB,
    URL_CREATE_DEPLOYMENT,
    URL_CREATE_LEASE,
    Wallet,
    create_deployment_msg,
    create_lease_msg,
    manifest_for,
    manifest_hash,
    resource_unit,
)

from devnet.chain import Chain
from devnet.providers import ProviderFleet, build_fleet, build_gateway_app
from devnet.txdecode import TxError
from tools.akash.protogen.akash.base.deposit.v1 import deposit_pb2
from tools.akash.protogen.akash.deployment.v1 import deployment_pb2 as deployment_id_pb2
from tools.akash.protogen.akash.deployment.v1beta4 import deployment_pb2
from tools.akash.protogen.akash.escrow.v1 import msg_pb2 as escrow_pb2
from tools.settings import NETWORK_PRESETS, NectoSettings

TIB = 1024**4
URL_UPDATE_DEPLOYMENT = "/akash.deployment.v1beta4.MsgUpdateDeployment"
URL_CLOSE_DEPLOYMENT = "/akash.deployment.v1beta4.MsgCloseDeployment"
URL_ACCOUNT_DEPOSIT = "/akash.escrow.v1.MsgAccountDeposit"


class _Raw:
    """A message whose wire bytes are given as is (to smuggle fields a proto does not define)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def SerializeToString(self) -> bytes:  # noqa: N802 - the protobuf method name
        return self.data


@pytest.fixture
def setup():
    chain = Chain(block_time_s=0.05, bid_window_blocks=10)
    fleet = ProviderFleet(chain, build_fleet(7, 8))
    for provider in fleet.providers:
        provider.host_uri = f"http://127.0.0.1:{20000 + provider.index}"
    fleet.register()
    chain.market_hooks.clear()  # bids are placed by hand
    wallet = Wallet.from_name("strict-rules")
    chain.faucet(wallet.address)
    return chain, fleet, wallet


def _tx(chain: Chain, wallet: Wallet, messages, **kwargs) -> bytes:
    account = chain.get_account(wallet.address)
    kwargs.setdefault("sequence", account.sequence)
    return wallet.sign_tx(messages, chain_id=chain.chain_id, account_number=account.account_number, **kwargs)


def _send(chain: Chain, wallet: Wallet, messages) -> dict:
    result = chain.broadcast(_tx(chain, wallet, messages))
    if result["code"] != 0:
        return result
    chain.produce_block()
    record = chain.get_tx(result["txhash"])
    return {
        "code": record.code,
        "codespace": record.codespace,
        "raw_log": record.raw_log,
        "height": record.height,
    }


def _rejection(chain: Chain, wallet: Wallet, messages) -> TxError | None:
    """None when CheckTx's stateless rules accept the messages, else the TxError."""
    try:
        chain.simulate(_tx(chain, wallet, messages))
    except TxError as err:
        return err
    return None


def _deployment(wallet: Wallet, dseq: int = 1, **kwargs) -> list:
    units = kwargs.pop("units", None) or [resource_unit()]
    return [(URL_CREATE_DEPLOYMENT, create_deployment_msg(wallet.address, dseq, units, **kwargs))]


# --- TxRaw decoding, signatures, sequences ---------------------------------------------------------------


@pytest.mark.parametrize("garbage", [b"\x00", b"\xff\xff\xff\xff", b"\x0a\x05hello", b"not a tx at all"])
def test_garbage_tx_bytes_are_rejected(setup, garbage):
    chain, _, _ = setup
    result = chain.broadcast(garbage)
    assert result["code"] != 0 and not chain.mempool


def test_signature_must_verify_against_the_account_key(setup):
    chain, _, wallet = setup
    bad = chain.broadcast(_tx(chain, wallet, _deployment(wallet), corrupt_signature=True))
    assert bad["code"] == 4 and bad["raw_log"].startswith("signature verification failed")
    # a valid signature by another key over the owner's message: the signer is not the owner
    intruder = Wallet.from_name("strict-intruder")
    chain.faucet(intruder.address)
    stolen = chain.broadcast(_tx(chain, intruder, _deployment(wallet)))
    assert stolen["code"] != 0 and not chain.mempool
    assert chain.broadcast(_tx(chain, wallet, _deployment(wallet)))["code"] == 0


def test_sequence_must_match(setup):
    chain, _, wallet = setup
    for sequence in (1, 7):
        result = chain.broadcast(_tx(chain, wallet, _deployment(wallet), sequence=sequence))
        assert result["code"] == 32 and "account sequence mismatch, expected 0" in result["raw_log"]
    assert chain.broadcast(_tx(chain, wallet, _deployment(wallet), sequence=0))["code"] == 0
    # the same sequence again (a replay with another body) is refused before the block
    replay = chain.broadcast(_tx(chain, wallet, _deployment(wallet, dseq=2), sequence=0))
    assert replay["code"] == 32


# --- uact, deposits, hash ---------------------------------------------------------------------------------


def test_prices_and_deposits_are_in_uact(setup):
    chain, _, wallet = setup
    akt_price = resource_unit()
    akt_price.price.CopyFrom(coin_pb2.DecCoin(denom="uakt", amount=str(1000 * 10**18)))
    err = _rejection(chain, wallet, _deployment(wallet, units=[akt_price]))
    assert err is not None and err.code == 19 and "price denom 'uakt'" in err.raw_log
    err = _rejection(chain, wallet, _deployment(wallet, deposit_denom="uakt"))
    assert err is not None and err.code == 20 and "denom 'uakt'" in err.raw_log
    top_up = escrow_pb2.MsgAccountDeposit(
        signer=wallet.address,
        id=escrow_pb2.AccountID(scope=1, xid=f"{wallet.address}/1"),
        deposit=deposit_pb2.Deposit(amount=coin_pb2.Coin(denom="uakt", amount="1000000"), sources=[1]),
    )
    err = _rejection(chain, wallet, [(URL_ACCOUNT_DEPOSIT, top_up)])
    assert err is not None and err.code == 20
    assert _rejection(chain, wallet, _deployment(wallet)) is None
    # CheckTx applies the same rules as simulate
    assert chain.broadcast(_tx(chain, wallet, _deployment(wallet, deposit_denom="uakt")))["code"] == 20


def test_minimum_deposit_is_half_an_act(setup):
    chain, _, wallet = setup
    err = _rejection(chain, wallet, _deployment(wallet, deposit=499_999))
    assert err is not None and err.code == 20 and "minimum deposit 500000uact" in err.raw_log
    assert _rejection(chain, wallet, _deployment(wallet, deposit=500_000)) is None


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_version_hash_is_exactly_32_bytes(setup, size):
    chain, _, wallet = setup
    err = _rejection(chain, wallet, _deployment(wallet, version=b"\x01" * size))
    assert err is not None and "expected 32 bytes" in err.raw_log
    assert _rejection(chain, wallet, _deployment(wallet, version=b"\x01" * 32)) is None


# --- per-unit resource limits (validation_config.go) -------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "over"),
    [
        (dict(cpu_milli=384_000), dict(cpu_milli=384_001)),
        (dict(gpu=24), dict(gpu=25)),
        (dict(memory=2 * TIB), dict(memory=2 * TIB + 1)),
        (dict(storage=32 * TIB), dict(storage=32 * TIB + 1)),
        (dict(count=50), dict(count=51)),
    ],
    ids=["cpu", "gpu", "memory", "storage", "count"],
)
def test_resource_unit_limits(setup, limit, over):
    chain, _, wallet = setup
    assert _rejection(chain, wallet, _deployment(wallet, units=[resource_unit(**limit)])) is None
    err = _rejection(chain, wallet, _deployment(wallet, units=[resource_unit(**over)]))
    assert err is not None and err.codespace == "deployment" and "invalid group spec" in err.raw_log


def _groups(wallet: Wallet, groups: int, units: int) -> list:
    msg = create_deployment_msg(wallet.address, 1, [resource_unit(unit_id=i + 1) for i in range(units)])
    template = msg.groups[0]
    del msg.groups[:]
    for index in range(groups):
        group = msg.groups.add()
        group.CopyFrom(template)
        group.name = f"group-{index}"
    return [(URL_CREATE_DEPLOYMENT, msg)]


def test_at_most_20_groups_of_20_units(setup):
    chain, _, wallet = setup
    assert _rejection(chain, wallet, _groups(wallet, 20, 20)) is None
    err = _rejection(chain, wallet, _groups(wallet, 21, 1))
    assert err is not None and "at most 20 groups" in err.raw_log
    err = _rejection(chain, wallet, _groups(wallet, 1, 21))
    assert err is not None and "at most 20 resource units" in err.raw_log
    err = _rejection(chain, wallet, _groups(wallet, 0, 1))
    assert err is not None and "at least one group" in err.raw_log


# --- immutable groups -------------------------------------------------------------------------------------


def test_update_deployment_changes_only_the_hash(setup):
    chain, _, wallet = setup
    assert _send(chain, wallet, _deployment(wallet, dseq=5))["code"] == 0
    spec_before = json.dumps(chain.deployments[(wallet.address, 5)].groups[0].spec_json, sort_keys=True)
    new_hash = hashlib.sha256(b"v2").digest()
    update = deployment_pb2.MsgUpdateDeployment(
        id=deployment_id_pb2.DeploymentID(owner=wallet.address, dseq=5), hash=new_hash
    )
    # groups smuggled as field 2 (not in MsgUpdateDeployment {1 id, 3 hash}): refused at decode
    bigger = create_deployment_msg(wallet.address, 5, [resource_unit(cpu_milli=4000, price_uact=5000)])
    group_bytes = bigger.groups[0].SerializeToString()
    smuggled = update.SerializeToString() + b"\x12" + _varint(len(group_bytes)) + group_bytes
    result = chain.broadcast(_tx(chain, wallet, [(URL_UPDATE_DEPLOYMENT, _Raw(smuggled))]))
    assert result["code"] == 2 and "errUnknownField" in result["raw_log"]
    short = deployment_pb2.MsgUpdateDeployment(
        id=deployment_id_pb2.DeploymentID(owner=wallet.address, dseq=5), hash=b"\x01" * 31
    )
    assert chain.broadcast(_tx(chain, wallet, [(URL_UPDATE_DEPLOYMENT, short)]))["code"] == 10
    assert _send(chain, wallet, [(URL_UPDATE_DEPLOYMENT, update)])["code"] == 0
    deployment = chain.deployments[(wallet.address, 5)]
    assert deployment.hash == new_hash
    assert json.dumps(deployment.groups[0].spec_json, sort_keys=True) == spec_before
    assert deployment.groups[0].units[0].cpu_milli == 500


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


# --- orders -> bids -> leases with escrow accounting and refunds -----------------------------------------------


def test_escrow_pays_per_block_and_refunds_the_rest(setup):
    chain, fleet, wallet = setup
    provider = fleet.providers[0]
    start_uact = chain.balance(wallet.address, "uact")
    assert _send(chain, wallet, _deployment(wallet, dseq=9, deposit=5_000_000))["code"] == 0
    assert chain.balance(wallet.address, "uact") == start_uact - 5_000_000
    assert chain.orders[(wallet.address, 9, 1, 1)].state == "open"
    bid = chain.place_bid(provider.owner, (wallet.address, 9, 1, 1), Decimal("250.5"), chain.height + 1)
    assert bid is not None and bid.state == "open"
    bid_id = {"owner": wallet.address, "dseq": 9, "gseq": 1, "oseq": 1, "provider": provider.owner, "bseq": 0}
    leased = _send(chain, wallet, [(URL_CREATE_LEASE, create_lease_msg(bid_id))])
    assert leased["code"] == 0 and chain.orders[(wallet.address, 9, 1, 1)].state == "active"
    for _ in range(10):
        chain.produce_block()
    close = deployment_pb2.MsgCloseDeployment(id=deployment_id_pb2.DeploymentID(owner=wallet.address, dseq=9))
    closed = _send(chain, wallet, [(URL_CLOSE_DEPLOYMENT, close)])
    assert closed["code"] == 0
    blocks_paid = closed["height"] - leased["height"]
    paid = Decimal("250.5") * blocks_paid
    assert blocks_paid == 11  # created at H, 10 empty blocks, closed in H + 11 (its BeginBlock pays too)
    refund = int(Decimal(5_000_000) - paid)  # whole uact refunded, the fraction stays in escrow
    assert chain.balance(wallet.address, "uact") == start_uact - 5_000_000 + refund
    assert chain.balance(provider.owner, "uact") == int(paid)
    lease = chain.leases[(wallet.address, 9, 1, 1, provider.owner, 0)]
    assert lease.state == "closed" and lease.paid == paid


# --- provider gateway: JWT key and manifest hash ---------------------------------------------------------------


async def test_provider_checks_jwt_key_and_manifest_hash(setup):
    chain, fleet, wallet = setup
    provider = fleet.providers[0]
    manifest = manifest_for(image="nginx:1.27", storage=GIB)
    deploy = _deployment(wallet, dseq=11, version=manifest_hash(manifest))
    assert _send(chain, wallet, deploy)["code"] == 0
    assert chain.place_bid(provider.owner, (wallet.address, 11, 1, 1), Decimal(100), chain.height + 1)
    bid_id = {
        "owner": wallet.address,
        "dseq": 11,
        "gseq": 1,
        "oseq": 1,
        "provider": provider.owner,
        "bseq": 0,
    }
    assert _send(chain, wallet, [(URL_CREATE_LEASE, create_lease_msg(bid_id))])["code"] == 0

    transport = httpx.ASGITransport(app=build_gateway_app(provider, chain))
    async with httpx.AsyncClient(transport=transport, base_url="http://provider") as http:

        async def put(body: bytes, token: str) -> httpx.Response:
            return await http.put(
                "/deployment/11/manifest", content=body, headers={"authorization": f"Bearer {token}"}
            )

        body = json.dumps(manifest).encode()
        # an account that exists (funded) but never sent a tx has no public key on chain: refused
        fresh = Wallet.from_name("strict-no-pubkey")
        chain.faucet(fresh.address)
        assert chain.get_account(fresh.address).pubkey is None
        refused = await put(body, fresh.jwt())
        assert refused.status_code == 401 and "no public key on chain" in refused.text
        # a token claiming the owner but signed by another key
        forged = await put(body, fresh.jwt(iss=wallet.address))
        assert forged.status_code == 401 and "signature" in forged.text
        # the manifest must hash to the on-chain version
        changed = manifest_for(image="nginx:1.28", storage=GIB)
        mismatch = await put(json.dumps(changed).encode(), wallet.jwt())
        assert mismatch.status_code == 422 and "manifest version validation failed" in mismatch.text
        assert (wallet.address, 11) not in provider.manifests
        accepted = await put(body, wallet.jwt())
        assert accepted.status_code == 200 and provider.manifests[(wallet.address, 11)]["owner"] == wallet.address


# --- network presets (akash.md §1) -----------------------------------------------------------------------------


def test_network_presets_match_the_spec():
    sandbox2, mainnet = NETWORK_PRESETS["sandbox-2"], NETWORK_PRESETS["mainnet"]
    assert (sandbox2.chain_id, sandbox2.rest_url) == ("sandbox-2", "https://api.sandbox-2.aksh.pw:443")
    assert (mainnet.chain_id, mainnet.rest_url) == ("akashnet-2", "https://rpc.akt.dev/rest")
    assert mainnet.console_api_url == "https://console-api.akash.network"
    assert NETWORK_PRESETS["sandbox"].rest_url is None  # the embedded devnet
    for network, chain_id in (("sandbox-2", "sandbox-2"), ("mainnet", "akashnet-2")):
        settings = NectoSettings(network=network, _env_file=None)
        assert settings.effective_chain_id == chain_id
        assert chain_id in settings.allowed_chain_ids
        assert not settings.uses_embedded_devnet
        assert settings.deposit_denom == "uact" and settings.fee_denom == "uakt"
        assert settings.min_deposit_uact == 500_000
