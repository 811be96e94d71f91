"""The assets and pairs the paper exchange lists, with Kraken's metadata (kraken.md §4.1, §4.4)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from services.paper.errors import UNKNOWN_PAIR, KrakenError


@dataclass(frozen=True)
class Asset:
    """One asset as ``Assets`` lists it; ``id`` is the X/Z key (``XXBT``), ``v2`` the WS name."""

    id: str
    altname: str
    v2: str
    decimals: int
    display_decimals: int


@dataclass(frozen=True)
class Pair:
    """One tradable pair as ``AssetPairs`` lists it, plus the price the seeded path starts from."""

    id: str
    altname: str
    wsname: str
    v2: str
    base: Asset
    quote: Asset
    pair_decimals: int
    lot_decimals: int
    cost_decimals: int
    ordermin: Decimal
    costmin: Decimal
    tick_size: Decimal
    start_price: Decimal

    @property
    def aliases(self) -> frozenset[str]:
        """Every spelling Kraken accepts for this pair in a ``pair`` parameter, upper-cased."""
        v2_compact = self.v2.replace("/", "")
        return frozenset({self.id, self.altname, self.wsname, self.v2, v2_compact})


FEES_TAKER: tuple[tuple[int, Decimal], ...] = (
    (0, Decimal("0.26")),
    (10000, Decimal("0.24")),
    (50000, Decimal("0.22")),
    (100000, Decimal("0.20")),
    (250000, Decimal("0.18")),
    (500000, Decimal("0.16")),
    (1000000, Decimal("0.14")),
    (2500000, Decimal("0.12")),
    (5000000, Decimal("0.10")),
    (10000000, Decimal("0.08")),
)
FEES_MAKER: tuple[tuple[int, Decimal], ...] = (
    (0, Decimal("0.16")),
    (10000, Decimal("0.14")),
    (50000, Decimal("0.12")),
    (100000, Decimal("0.10")),
    (250000, Decimal("0.08")),
    (500000, Decimal("0.06")),
    (1000000, Decimal("0.04")),
    (2500000, Decimal("0.02")),
    (5000000, Decimal("0")),
    (10000000, Decimal("0")),
)
# The paper account never trades enough to leave the first fee tier.
TAKER_FEE_RATE = FEES_TAKER[0][1] / 100
MAKER_FEE_RATE = FEES_MAKER[0][1] / 100

XXBT = Asset("XXBT", "XBT", "BTC", 10, 5)
XETH = Asset("XETH", "ETH", "ETH", 10, 5)
SOL = Asset("SOL", "SOL", "SOL", 10, 5)
ZUSD = Asset("ZUSD", "USD", "USD", 4, 2)
ZEUR = Asset("ZEUR", "EUR", "EUR", 4, 2)

ASSETS: tuple[Asset, ...] = (XXBT, XETH, SOL, ZUSD, ZEUR)

PAIRS: tuple[Pair, ...] = (
    Pair(
        "XXBTZUSD",
        "XBTUSD",
        "XBT/USD",
        "BTC/USD",
        XXBT,
        ZUSD,
        1,
        8,
        5,
        Decimal("0.0001"),
        Decimal("0.5"),
        Decimal("0.1"),
        Decimal("65000.0"),
    ),
    Pair(
        "XETHZUSD",
        "ETHUSD",
        "ETH/USD",
        "ETH/USD",
        XETH,
        ZUSD,
        2,
        8,
        5,
        Decimal("0.002"),
        Decimal("0.5"),
        Decimal("0.01"),
        Decimal("3200.00"),
    ),
    Pair(
        "SOLUSD",
        "SOLUSD",
        "SOL/USD",
        "SOL/USD",
        SOL,
        ZUSD,
        2,
        8,
        5,
        Decimal("0.02"),
        Decimal("0.5"),
        Decimal("0.01"),
        Decimal("150.00"),
    ),
    Pair(
        "XXBTZEUR",
        "XBTEUR",
        "XBT/EUR",
        "BTC/EUR",
        XXBT,
        ZEUR,
        1,
        8,
        5,
        Decimal("0.0001"),
        Decimal("0.5"),
        Decimal("0.1"),
        Decimal("60000.0"),
    ),
)

_PAIR_BY_ALIAS = {alias.upper(): pair for pair in PAIRS for alias in pair.aliases}
_ASSET_BY_NAME = {
    name.upper(): asset for asset in ASSETS for name in (asset.id, asset.altname, asset.v2)
}


def find_pair(name: str) -> Pair:
    """The pair named by id, altname, wsname or v2 symbol; else ``EQuery:Unknown asset pair``."""
    pair = _PAIR_BY_ALIAS.get(name.strip().upper())
    if pair is None:
        raise KrakenError(UNKNOWN_PAIR)
    return pair


def pair_by_v2(symbol: str) -> Pair | None:
    """The pair for a WebSocket v2 symbol (``BTC/USD``), or ``None``."""
    return next((pair for pair in PAIRS if pair.v2 == symbol), None)


def find_asset(name: str) -> Asset | None:
    """The asset named by id (``XXBT``), altname (``XBT``) or v2 name (``BTC``), or ``None``."""
    return _ASSET_BY_NAME.get(name.strip().upper())
