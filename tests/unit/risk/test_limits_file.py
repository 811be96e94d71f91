"""The limits file: schema errors name the line and the field; decimals never pass a float."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.risk.config import EXAMPLE_LIMITS
from services.risk.limits import parse_limits
from services.risk.limits_file import LimitsFileError, load_limits_file, parse_limits_text

GOOD = """\
notional_currency: USD
allowed_pairs: [BTC/USD]
allowed_order_types: [market, limit]
default_price_collar_pct: 10
pair_limits:
  BTC/USD:
    max_order_volume: 0.1
max_position:
  BTC: "20"
"""


def error_of(text: str) -> str:
    with pytest.raises(LimitsFileError) as failed:
        parse_limits_text(text, "limits.yaml")
    return str(failed.value)


def test_good_file_keeps_decimals_exact() -> None:
    limits = parse_limits_text(GOOD, "limits.yaml")

    assert limits.pair("BTC/USD").max_order_volume == Decimal("0.1")
    assert limits.pair("BTC/USD").price_collar_pct == Decimal(10)
    assert limits.max_position == {"BTC": Decimal(20)}


def test_shipped_example_is_valid() -> None:
    limits = load_limits_file(EXAMPLE_LIMITS)

    assert limits.notional_currency == "USD"
    assert parse_limits(limits.to_data()) == limits


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        (GOOD.replace('BTC: "20"', "BTC: twenty"), "line 9: max_position.BTC: 'twenty'"),
        (
            GOOD.replace("max_order_volume: 0.1", "max_order_volume: -1"),
            "line 7: pair_limits.BTC/USD.max_order_volume: -1 must not be negative",
        ),
        (
            GOOD.replace("max_order_volume", "max_order_vol"),
            "line 7: pair_limits.BTC/USD.max_order_vol: unknown field",
        ),
        (
            GOOD.replace("[market, limit]", "[market, iceberg]"),
            "line 3: allowed_order_types.1: 'iceberg' is not one of",
        ),
        (GOOD.replace("[BTC/USD]", "[XBTUSD]"), "line 2: allowed_pairs.0: 'XBTUSD'"),
        (GOOD.replace("notional_currency: USD\n", ""), "line 1: notional_currency: is required"),
        (
            GOOD.replace("default_price_collar_pct: 10", "default_price_collar_pct: 0"),
            "line 4: default_price_collar_pct: 0 must be above 0",
        ),
        (GOOD + "max_position: {}\n", "line 10: max_position: appears twice"),
        (GOOD.replace('BTC: "20"', "BTC: 0.000000001"), "more than 8 decimal places"),
        (GOOD.replace('BTC: "20"', "BTC: 99999999"), "is too large"),
        (GOOD + "max_open_orders: many\n", "line 10: max_open_orders: 'many'"),
        ("allowed_pairs: [BTC/USD\n", "not valid YAML"),
        ("", "the file is empty"),
    ],
)
def test_schema_error_names_line_and_field(broken: str, expected: str) -> None:
    message = error_of(broken)

    assert message.startswith("limits file limits.yaml, line ")
    assert expected in message
    assert "\n" not in message
