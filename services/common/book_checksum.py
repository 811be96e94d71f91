"""Kraken's WebSocket v2 book checksum: CRC32 over the top ten levels per side (kraken.md §5.4).

One implementation for both ends: the paper exchange stamps its ``book`` messages with it and
the signal service verifies what it receives. A level's text is exposed on its own so that a
client can compute it once when the level changes instead of on every checksum.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Decimal

CHECKSUM_DEPTH = 10

_QUANTUM = [Decimal(1).scaleb(-places) for places in range(19)]


def _digits(value: Decimal, decimals: int) -> str:
    # The wire carries numbers: 0.001 must become 0.00100000 before '.' and leading zeros go.
    text = str(value.quantize(_QUANTUM[decimals], rounding=ROUND_HALF_EVEN))
    return text.replace(".", "").lstrip("0")


def level_text(price: Decimal, qty: Decimal, price_decimals: int, qty_decimals: int) -> str:
    """One level's part of the checksum string: price digits then quantity digits."""
    return _digits(price, price_decimals) + _digits(qty, qty_decimals)


def checksum_of(level_texts: Iterable[str]) -> int:
    """The unsigned CRC32 of level texts already in checksum order (asks, then bids)."""
    return zlib.crc32("".join(level_texts).encode("ascii")) & 0xFFFFFFFF


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
        level_text(price, qty, price_decimals, qty_decimals)
        for price, qty in (*best_asks, *best_bids)
    )


def book_checksum(
    asks: Iterable[tuple[Decimal, Decimal]],
    bids: Iterable[tuple[Decimal, Decimal]],
    price_decimals: int,
    qty_decimals: int,
) -> int:
    """The unsigned CRC32 the ``book`` channel carries in ``checksum``."""
    return checksum_of([checksum_text(asks, bids, price_decimals, qty_decimals)])
