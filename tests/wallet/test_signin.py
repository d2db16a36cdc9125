"""Sign-in with the wallet: ADR-036 over a server nonce, single use, with an expiry."""

from __future__ import annotations

import base64

import pytest
from wallet_double import PythonWallet

from tools.wallet.errors import SignInFailed
from tools.wallet.signin import SignInChallenges


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def signed(wallet: PythonWallet, text: str) -> bytes:
    return base64.b64decode(wallet.sign_arbitrary(wallet.address, text)["signature"])


def test_a_fresh_signature_signs_in_once():
    challenges = SignInChallenges(chain_id="necto-sandbox-1")
    wallet = PythonWallet()
    challenge = challenges.issue("alice")
    assert challenge["nonce"] in challenge["text"] and "alice" in challenge["text"]
    assert "necto-sandbox-1" in challenge["text"] and "cannot move funds" in challenge["text"]
    signature = signed(wallet, challenge["text"])
    challenges.verify("alice", nonce=challenge["nonce"], address=wallet.address, public_key=wallet.public_key,
                      signature=signature)
    with pytest.raises(SignInFailed, match="already used"):
        challenges.verify("alice", nonce=challenge["nonce"], address=wallet.address, public_key=wallet.public_key,
                          signature=signature)


def test_an_expired_challenge_is_refused():
    clock = Clock()
    challenges = SignInChallenges(chain_id="c", ttl_s=60, clock=clock)
    wallet = PythonWallet()
    challenge = challenges.issue("alice")
    clock.now += 61
    with pytest.raises(SignInFailed, match="expired"):
        challenges.verify("alice", nonce=challenge["nonce"], address=wallet.address, public_key=wallet.public_key,
                          signature=signed(wallet, challenge["text"]))


def test_someone_elses_nonce_is_refused_and_used_up():
    challenges = SignInChallenges(chain_id="c")
    wallet = PythonWallet()
    challenge = challenges.issue("alice")
    signature = signed(wallet, challenge["text"])
    with pytest.raises(SignInFailed, match="unknown"):
        challenges.verify("mallory", nonce=challenge["nonce"], address=wallet.address,
                          public_key=wallet.public_key, signature=signature)
    with pytest.raises(SignInFailed, match="unknown"):  # the failed attempt consumed it
        challenges.verify("alice", nonce=challenge["nonce"], address=wallet.address,
                          public_key=wallet.public_key, signature=signature)


def test_wrong_key_address_or_text_is_refused():
    challenges = SignInChallenges(chain_id="c")
    wallet, other = PythonWallet(), PythonWallet()
    cases = [
        # (address, public key, signature over, message)
        (other.address, wallet.public_key, None, "does not belong"),
        (wallet.address, wallet.public_key, "Sign in to Necto as someone else", "does not verify"),
        (other.address, other.public_key, None, "does not verify"),  # other's key, signed by wallet
    ]
    for address, public_key, text, words in cases:
        challenge = challenges.issue("alice")
        signature = signed(wallet, text or challenge["text"])
        with pytest.raises(SignInFailed, match=words):
            challenges.verify("alice", nonce=challenge["nonce"], address=address, public_key=public_key,
                              signature=signature)
    challenge = challenges.issue("alice")
    with pytest.raises(SignInFailed, match="not a valid"):
        challenges.verify("alice", nonce=challenge["nonce"], address=wallet.address, public_key=b"\x02" + b"\x00" * 32,
                          signature=b"\x00" * 64)
