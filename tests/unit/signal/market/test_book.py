"""The order book: Kraken's checksum example reproduced exactly, and the book rules of §5.3."""

from __future__ import annotations

import zlib
from decimal import Decimal
from typing import Any

from services.signal.market.book import OrderBook
from services.signal.market.model import PairInfo
from services.signal.market.wire import decode
from tests.support.book_example import ASKS, BIDS, EXPECTED_CHECKSUM, EXPECTED_TEXT

BTC_USD = PairInfo("BTC/USD", price_decimals=1, qty_decimals=8)


def _number(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


def _wire(rows: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Levels decoded from JSON numbers without trailing zeros, as the paper exchange sends."""
    items = ",".join(f'{{"price":{_number(p)},"qty":{_number(q)}}}' for p, q in rows)
    levels: list[dict[str, Any]] = decode(f"[{items}]")
    return levels


def _levels(*rows: tuple[str, str]) -> list[dict[str, Decimal]]:
    return [{"price": Decimal(p), "qty": Decimal(q)} for p, q in rows]


def _example_book(depth: int = 10) -> OrderBook:
    book = OrderBook(BTC_USD, depth)
    book.apply(_wire(BIDS), _wire(ASKS), snapshot=True)
    return book


def test_kraken_worked_example_is_reproduced_exactly() -> None:
    book = _example_book()

    assert len(EXPECTED_TEXT) == 281
    assert zlib.crc32(EXPECTED_TEXT.encode()) == EXPECTED_CHECKSUM
    assert book.checksum() == EXPECTED_CHECKSUM
    assert book.verify(EXPECTED_CHECKSUM, received_ns=1) is True
    assert book.synced


def test_wire_numbers_without_trailing_zeros_or_point_still_verify() -> None:
    levels = _wire([("45281.0", "0.10000000")])

    assert levels == [{"price": 45281, "qty": Decimal("0.1")}]
    assert _example_book().checksum() == EXPECTED_CHECKSUM


def test_snapshot_view_is_sorted_best_first() -> None:
    book = _example_book()
    book.verify(EXPECTED_CHECKSUM, received_ns=7)

    view = book.view()

    assert view.bids[0] == (Decimal("45283.5"), Decimal("0.1"))
    assert view.asks[0] == (Decimal("45285.2"), Decimal("0.001"))
    assert [p for p, _ in view.asks] == sorted(p for p, _ in view.asks)
    assert [p for p, _ in view.bids] == sorted((p for p, _ in view.bids), reverse=True)
    assert view.checksum == EXPECTED_CHECKSUM
    assert view.received_ns == 7


def test_update_changes_and_deletes_levels_in_order() -> None:
    book = _example_book()
    book.verify(EXPECTED_CHECKSUM, received_ns=1)

    applied = book.apply(
        _levels(("45283.5", "0"), ("45283.4", "2.5")),
        _levels(("45285.2", "0.5"), ("45285.2", "0.7"), ("45284.0", "1")),
        snapshot=False,
    )
    view = book.view()

    assert applied
    assert view.bids[0] == (Decimal("45283.4"), Decimal("2.5"))
    assert len(view.bids) == 9
    assert view.asks[0] == (Decimal("45284.0"), Decimal("1"))
    assert view.asks[1] == (Decimal("45285.2"), Decimal("0.7"))


def test_deleting_an_unknown_level_changes_nothing() -> None:
    book = _example_book()
    book.verify(EXPECTED_CHECKSUM, received_ns=1)

    book.apply(_levels(("1.0", "0")), _levels(("99999.0", "0")), snapshot=False)

    assert book.checksum() == EXPECTED_CHECKSUM


def test_book_is_truncated_to_depth_after_each_message() -> None:
    book = _example_book()
    book.verify(EXPECTED_CHECKSUM, received_ns=1)

    book.apply(
        _levels(("45284.0", "1"), ("45283.9", "1")),
        _levels(("45285.0", "1")),
        snapshot=False,
    )
    view = book.view()

    assert len(view.asks) == 10
    assert len(view.bids) == 10
    assert view.asks[-1][0] == Decimal("45297.5")  # 45299.5 fell out of scope
    assert view.bids[-1][0] == Decimal("45277.5")  # 45277.3 and 45276.6 fell out


def test_deeper_book_checksums_only_the_top_ten() -> None:
    book = OrderBook(BTC_USD, depth=25)
    deeper_asks = [*ASKS, ("45300.0", "9.0"), ("45301.0", "9.0")]
    deeper_bids = [*BIDS, ("45270.0", "9.0")]

    book.apply(_wire(deeper_bids), _wire(deeper_asks), snapshot=True)

    assert book.checksum() == EXPECTED_CHECKSUM
    assert len(book.view().asks) == 12


def test_mismatch_resets_the_book_and_ignores_updates_until_a_snapshot() -> None:
    book = _example_book()
    book.verify(EXPECTED_CHECKSUM, received_ns=1)
    book.apply(_levels(("45283.5", "0.2")), [], snapshot=False)

    matched = book.verify(EXPECTED_CHECKSUM, received_ns=2)
    ignored = book.apply(_levels(("45283.5", "0.3")), [], snapshot=False)

    assert matched is False
    assert not book.synced
    assert ignored is False
    assert book.view().bids == ()
    book.apply(_wire(BIDS), _wire(ASKS), snapshot=True)
    assert book.verify(EXPECTED_CHECKSUM, received_ns=3)
    assert book.received_ns == 3
