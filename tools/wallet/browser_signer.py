"""``BrowserWalletSigner``: the user's Keplr/Leap account as Necto's signer, reached through the web chat.

The chat registers an ``ask`` function (``ui/wallet.py``) that shows the signing prompt in the page and
returns the wallet's answer. This class never sees a key: it applies Necto's signing policy to the bytes
first (``check_signable``: allow-listed chain id and message types, owner, fee cap), asks, and verifies
what came back (``tools.wallet.keplr``) before anything is broadcast.

Requests handed to ``ask``:

- ``{"kind": "direct", "chainId", "signer", "signDoc": {...}, "summary": {...}}`` -> the ``signDirect``
  answer (``{"signed": ..., "signature": ...}``);
- ``{"kind": "arbitrary", "chainId", "signer", "data", "purpose"}`` -> the ``signArbitrary`` answer
  (``{"pub_key": ..., "signature": ...}``), used for the provider JWT (``ES256KADR36``);
- either may instead come back as ``{"error": code, "message": ...}`` -> the matching ``WalletError``.

Provider JWTs are cached until shortly before they expire, so logs and status do not prompt every time.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from tools.akash.jwt import (
    ALG_ES256KADR36,
    InvalidJWT,
    address_from_public_key,
    check_signing_input,
    verify_jwt,
)
from tools.akash.signer import SignedDoc, check_signable
from tools.akash.tx import PreparedTx
from tools.wallet.errors import WalletError, WalletMismatch, WalletTimeout, WalletUnavailable, wallet_error
from tools.wallet.keplr import decode_b64, direct_sign_request, public_key_from_wallet, verify_direct_response

__all__ = ["Ask", "BrowserWalletSigner"]

Ask = Callable[[dict[str, Any]], Awaitable[Mapping[str, Any] | None]]

JWT_TTL_S = 3600  # one wallet prompt per hour of logs/status; the provider checks exp
JWT_REFRESH_S = 120  # ask for a new token this long before the cached one expires
ASK_TIMEOUT_S = 300.0


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _compact(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class BrowserWalletSigner:
    """Signs through the user's browser wallet (module docstring). ``ask`` may be attached later."""

    def __init__(
        self,
        address: str,
        public_key: bytes,
        chain_id: str,
        ask: Ask | None = None,
        *,
        allowed_chain_ids: tuple[str, ...] | frozenset[str] = (),
        max_fee: int = 2_000_000,
        fee_denom: str = "uakt",
        ask_timeout_s: float = ASK_TIMEOUT_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if address_from_public_key(public_key) != address:
            raise WalletMismatch("The wallet's public key does not belong to its address.")
        self._address = address
        self._public_key = bytes(public_key)
        self.chain_id = chain_id
        self.ask = ask
        self._allowed_chain_ids = frozenset(allowed_chain_ids or (chain_id,))
        self._max_fee = int(max_fee)
        self._fee_denom = fee_denom
        self._ask_timeout_s = ask_timeout_s
        self._clock = clock
        self._jwt: tuple[str, int] | None = None  # (token, exp)
        self._jwt_lock = asyncio.Lock()

    @property
    def address(self) -> str:
        return self._address

    @property
    def public_key(self) -> bytes:
        return self._public_key

    def __repr__(self) -> str:
        return f"BrowserWalletSigner(address={self._address!r}, attached={self.ask is not None})"

    # --- asking the page ---------------------------------------------------------------------------
    async def _ask(self, request: dict[str, Any]) -> Mapping[str, Any]:
        ask = self.ask
        if ask is None:
            raise WalletUnavailable()
        try:
            async with asyncio.timeout(self._ask_timeout_s):
                answer = await ask(request)
        except TimeoutError:
            raise WalletTimeout() from None
        if answer is None:
            raise WalletTimeout()
        if not isinstance(answer, Mapping):
            raise WalletMismatch("The page's answer is not a wallet response; nothing was broadcast.")
        if answer.get("error"):
            raise wallet_error(answer.get("error"), answer.get("message"))
        return answer

    # --- transactions ------------------------------------------------------------------------------
    def sign_doc(self, body_bytes: bytes, auth_info_bytes: bytes, chain_id: str, account_number: int) -> bytes:
        """A browser wallet cannot sign synchronously: callers use ``TxClient.sign_async``."""
        raise WalletError(
            "The browser wallet signs asynchronously; this code path cannot ask it.",
            hint="Use the web chat to sign, or the CLI with a local key.",
        )

    async def sign_doc_async(self, prepared: PreparedTx) -> SignedDoc:
        """Ask the wallet to ``signDirect`` exactly ``prepared`` and verify its answer."""
        check_signable(
            prepared.body_bytes, prepared.auth_info_bytes, prepared.chain_id, self._address,
            allowed_chain_ids=self._allowed_chain_ids, max_fee=self._max_fee, fee_denom=self._fee_denom,
        )
        request = direct_sign_request(prepared, signer_address=self._address)
        answer = await self._ask(request)
        return verify_direct_response(prepared, answer, address=self._address, public_key=self._public_key)

    # --- provider JWT (ES256KADR36) ----------------------------------------------------------------------
    def sign_jwt_input(self, signing_input: bytes, *, alg: str = "ES256K") -> bytes:
        raise WalletError(
            "The browser wallet signs provider tokens asynchronously; this code path cannot ask it.",
            hint="Use the web chat for logs and status of this deployment.",
        )

    async def provider_jwt(self) -> str:
        """A provider JWT for this account (``ES256KADR36`` via ``signArbitrary``), cached until near expiry."""
        async with self._jwt_lock:
            now = int(self._clock())
            if self._jwt is not None and self._jwt[1] - JWT_REFRESH_S > now:
                return self._jwt[0]
            claims = {
                "iss": self._address, "iat": now, "nbf": now, "exp": now + JWT_TTL_S,
                "version": "v1", "leases": {"access": "full"},
            }
            header = {"alg": ALG_ES256KADR36, "typ": "JWT"}
            signing_input = f"{_b64url(_compact(header))}.{_b64url(_compact(claims))}"
            check_signing_input(signing_input.encode("ascii"), ALG_ES256KADR36)
            answer = await self._ask(
                {
                    "kind": "arbitrary",
                    "chainId": self.chain_id,
                    "signer": self._address,
                    "data": signing_input,
                    "purpose": "Provider access (logs and status of your deployments) for one hour.",
                }
            )
            if public_key_from_wallet(answer.get("pub_key")) != self._public_key:
                raise WalletMismatch("The provider token was signed by another account than the connected wallet.")
            signature = decode_b64(answer.get("signature"), "signature")
            token = f"{signing_input}.{_b64url(signature)}"
            try:
                verify_jwt(token, self._public_key, now=now)
            except InvalidJWT as exc:
                raise WalletMismatch(f"The wallet's provider token does not verify ({exc.message}).") from None
            self._jwt = (token, claims["exp"])
            return token
