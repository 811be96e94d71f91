"""Kraken's WebSocket v2 book checksum: CRC32 over the top ten levels per side (kraken.md §5.4)."""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from decimal import Decimal

from services.paper.wire import fixed

CHECKSUM_DEPTH = 10


def _stripped(value: Decimal, decimals: int) -> str:
    return fixed(value, decimals).replace(".", "").lstrip("0")


def checksum_text(
    asks: Iterable[tuple[Decimal, Decimal]],
    bids: Iterable[tuple[Decimal, Decimal]],
    price_decimals: int,
    qty_decimals: int,
) -> str:
    """The string Kraken hashes: asks low to high, then bids high to low, ten of each."""
    best_asks = sorted(asks)[:CHECKSUM_DEPTH]
    best_bids = sorted(bids, reverse=True)[:CHECKSUM_DEPTH]
    return "".join(
        _stripped(price, price_decimals) + _stripped(qty, qty_decimals)
        for price, qty in (*best_asks, *best_bids)
    )


def book_checksum(
    asks: Iterable[tuple[Decimal, Decimal]],
    bids: Iterable[tuple[Decimal, Decimal]],
    price_decimals: int,
    qty_decimals: int,
) -> int:
    """The unsigned CRC32 the ``book`` channel carries in ``checksum``."""
    text = checksum_text(asks, bids, price_decimals, qty_decimals)
    return zlib.crc32(text.encode("ascii")) & 0xFFFFFFFF
