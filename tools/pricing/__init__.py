"""Pricing: every offer as one comparable, risk-adjusted figure, ranked by a pure function (pricing.md).

- ``offer``      the Offer model (JSON: money as numbers, exact strings in ``inputs``)
- ``normalize``  pure conversions: Akash per block <-> USD/hour, month, billing, spot, token risk, perf/$
- ``gpus``       the GPU reference table and catalog name mapping
- ``rank``       hard filters + documented score per objective -> Ranking
- ``quote``      fetch sources concurrently, skip the bad ones, rank -> Quote, comparison table
- ``sources``    Akash (chain + Console), Lambda, SkyPilot catalogs
"""

from tools.pricing.normalize import DenomPriceMissing, PricingError
from tools.pricing.offer import Offer
from tools.pricing.quote import Quote, comparison_markdown, comparison_table, gather_quote
from tools.pricing.rank import Exclusion, RankedOffer, Ranking, rank
from tools.pricing.sources import PriceSource, SourceError

__all__ = [
    "DenomPriceMissing",
    "Exclusion",
    "Offer",
    "PriceSource",
    "PricingError",
    "Quote",
    "RankedOffer",
    "Ranking",
    "SourceError",
    "comparison_markdown",
    "comparison_table",
    "gather_quote",
    "rank",
]
