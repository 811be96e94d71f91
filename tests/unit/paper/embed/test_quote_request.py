"""Request Quote bodies: a valid one is read, a bad one is refused naming its field."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from services.paper.embed.errors import EmbedError
from services.paper.embed.quote_request import QuoteType, parse_quote_request

VALID: dict[str, Any] = {
    "type": "spend",
    "amount": {"asset": "USD", "amount": "100.50", "asset_class": "currency"},
    "quote": {"asset": "BTC"},
    "fee_bps": "100",
    "spread_bps": "50",
    "quote_currency": "EUR",
}


def _body(**changes: Any) -> bytes:
    return json.dumps({**VALID, **changes}).encode("utf-8")


def test_a_valid_body_is_read() -> None:
    request = parse_quote_request(_body())

    assert request.type is QuoteType.SPEND
    assert request.amount == Decimal("100.50")
    assert (request.spend_asset.name, request.receive_asset.name) == ("USD", "BTC")
    assert (request.fee_bps, request.spread_bps) == (100, 50)
    assert request.quote_currency is not None
    assert request.quote_currency.name == "EUR"


def test_receive_fixes_the_receive_side_and_bps_default_to_zero() -> None:
    body = {
        "type": "receive",
        "amount": {"asset": "btc", "amount": "0.01"},
        "quote": {"asset": "USD"},
    }

    request = parse_quote_request(json.dumps(body).encode())

    assert (request.spend_asset.name, request.receive_asset.name) == ("USD", "BTC")
    assert (request.fee_bps, request.spread_bps, request.quote_currency) == (0, 0, None)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"type": "swap"}, "type"),
        ({"amount": "100"}, "amount"),
        ({"amount": {"asset": "XYZ", "amount": "1"}}, "amount.asset"),
        ({"amount": {"asset": "USD", "amount": "1", "asset_class": "stock"}}, "amount.asset_class"),
        ({"amount": {"asset": "USD", "amount": 100}}, "amount.amount"),
        ({"amount": {"asset": "USD", "amount": "-5"}}, "amount.amount"),
        ({"amount": {"asset": "USD", "amount": "1e3"}}, "amount.amount"),
        ({"amount": {"asset": "USD", "amount": "10.001"}}, "amount.amount"),
        ({"amount": {"asset": "USD", "amount": "0.50"}}, "amount.amount"),
        ({"amount": {"asset": "USD", "amount": "2000000"}}, "amount.amount"),
        ({"quote": {}}, "quote.asset"),
        ({"quote": {"asset": "USD"}}, "quote.asset"),
        ({"fee_bps": 100}, "fee_bps"),
        ({"fee_bps": "1.5"}, "fee_bps"),
        ({"fee_bps": "10000"}, "fee_bps"),
        ({"spread_bps": "123456"}, "spread_bps"),
        ({"quote_currency": "XYZ"}, "quote_currency"),
        ({"quote": {"asset": "DOGE"}}, "asset disabled"),
        ({"quote": {"asset": "DOT"}}, "asset disabled"),
        ({"quote": {"asset": "ETH"}, "amount": {"asset": "EUR", "amount": "5"}}, "asset disabled"),
    ],
)
def test_a_bad_field_is_named(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(EmbedError) as caught:
        parse_quote_request(_body(**changes))

    assert caught.value.status == 400
    assert caught.value.text == f"EGeneral:Invalid arguments:{field}"


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]", b"\xff"])
def test_a_body_that_is_not_an_object_is_refused(body: bytes) -> None:
    with pytest.raises(EmbedError, match="Invalid arguments:body"):
        parse_quote_request(body)
