"""Pure builders for the Akash messages Necto signs, and their decoder for confirmation cards.

Every builder returns a ``google.protobuf.any_pb2.Any`` with the exact type URL the chain routes on
(akash.md §2). ``describe_messages`` goes the other way: from the exact ``TxBody`` bytes that will be
signed back to plain dicts, so the confirmation card and the server-side policy checks are computed
from what is signed, never from what the model said (security.md rule 1).

The signer refuses any type URL outside ``SIGNABLE_TYPE_URLS`` (security.md rule 4); this module is
where that list lives. ``MsgUpdateDeployment`` and authz ``MsgExec`` are deliberately absent.
``MsgCreateCertificate`` is on it because publishing a client certificate is the precondition of mTLS to
providers without JWT (akash.md §5); like every other message it is only signed from a plan the user
confirmed, and it moves no funds (the fee only).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any as AnyType

import bech32
import cosmpy.protos  # noqa: F401  (registers the cosmos.* generated modules)
from cosmos.base.v1beta1 import coin_pb2
from cosmos.tx.v1beta1 import tx_pb2
from google.protobuf import any_pb2
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

from tools.akash.protogen.akash.base.attributes.v1 import attribute_pb2
from tools.akash.protogen.akash.base.deposit.v1 import deposit_pb2
from tools.akash.protogen.akash.base.resources.v1beta4 import resources_pb2
from tools.akash.protogen.akash.bme.v1 import msg_pb2 as bme_msg_pb2
from tools.akash.protogen.akash.cert.v1 import msg_pb2 as cert_msg_pb2
from tools.akash.protogen.akash.deployment.v1 import deployment_pb2 as deployment_v1_pb2
from tools.akash.protogen.akash.deployment.v1beta4 import deployment_pb2
from tools.akash.protogen.akash.escrow.v1 import msg_pb2 as escrow_msg_pb2
from tools.akash.protogen.akash.market.v1 import bid_pb2
from tools.akash.protogen.akash.market.v1beta5 import lease_pb2
from tools.errors import InvalidRequest, PolicyDenied

__all__ = [
    "TYPE_ACCOUNT_DEPOSIT",
    "TYPE_CLOSE_DEPLOYMENT",
    "TYPE_CLOSE_LEASE",
    "TYPE_CREATE_CERTIFICATE",
    "TYPE_CREATE_DEPLOYMENT",
    "TYPE_CREATE_LEASE",
    "TYPE_MINT_ACT",
    "SIGNABLE_TYPE_URLS",
    "assert_signable",
    "atomics_to_dec",
    "dec_to_atomics",
    "describe_messages",
    "msg_account_deposit",
    "msg_close_deployment",
    "msg_close_lease",
    "msg_create_certificate",
    "msg_create_deployment",
    "msg_create_lease",
    "msg_mint_act",
    "required_signers",
]

TYPE_CREATE_DEPLOYMENT = "/akash.deployment.v1beta4.MsgCreateDeployment"
TYPE_CLOSE_DEPLOYMENT = "/akash.deployment.v1beta4.MsgCloseDeployment"
TYPE_CREATE_LEASE = "/akash.market.v1beta5.MsgCreateLease"
TYPE_CLOSE_LEASE = "/akash.market.v1beta5.MsgCloseLease"
TYPE_ACCOUNT_DEPOSIT = "/akash.escrow.v1.MsgAccountDeposit"
TYPE_MINT_ACT = "/akash.bme.v1.MsgMintACT"
TYPE_CREATE_CERTIFICATE = "/akash.cert.v1.MsgCreateCertificate"

_MESSAGE_CLASSES: dict[str, type[Message]] = {
    TYPE_CREATE_DEPLOYMENT: deployment_pb2.MsgCreateDeployment,
    TYPE_CLOSE_DEPLOYMENT: deployment_pb2.MsgCloseDeployment,
    TYPE_CREATE_LEASE: lease_pb2.MsgCreateLease,
    TYPE_CLOSE_LEASE: lease_pb2.MsgCloseLease,
    TYPE_ACCOUNT_DEPOSIT: escrow_msg_pb2.MsgAccountDeposit,
    TYPE_MINT_ACT: bme_msg_pb2.MsgMintACT,
    TYPE_CREATE_CERTIFICATE: cert_msg_pb2.MsgCreateCertificate,
}
SIGNABLE_TYPE_URLS: frozenset[str] = frozenset(_MESSAGE_CLASSES)

ADDRESS_PREFIX = "akash"
DEPOSIT_DENOM = "uact"  # deployments are paid in ACT since chain v2.0.0 (akash.md §1)
BURN_DENOM = "uakt"  # MsgMintACT burns AKT
_DEC_PRECISION = 18  # cosmos LegacyDec
_MAX_UINT64 = 2**64 - 1
_MAX_UINT32 = 2**32 - 1
_ENDPOINT_KINDS = resources_pb2.Endpoint.Kind


# --- decimals -----------------------------------------------------------------------------------------


def dec_to_atomics(amount: str | int | Decimal) -> str:
    """A LegacyDec decimal string ("50.000000000000000000") as its wire atomics ("50000000000000000000").

    The chain's DecCoin is serialised as value x 10^18 in an integer string (akash.md §2). Negative values,
    more than 18 fractional digits, exponents and non-numbers raise ``InvalidRequest``.
    """
    text = str(amount).strip()
    if not text or any(c not in "0123456789." for c in text) or text.count(".") > 1:
        raise InvalidRequest(f"price amount {amount!r} is not a non-negative decimal number")
    whole, _, frac = text.partition(".")
    if len(frac) > _DEC_PRECISION:
        raise InvalidRequest(f"price amount {amount!r} has more than {_DEC_PRECISION} decimal places")
    try:
        with localcontext() as ctx:
            ctx.prec = 100
            atomics = int(Decimal(text) * (10**_DEC_PRECISION))
    except InvalidOperation as exc:
        raise InvalidRequest(f"price amount {amount!r} is not a decimal number") from exc
    return str(atomics)


def atomics_to_dec(atomics: str | int) -> str:
    """Wire atomics back to the 18-digit decimal string REST shows ("1000" x 10^18 -> "1000.000...")."""
    text = str(atomics)
    if not text.isdigit():
        raise InvalidRequest(f"DecCoin atomics {atomics!r} is not a non-negative integer string")
    value = int(text)
    whole, frac = divmod(value, 10**_DEC_PRECISION)
    return f"{whole}.{frac:0{_DEC_PRECISION}d}"


# --- validation helpers -------------------------------------------------------------------------------


def is_account_address(value: object) -> bool:
    """True for an akash1... account address: lower-case bech32 with a valid checksum and a 20-byte payload."""
    if not isinstance(value, str) or len(value) > 90 or value != value.lower():
        return False
    hrp, data = bech32.bech32_decode(value)
    decoded = bech32.convertbits(data, 5, 8, False) if data is not None else None
    return hrp == ADDRESS_PREFIX and decoded is not None and len(decoded) == 20


def _address(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidRequest(f"{what} must be an {ADDRESS_PREFIX}1... address, got {type(value).__name__}")
    hrp, data = bech32.bech32_decode(value)
    if hrp != ADDRESS_PREFIX or data is None:
        raise InvalidRequest(f"{what} {value!r} is not a valid {ADDRESS_PREFIX}1... bech32 address")
    return value


def _uint(value: object, what: str, maximum: int = _MAX_UINT64, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        else:
            raise InvalidRequest(f"{what} must be an integer, got {value!r}")
    if not minimum <= value <= maximum:
        raise InvalidRequest(f"{what} {value} is out of range [{minimum}, {maximum}]")
    return value


def _pack(type_url: str, msg: Message) -> any_pb2.Any:
    return any_pb2.Any(type_url=type_url, value=msg.SerializeToString(deterministic=True))


# --- group specs (SDL compiler JSON -> proto) ---------------------------------------------------------


def _get(obj: Mapping[str, AnyType], key: str, path: str, *, required: bool = True) -> AnyType:
    if not isinstance(obj, Mapping):
        raise InvalidRequest(f"group spec {path}: expected an object, got {type(obj).__name__}")
    if key not in obj or obj[key] is None:
        if required:
            raise InvalidRequest(f"group spec {path}.{key}: missing")
        return None
    return obj[key]


def _list(value: AnyType, path: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidRequest(f"group spec {path}: expected a list, got {type(value).__name__}")
    return value


def _attributes(value: AnyType, path: str) -> list[attribute_pb2.Attribute]:
    out = []
    for i, item in enumerate(_list(value, path)):
        key = _get(item, "key", f"{path}[{i}]")
        val = _get(item, "value", f"{path}[{i}]", required=False) or ""
        if not isinstance(key, str) or not isinstance(val, str):
            raise InvalidRequest(f"group spec {path}[{i}]: key and value must be strings")
        out.append(attribute_pb2.Attribute(key=key, value=val))
    return out


def _resource_value(obj: AnyType, path: str) -> resources_pb2.ResourceValue:
    val = _get(obj, "val", path)
    if isinstance(val, int) and not isinstance(val, bool):
        val = str(val)
    if not isinstance(val, str) or not val.isdigit():
        raise InvalidRequest(f"group spec {path}.val: expected a decimal integer string, got {val!r}")
    return resources_pb2.ResourceValue(val=val.encode())


def _quantity(obj: AnyType, path: str) -> resources_pb2.ResourceValue:
    # The SDL compiler's JSON says ``size`` (manifest naming); REST and the proto say ``quantity``.
    if isinstance(obj, Mapping) and obj.get("size") is not None:
        return _resource_value(obj["size"], f"{path}.size")
    return _resource_value(_get(obj, "quantity", path), f"{path}.quantity")


def _endpoint_kind(value: AnyType, path: str) -> int:
    if value is None:
        return _ENDPOINT_KINDS.SHARED_HTTP  # omitted in JSON when 0 (akash.md §4)
    if isinstance(value, str):
        try:
            return _ENDPOINT_KINDS.Value(value)
        except ValueError as exc:
            raise InvalidRequest(f"group spec {path}: unknown endpoint kind {value!r}") from exc
    if isinstance(value, int) and not isinstance(value, bool) and value in _ENDPOINT_KINDS.values():
        return value
    raise InvalidRequest(f"group spec {path}: unknown endpoint kind {value!r}")


def _resources(obj: AnyType, path: str) -> resources_pb2.Resources:
    res = resources_pb2.Resources(id=_uint(_get(obj, "id", path), f"{path}.id", _MAX_UINT32))
    cpu = _get(obj, "cpu", path)
    res.cpu.units.CopyFrom(_resource_value(_get(cpu, "units", f"{path}.cpu"), f"{path}.cpu.units"))
    res.cpu.attributes.extend(_attributes(cpu.get("attributes"), f"{path}.cpu.attributes"))
    memory = _get(obj, "memory", path)
    res.memory.quantity.CopyFrom(_quantity(memory, f"{path}.memory"))
    res.memory.attributes.extend(_attributes(memory.get("attributes"), f"{path}.memory.attributes"))
    for i, storage in enumerate(_list(_get(obj, "storage", path, required=False), f"{path}.storage")):
        spath = f"{path}.storage[{i}]"
        name = _get(storage, "name", spath, required=False) or "default"
        if not isinstance(name, str):
            raise InvalidRequest(f"group spec {spath}.name: expected a string")
        res.storage.append(
            resources_pb2.Storage(
                name=name,
                quantity=_quantity(storage, spath),
                attributes=_attributes(storage.get("attributes"), f"{spath}.attributes"),
            )
        )
    gpu = _get(obj, "gpu", path, required=False)
    if gpu is None:
        res.gpu.units.val = b"0"
    else:
        res.gpu.units.CopyFrom(_resource_value(_get(gpu, "units", f"{path}.gpu"), f"{path}.gpu.units"))
        res.gpu.attributes.extend(_attributes(gpu.get("attributes"), f"{path}.gpu.attributes"))
    for i, endpoint in enumerate(_list(_get(obj, "endpoints", path, required=False), f"{path}.endpoints")):
        epath = f"{path}.endpoints[{i}]"
        if not isinstance(endpoint, Mapping):
            raise InvalidRequest(f"group spec {epath}: expected an object")
        res.endpoints.append(
            resources_pb2.Endpoint(
                kind=_endpoint_kind(endpoint.get("kind"), f"{epath}.kind"),
                sequence_number=_uint(
                    endpoint.get("sequence_number", 0), f"{epath}.sequence_number", _MAX_UINT32
                ),
            )
        )
    return res


def _group_spec(obj: AnyType, path: str) -> deployment_pb2.GroupSpec:
    name = _get(obj, "name", path)
    if not isinstance(name, str):
        raise InvalidRequest(f"group spec {path}.name: expected a string")
    spec = deployment_pb2.GroupSpec(name=name)
    requirements = _get(obj, "requirements", path, required=False) or {}
    signed_by = _get(requirements, "signed_by", f"{path}.requirements", required=False) or {}
    for field in ("all_of", "any_of"):
        items = _list(
            signed_by.get(field) if isinstance(signed_by, Mapping) else None, f"{path}.signed_by.{field}"
        )
        if not all(isinstance(x, str) for x in items):
            raise InvalidRequest(f"group spec {path}.requirements.signed_by.{field}: expected strings")
        getattr(spec.requirements.signed_by, field).extend(items)
    spec.requirements.attributes.extend(
        _attributes(requirements.get("attributes"), f"{path}.requirements.attributes")
    )
    units = _list(_get(obj, "resources", path), f"{path}.resources")
    if not units:
        raise InvalidRequest(f"group spec {path}.resources: at least one resource unit is required")
    for i, unit in enumerate(units):
        upath = f"{path}.resources[{i}]"
        price = _get(unit, "price", upath)
        denom = _get(price, "denom", f"{upath}.price")
        if not isinstance(denom, str) or not denom:
            raise InvalidRequest(f"group spec {upath}.price.denom: expected a denom string")
        spec.resources.append(
            deployment_pb2.ResourceUnit(
                resource=_resources(_get(unit, "resource", upath), f"{upath}.resource"),
                count=_uint(_get(unit, "count", upath), f"{upath}.count", _MAX_UINT32, minimum=1),
                price=coin_pb2.DecCoin(
                    denom=denom, amount=dec_to_atomics(_get(price, "amount", f"{upath}.price"))
                ),
            )
        )
    return spec


# --- builders -----------------------------------------------------------------------------------------


def msg_create_deployment(
    owner: str,
    dseq: int,
    groups_json: Iterable[Mapping[str, AnyType]],
    manifest_hash: bytes,
    deposit_uact: int,
) -> any_pb2.Any:
    """``MsgCreateDeployment`` from the SDL compiler's group specs (group-specs.json shape).

    Structural chain rules are checked here (groups non-empty, 32-byte hash, positive deposit); price
    denoms and spending caps are policy and belong to the caller, which sees them in ``describe_messages``.
    """
    groups = list(groups_json) if not isinstance(groups_json, Mapping) else None
    if not groups:
        raise InvalidRequest("a deployment needs at least one group (the group specs list is empty)")
    if not isinstance(manifest_hash, bytes | bytearray) or len(manifest_hash) != 32:
        raise InvalidRequest("the manifest hash must be exactly 32 bytes (sha256 of the manifest JSON)")
    msg = deployment_pb2.MsgCreateDeployment(
        id=deployment_v1_pb2.DeploymentID(
            owner=_address(owner, "owner"), dseq=_uint(dseq, "dseq", minimum=1)
        ),
        groups=[_group_spec(g, f"groups[{i}]") for i, g in enumerate(groups)],
        hash=bytes(manifest_hash),
        deposit=deposit_pb2.Deposit(
            amount=coin_pb2.Coin(
                denom=DEPOSIT_DENOM, amount=str(_uint(deposit_uact, "deposit_uact", minimum=1))
            ),
            sources=[deposit_pb2.balance],
        ),
    )
    return _pack(TYPE_CREATE_DEPLOYMENT, msg)


def msg_close_deployment(owner: str, dseq: int) -> any_pb2.Any:
    """``MsgCloseDeployment``: closes the deployment and refunds the unspent escrow."""
    msg = deployment_pb2.MsgCloseDeployment(
        id=deployment_v1_pb2.DeploymentID(owner=_address(owner, "owner"), dseq=_uint(dseq, "dseq", minimum=1))
    )
    return _pack(TYPE_CLOSE_DEPLOYMENT, msg)


def msg_create_lease(
    owner: str, dseq: int, gseq: int, oseq: int, provider: str, bseq: int = 0
) -> any_pb2.Any:
    """``MsgCreateLease`` accepting one bid."""
    msg = lease_pb2.MsgCreateLease(
        bid_id=bid_pb2.BidID(
            owner=_address(owner, "owner"),
            dseq=_uint(dseq, "dseq", minimum=1),
            gseq=_uint(gseq, "gseq", _MAX_UINT32),
            oseq=_uint(oseq, "oseq", _MAX_UINT32),
            provider=_address(provider, "provider"),
            bseq=_uint(bseq, "bseq", _MAX_UINT32),
        )
    )
    return _pack(TYPE_CREATE_LEASE, msg)


def msg_close_lease(owner: str, dseq: int, gseq: int, oseq: int, provider: str, bseq: int = 0) -> any_pb2.Any:
    """``MsgCloseLease`` by the owner (reason ``lease_closed_owner``)."""
    msg = lease_pb2.MsgCloseLease(
        id=bid_pb2.LeaseID(
            owner=_address(owner, "owner"),
            dseq=_uint(dseq, "dseq", minimum=1),
            gseq=_uint(gseq, "gseq", _MAX_UINT32),
            oseq=_uint(oseq, "oseq", _MAX_UINT32),
            provider=_address(provider, "provider"),
            bseq=_uint(bseq, "bseq", _MAX_UINT32),
        ),
        reason=bid_pb2.lease_closed_owner,
    )
    return _pack(TYPE_CLOSE_LEASE, msg)


def msg_account_deposit(signer: str, owner: str, dseq: int, amount_uact: int) -> any_pb2.Any:
    """``MsgAccountDeposit`` topping up a deployment's escrow (replaces MsgDepositDeployment, akash.md §1)."""
    msg = escrow_msg_pb2.MsgAccountDeposit(
        signer=_address(signer, "signer"),
        id=escrow_msg_pb2.AccountID(
            scope=escrow_msg_pb2.deployment,
            xid=f"{_address(owner, 'owner')}/{_uint(dseq, 'dseq', minimum=1)}",
        ),
        deposit=deposit_pb2.Deposit(
            amount=coin_pb2.Coin(
                denom=DEPOSIT_DENOM, amount=str(_uint(amount_uact, "amount_uact", minimum=1))
            ),
            sources=[deposit_pb2.balance],
        ),
    )
    return _pack(TYPE_ACCOUNT_DEPOSIT, msg)


