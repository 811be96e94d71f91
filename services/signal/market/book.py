"""A pair's order book as the WebSocket v2 ``book`` channel builds it, verified by checksum.

Rules (kraken.md §5.3, §5.4): a snapshot replaces the book; in an update ``qty`` 0 removes a
level and a level may change several times, applied in order; after each message the book is
truncated to the subscribed depth; the checksum covers the top ten levels per side. Each level
keeps its checksum text, made once when the level changes, so verifying a message costs one
join and one CRC32 instead of forty decimal formats.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from services.common.book_checksum import CHECKSUM_DEPTH, checksum_of, level_text
from services.signal.market.model import BookView, PairInfo
from services.signal.market.wire import decimal

WireLevel = Mapping[str, Any]
"""``{"price": ..., "qty": ...}`` as decoded from the wire."""


class _Side:
    """One side: level by price, and the prices kept sorted low to high."""

    __slots__ = ("levels", "prices")

    def __init__(self) -> None:
        self.levels: dict[Decimal, tuple[Decimal, str]] = {}
        self.prices: list[Decimal] = []

    def clear(self) -> None:
        self.levels.clear()
        self.prices.clear()

    def apply(
        self, wire_levels: Iterable[WireLevel], price_decimals: int, qty_decimals: int
    ) -> None:
        levels, prices = self.levels, self.prices
        for level in wire_levels:
            price = level["price"]
            qty = level["qty"]
            if price.__class__ is not Decimal:
                price = decimal(price, "price")
            if qty.__class__ is not Decimal:
                qty = decimal(qty, "qty")
            if not qty:
                if levels.pop(price, None) is not None:
                    prices.remove(price)
                continue
            if price not in levels:
                insort(prices, price)
            levels[price] = (qty, level_text(price, qty, price_decimals, qty_decimals))


class OrderBook:
    """The book of one pair at one subscribed depth; ``synced`` until a checksum fails."""

    __slots__ = ("_asks", "_bids", "depth", "info", "received_ns", "synced")

    def __init__(self, info: PairInfo, depth: int) -> None:
        self.info = info
        self.depth = depth
        self._asks = _Side()
        self._bids = _Side()
        self.synced = False
        self.received_ns = 0

    @property
    def pair(self) -> str:
        return self.info.symbol

    def reset(self) -> None:
        """Forget every level; updates are ignored until the next snapshot."""
        self._asks.clear()
        self._bids.clear()
        self.synced = False

    def apply(
        self, bids: Iterable[WireLevel], asks: Iterable[WireLevel], *, snapshot: bool
    ) -> bool:
        """Apply one message's levels and truncate; false (and nothing done) while unsynced."""
        if snapshot:
            self._asks.clear()
            self._bids.clear()
        elif not self.synced:
            return False
        info = self.info
        self._asks.apply(asks, info.price_decimals, info.qty_decimals)
        self._bids.apply(bids, info.price_decimals, info.qty_decimals)
        self._truncate()
        return True

    def _truncate(self) -> None:
        depth = self.depth
        asks = self._asks
        while len(asks.prices) > depth:
            del asks.levels[asks.prices.pop()]
        bids = self._bids
        excess = len(bids.prices) - depth
        if excess > 0:
            for price in bids.prices[:excess]:
                del bids.levels[price]
            del bids.prices[:excess]

    def checksum(self) -> int:
        """Kraken's CRC32 of the current top ten levels per side."""
        asks, bids = self._asks, self._bids
        ask_texts = [asks.levels[price][1] for price in asks.prices[:CHECKSUM_DEPTH]]
        bid_texts = [bids.levels[price][1] for price in reversed(bids.prices[-CHECKSUM_DEPTH:])]
        return checksum_of(ask_texts + bid_texts)

    def verify(self, expected: int, received_ns: int) -> bool:
        """Compare with the message's checksum: a match syncs the book, a miss resets it."""
        if self.checksum() == expected:
            self.synced = True
            self.received_ns = received_ns
            return True
        self.reset()
        return False

    def view(self) -> BookView:
        """The book as an immutable value, best levels first."""
        asks, bids = self._asks, self._bids
        return BookView(
            pair=self.pair,
            bids=tuple((price, bids.levels[price][0]) for price in reversed(bids.prices)),
            asks=tuple((price, asks.levels[price][0]) for price in asks.prices),
            checksum=self.checksum(),
            received_ns=self.received_ns,
        )
