"""Kraken's WebSocket v2 book checksum worked example (kraken.md §5.4), reproduced exactly."""

from __future__ import annotations

import zlib
from decimal import Decimal

from services.paper.book_checksum import book_checksum, checksum_text

# The book behind Kraken's 281-character worked example: BTC/USD, price 1 and qty 8 decimals.
ASKS = [
    ("45285.2", "0.00100000"),
    ("45286.4", "1.54571953"),
    ("45286.6", "1.54571109"),
    ("45289.6", "1.54560911"),
    ("45290.2", "0.15890660"),
    ("45291.8", "1.54553491"),
    ("45294.7", "0.04454749"),
    ("45296.1", "0.35380000"),
    ("45297.5", "0.09945542"),
    ("45299.5", "0.18772827"),
]
BIDS = [
    ("45283.5", "0.10000000"),
    ("45283.4", "1.54582015"),
    ("45282.1", "0.10000000"),
    ("45281.0", "0.10000000"),
    ("45280.3", "1.54592586"),
    ("45279.0", "0.07990000"),
    ("45277.6", "0.03310103"),
    ("45277.5", "0.30000000"),
    ("45277.3", "1.54602737"),
    ("45276.6", "0.15445238"),
]
EXPECTED_TEXT = (
    "45285210000045286415457195345286615457110945289615456091145290215890660452918154553491"
    "452947445474945296135380000452975994554245299518772827452835100000004528341545820154528"
    "211000000045281010000000452803154592586452790799000045277633101034527753000000045277315"
    "460273745276615445238"
)
EXPECTED_CHECKSUM = 3310070434


def _levels(rows: list[tuple[str, str]]) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(price), Decimal(qty)) for price, qty in rows]


def test_worked_example_string_and_crc_are_reproduced_exactly() -> None:
    assert len(EXPECTED_TEXT) == 281
    assert zlib.crc32(EXPECTED_TEXT.encode()) == EXPECTED_CHECKSUM

    assert checksum_text(_levels(ASKS), _levels(BIDS), 1, 8) == EXPECTED_TEXT
    assert book_checksum(_levels(ASKS), _levels(BIDS), 1, 8) == EXPECTED_CHECKSUM


def test_wire_numbers_are_reformatted_with_the_pair_precision() -> None:
    # The wire carries JSON numbers (0.001, 45281); the checksum needs 0.00100000 and 45281.0.
    asks = [(Decimal(p).normalize(), Decimal(q).normalize()) for p, q in ASKS]
    bids = [(Decimal(p).normalize(), Decimal(q).normalize()) for p, q in BIDS]

    assert book_checksum(asks, bids, 1, 8) == EXPECTED_CHECKSUM


def test_only_the_top_ten_levels_count_and_order_does_not_matter() -> None:
    deeper_asks = [*reversed(_levels(ASKS)), (Decimal("45400.0"), Decimal("9"))]
    deeper_bids = [(Decimal("45000.0"), Decimal("9")), *_levels(BIDS)]

    assert book_checksum(deeper_asks, deeper_bids, 1, 8) == EXPECTED_CHECKSUM