def msg_mint_act(owner: str, uakt: int) -> any_pb2.Any:
    """``MsgMintACT`` burning ``uakt`` to mint ACT to the owner (``to`` = owner; ACT is not transferable)."""
    owner = _address(owner, "owner")
    msg = bme_msg_pb2.MsgMintACT(
        owner=owner,
        to=owner,
        coins_to_burn=coin_pb2.Coin(denom=BURN_DENOM, amount=str(_uint(uakt, "uakt", minimum=1))),
    )
    return _pack(TYPE_MINT_ACT, msg)


def _pem(value: object, kind: str, what: str) -> bytes:
    data = value.encode("ascii") if isinstance(value, str) else value
    if not isinstance(data, bytes):
        raise InvalidRequest(f"{what} must be PEM text")
    text = data.strip()
    if not (
        text.startswith(f"-----BEGIN {kind}-----".encode())
        and text.endswith(f"-----END {kind}-----".encode())
        and text.count(b"-----BEGIN") == 1
        and len(text) <= 16_384
    ):
        raise InvalidRequest(f"{what} must be one PEM {kind!r} block")
    return data


def msg_create_certificate(owner: str, cert_pem: bytes | str, pubkey_pem: bytes | str) -> any_pb2.Any:
    """``MsgCreateCertificate`` publishing an mTLS client certificate (PEM ``CERTIFICATE`` and
    ``EC PUBLIC KEY`` blocks, as ``tools.akash.cert`` generates them; the chain re-validates both)."""
    msg = cert_msg_pb2.MsgCreateCertificate(
        owner=_address(owner, "owner"),
        cert=_pem(cert_pem, "CERTIFICATE", "cert"),
        pubkey=_pem(pubkey_pem, "EC PUBLIC KEY", "pubkey"),
    )
    return _pack(TYPE_CREATE_CERTIFICATE, msg)


