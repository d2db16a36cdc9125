"""Which chat messages open the wallet card (ui/wallet.py): the starter's words and close variants, never a
request that merely mentions a wallet (that goes to the agent)."""

import pytest

from ui.wallet import CONNECT_WORDS


@pytest.mark.parametrize(
    "text", ["connect my wallet", "Connect Keplr", "use leap", "sign with my Keplr wallet", "link my Keplr wallet please"]
)
def test_connect_phrases_open_the_card(text: str) -> None:
    assert CONNECT_WORDS.match(text)


@pytest.mark.parametrize(
    "text", ["deploy my app and connect wallet later", "connect", "what is a keplr wallet?", "close my job"]
)
def test_other_messages_go_to_the_agent(text: str) -> None:
    assert not CONNECT_WORDS.match(text)
