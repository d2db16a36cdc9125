"""BrowserWalletSigner without a chain: policy before asking, each wallet failure as its error, the JWT cache."""

from __future__ import annotations

import pytest
from test_keplr import prepared_for
from wallet_double import PythonWallet

from tools.akash.jwt import verify_jwt
from tools.errors import BudgetExceeded, PolicyDenied
from tools.wallet import (
    BrowserWalletSigner,
    LedgerUnsupported,
    WalletError,
    WalletLocked,
    WalletMismatch,
    WalletMissing,
    WalletRejected,
    WalletTimeout,
    WalletUnavailable,
    WrongNetwork,
)

CHAIN = "necto-sandbox-1"


def signer_for(wallet: PythonWallet, ask=None, **kwargs) -> BrowserWalletSigner:
    return BrowserWalletSigner(wallet.address, wallet.public_key, CHAIN, ask if ask is not None else wallet.ask,
                               allowed_chain_ids=(CHAIN,), **kwargs)


async def test_signs_through_the_page_and_verifies():
    wallet = PythonWallet()
    prepared = prepared_for(wallet)
    signed = await signer_for(wallet).sign_doc_async(prepared)
    assert signed.body_bytes == prepared.body_bytes and len(signed.signature) == 64
    assert wallet.kinds() == ["direct"]


async def test_policy_is_checked_before_the_wallet_is_asked():
    wallet = PythonWallet()
    with pytest.raises(BudgetExceeded):
        await signer_for(wallet, max_fee=1_000).sign_doc_async(prepared_for(wallet))
    other = PythonWallet()
    with pytest.raises(PolicyDenied):  # a body for another owner
        await signer_for(wallet).sign_doc_async(prepared_for(other))
    signer = BrowserWalletSigner(wallet.address, wallet.public_key, CHAIN, wallet.ask, allowed_chain_ids=("akashnet-2",))
    with pytest.raises(PolicyDenied, match="allowed chain ids"):
        await signer.sign_doc_async(prepared_for(wallet))
    assert wallet.requests == []


@pytest.mark.parametrize(
    ("code", "error"),
    [("missing", WalletMissing), ("locked", WalletLocked), ("wrong_network", WrongNetwork),
     ("rejected", WalletRejected), ("timeout", WalletTimeout), ("ledger", LedgerUnsupported),
     ("weird", WalletError)],
)
async def test_each_wallet_failure_is_a_sentence_with_a_next_step(code, error):
    wallet = PythonWallet()
    wallet.refuse = code
    with pytest.raises(error) as info:
        await signer_for(wallet).sign_doc_async(prepared_for(wallet))
    assert info.value.message.endswith(")") or info.value.message.endswith(".")
    assert info.value.hint


async def test_no_page_a_silent_page_and_a_tampering_wallet():
    wallet = PythonWallet()
    with pytest.raises(WalletUnavailable, match="No web chat"):
        await BrowserWalletSigner(wallet.address, wallet.public_key, CHAIN).sign_doc_async(prepared_for(wallet))

    async def silent(_request):
        return None

    with pytest.raises(WalletTimeout):
        await signer_for(wallet, ask=silent).sign_doc_async(prepared_for(wallet))
    wallet.tamper = lambda doc: {**doc, "accountNumber": "99"}
    with pytest.raises(WalletMismatch):
        await signer_for(wallet).sign_doc_async(prepared_for(wallet))


async def test_provider_jwt_is_adr36_cached_and_refreshed():
    wallet = PythonWallet()
    now = [1_800_000_000.0]
    signer = signer_for(wallet, clock=lambda: now[0])
    token = await signer.provider_jwt()
    assert token.split(".")[0] == "eyJhbGciOiJFUzI1NktBRFIzNiIsInR5cCI6IkpXVCJ9"  # {"alg":"ES256KADR36","typ":"JWT"}
    claims = verify_jwt(token, wallet.public_key, now=int(now[0]))
    assert claims["iss"] == wallet.address and claims["leases"] == {"access": "full"}
    assert await signer.provider_jwt() == token and wallet.kinds() == ["arbitrary"]
    now[0] += 3600
    assert await signer.provider_jwt() != token and wallet.kinds() == ["arbitrary", "arbitrary"]


async def test_a_provider_token_from_another_key_is_refused():
    wallet, other = PythonWallet(), PythonWallet()

    async def ask(request):
        return other.sign_arbitrary(request["signer"], request["data"])

    with pytest.raises(WalletMismatch, match="another account"):
        await signer_for(wallet, ask=ask).provider_jwt()


def test_the_public_key_must_be_the_addresses():
    wallet, other = PythonWallet(), PythonWallet()
    with pytest.raises(WalletMismatch):
        BrowserWalletSigner(wallet.address, other.public_key, CHAIN)