# --- decoding -----------------------------------------------------------------------------------------


def _canonical(msg: Message, original: bytes) -> bool:
    """True if ``original`` is exactly the canonical encoding of ``msg`` with no unknown fields."""
    known_only = type(msg)()
    known_only.CopyFrom(msg)
    known_only.DiscardUnknownFields()
    return known_only.SerializeToString(deterministic=True) == original


def _parse_body(body_bytes: bytes) -> tx_pb2.TxBody:
    body = tx_pb2.TxBody()
    try:
        body.ParseFromString(bytes(body_bytes))
    except (DecodeError, TypeError) as exc:
        raise PolicyDenied("the transaction body does not decode as a cosmos TxBody") from exc
    if body.extension_options or body.non_critical_extension_options:
        raise PolicyDenied("the transaction body carries extension options, which Necto never signs")
    if not body.messages:
        raise PolicyDenied("the transaction body has no messages")
    if not _canonical(body, bytes(body_bytes)):
        # Unknown or duplicated fields would be signed but not shown: what you see must be what you sign.
        raise PolicyDenied("the transaction body is not canonically encoded (unknown or repeated fields)")
    return body


def _unpack(message: any_pb2.Any) -> Message:
    cls = _MESSAGE_CLASSES.get(message.type_url)
    if cls is None:
        raise PolicyDenied(
            f"Necto does not sign {message.type_url or 'messages without a type URL'}",
            hint="only create/close deployment, create/close lease, account deposit, mint ACT and "
            "create certificate are signed",
        )
    msg = cls()
    try:
        msg.ParseFromString(message.value)
    except DecodeError as exc:
        raise PolicyDenied(f"a {message.type_url} message does not decode") from exc
    if not _canonical(msg, message.value):
        raise PolicyDenied(f"a {message.type_url} message is not canonically encoded (unknown fields?)")
    return msg


