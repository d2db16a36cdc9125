"""Devnet test kit: real secp256k1 keys (cosmpy), real signed TxRaw bytes, real ES256K JWTs.

Independent of the product's own signer (tools/akash/), so the devnet is checked against the wire format,
not against whatever the client happens to produce.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass
from decimal import Decimal

import cosmpy.protos  # noqa: F401
import httpx
from cosmos.base.v1beta1 import coin_pb2
from cosmos.crypto.secp256k1 import keys_pb2
from cosmos.tx.signing.v1beta1 import signing_pb2
from cosmos.tx.v1beta1 import tx_pb2
from cosmpy.crypto.address import Address
from cosmpy.crypto.keypairs import PrivateKey
from google.protobuf import any_pb2

from tools.akash.protogen.akash.base.attributes.v1 import attribute_pb2
from tools.akash.protogen.akash.base.deposit.v1 import deposit_pb2
from tools.akash.protogen.akash.base.resources.v1beta4 import resources_pb2
from tools.akash.protogen.akash.deployment.v1 import deployment_pb2 as deployment_id_pb2
from tools.akash.protogen.akash.deployment.v1beta4 import deployment_pb2
from tools.akash.protogen.akash.market.v1 import bid_pb2
from tools.akash.protogen.akash.market.v1beta5 import lease_pb2

BLOCK_TIME_S = 0.05
BID_WINDOW_BLOCKS = 30
GIB = 1024**3
MIB = 1024**2

URL_CREATE_DEPLOYMENT = "/akash.deployment.v1beta4.MsgCreateDeployment"
URL_CLOSE_DEPLOYMENT = "/akash.deployment.v1beta4.MsgCloseDeployment"
URL_CREATE_LEASE = "/akash.market.v1beta5.MsgCreateLease"


# ------------------------------------------------------------------------------------------ keys / txs


@dataclass
class Wallet:
    key: PrivateKey
    address: str

    @classmethod
    def from_name(cls, name: str) -> Wallet:
        key = PrivateKey(hashlib.sha256(f"necto-devnet-test/{name}".encode()).digest())
        return cls(key=key, address=str(Address(key.public_key, prefix="akash")))

    @property
    def pubkey(self) -> bytes:
        return self.key.public_key.public_key_bytes

    def sign_tx(
        self,
        messages: list[tuple[str, object]],
        *,
        chain_id: str,
        account_number: int,
        sequence: int,
        gas: int = 400_000,
        fee: int | None = None,
        fee_denom: str = "uakt",
        corrupt_signature: bool = False,
    ) -> bytes:
        body = tx_pb2.TxBody(
            messages=[any_pb2.Any(type_url=url, value=msg.SerializeToString()) for url, msg in messages]
        )
        pk_any = any_pb2.Any(
            type_url="/cosmos.crypto.secp256k1.PubKey",
            value=keys_pb2.PubKey(key=self.pubkey).SerializeToString(),
        )
        auth_info = tx_pb2.AuthInfo(
            signer_infos=[
                tx_pb2.SignerInfo(
                    public_key=pk_any,
                    mode_info=tx_pb2.ModeInfo(
                        single=tx_pb2.ModeInfo.Single(mode=signing_pb2.SIGN_MODE_DIRECT)
                    ),
                    sequence=sequence,
                )
            ],
            fee=tx_pb2.Fee(
                amount=[
                    coin_pb2.Coin(
                        denom=fee_denom, amount=str(fee if fee is not None else gas * 25 // 10000 + 1)
                    )
                ],
                gas_limit=gas,
            ),
        )
        body_bytes, auth_bytes = body.SerializeToString(), auth_info.SerializeToString()
        sign_doc = tx_pb2.SignDoc(
            body_bytes=body_bytes,
            auth_info_bytes=auth_bytes,
            chain_id=chain_id,
            account_number=account_number,
        )
        signature = self.key.sign(sign_doc.SerializeToString(), deterministic=True, canonicalise=True)
        if corrupt_signature:
            signature = bytes([signature[0] ^ 1]) + signature[1:]
        return tx_pb2.TxRaw(
            body_bytes=body_bytes, auth_info_bytes=auth_bytes, signatures=[signature]
        ).SerializeToString()

    def jwt(self, *, ttl_s: int = 600, iss: str | None = None, nbf_offset: int = 0) -> str:
        now = int(time.time())
        header = {"alg": "ES256K", "typ": "JWT"}
        claims = {
            "iss": iss or self.address,
            "iat": now,
            "nbf": now + nbf_offset,
            "exp": now + ttl_s,
            "version": "v1",
            "leases": {"access": "full"},
        }
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = self.key.sign(signing_input.encode(), deterministic=True, canonicalise=True)
        return f"{signing_input}.{_b64url(signature)}"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class ChainClient:
    """A tiny REST client for the tests."""

    def __init__(self, client: httpx.Client, chain_id: str) -> None:
        self.client = client
        self.chain_id = chain_id

    def account(self, address: str) -> tuple[int, int]:
        body = self.client.get(f"/cosmos/auth/v1beta1/accounts/{address}").json()["account"]
        return int(body["account_number"]), int(body["sequence"])

    def balance(self, address: str, denom: str) -> int:
        for coin in self.client.get(f"/cosmos/bank/v1beta1/balances/{address}").json()["balances"]:
            if coin["denom"] == denom:
                return int(coin["amount"])
        return 0

    def faucet(self, wallet: Wallet) -> None:
        response = self.client.post("/necto-devnet/faucet", json={"address": wallet.address})
        assert response.status_code == 200, response.text

    def height(self) -> int:
        return int(
            self.client.get("/cosmos/base/tendermint/v1beta1/blocks/latest").json()["block"]["header"][
                "height"
            ]
        )

    def wait_height(self, height: int, timeout_s: float = 15.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.height() < height:
            assert time.monotonic() < deadline, f"height {height} not reached"
            time.sleep(BLOCK_TIME_S)

    def broadcast(self, tx_bytes: bytes) -> dict:
        response = self.client.post(
            "/cosmos/tx/v1beta1/txs",
            json={"tx_bytes": base64.b64encode(tx_bytes).decode(), "mode": "BROADCAST_MODE_SYNC"},
        )
        assert response.status_code == 200, response.text
        return response.json()["tx_response"]

    def wait_tx(self, txhash: str, timeout_s: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout_s
        while True:
            response = self.client.get(f"/cosmos/tx/v1beta1/txs/{txhash}")
            if response.status_code == 200:
                return response.json()["tx_response"]
            assert response.status_code == 404, response.text
            assert time.monotonic() < deadline, f"tx {txhash} not included"
            time.sleep(BLOCK_TIME_S)

    def send(self, wallet: Wallet, messages: list[tuple[str, object]], **kwargs) -> dict:
        """Sign with the current account number/sequence, broadcast, wait; returns the DeliverTx response."""
        account_number, sequence = self.account(wallet.address)
        tx = wallet.sign_tx(
            messages, chain_id=self.chain_id, account_number=account_number, sequence=sequence, **kwargs
        )
        check = self.broadcast(tx)
        assert check["code"] == 0, check["raw_log"]
        return self.wait_tx(check["txhash"])


# ------------------------------------------------------------------------------------------ deployments


def dec_atomics(value: Decimal | int | str) -> str:
    """DecCoin amount on the protobuf wire: value x 10^18 as an integer string (akash.md §2)."""
    return str(int(Decimal(value) * 10**18))


def resource_unit(
    *,
    unit_id: int = 1,
    cpu_milli: int = 500,
    memory: int = 512 * MIB,
    storage: int = GIB,
    gpu: int = 0,
    gpu_model: str | None = None,
    count: int = 1,
    price_uact: Decimal | int | str = 1000,
    endpoints: tuple[int, ...] = (0,),
) -> deployment_pb2.ResourceUnit:
    gpu_attrs = []
    if gpu:
        key = f"vendor/nvidia/model/{gpu_model}" if gpu_model else "vendor/nvidia/model/*"
        gpu_attrs = [attribute_pb2.Attribute(key=key, value="true")]
    return deployment_pb2.ResourceUnit(
        resource=resources_pb2.Resources(
            id=unit_id,
            cpu=resources_pb2.CPU(units=resources_pb2.ResourceValue(val=str(cpu_milli).encode())),
            memory=resources_pb2.Memory(quantity=resources_pb2.ResourceValue(val=str(memory).encode())),
            storage=[
                resources_pb2.Storage(
                    name="default", quantity=resources_pb2.ResourceValue(val=str(storage).encode())
                )
            ],
            gpu=resources_pb2.GPU(
                units=resources_pb2.ResourceValue(val=str(gpu).encode()), attributes=gpu_attrs
            ),
            endpoints=[resources_pb2.Endpoint(kind=k, sequence_number=0) for k in endpoints],
        ),
        count=count,
        price=coin_pb2.DecCoin(denom="uact", amount=dec_atomics(price_uact)),
    )


def manifest_for(
    group_name: str = "dcloud",
    *,
    image: str = "nginx:1.27",
    service: str = "web",
    cpu_milli: int = 500,
    memory: int = 512 * MIB,
    storage: int = GIB,
    gpu: int = 0,
    gpu_model: str | None = None,
    env: list[str] | None = None,
    extra_ports: tuple[int, ...] = (),
) -> list:
    gpu_block: dict = {"units": {"val": str(gpu)}}
    if gpu:
        gpu_block["attributes"] = [{"key": f"vendor/nvidia/model/{gpu_model}", "value": "true"}]
    expose = [
        {
            "port": 80,
            "externalPort": 0,
            "proto": "TCP",
            "service": "",
            "global": True,
            "hosts": None,
            "httpOptions": {
                "maxBodySize": 1048576,
                "readTimeout": 60000,
                "sendTimeout": 60000,
                "nextTries": 3,
                "nextTimeout": 0,
                "nextCases": ["error", "timeout"],
            },
            "ip": "",
            "endpointSequenceNumber": 0,
        }
    ]
    for port in extra_ports:
        expose.append(
            {
                "port": port,
                "externalPort": 0,
                "proto": "TCP",
                "service": "",
                "global": True,
                "hosts": None,
                "httpOptions": expose[0]["httpOptions"],
                "ip": "",
                "endpointSequenceNumber": 0,
            }
        )
    return [
        {
            "name": group_name,
            "services": [
                {
                    "name": service,
                    "image": image,
                    "command": None,
                    "args": None,
                    "env": env,
                    "resources": {
                        "id": 1,
                        "cpu": {"units": {"val": str(cpu_milli)}},
                        "memory": {"size": {"val": str(memory)}},
                        "storage": [{"name": "default", "size": {"val": str(storage)}}],
                        "gpu": gpu_block,
                        "endpoints": [{"sequence_number": 0}]
                        + [{"kind": 1, "sequence_number": 0}] * len(extra_ports),
                    },
                    "count": 1,
                    "expose": expose,
                    "credentials": None,
                }
            ],
        }
    ]


def manifest_hash(manifest: list) -> bytes:
    """sha256 of Go's json.Marshal + sdk.SortJSON output (exact for the ints/strings/null these manifests hold)."""
    text = json.dumps(manifest, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escape)
    return hashlib.sha256(text.encode()).digest()


