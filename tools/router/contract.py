"""A web3.py client for the ComputeRouter contract (``contracts/ComputeRouter.sol``) on ADI Chain.

Synchronous on purpose: web3's HTTP provider is; async callers use ``asyncio.to_thread``. Every
transaction is estimated first (``eth_estimateGas``, then a margin: ADI is a ZKsync-stack rollup whose
gas depends on pubdata), signed locally by an eth-account ``LocalAccount`` (never an unlocked node
account), sent raw, and waited for with a timeout. Reverts come back as ``RouterError`` carrying the
contract's custom error name and decoded arguments.

How Necto's values are encoded on chain:

- job id: the UTF-8 bytes of Necto's id (``"job_4d3a8f003f31"``), left-aligned and zero-padded to 32 bytes,
  the layout of Solidity's ``bytes32("job_...")``; ``decode_job_id`` reverses it. At most 32 bytes, no NUL.
- buyer: ``keccak256(pepper || utf8(owner))``: Necto's owner ids can be e-mail addresses, which must not
  land on a public chain. With the default empty pepper the hash is only pseudonymous (a guessable owner id
  can be confirmed); a secret pepper from settings makes it unlinkable.
- provider: the Akash provider address as a string (``"akash1..."``, 44 characters): it does not fit a
  bytes32 without hashing, and a hash would hide from a reader of the explorer which provider won.
- price: the accepted bid in uact per block, times 1e18 (Cosmos ``sdk.Dec`` precision), so every bid
  price Akash can express is stored exactly.
- times: block timestamps in seconds, returned as aware UTC datetimes (None for a transition not taken).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from eth_abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from pydantic import BaseModel, ConfigDict
from web3 import Web3
from web3.exceptions import ContractLogicError, TimeExhausted, Web3RPCError

from tools.errors import BudgetExceeded, RouterError

ARTIFACT_NAME = "ComputeRouter.json"
# The repository layout: tools/router/contract.py -> <root>/contracts/build/ComputeRouter.json.
REPO_ARTIFACT = Path(__file__).resolve().parents[2] / "contracts" / "build" / ARTIFACT_NAME

DEFAULT_GAS_MARGIN = Decimal("1.25")
DEFAULT_RECEIPT_TIMEOUT_S = 120.0
DEFAULT_POLL_S = 1.0
MAX_PROVIDER_BYTES = 128  # an Akash address is 44; the bound keeps the record's gas predictable
PRICE_SCALE = 10**18
UINT64_MAX = 2**64 - 1


# --- the compiled artifact ---------------------------------------------------------------------------


class RouterArtifact(BaseModel):
    """``contracts/build/ComputeRouter.json``, written by ``contracts/compile.mjs``."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    contract_name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    compiler: dict[str, Any]
    source_sha256: str


def artifact_path() -> Path:
    """Where the artifact is read from: a copy packaged inside ``tools.router`` wins (an installed wheel
    has no ``contracts/`` folder), else the repository's ``contracts/build``."""
    packaged = resources.files(__package__ or "tools.router").joinpath(ARTIFACT_NAME)
    if packaged.is_file():
        return Path(str(packaged))
    return REPO_ARTIFACT


@lru_cache(maxsize=4)
def load_artifact(path: Path | None = None) -> RouterArtifact:
    source = path or artifact_path()
    try:
        raw = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RouterError(
            f"Cannot read the ComputeRouter artifact at {source}: {exc}",
            error_name="InvalidArgument",
            hint="Build it with: cd contracts && npm ci && node compile.mjs",
        ) from None
    return RouterArtifact(
        contract_name=raw["contractName"],
        abi=raw["abi"],
        bytecode=raw["bytecode"],
        deployed_bytecode=raw["deployedBytecode"],
        compiler=raw["compiler"],
        source_sha256=raw["sourceSha256"],
    )


# --- statuses and encodings ---------------------------------------------------------------------------