def _field_value(field: FieldDescriptor, value: AnyType) -> AnyType:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return _to_dict(value)
    if field.type == FieldDescriptor.TYPE_ENUM:
        enum_value = field.enum_type.values_by_number.get(value)
        return enum_value.name if enum_value is not None else value
    if field.type == FieldDescriptor.TYPE_BYTES:
        return value.hex()
    return value


def _to_dict(msg: Message) -> dict[str, AnyType]:
    """Proto names, every field present (defaults included), human units where Akash has conventions."""
    full_name = msg.DESCRIPTOR.full_name
    if full_name == "cosmos.base.v1beta1.DecCoin":
        return {"denom": msg.denom, "amount": atomics_to_dec(msg.amount or "0")}
    if full_name == "akash.base.resources.v1beta4.ResourceValue":
        return {"val": msg.val.decode("utf-8", errors="replace")}
    if full_name == "akash.cert.v1.MsgCreateCertificate":  # PEM text is public and readable as is
        return {
            "owner": msg.owner,
            "cert": msg.cert.decode("ascii", errors="replace"),
            "pubkey": msg.pubkey.decode("ascii", errors="replace"),
        }
    out: dict[str, AnyType] = {}
    for field in msg.DESCRIPTOR.fields:
        value = getattr(msg, field.name)
        if field.label == FieldDescriptor.LABEL_REPEATED:
            out[field.name] = [_field_value(field, v) for v in value]
        elif field.type == FieldDescriptor.TYPE_MESSAGE and not msg.HasField(field.name):
            out[field.name] = None
        else:
            out[field.name] = _field_value(field, value)
    return out