def create_deployment_msg(
    owner: str,
    dseq: int,
    units: list[deployment_pb2.ResourceUnit],
    *,
    deposit: int = 5_000_000,
    deposit_denom: str = "uact",
    version: bytes | None = None,
    group_name: str = "dcloud",
    attributes: dict[str, str] | None = None,
    signed_by_any: list[str] | None = None,
) -> deployment_pb2.MsgCreateDeployment:
    return deployment_pb2.MsgCreateDeployment(
        id=deployment_id_pb2.DeploymentID(owner=owner, dseq=dseq),
        groups=[
            deployment_pb2.GroupSpec(
                name=group_name,
                requirements=attribute_pb2.PlacementRequirements(
                    signed_by=attribute_pb2.SignedBy(any_of=signed_by_any or []),
                    attributes=[
                        attribute_pb2.Attribute(key=k, value=v) for k, v in (attributes or {}).items()
                    ],
                ),
                resources=units,
            )
        ],
        hash=version if version is not None else hashlib.sha256(b"x").digest(),
        deposit=deposit_pb2.Deposit(
            amount=coin_pb2.Coin(denom=deposit_denom, amount=str(deposit)), sources=[1]
        ),
    )


def close_deployment_msg(owner: str, dseq: int) -> deployment_pb2.MsgCloseDeployment:
    return deployment_pb2.MsgCloseDeployment(id=deployment_id_pb2.DeploymentID(owner=owner, dseq=dseq))


def create_lease_msg(bid_id: dict) -> lease_pb2.MsgCreateLease:
    return lease_pb2.MsgCreateLease(
        bid_id=bid_pb2.BidID(
            owner=bid_id["owner"],
            dseq=int(bid_id["dseq"]),
            gseq=bid_id["gseq"],
            oseq=bid_id["oseq"],
            provider=bid_id["provider"],
            bseq=bid_id["bseq"],
        )
    )


def wait_bid_window(chain: ChainClient, devnet, owner: str, dseq: int) -> None:
    order = devnet.chain.orders[(owner, dseq, 1, 1)]
    chain.wait_height(order.bids_close_at)


def bids_for(client: httpx.Client, owner: str, dseq: int) -> list[dict]:
    response = client.get(
        "/akash/market/v1beta5/bids/list", params={"filters.owner": owner, "filters.dseq": dseq}
    )
    assert response.status_code == 200, response.text
    return [b["bid"] for b in response.json()["bids"]]
