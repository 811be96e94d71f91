"""Quote requests: every broken rule is named by its field, nothing reaches Kraken."""

from __future__ import annotations

import pytest

from services.execution.embed.validation import validate_quote_request
from services.execution.orders.validation import OrderInputError
from trading.execution.v1 import execution_pb2 as pb

CLIENT_ID = "c0ffee00-0000-4000-8000-000000000001"


def _request(**changes: object) -> pb.RequestQuoteRequest:
    fields: dict[str, object] = {
        "client_quote_id": CLIENT_ID,
        "user": "AA00 TEST EXAM PLE1",
        "type": pb.QUOTE_TYPE_SPEND,
        "amount": "50",
        "amount_asset": "eur",
        "quote_asset": "BTC",
        "fee_bps": 100,
    }
    fields.update(changes)
    return pb.RequestQuoteRequest(**fields)  # type: ignore[arg-type]


def test_valid_request_becomes_kraken_body() -> None:
    wanted = validate_quote_request(_request(), CLIENT_ID)
    assert wanted.kraken_body() == {
        "type": "spend",
        "amount": {"asset": "EUR", "amount": "50", "asset_class": "currency"},
        "quote": {"asset": "BTC"},
        "fee_bps": "100",
        "spread_bps": "0",
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"user": ""}, "user"),
        ({"user": "short"}, "user"),
        ({"type": pb.QUOTE_TYPE_UNSPECIFIED}, "type"),
        ({"amount": ""}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"amount": "1e5"}, "amount"),
        ({"amount_asset": ""}, "amount_asset"),
        ({"quote_asset": "EUR"}, "quote_asset"),
        ({"quote_asset": "A-VERY-LONG-ASSET-CODE"}, "quote_asset"),
        ({"fee_bps": 10001}, "fee_bps"),
        ({"spread_bps": 20000}, "spread_bps"),
    ],
)
def test_bad_field_is_named(changes: dict[str, object], field: str) -> None:
    with pytest.raises(OrderInputError) as caught:
        validate_quote_request(_request(**changes), CLIENT_ID)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
