"""Kraken's WebSocket v2 book checksum worked example (kraken.md §5.4), reproduced exactly."""

from __future__ import annotations

import zlib
from decimal import Decimal

from services.common.book_checksum import book_checksum, checksum_text
from tests.support.book_example import ASKS, BIDS, EXPECTED_CHECKSUM, EXPECTED_TEXT


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
