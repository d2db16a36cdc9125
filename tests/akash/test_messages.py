"""Message builders: round trip from the SDL conformance group specs, describe_messages, allow-list."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import coincurve
import cosmpy.protos  # noqa: F401
import pytest
from cosmos.bank.v1beta1 import tx_pb2 as bank_tx_pb2
from cosmos.base.v1beta1 import coin_pb2
from cosmos.tx.v1beta1 import tx_pb2
from google.protobuf import any_pb2

from tools.akash import messages as m
from tools.akash.jwt import address_from_public_key
from tools.akash.protogen.akash.bme.v1 import msg_pb2 as bme_pb2
from tools.akash.protogen.akash.deployment.v1beta4 import deployment_pb2
from tools.akash.protogen.akash.escrow.v1 import msg_pb2 as escrow_pb2
from tools.akash.protogen.akash.market.v1beta5 import lease_pb2
from tools.errors import InvalidRequest, PolicyDenied

FIXTURES = sorted(Path("/work/shared/conformance/sdl/output-fixtures/v2.0").glob("*/group-specs.json"))
OWNER = address_from_public_key(coincurve.PrivateKey(b"\x01" * 32).public_key.format())
PROVIDER = address_from_public_key(coincurve.PrivateKey(b"\x02" * 32).public_key.format())
HASH = hashlib.sha256(b"manifest").digest()


def _body(*msgs: any_pb2.Any) -> bytes:
    return tx_pb2.TxBody(messages=list(msgs)).SerializeToString()


def test_fixtures_present() -> None:
    assert len(FIXTURES) >= 10


def test_dec_atomics() -> None:
    assert m.dec_to_atomics("50.000000000000000000") == "50000000000000000000"
    assert m.dec_to_atomics("1000") == "1000000000000000000000"
    assert m.dec_to_atomics("0.000000000000000001") == "1"
    assert m.dec_to_atomics("1234.56") == "1234560000000000000000"
    assert m.atomics_to_dec("50000000000000000000") == "50.000000000000000000"
    assert m.atomics_to_dec("1") == "0.000000000000000001"
    for bad in ("-1", "1e5", "abc", "", "1.0000000000000000001", "1.2.3", "NaN"):
        with pytest.raises(InvalidRequest):
            m.dec_to_atomics(bad)


def _val(obj: dict, key: str = "val") -> bytes:
    return obj[key].encode()


@pytest.mark.parametrize("path", FIXTURES, ids=[p.parent.name for p in FIXTURES])
def test_create_deployment_round_trip(path: Path) -> None:
    groups = json.loads(path.read_text())
    packed = m.msg_create_deployment(OWNER, 1234567, groups, HASH, 5_000_000)
    assert packed.type_url == "/akash.deployment.v1beta4.MsgCreateDeployment"
    msg = deployment_pb2.MsgCreateDeployment.FromString(packed.value)

    assert msg.id.owner == OWNER and msg.id.dseq == 1234567
    assert msg.hash == HASH
    assert msg.deposit.amount.denom == "uact" and msg.deposit.amount.amount == "5000000"
    assert list(msg.deposit.sources) == [1]  # balance
    assert len(msg.groups) == len(groups)
    for group, spec in zip(msg.groups, groups, strict=True):
        assert group.name == spec["name"]
        req = spec.get("requirements") or {}
        signed_by = req.get("signed_by") or {}
        assert list(group.requirements.signed_by.all_of) == (signed_by.get("all_of") or [])
        assert list(group.requirements.signed_by.any_of) == (signed_by.get("any_of") or [])
        assert [(a.key, a.value) for a in group.requirements.attributes] == [
            (a["key"], a["value"]) for a in req.get("attributes") or []
        ]
        assert len(group.resources) == len(spec["resources"])
        for unit, unit_spec in zip(group.resources, spec["resources"], strict=True):
            res, rs = unit.resource, unit_spec["resource"]
            assert unit.count == unit_spec["count"]
            assert unit.price.denom == unit_spec["price"]["denom"]
            amount = unit_spec["price"]["amount"]
            whole, frac = amount.split(".")
            assert unit.price.amount == str(int(whole + frac))  # value x 10^18
            assert res.id == rs["id"]
            assert res.cpu.units.val == _val(rs["cpu"]["units"])
            assert res.memory.quantity.val == _val(rs["memory"]["size"])
            assert [
                (s.name, s.quantity.val, [(a.key, a.value) for a in s.attributes]) for s in res.storage
            ] == [
                (s["name"], _val(s["size"]), [(a["key"], a["value"]) for a in s.get("attributes") or []])
                for s in rs.get("storage") or []
            ]
            assert res.gpu.units.val == _val(rs["gpu"]["units"])
            assert [(a.key, a.value) for a in res.gpu.attributes] == [
                (a["key"], a["value"]) for a in rs["gpu"].get("attributes") or []
            ]
            assert [(e.kind, e.sequence_number) for e in res.endpoints] == [
                (e.get("kind", 0), e.get("sequence_number", 0)) for e in rs.get("endpoints") or []
            ]

    # describe_messages on the exact bytes shows the same numbers, in human units
    (described,) = m.describe_messages(_body(packed))
    assert described["type_url"] == packed.type_url and described["type"] == "MsgCreateDeployment"
    fields = described["fields"]
    assert fields["hash"] == HASH.hex()
    assert fields["deposit"]["amount"] == {"denom": "uact", "amount": "5000000"}
    shown_prices = [u["price"] for g in fields["groups"] for u in g["resources"]]
    assert shown_prices == [u["price"] for g in groups for u in g["resources"]]
    shown_memory = [
        u["resource"]["memory"]["quantity"]["val"] for g in fields["groups"] for u in g["resources"]
    ]
    assert shown_memory == [u["resource"]["memory"]["size"]["val"] for g in groups for u in g["resources"]]
    assert m.required_signers(_body(packed)) == {OWNER}


def test_create_deployment_accepts_rest_shape_and_kind_names() -> None:
    group = {
        "name": "g",
        "requirements": {"signed_by": {"all_of": [], "any_of": []}, "attributes": []},
        "resources": [
            {
                "resource": {
                    "id": 1,
                    "cpu": {"units": {"val": "500"}, "attributes": []},
                    "memory": {"quantity": {"val": "1024"}, "attributes": []},
                    "storage": [{"name": "default", "quantity": {"val": "2048"}, "attributes": []}],
                    "gpu": {"units": {"val": "0"}, "attributes": []},
                    "endpoints": [{"kind": "RANDOM_PORT", "sequence_number": 0}],
                },
                "count": 2,
                "price": {"denom": "uact", "amount": "12.5"},
            }
        ],
    }
    msg = deployment_pb2.MsgCreateDeployment.FromString(
        m.msg_create_deployment(OWNER, 1, [group], HASH, 1).value
    )
    unit = msg.groups[0].resources[0]
    assert unit.resource.memory.quantity.val == b"1024"
    assert unit.resource.endpoints[0].kind == 1
    assert unit.price.amount == "12500000000000000000"


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda g: g.clear(), "missing"),
        (lambda g: g["resources"][0]["price"].update(amount="-1"), "non-negative"),
        (lambda g: g["resources"][0]["resource"]["cpu"]["units"].update(val="1.5"), "decimal integer"),
        (lambda g: g["resources"][0]["resource"]["endpoints"].append({"kind": 9}), "endpoint kind"),
        (lambda g: g["resources"][0].update(count=0), "out of range"),
        (lambda g: g.update(resources=[]), "at least one"),
        (lambda g: g["resources"][0]["resource"].update(storage="x"), "expected a list"),
    ],
)
def test_create_deployment_rejects_bad_group_specs(mutate, message) -> None:
    groups = json.loads(FIXTURES[0].read_text())
    mutate(groups[0])
    with pytest.raises(InvalidRequest, match=message):
        m.msg_create_deployment(OWNER, 1, groups, HASH, 1)


def test_create_deployment_rejects_bad_arguments() -> None:
    groups = json.loads(FIXTURES[0].read_text())
    with pytest.raises(InvalidRequest, match="32 bytes"):
        m.msg_create_deployment(OWNER, 1, groups, HASH[:31], 1)
    with pytest.raises(InvalidRequest, match="at least one group"):
        m.msg_create_deployment(OWNER, 1, [], HASH, 1)
    with pytest.raises(InvalidRequest, match="bech32"):
        m.msg_create_deployment("akash1notanaddress", 1, groups, HASH, 1)
    with pytest.raises(InvalidRequest, match="bech32"):
        m.msg_create_deployment(OWNER.replace("akash", "cosmos"), 1, groups, HASH, 1)
    with pytest.raises(InvalidRequest, match="dseq"):
        m.msg_create_deployment(OWNER, 0, groups, HASH, 1)
    with pytest.raises(InvalidRequest, match="deposit"):
        m.msg_create_deployment(OWNER, 1, groups, HASH, -5)


def test_other_builders_and_type_urls() -> None:
    lease = m.msg_create_lease(OWNER, 7, 1, 2, PROVIDER, 3)
    assert lease.type_url == "/akash.market.v1beta5.MsgCreateLease"
    bid_id = lease_pb2.MsgCreateLease.FromString(lease.value).bid_id
    assert (bid_id.owner, bid_id.dseq, bid_id.gseq, bid_id.oseq, bid_id.provider, bid_id.bseq) == (
        OWNER, 7, 1, 2, PROVIDER, 3,
    )  # fmt: skip

    close_lease = m.msg_close_lease(OWNER, 7, 1, 2, PROVIDER)
    assert close_lease.type_url == "/akash.market.v1beta5.MsgCloseLease"
    assert lease_pb2.MsgCloseLease.FromString(close_lease.value).reason == 1

    close = m.msg_close_deployment(OWNER, 7)
    assert close.type_url == "/akash.deployment.v1beta4.MsgCloseDeployment"
    assert deployment_pb2.MsgCloseDeployment.FromString(close.value).id.dseq == 7

    deposit = m.msg_account_deposit(OWNER, OWNER, 7, 2_000_000)
    assert deposit.type_url == "/akash.escrow.v1.MsgAccountDeposit"
    decoded = escrow_pb2.MsgAccountDeposit.FromString(deposit.value)
    assert decoded.id.scope == 1 and decoded.id.xid == f"{OWNER}/7"
    assert (decoded.deposit.amount.denom, decoded.deposit.amount.amount) == ("uact", "2000000")

    mint = m.msg_mint_act(OWNER, 15_000_000)
    assert mint.type_url == "/akash.bme.v1.MsgMintACT"
    decoded_mint = bme_pb2.MsgMintACT.FromString(mint.value)
    assert decoded_mint.owner == decoded_mint.to == OWNER
    assert (decoded_mint.coins_to_burn.denom, decoded_mint.coins_to_burn.amount) == ("uakt", "15000000")

    described = m.describe_messages(_body(lease, close_lease, close, deposit, mint))
    assert [d["type"] for d in described] == [
        "MsgCreateLease", "MsgCloseLease", "MsgCloseDeployment", "MsgAccountDeposit", "MsgMintACT",
    ]  # fmt: skip
    assert described[1]["fields"]["reason"] == "lease_closed_owner"
    assert described[3]["fields"]["id"] == {"scope": "deployment", "xid": f"{OWNER}/7"}
    assert described[4]["fields"]["coins_to_burn"] == {"denom": "uakt", "amount": "15000000"}
    assert m.SIGNABLE_TYPE_URLS == {d["type_url"] for d in described} | {
        m.TYPE_CREATE_DEPLOYMENT,
        m.TYPE_CREATE_CERTIFICATE,  # tests/akash/test_cert.py
    }


def test_allow_list_refuses_everything_else() -> None:
    send = any_pb2.Any(
        type_url="/cosmos.bank.v1beta1.MsgSend",
        value=bank_tx_pb2.MsgSend(
            from_address=OWNER, to_address=PROVIDER, amount=[coin_pb2.Coin(denom="uakt", amount="1")]
        ).SerializeToString(),
    )
    with pytest.raises(PolicyDenied, match="MsgSend"):
        m.describe_messages(_body(m.msg_close_deployment(OWNER, 1), send))
    update = any_pb2.Any(type_url="/akash.deployment.v1beta4.MsgUpdateDeployment", value=b"")
    with pytest.raises(PolicyDenied):
        m.assert_signable(_body(update))
    with pytest.raises(PolicyDenied, match="no messages"):
        m.describe_messages(_body())
    with pytest.raises(PolicyDenied, match="decode"):
        m.describe_messages(b"\xff\xff\xff")
    ext = tx_pb2.TxBody(messages=[m.msg_close_deployment(OWNER, 1)], extension_options=[any_pb2.Any()])
    with pytest.raises(PolicyDenied, match="extension"):
        m.describe_messages(ext.SerializeToString())
    # an unknown field hidden inside a message would be signed but never shown
    close = m.msg_close_deployment(OWNER, 1)
    close.value += b"\xa0\x06\x01"  # field 100, varint 1
    with pytest.raises(PolicyDenied, match="canonical"):
        m.describe_messages(_body(close))
    # a message for another owner is refused for this signer
    with pytest.raises(PolicyDenied, match="other accounts"):
        m.assert_signable(_body(m.msg_close_deployment(PROVIDER, 1)), OWNER)
    m.assert_signable(_body(m.msg_close_deployment(OWNER, 1)), OWNER)