def describe_messages(body_bytes: bytes) -> list[dict[str, AnyType]]:
    """Decode the exact TxBody bytes to be signed into ``[{"type_url", "type", "fields"}]``.

    Bytes fields are hex (the manifest ``hash``), DecCoin amounts are decimal strings, resource values are
    their decimal text, enums are names. Raises ``PolicyDenied`` for anything Necto would not sign.
    """
    body = _parse_body(body_bytes)
    described = []
    for message in body.messages:
        msg = _unpack(message)
        described.append(
            {
                "type_url": message.type_url,
                "type": message.type_url.rsplit(".", 1)[-1],
                "fields": _to_dict(msg),
            }
        )
    return described


def _signer_of(type_url: str, msg: AnyType) -> str:
    if type_url in (TYPE_CREATE_DEPLOYMENT, TYPE_CLOSE_DEPLOYMENT, TYPE_CLOSE_LEASE):
        return msg.id.owner
    if type_url == TYPE_CREATE_LEASE:
        return msg.bid_id.owner
    if type_url == TYPE_ACCOUNT_DEPOSIT:
        return msg.signer
    return msg.owner  # MsgMintACT, MsgCreateCertificate


def required_signers(body_bytes: bytes) -> set[str]:
    """The addresses whose signatures the chain will require for these messages."""
    body = _parse_body(body_bytes)
    return {_signer_of(m.type_url, _unpack(m)) for m in body.messages}


def assert_signable(body_bytes: bytes, signer_address: str | None = None) -> None:
    """Raise ``PolicyDenied`` unless every message is allow-listed (and, if given, owned by the signer)."""
    signers = required_signers(body_bytes)
    if signer_address is not None and signers != {signer_address}:
        others = ", ".join(sorted(signers - {signer_address})) or "none"
        raise PolicyDenied(f"the transaction needs signatures from other accounts ({others})")
