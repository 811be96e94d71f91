"""Trading-counter costs from kraken.md §3.3, and the tier limits of both counters."""

from __future__ import annotations

import pytest

from services.execution.kraken.budget import (
    REST_LIMITS,
    TRADING_LIMITS,
    BucketLimits,
    TradingAction,
    trading_cost,
)
from services.execution.kraken.config import KrakenTier


@pytest.mark.parametrize(
    ("action", "age", "cost"),
    [
        (TradingAction.ADD, None, 1),
        (TradingAction.AMEND, 4.9, 1 + 3),
        (TradingAction.AMEND, 7, 1 + 2),
        (TradingAction.AMEND, 14.9, 1 + 1),
        (TradingAction.AMEND, 15, 1),
        (TradingAction.AMEND, 1000, 1),
        (TradingAction.EDIT, 0, 1 + 6),
        (TradingAction.EDIT, 9.9, 1 + 5),
        (TradingAction.EDIT, 10, 1 + 4),
        (TradingAction.EDIT, 44, 1 + 2),
        (TradingAction.EDIT, 89, 1 + 1),
        (TradingAction.EDIT, 90, 1),
        (TradingAction.CANCEL, 0, 8),
        (TradingAction.CANCEL, 5, 6),
        (TradingAction.CANCEL, 10, 5),
        (TradingAction.CANCEL, 36, 4),
        (TradingAction.CANCEL, 45, 2),
        (TradingAction.CANCEL, 299.9, 1),
        (TradingAction.CANCEL, 300, 0),
    ],
)
def test_cost_by_action_and_order_age(
    action: TradingAction, age: float | None, cost: float
) -> None:
    assert trading_cost(action, age) == cost


def test_unknown_age_is_charged_the_worst_case() -> None:
    assert trading_cost(TradingAction.CANCEL) == 8
    assert trading_cost(TradingAction.EDIT) == 7


def test_documented_example_add_amend_after_7s_cancel_36s_later_totals_8() -> None:
    total = (
        trading_cost(TradingAction.ADD)
        + trading_cost(TradingAction.AMEND, 7)
        + trading_cost(TradingAction.CANCEL, 36)
    )

    assert total == 8


def test_batches() -> None:
    assert trading_cost(TradingAction.ADD, orders=10) == 5
    assert trading_cost(TradingAction.ADD, orders=3) == 1.5
    assert trading_cost(TradingAction.CANCEL, 3, orders=4) == 32


@pytest.mark.parametrize(("age", "orders"), [(-1.0, 1), (1.0, 0)])
def test_bad_arguments_are_refused(age: float, orders: int) -> None:
    with pytest.raises(ValueError, match="must"):
        trading_cost(TradingAction.CANCEL, age, orders=orders)


def test_tier_limits_match_the_reference() -> None:
    assert REST_LIMITS == {
        KrakenTier.STARTER: BucketLimits(15, 0.33),
        KrakenTier.INTERMEDIATE: BucketLimits(20, 0.5),
        KrakenTier.PRO: BucketLimits(20, 1.0),
    }
    assert TRADING_LIMITS == {
        KrakenTier.STARTER: BucketLimits(60, 1.0),
        KrakenTier.INTERMEDIATE: BucketLimits(125, 2.34),
        KrakenTier.PRO: BucketLimits(180, 3.75),
    }
