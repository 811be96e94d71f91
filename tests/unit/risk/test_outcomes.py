"""Outcome targets are absolute and cumulative: repeats and older news change nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.risk.errors import InvalidArgument
from services.risk.outcomes import (
    CANCELED,
    FILLED,
    LAPSED,
    PARTIALLY_FILLED,
    REJECTED,
    LegState,
    OutcomeReport,
    ReservationState,
    settle_target,
)

UNIT = 10**8


def buy_order(filled: int = 0) -> ReservationState:
    """A buy of 2 BTC at 100 USD, `filled` units already filled at 100."""
    return ReservationState(
        reservation_id="order:x",
        kind="order",
        state="open",
        team="desk-a",
        day="2025-01-01",
        progress=filled,
        legs=(
            LegState("BTC", 1, 2 * UNIT, 2 * UNIT - filled, filled),
            LegState("USD", -1, 200 * UNIT, 200 * UNIT - filled * 100, filled * 100),
        ),
        notional=200 * UNIT,
        notional_left=200 * UNIT - filled * 100,
        notional_used=filled * 100,
        price=Decimal(100),
    )


def test_partial_fill_moves_the_filled_part_to_position() -> None:
    target = settle_target(
        buy_order(), OutcomeReport(PARTIALLY_FILLED, Decimal("0.5"), Decimal(99)), "USD"
    )

    assert target is not None
    assert not target.terminal
    assert target.legs == ((UNIT * 3 // 2, UNIT // 2), (150 * UNIT, UNIT * 99 // 2))
    assert target.notional_used == UNIT * 99 // 2


def test_repeat_and_older_reports_change_nothing() -> None:
    state = buy_order(filled=UNIT // 2)

    assert (
        settle_target(state, OutcomeReport(PARTIALLY_FILLED, Decimal("0.5"), Decimal(1)), "USD")
        is None
    )
    assert (
        settle_target(state, OutcomeReport(PARTIALLY_FILLED, Decimal("0.2"), Decimal(1)), "USD")
        is None
    )


def test_cancel_after_partial_fill_keeps_the_larger_fill_and_releases_the_rest() -> None:
    target = settle_target(buy_order(filled=UNIT), OutcomeReport(CANCELED, Decimal("0.5")), "USD")

    assert target is not None
    assert target.terminal
    assert target.legs == ((0, UNIT), (0, 100 * UNIT))
    assert target.notional_left == 0


def test_filled_without_volume_means_the_whole_order() -> None:
    target = settle_target(buy_order(), OutcomeReport(FILLED, None, Decimal(100)), "USD")

    assert target is not None
    assert target.progress == 2 * UNIT


def test_lapsed_releases_without_new_fills() -> None:
    target = settle_target(buy_order(filled=UNIT), OutcomeReport(LAPSED), "")

    assert target is not None
    assert target.legs == ((0, UNIT), (0, 100 * UNIT))


@pytest.mark.parametrize(
    ("report", "field"),
    [
        (OutcomeReport(FILLED, Decimal(3), Decimal(100)), "filled_volume"),
        (OutcomeReport(REJECTED, Decimal(1), Decimal(100)), "filled_volume"),
        (OutcomeReport(PARTIALLY_FILLED, Decimal(1), None), "average_price"),
    ],
)
def test_impossible_reports_are_invalid(report: OutcomeReport, field: str) -> None:
    with pytest.raises(InvalidArgument) as failed:
        settle_target(buy_order(), report, "USD")
    assert failed.value.field == field
