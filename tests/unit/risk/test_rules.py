"""The stateless rules: every failed rule is listed with a code, a sentence and the field."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.risk.errors import InvalidArgument
from services.risk.intents import OrderIntent, parse_order
from services.risk.limits_file import parse_limits_text
from services.risk.rules import Leg, assess_order, order_notional
from trading.common.v1 import common_pb2
from trading.risk.v1 import risk_pb2

LIMITS = parse_limits_text(
    """
notional_currency: USD
allowed_pairs: [BTC/USD, ETH/BTC]
allowed_order_types: [market, limit]
default_price_collar_pct: "10"
pair_limits:
  BTC/USD: {max_order_volume: "2", max_order_notional: "50000", price_collar_pct: "5"}
max_position: {BTC: "10"}
""",
    "rules",
)


def intent(**fields: object) -> OrderIntent:
    message = risk_pb2.OrderIntent(
        client_order_id="0f8fad5b-d9cb-469f-a165-70867728950e",
        team="desk-a",
        pair="BTC/USD",
        side=common_pb2.SIDE_BUY,
        order_type=common_pb2.ORDER_TYPE_LIMIT,
        volume="1",
        limit_price="30000",
        reference_price="30000",
    )
    for name, value in fields.items():
        setattr(message, name, value)
    return parse_order(message)


def codes(order: OrderIntent) -> list[str]:
    return [v.code for v in assess_order(order, LIMITS).violations]


def test_a_good_order_passes_and_reserves_both_legs() -> None:
    assessment = assess_order(intent(), LIMITS)

    assert assessment.violations == []
    assert assessment.notional == Decimal(30000)
    assert assessment.legs == [
        Leg("BTC", 1, Decimal(1), Decimal(10)),
        Leg("USD", -1, Decimal(30000), None),
    ]


def test_every_failed_rule_is_listed_not_only_the_first() -> None:
    order = intent(
        order_type=common_pb2.ORDER_TYPE_STOP_LOSS_LIMIT,
        stop_price="30000",
        volume="3",
        limit_price="40000",
    )

    violations = assess_order(order, LIMITS).violations

    assert [(v.code, v.field) for v in violations] == [
        ("ORDER_TYPE_NOT_ALLOWED", "order_type"),
        ("MAX_ORDER_VOLUME", "volume"),
        ("PRICE_COLLAR", "limit_price"),
        ("MAX_ORDER_NOTIONAL", "volume"),
    ]
    assert "3 BTC is above the per-order maximum 2 BTC" in violations[1].message
    assert "33.33% from the reference price 30000" in violations[2].message


def test_pair_not_allowed_and_unpriceable_quote() -> None:
    assert codes(intent(pair="SOL/USD")) == ["PAIR_NOT_ALLOWED"]
    assert codes(intent(pair="ETH/BTC", limit_price="0.05", reference_price="0.05")) == [
        "NOTIONAL_CURRENCY"
    ]


def test_collar_uses_the_pair_percentage() -> None:
    assert codes(intent(limit_price="31500")) == []
    assert codes(intent(limit_price="31501")) == ["PRICE_COLLAR"]


def test_market_order_without_reference_price_is_refused() -> None:
    order = intent(order_type=common_pb2.ORDER_TYPE_MARKET, limit_price="", reference_price="")

    assert codes(order) == ["REFERENCE_PRICE_MISSING"]
    assert order_notional(order) is None


def test_notional_is_rounded_up() -> None:
    order = intent(volume="0.00000001", limit_price="0.5", reference_price="0.5")

    assert order_notional(order) == Decimal("0.00000001")


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"volume": "0"}, "order.volume"),
        ({"volume": "1.123456789"}, "order.volume"),
        ({"limit_price": ""}, "order.limit_price"),
        ({"order_type": common_pb2.ORDER_TYPE_MARKET}, "order.limit_price"),
        ({"side": common_pb2.SIDE_UNSPECIFIED}, "order.side"),
        ({"order_type": common_pb2.ORDER_TYPE_UNSPECIFIED}, "order.order_type"),
        ({"team": "desk a"}, "order.team"),
    ],
)
def test_malformed_orders_name_the_field(fields: dict[str, object], named: str) -> None:
    with pytest.raises(InvalidArgument) as failed:
        intent(**fields)
    assert failed.value.field == named
