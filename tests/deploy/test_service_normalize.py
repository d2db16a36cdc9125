"""normalize_price through the service: hand-computed figures, the oracle for uakt, bad numbers refused."""

from __future__ import annotations

import pytest
from memory_chain import MemoryChain

from tools.errors import NectoError
from tools.ledger import Ledger
from tools.service import NectoService
from tools.settings import NectoSettings

pytestmark = pytest.mark.asyncio


@pytest.fixture
def service(tmp_path):
    return NectoService(NectoSettings(data_dir=tmp_path), backend=MemoryChain(),
                        ledger=Ledger(f"sqlite:///{tmp_path / 'l.db'}"), sources=[])


@pytest.mark.parametrize(
    ("amount", "unit", "usd_per_hour"),
    [
        (1000, "uact_per_block", 0.590357),  # pricing.md §2
        (0.001, "act_per_block", 0.590357),
        (1000, "uakt_per_block", 0.737947),  # x 1.25 USD/AKT from the chain oracle
        (50, "cents_per_hour", 0.5),
        (10, "usd_per_month", 0.013699),  # 10 / 730
        (2, "usd_per_hour", 2.0),
    ],
)
async def test_conversions(service, amount, unit, usd_per_hour):
    result = await service.normalize_price(amount, unit, None)
    assert result["usd_per_hour"] == pytest.approx(usd_per_hour, abs=1e-6)
    assert result["usd_per_month"] == pytest.approx(usd_per_hour * 730, abs=0.01)


async def test_per_block_cap_rounds_up(service):
    # 0.59 USD/h at 6.098 s is 999.39.. uact/block -> 1000 as a cap
    assert (await service.normalize_price(0.59, "usd_per_hour", None))["uact_per_block"] == 1000


@pytest.mark.parametrize("amount", [float("nan"), float("inf"), -1])
async def test_bad_numbers_are_refused_with_a_sentence(service, amount):
    with pytest.raises(NectoError):
        await service.normalize_price(amount, "uact_per_block", None)


async def test_uakt_without_any_price_says_what_to_do(service):
    async def no_price():
        return None

    service.backend.akt_usd = no_price
    with pytest.raises(NectoError) as info:
        await service.normalize_price(5, "uakt_per_block", None)
    assert "AKT price" in info.value.message and info.value.hint
