"""Sign-in with the wallet: an ADR-036 signature (``signArbitrary``) over a server nonce with an expiry.

``issue(owner)`` returns the text the page asks the wallet to sign; ``verify`` checks, exactly once per
nonce (a nonce is consumed by its first verification, good or bad), that it was issued to this owner, has
not expired, and that the signature verifies for the public key whose address is the claimed one. The
signed text names the owner, the chain and the expiry, so a signature made for one cannot be replayed for
another. Challenges live in memory: a restarted server simply issues fresh ones.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from tools.akash.jwt import address_from_public_key, adr36_sign_bytes
from tools.akash.signer import verify_signature
from tools.wallet.errors import SignInFailed

__all__ = ["SignInChallenges"]

DEFAULT_TTL_S = 600
_MAX_PENDING = 10_000  # bound memory if a page (or anyone, at /wallet-login) keeps asking


@dataclass(frozen=True)
class _Challenge:
    owner: str
    text: str
    expires_at: float


class SignInChallenges:
    """Single-use sign-in nonces (module docstring)."""

    def __init__(self, *, chain_id: str, ttl_s: float = DEFAULT_TTL_S, clock: Callable[[], float] = time.time) -> None:
        self.chain_id = chain_id
        self.ttl_s = ttl_s
        self._clock = clock
        self._pending: dict[str, _Challenge] = {}
        self._lock = threading.Lock()

    def issue(self, owner: str) -> dict[str, str | int]:
        """A fresh challenge for ``owner``: ``{nonce, text, expires_at}`` (expires_at in unix seconds)."""
        now = self._clock()
        nonce = secrets.token_hex(16)
        expires_at = now + self.ttl_s
        when = datetime.fromtimestamp(expires_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        text = (
            f"Sign in to Necto\n\nUser: {owner}\nChain: {self.chain_id}\nNonce: {nonce}\nExpires: {when}\n\n"
            "This signature only proves you hold this account. It cannot move funds."
        )
        with self._lock:
            if len(self._pending) >= _MAX_PENDING:
                self._pending = {k: c for k, c in self._pending.items() if c.expires_at > now}
            while len(self._pending) >= _MAX_PENDING:  # a flood of fresh ones (the sign-in page is public)
                del self._pending[next(iter(self._pending))]  # the oldest goes: memory stays bounded
            self._pending[nonce] = _Challenge(owner=owner, text=text, expires_at=expires_at)
        return {"nonce": nonce, "text": text, "expires_at": int(expires_at)}

    def verify(self, owner: str, *, nonce: str, address: str, public_key: bytes, signature: bytes) -> None:
        """Raise ``SignInFailed`` unless ``signature`` is ``address``'s ADR-036 signature over the text
        issued to ``owner`` under ``nonce`` and not yet expired. The nonce is used up either way."""
        with self._lock:
            challenge = self._pending.pop(str(nonce), None)
        if challenge is None or challenge.owner != owner:
            raise SignInFailed("This sign-in request is unknown or was already used.")
        if self._clock() >= challenge.expires_at:
            raise SignInFailed("This sign-in request expired.")
        try:
            derived = address_from_public_key(public_key)
        except (ValueError, TypeError):
            raise SignInFailed("The wallet's public key is not a valid secp256k1 key.") from None
        if derived != address:
            raise SignInFailed("The wallet's public key does not belong to the address it reported.")
        if not verify_signature(public_key, adr36_sign_bytes(address, challenge.text.encode("utf-8")), signature):
            raise SignInFailed("The sign-in signature does not verify for this account.")
