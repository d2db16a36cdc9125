"""What can go wrong with a browser wallet, each as a sentence with a next step.

    NectoError
    └── WalletError               the browser wallet could not sign; nothing was broadcast
        ├── WalletMissing         no Keplr (or Leap) in this browser
        ├── WalletLocked          the wallet is locked
        ├── WrongNetwork          the wallet is on (or answered for) another chain
        ├── WalletRejected        the user rejected the request in the wallet
        ├── WalletTimeout         no answer from the wallet in time
        ├── LedgerUnsupported     a Ledger account: it cannot sign SIGN_MODE_DIRECT
        ├── WalletUnavailable     no web chat with a connected wallet is open to ask
        ├── SignInFailed          the sign-in signature, nonce or expiry did not check out
        └── WalletMismatch        the wallet's answer is not what was confirmed (also a PolicyDenied)

The browser side reports failures as short codes (``missing``, ``locked``, ``wrong_network``,
``rejected``, ``timeout``, ``ledger``); :func:`wallet_error` turns one into the matching error.
"""

from __future__ import annotations

from tools.errors import NectoError, PolicyDenied

RESUME_HINT = "Nothing was broadcast. Fix this, then say 'resume' in the web chat to continue the approved plan."


class WalletError(NectoError):
    """The wallet did not produce a usable signature. Nothing was broadcast; the job can be resumed."""

    code = "error"
    default_message = "The wallet could not sign."
    default_hint = RESUME_HINT

    def __init__(self, message: str = "", *, hint: str | None = None) -> None:
        super().__init__(message or self.default_message, hint=self.default_hint if hint is None else hint)


class WalletMissing(WalletError):
    code = "missing"
    default_message = "No Keplr or Leap wallet was found in this browser."
    default_hint = "Install the Keplr (or Leap) browser extension and reload the page, or use the CLI with a local key."


class WalletLocked(WalletError):
    code = "locked"
    default_message = "Your wallet is locked."
    default_hint = "Unlock Keplr (or Leap) with your password, then try again; nothing was broadcast."


class WrongNetwork(WalletError):
    code = "wrong_network"
    default_message = "The wallet is not on the network Necto uses."
    default_hint = "Accept the network Necto suggests in your wallet (or switch to it), then reconnect."


class WalletRejected(WalletError):
    code = "rejected"
    default_message = "You rejected the request in your wallet: nothing was signed or broadcast."
    default_hint = "Say 'resume' when you want to sign it after all, or ask Necto to close the job."


class WalletTimeout(WalletError):
    code = "timeout"
    default_message = "Your wallet did not answer in time: nothing was signed or broadcast."
    default_hint = "Open the wallet's pop-up (it may be behind the browser window) and say 'resume'."


class LedgerUnsupported(WalletError):
    code = "ledger"
    default_message = (
        "This is a Ledger account: a Ledger can only sign in amino mode, and Necto signs in direct mode, "
        "so it cannot sign Necto's transactions."
    )
    default_hint = (
        "Use a Keplr or Leap account with a software key (create one or import a mnemonic), or the CLI, "
        "which signs with a local key. Nothing was signed."
    )


class WalletUnavailable(WalletError):
    code = "unavailable"
    default_message = "No web chat with your connected wallet is open to sign this."
    default_hint = "Open the web chat and reconnect your wallet, then say 'resume'."


class SignInFailed(WalletError):
    code = "sign_in"
    default_message = "The wallet sign-in did not check out."
    default_hint = "Click Connect again: the page asks your wallet to sign a fresh sign-in message."


class WalletMismatch(WalletError, PolicyDenied):
    code = "mismatch"
    default_message = "The wallet returned a transaction that differs from the one you confirmed; it was not broadcast."
    default_hint = "Nothing was broadcast. Check which wallet and account are connected, then say 'resume'."


_BY_CODE: dict[str, type[WalletError]] = {
    cls.code: cls
    for cls in (WalletMissing, WalletLocked, WrongNetwork, WalletRejected, WalletTimeout, LedgerUnsupported,
                WalletUnavailable)
}


def wallet_error(code: object, detail: object = "") -> WalletError:
    """The error for a code the page reported (an unknown code is a generic ``WalletError``).

    ``detail`` is the wallet's own text: shown after our sentence, cut short and cleaned, never trusted.
    """
    from tools.text import display_text

    if code == "wrong_account":
        return WalletMismatch(
            "The wallet's active account is not the one you connected; nothing was signed.",
            hint="Switch the wallet to the connected account (or reconnect with the new one), then say 'resume'.",
        )
    cls = _BY_CODE.get(str(code), WalletError)
    extra = display_text(detail, 160)
    message = cls.default_message + (f" (the wallet said: {extra})" if extra and cls is WalletError else "")
    return cls(message)