class RouterStatus(StrEnum):
    """The contract's ``Status`` enum; the order is the on-chain uint8 value."""

    UNKNOWN = "unknown"
    SUBMITTED = "submitted"
    RUNNING = "running"
    CLOSED = "closed"
    FAILED = "failed"

    @property
    def code(self) -> int:
        return _STATUS_ORDER.index(self)

    @classmethod
    def from_code(cls, code: int) -> RouterStatus:
        if not 0 <= code < len(_STATUS_ORDER):
            raise RouterError(
                f"The contract returned an unknown status {code}.", error_name="InvalidArgument"
            )
        return _STATUS_ORDER[code]


_STATUS_ORDER: tuple[RouterStatus, ...] = tuple(RouterStatus)

# Necto's deploy machine states (tools/deploy/machine.py) fold into the contract's four.
_LEDGER_STATES: dict[str, RouterStatus] = {
    **dict.fromkeys(
        ("confirmed", "signed", "broadcast", "bids", "lease", "manifest_sent"), RouterStatus.SUBMITTED
    ),
    "running": RouterStatus.RUNNING,
    "closed": RouterStatus.CLOSED,
    "failed": RouterStatus.FAILED,
}


def status_for_ledger_state(state: str) -> RouterStatus:
    """The on-chain status for a ledger job state (``"bids"`` -> submitted, ``"running"`` -> running, ...)."""
    try:
        return _LEDGER_STATES[state]
    except KeyError:
        raise RouterError(
            f"No ComputeRouter status for the ledger state {state!r}.",
            error_name="InvalidArgument",
            hint=f"Known states: {', '.join(_LEDGER_STATES)}.",
        ) from None


def _invalid(message: str, hint: str = "") -> RouterError:
    return RouterError(message, error_name="InvalidArgument", hint=hint)


def encode_job_id(job_id: str) -> bytes:
    """Necto's job id as bytes32: UTF-8, left-aligned, zero-padded (reversible with ``decode_job_id``)."""
    raw = job_id.encode("utf-8") if isinstance(job_id, str) else b""
    if not raw or len(raw) > 32 or not job_id.isprintable():
        raise _invalid(
            f"Job id {job_id!r} cannot be stored as bytes32.",
            "A job id is 1 to 32 bytes of printable UTF-8 (Necto's look like job_4d3a8f003f31).",
        )
    return raw.ljust(32, b"\x00")


def decode_job_id(raw: bytes) -> str:
    return bytes(raw).rstrip(b"\x00").decode("utf-8", errors="replace")


def encode_buyer(owner: str | bytes, *, pepper: bytes = b"") -> bytes:
    """The bytes32 buyer id for a Necto owner: ``keccak256(pepper || utf8(owner))``; 32 bytes pass through."""
    if isinstance(owner, bytes):
        if len(owner) != 32:
            raise _invalid("A buyer id given as bytes must be 32 bytes long.")
        return owner
    if not owner:
        raise _invalid("The buyer (Necto owner id) is empty.")
    return keccak(pepper + owner.encode("utf-8"))


def encode_provider(provider: str) -> str:
    raw = provider.encode("utf-8")
    if len(raw) > MAX_PROVIDER_BYTES or not provider.isprintable():
        raise _invalid(
            f"Provider id {provider[:80]!r} is not a printable string of at most {MAX_PROVIDER_BYTES} bytes.",
            "Pass the Akash provider address (akash1...).",
        )
    return provider


def encode_hash(value: bytes | str, *, name: str) -> bytes:
    """A 32-byte hash from bytes or hex text (with or without 0x)."""
    if isinstance(value, str):
        text = value[2:] if value[:2].lower() == "0x" else value
        try:
            value = bytes.fromhex(text)
        except ValueError:
            raise _invalid(f"{name} is not hex.") from None
    if len(value) != 32:
        raise _invalid(f"{name} must be 32 bytes (a sha256 or keccak256 digest), got {len(value)}.")
    return bytes(value)


