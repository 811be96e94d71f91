"""Decimal rendering: strings with the pair's decimals, JSON numbers with their exact digits."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.paper.wire import JsonValue, dumps, fixed


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        ("1.25", 8, "1.25000000"),
        ("30010", 1, "30010.0"),
        ("0.123456789", 8, "0.12345679"),
        ("100000", 4, "100000.0000"),
        ("0", 5, "0.00000"),
    ],
)
def test_fixed_renders_kraken_decimal_strings(value: str, decimals: int, expected: str) -> None:
    assert fixed(Decimal(value), decimals) == expected


def test_dumps_keeps_decimal_digits_as_json_numbers() -> None:
    message: JsonValue = {
        "price": Decimal("45285.20"),
        "qty": Decimal("0.00100000"),
        "n": 3,
        "ok": True,
        "none": None,
        "list": [Decimal("1E+2"), 'a"b'],
    }

    assert dumps(message) == (
        '{"price":45285.2,"qty":0.001,"n":3,"ok":true,"none":null,"list":[100,"a\\"b"]}'
    )


def test_dumps_never_writes_a_float_approximation() -> None:
    assert dumps([Decimal("0.1") + Decimal("0.2")]) == "[0.3]"


def test_zero_with_many_places_is_written_in_full() -> None:
    assert fixed(Decimal(0), 10) == "0.0000000000"
    assert fixed(Decimal("0.00000001"), 8) == "0.00000001"
