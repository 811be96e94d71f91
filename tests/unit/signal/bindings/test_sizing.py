"""Order sizes round down to the pair's decimals; limit prices round passively to the tick."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.signal.bindings.model import Sizing, SizingKind
from services.signal.bindings.sizing import SizingError, limit_price, order_volume
from trading.common.v1 import common_pb2

BUY, SELL = common_pb2.SIDE_BUY, common_pb2.SIDE_SELL


def volume(
    kind: SizingKind,
    value: str,
    side: common_pb2.Side.ValueType = BUY,
    *,
    price: Decimal | None = None,
    available: Decimal | None = None,
    volume_decimals: int = 8,
) -> Decimal:
    return order_volume(
        Sizing(kind, Decimal(value)),
        side,
        price=price,
        available=available,
        volume_decimals=volume_decimals,
    )


def test_fixed_quote_amount_divides_by_the_price_and_rounds_down() -> None:
    # 100 / 30000 = 0.00333333333...
    assert volume(SizingKind.QUOTE_AMOUNT, "100", price=Decimal(30000)) == Decimal("0.00333333")


def test_fixed_volume_is_cut_to_the_pair_decimals() -> None:
    assert volume(SizingKind.VOLUME, "1.23456789", volume_decimals=4) == Decimal("1.2345")


def test_balance_fraction_of_quote_for_a_buy_and_of_base_for_a_sell() -> None:
    buy = volume(
        SizingKind.BALANCE_FRACTION, "0.1", BUY, price=Decimal(2000), available=Decimal(5000)
    )
    sell = volume(SizingKind.BALANCE_FRACTION, "0.25", SELL, available=Decimal("2.5"))

    assert buy == Decimal("0.25")  # 10 % of 5000 USD at 2000
    assert sell == Decimal("0.625")  # 25 % of 2.5 ETH


@pytest.mark.parametrize(
    ("kind", "value", "available", "problem"),
    [
        (SizingKind.QUOTE_AMOUNT, "100", None, "no market price"),
        (SizingKind.BALANCE_FRACTION, "0.5", Decimal(0), "no available balance"),
        (SizingKind.VOLUME, "0.000000001", None, "rounds down to 0"),
    ],
)
def test_orders_that_cannot_be_sized(
    kind: SizingKind, value: str, available: Decimal | None, problem: str
) -> None:
    with pytest.raises(SizingError, match=problem):
        volume(kind, value, available=available)


def test_buy_limit_sits_below_the_price_rounded_down_to_the_tick() -> None:
    # 30000 * (1 - 0.0015) = 29955 exactly, already on the tick
    assert limit_price(BUY, Decimal(30000), offset_bps=15, tick_size=Decimal("0.1")) == 29955
    assert limit_price(
        BUY, Decimal("30001.23"), offset_bps=15, tick_size=Decimal("0.1")
    ) == Decimal("29956.2")  # 29956.228155 rounded down


def test_sell_limit_sits_above_the_price_rounded_up_to_the_tick() -> None:
    # 30001.23 * 1.0015 = 30046.231845 -> 30046.3 on a 0.1 tick
    assert limit_price(
        SELL, Decimal("30001.23"), offset_bps=15, tick_size=Decimal("0.1")
    ) == Decimal("30046.3")


def test_zero_offset_is_the_price_on_the_tick() -> None:
    assert limit_price(BUY, Decimal("2000.07"), offset_bps=0, tick_size=Decimal("0.05")) == Decimal(
        "2000.05"
    )
