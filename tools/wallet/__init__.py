"""Browser wallets (Keplr, Leap): sign-in, the signDirect request and its verification, and the signer that
asks the user's page. Framework-free: ``ui/wallet.py`` wires it into the Chainlit page."""

from tools.wallet.browser_signer import Ask, BrowserWalletSigner
from tools.wallet.errors import (
    LedgerUnsupported,
    SignInFailed,
    WalletError,
    WalletLocked,
    WalletMismatch,
    WalletMissing,
    WalletRejected,
    WalletTimeout,
    WalletUnavailable,
    WrongNetwork,
    wallet_error,
)
from tools.wallet.keplr import direct_sign_request, verify_direct_response
from tools.wallet.signin import SignInChallenges

__all__ = [
    "Ask",
    "BrowserWalletSigner",
    "LedgerUnsupported",
    "SignInChallenges",
    "SignInFailed",
    "WalletError",
    "WalletLocked",
    "WalletMismatch",
    "WalletMissing",
    "WalletRejected",
    "WalletTimeout",
    "WalletUnavailable",
    "WrongNetwork",
    "direct_sign_request",
    "verify_direct_response",
    "wallet_error",
]