def price_to_e18(price_uact_per_block: Decimal | str | int) -> int:
    """uact per block -> the contract's integer (times 1e18). Exact or refused: money is never a float."""
    if isinstance(price_uact_per_block, float | bool):
        raise _invalid("Pass the price as a Decimal, str or int, not a float.")
    try:
        price = Decimal(str(price_uact_per_block).strip())
    except InvalidOperation:
        raise _invalid(f"Price {price_uact_per_block!r} is not a number.") from None
    if not price.is_finite() or price < 0:
        raise _invalid(f"Price {price_uact_per_block!r} must be a finite, non-negative number.")
    scaled = price.scaleb(18)
    if scaled != scaled.to_integral_value():
        raise _invalid(f"Price {price_uact_per_block!r} has more than 18 decimal places.")
    return int(scaled)


def price_from_e18(value: int) -> Decimal:
    whole, fraction = divmod(value, PRICE_SCALE)
    digits = f"{fraction:018d}".rstrip("0")
    return Decimal(f"{whole}.{digits}" if digits else str(whole))


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def _time(value: int) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value else None


# --- results ------------------------------------------------------------------------------------------


class OnChainJob(BaseModel):
    """A job as the ComputeRouter stores it, in Python types (hashes as 0x hex)."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    submitter: str
    buyer: str
    provider: str
    request_hash: str
    decision_hash: str
    price_uact_per_block: Decimal
    dseq: int
    status: RouterStatus
    created_at: datetime
    updated_at: datetime
    running_at: datetime | None
    ended_at: datetime | None


class RouterTx(BaseModel):
    """A mined ComputeRouter transaction."""

    model_config = ConfigDict(frozen=True)

    tx_hash: str
    block_number: int
    gas_estimate: int  # what eth_estimateGas answered
    gas_limit: int  # the estimate times the margin: what was signed
    gas_used: int
    contract_address: str | None = None  # set by a deployment


class _EventBase(BaseModel):
    model_config = ConfigDict(frozen=True)

    job_id: str
    block_number: int
    log_index: int
    tx_hash: str


class JobRecordedEvent(_EventBase):
    name: Literal["JobRecorded"] = "JobRecorded"
    submitter: str
    buyer: str
    provider: str
    request_hash: str
    decision_hash: str
    price_uact_per_block: Decimal
    dseq: int


class JobStatusChangedEvent(_EventBase):
    name: Literal["JobStatusChanged"] = "JobStatusChanged"
    from_status: RouterStatus
    to_status: RouterStatus
    changed_at: datetime
    by: str


RouterEvent = JobRecordedEvent | JobStatusChangedEvent


# --- revert decoding ----------------------------------------------------------------------------------


def _error_selectors(abi: list[dict[str, Any]]) -> dict[bytes, dict[str, Any]]:
    selectors = {}
    for entry in abi:
        if entry.get("type") == "error":
            signature = f"{entry['name']}({','.join(i['type'] for i in entry['inputs'])})"
            selectors[keccak(text=signature)[:4]] = entry
    return selectors


def _describe(name: str, args: dict[str, Any]) -> tuple[str, str]:
    if name == "DuplicateJob":
        return (
            f"Job {args['jobId']} is already recorded on the ComputeRouter.",
            "A job id is recorded once; read it with get_job (check its submitter is Necto's account).",
        )
    if name == "UnknownJob":
        return (
            f"Job {args['jobId']} is not recorded on the ComputeRouter.",
            "Record it first with record_job.",
        )
    if name == "NotAuthorized":
        return (
            f"{args['caller']} may not do this on the ComputeRouter.",
            "Only a job's submitter or an operator updates it; only the contract owner sets operators.",
        )
    if name == "IllegalTransition":
        return (
            f"Job {args['jobId']} cannot move from {args['from']} to {args['to']}.",
            "Allowed: submitted -> running | closed | failed, running -> closed | failed; closed and failed are final.",
        )
    return f"The ComputeRouter refused the call: {name}({args}).", ""


def _rpc_error(exc: Exception, *, tx_hash: str = "") -> RouterError:
    # A transport error's text carries the endpoint URL, which may embed an API key: name the type only.
    detail = str(exc)[:300] if isinstance(exc, Web3RPCError) else type(exc).__name__
    if tx_hash:
        hint = "The transaction was sent: look it up by hash before sending it again."
    else:
        hint = "Check the RPC URL and the router account's balance; nothing was sent."
    return RouterError(
        f"The EVM RPC endpoint failed: {detail}", error_name="RpcError", tx_hash=tx_hash, hint=hint
    )


# --- the client ---------------------------------------------------------------------------------------


class _Sender:
    """Estimate, sign locally, send raw, wait: the one path every transaction takes."""

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount,
        *,
        abi: list[dict[str, Any]],
        expected_chain_id: int | None,
        gas_margin: Decimal,
        max_fee_wei: int | None,
        receipt_timeout_s: float,
        poll_s: float,
    ) -> None:
        if not isinstance(account, LocalAccount):
            raise _invalid("The ComputeRouter client signs with an eth-account LocalAccount only.")
        if gas_margin < 1:
            raise _invalid("The gas margin must be at least 1.")
        self.w3 = w3
        self.account = account
        self.gas_margin = Decimal(gas_margin)
        self.max_fee_wei = max_fee_wei
        self.receipt_timeout_s = receipt_timeout_s
        self.poll_s = poll_s
        self.selectors = _error_selectors(abi)
        try:
            self.chain_id = int(w3.eth.chain_id)
        except (Web3RPCError, OSError) as exc:
            raise _rpc_error(exc) from None
        if expected_chain_id is not None and self.chain_id != expected_chain_id:
            raise RouterError(
                f"The RPC endpoint serves chain {self.chain_id}, not {expected_chain_id}.",
                error_name="WrongChain",
                hint="Check the ADI RPC URL in settings.",
            )
        # Nonces are read and used under one lock: the service calls from several threads.
        self._lock = threading.Lock()

    def revert_error(self, exc: ContractLogicError, *, tx_hash: str = "") -> RouterError:
        data = exc.data if isinstance(exc.data, str) else ""
        try:
            raw = bytes.fromhex(data[2:] if data.startswith("0x") else data)
        except ValueError:
            raw = b""
        entry = self.selectors.get(raw[:4]) if len(raw) >= 4 else None
        if entry is None:
            reason = exc.message or "execution reverted"
            return RouterError(
                f"The ComputeRouter reverted: {reason}", error_name="Reverted", tx_hash=tx_hash
            )
        values = abi_decode([i["type"] for i in entry["inputs"]], raw[4:])
        args: dict[str, Any] = {}
        for spec, value in zip(entry["inputs"], values, strict=True):
            if spec.get("internalType", "").startswith("enum "):
                value = RouterStatus.from_code(value).value
            elif spec["type"] == "bytes32" and spec["name"] == "jobId":
                value = decode_job_id(value)
            elif spec["type"] == "address":
                value = to_checksum_address(value)
            args[spec["name"]] = value
        message, hint = _describe(entry["name"], args)
        return RouterError(message, error_name=entry["name"], error_args=args, tx_hash=tx_hash, hint=hint)

    def call(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except ContractLogicError as exc:
            raise self.revert_error(exc) from None
        except (Web3RPCError, OSError) as exc:
            raise _rpc_error(exc) from None

    def send(self, call: Any) -> RouterTx:
        """``call`` is a web3 ContractFunction or ContractConstructor with its arguments bound."""
        try:
            return self._send(call)
        except (Web3RPCError, OSError) as exc:
            # Node refusals (nonce, balance, fee) and transport failures; reverts are decoded below.
            raise _rpc_error(exc) from None

    def _send(self, call: Any) -> RouterTx:
        sender = self.account.address
        with self._lock:
            try:
                estimate = int(call.estimate_gas({"from": sender}))
            except ContractLogicError as exc:
                raise self.revert_error(exc) from None
            gas_limit = math.ceil(estimate * self.gas_margin)
            tx = call.build_transaction(
                {
                    "from": sender,
                    "gas": gas_limit,
                    "chainId": self.chain_id,
                    "nonce": self.w3.eth.get_transaction_count(sender, "pending"),
                }
            )
            fee_per_gas = int(tx.get("maxFeePerGas") or tx.get("gasPrice") or 0)
            if self.max_fee_wei is not None and gas_limit * fee_per_gas > self.max_fee_wei:
                raise BudgetExceeded(
                    f"The ComputeRouter transaction could cost {gas_limit * fee_per_gas} wei, over the cap of "
                    f"{self.max_fee_wei} wei.",
                    hint="Wait for lower gas prices or raise the fee cap in settings.",
                )
            signed = self.account.sign_transaction(tx)
            tx_hash = _hex(self.w3.eth.send_raw_transaction(signed.raw_transaction))
        try:
            receipt = self.w3.eth.wait_for_transaction_receipt(
                tx_hash, timeout=self.receipt_timeout_s, poll_latency=self.poll_s
            )
        except TimeExhausted:
            raise RouterError(
                f"ComputeRouter transaction {tx_hash} was not mined within {self.receipt_timeout_s:g} s.",
                error_name="Timeout",
                tx_hash=tx_hash,
                hint="It may still be included: look it up by hash before sending it again.",
            ) from None
        except (Web3RPCError, OSError) as exc:
            raise _rpc_error(exc, tx_hash=tx_hash) from None
        if receipt["status"] != 1:
            raise self._replay_revert(tx, receipt, tx_hash)
        address = receipt.get("contractAddress")
        return RouterTx(
            tx_hash=tx_hash,
            block_number=int(receipt["blockNumber"]),
            gas_estimate=estimate,
            gas_limit=gas_limit,
            gas_used=int(receipt["gasUsed"]),
            contract_address=to_checksum_address(address) if address else None,
        )

    def _replay_revert(self, tx: dict[str, Any], receipt: Any, tx_hash: str) -> RouterError:
        # The estimate passed but the mined tx reverted (state changed in between, e.g. a racing record of
        # the same id earlier in the block): replaying it as a call on that block's state recovers the
        # custom error (a reverted tx left no state of its own behind).
        replay = {k: tx[k] for k in ("from", "to", "data", "gas") if k in tx}
        try:
            self.w3.eth.call(replay, block_identifier=int(receipt["blockNumber"]))
        except ContractLogicError as exc:
            return self.revert_error(exc, tx_hash=tx_hash)
        except Exception:  # best effort: the generic error below still names the tx
            pass
        return RouterError(
            f"ComputeRouter transaction {tx_hash} reverted.", error_name="Reverted", tx_hash=tx_hash
        )


class ComputeRouterClient:
    """Records Necto jobs on a deployed ComputeRouter and reads them back.

    Build one with ``deploy`` (new contract, the account becomes its owner) or ``from_address``.
    """

    def __init__(
        self,
        w3: Web3,
        address: str,
        account: LocalAccount,
        *,
        artifact: RouterArtifact | None = None,
        expected_chain_id: int | None = None,
        buyer_pepper: bytes = b"",
        gas_margin: Decimal | str = DEFAULT_GAS_MARGIN,
        max_fee_wei: int | None = None,
        receipt_timeout_s: float = DEFAULT_RECEIPT_TIMEOUT_S,
        poll_s: float = DEFAULT_POLL_S,
        from_block: int = 0,
    ) -> None:
        self.artifact = artifact or load_artifact()
        self.w3 = w3
        self.address = to_checksum_address(address)
        self.account = account
        self.buyer_pepper = buyer_pepper
        self.from_block = from_block  # where event queries start: the deployment block if known
        self.deployment: RouterTx | None = None  # set by ``deploy``
        self._sender = _Sender(
            w3,
            account,
            abi=self.artifact.abi,
            expected_chain_id=expected_chain_id,
            gas_margin=Decimal(gas_margin),
            max_fee_wei=max_fee_wei,
            receipt_timeout_s=receipt_timeout_s,
            poll_s=poll_s,
        )
        self.contract = w3.eth.contract(address=self.address, abi=self.artifact.abi)

    # --- construction -------------------------------------------------------------------------------
    @classmethod
    def deploy(cls, w3: Web3, account: LocalAccount, **options: Any) -> ComputeRouterClient:
        """Deploy a new ComputeRouter owned by ``account``; ``options`` are the constructor's keywords."""
        artifact = options.pop("artifact", None) or load_artifact()
        sender = _Sender(
            w3,
            account,
            abi=artifact.abi,
            expected_chain_id=options.get("expected_chain_id"),
            gas_margin=Decimal(options.get("gas_margin", DEFAULT_GAS_MARGIN)),
            max_fee_wei=options.get("max_fee_wei"),
            receipt_timeout_s=options.get("receipt_timeout_s", DEFAULT_RECEIPT_TIMEOUT_S),
            poll_s=options.get("poll_s", DEFAULT_POLL_S),
        )
        factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        receipt = sender.send(factory.constructor())
        assert receipt.contract_address  # a successful creation receipt always names the contract
        options.setdefault("from_block", receipt.block_number)
        client = cls(w3, receipt.contract_address, account, artifact=artifact, **options)
        client.deployment = receipt
        return client

    @classmethod
    def from_address(
        cls, w3: Web3, address: str, account: LocalAccount, **options: Any
    ) -> ComputeRouterClient:
        """A client for an existing ComputeRouter; refuses an address with no code."""
        if not Web3.is_address(address):
            raise _invalid(f"{address!r} is not an EVM address.")
        if not w3.eth.get_code(to_checksum_address(address)):
            raise RouterError(
                f"There is no contract at {address}.",
                error_name="InvalidArgument",
                hint="Check the ComputeRouter address in settings and the chain the RPC serves.",
            )
        return cls(w3, address, account, **options)

    # --- writes -------------------------------------------------------------------------------------
    def record_job(
        self,
        job_id: str,
        buyer: str | bytes,
        provider: str,
        request_hash: bytes | str,
        decision_hash: bytes | str,
        price_uact_per_block: Decimal | str | int,
        dseq: int,
    ) -> RouterTx:
        """Record a job as submitted. Reverts (``RouterError`` DuplicateJob) if the id was ever recorded."""
        if isinstance(dseq, bool) or not isinstance(dseq, int) or not 0 <= dseq <= UINT64_MAX:
            raise _invalid(f"dseq {dseq!r} is not a uint64.")
        call = self.contract.functions.recordJob(
            encode_job_id(job_id),
            encode_buyer(buyer, pepper=self.buyer_pepper),
            encode_provider(provider),
            encode_hash(request_hash, name="request_hash"),
            encode_hash(decision_hash, name="decision_hash"),
            price_to_e18(price_uact_per_block),
            dseq,
        )
        return self._sender.send(call)

    def update_status(self, job_id: str, status: RouterStatus | str) -> RouterTx:
        """Move a job to ``status`` (running, closed or failed); only its submitter or an operator may."""
        try:
            target = RouterStatus(status)
        except ValueError:
            raise _invalid(f"{status!r} is not a ComputeRouter status.") from None
        return self._sender.send(self.contract.functions.updateStatus(encode_job_id(job_id), target.code))

    def set_operator(self, operator: str, allowed: bool) -> RouterTx:
        """Allow (or stop) ``operator`` updating any job. Only the contract owner may."""
        if not Web3.is_address(operator):
            raise _invalid(f"{operator!r} is not an EVM address.")
        return self._sender.send(self.contract.functions.setOperator(to_checksum_address(operator), allowed))

    # --- reads --------------------------------------------------------------------------------------
    def get_job(self, job_id: str) -> OnChainJob:
        """The stored record; ``RouterError`` UnknownJob if the id was never recorded."""
        fn = self.contract.functions.getJob(encode_job_id(job_id))
        values = self._sender.call(fn.call)
        names = [c["name"] for c in fn.abi["outputs"][0]["components"]]
        job = dict(zip(names, values, strict=True))
        return OnChainJob(
            job_id=job_id,
            submitter=to_checksum_address(job["submitter"]),
            buyer=_hex(job["buyer"]),
            provider=job["providerId"],
            request_hash=_hex(job["requestHash"]),
            decision_hash=_hex(job["decisionHash"]),
            price_uact_per_block=price_from_e18(job["priceUactPerBlockE18"]),
            dseq=job["dseq"],
            status=RouterStatus.from_code(job["status"]),
            created_at=_time(job["createdAt"]),
            updated_at=_time(job["updatedAt"]),
            running_at=_time(job["runningAt"]),
            ended_at=_time(job["endedAt"]),
        )

    def decision_hash_of(self, job_id: str) -> str:
        return _hex(self._sender.call(self.contract.functions.decisionHashOf(encode_job_id(job_id)).call))

    def owner(self) -> str:
        return to_checksum_address(self.contract.functions.owner().call())

    def is_operator(self, address: str) -> bool:
        return bool(self.contract.functions.isOperator(to_checksum_address(address)).call())

    def buyer_id(self, owner: str) -> str:
        """The 0x hex buyer id this client stores for a Necto owner (to compare with ``OnChainJob.buyer``)."""
        return _hex(encode_buyer(owner, pepper=self.buyer_pepper))

    def events(self, job_id: str, *, from_block: int | None = None) -> list[RouterEvent]:
        """Every JobRecorded and JobStatusChanged log of a job, in chain order."""
        key = encode_job_id(job_id)
        start = self.from_block if from_block is None else from_block
        found: list[RouterEvent] = []
        for log in self.contract.events.JobRecorded.get_logs(
            argument_filters={"jobId": key}, from_block=start
        ):
            args = log["args"]
            found.append(
                JobRecordedEvent(
                    **self._log_position(log),
                    submitter=to_checksum_address(args["submitter"]),
                    buyer=_hex(args["buyer"]),
                    provider=args["providerId"],
                    request_hash=_hex(args["requestHash"]),
                    decision_hash=_hex(args["decisionHash"]),
                    price_uact_per_block=price_from_e18(args["priceUactPerBlockE18"]),
                    dseq=args["dseq"],
                )
            )
        for log in self.contract.events.JobStatusChanged.get_logs(
            argument_filters={"jobId": key}, from_block=start
        ):
            args = log["args"]
            found.append(
                JobStatusChangedEvent(
                    **self._log_position(log),
                    from_status=RouterStatus.from_code(args["from"]),
                    to_status=RouterStatus.from_code(args["to"]),
                    changed_at=datetime.fromtimestamp(args["changedAt"], UTC),
                    by=to_checksum_address(args["by"]),
                )
            )
        return sorted(found, key=lambda e: (e.block_number, e.log_index))

    @staticmethod
    def _log_position(log: Any) -> dict[str, Any]:
        return {
            "job_id": decode_job_id(log["args"]["jobId"]),
            "block_number": int(log["blockNumber"]),
            "log_index": int(log["logIndex"]),
            "tx_hash": _hex(log["transactionHash"]),
        }
