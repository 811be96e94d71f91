"""The assets the Embed desk lists (kraken.md §6.3, List Tradable Assets) and their markets.

Embed names assets as people do (``BTC``, ``USD``). Two assets can be quoted against each other
only where the paper exchange has a Spot market between them (``BTC/USD``, ``BTC/EUR``,
``ETH/USD``, ``SOL/USD``); every other listed asset is in an asset's ``disabled_against``.
``DOGE`` is listed ``disabled`` and ``DOT`` ``soon``, so clients can meet both states.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from services.paper.catalog import PAIRS, Pair


class AssetStatus(StrEnum):
    TRADABLE = "tradable"
    DISABLED = "disabled"
    SOON = "soon"


@dataclass(frozen=True)
class EmbedAsset:
    """One listed asset: its decimals and the smallest and largest amount a quote may fix."""

    name: str
    status: AssetStatus
    decimals: int
    minimum: Decimal
    maximum: Decimal

    @property
    def unit(self) -> Decimal:
        """The smallest step of an amount: ``0.01`` for USD, ``0.00000001`` for BTC."""
        return Decimal(1).scaleb(-self.decimals)


EMBED_ASSETS: tuple[EmbedAsset, ...] = (
    EmbedAsset("USD", AssetStatus.TRADABLE, 2, Decimal("1"), Decimal("1000000")),
    EmbedAsset("EUR", AssetStatus.TRADABLE, 2, Decimal("1"), Decimal("1000000")),
    EmbedAsset("BTC", AssetStatus.TRADABLE, 8, Decimal("0.00001"), Decimal("100")),
    EmbedAsset("ETH", AssetStatus.TRADABLE, 8, Decimal("0.0001"), Decimal("1000")),
    EmbedAsset("SOL", AssetStatus.TRADABLE, 8, Decimal("0.01"), Decimal("100000")),
    EmbedAsset("DOGE", AssetStatus.DISABLED, 8, Decimal("1"), Decimal("10000000")),
    EmbedAsset("DOT", AssetStatus.SOON, 8, Decimal("0.1"), Decimal("1000000")),
)

_BY_NAME = {asset.name: asset for asset in EMBED_ASSETS}


def find_embed_asset(name: str) -> EmbedAsset | None:
    """The listed asset of that name (case-insensitive), or ``None``."""
    return _BY_NAME.get(name.strip().upper())


def market_between(one: EmbedAsset, other: EmbedAsset) -> Pair | None:
    """The Spot pair that trades ``one`` against ``other``, in either order, or ``None``."""
    names = {one.name, other.name}
    return next((pair for pair in PAIRS if {pair.base.v2, pair.quote.v2} == names), None)


def disabled_against(asset: EmbedAsset) -> list[str]:
    """The listed assets ``asset`` cannot be quoted against: those with no market between them."""
    return [
        other.name
        for other in EMBED_ASSETS
        if other != asset and market_between(asset, other) is None
    ]
