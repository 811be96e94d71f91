"""The quote record: Kraken's quote object read exactly, and status that only moves forward."""

from __future__ import annotations

import pytest

from services.execution.embed.model import QuoteRecord, parse_quote
from services.execution.kraken.errors import MalformedResultError
from trading.execution.v1 import execution_pb2 as pb

# The request-quote response of kraken.md §6.3, with the third-party filled figures.
KRAKEN_QUOTE = {
    "quote_id": "QTEST-0001",
    "type": "spend",
    "status": "new",
    "expires": "2026-11-21T10:30:00.123456789Z",
    "spend": {
        "asset": "USD",
        "total": "100.00",
        "fee": "1.00",
        "subtotal": "99.00",
        "asset_class": "currency",
    },
    "receive": {
        "asset": "BTC",
        "total": "0.00150000",
        "fee": "0",
        "subtotal": "0.00150000",
        "asset_class": "currency",
    },
    "unit_price": {
        "asset": "BTC",
        "unit_price": "66000.00",
        "denomination_asset": "USD",
        "asset_class": "currency",
        "denomination_asset_class": "currency",
    },
    "quoted_spend": None,
    "quoted_receive": None,
    "quoted_unit_price": None,
}


def _record() -> QuoteRecord:
    quote = parse_quote(KRAKEN_QUOTE)
    return QuoteRecord(
        quote_id=quote.quote_id,
        client_quote_id="c0ffee00-0000-4000-8000-000000000001",
        user="AA00 TEST EXAM PLE1",
        quote_type=pb.QUOTE_TYPE_SPEND,
        team="desk",
        requested_by="desk",
        request_id="r1",
        expires_ms=quote.expires_ms,
        spend=quote.spend,
        receive=quote.receive,
        unit_price=quote.unit_price,
    )


def test_quote_object_is_read_with_exact_decimal_strings() -> None:
    quote = parse_quote(KRAKEN_QUOTE)
    assert quote.spend.total == "100.00"
    assert quote.spend.fee == "1.00"
    assert quote.receive.total == "0.00150000"
    assert quote.unit_price.unit_price == "66000.00"
    assert quote.quoted_spend is None
    # Nanoseconds are cut to what datetime holds, not rejected.
    assert quote.expires_ms % 1000 == 123


def test_quote_without_id_is_malformed() -> None:
    with pytest.raises(MalformedResultError, match="quote_id"):
        parse_quote({**KRAKEN_QUOTE, "quote_id": ""})


def test_quote_with_a_non_decimal_amount_is_malformed() -> None:
    bad = {**KRAKEN_QUOTE, "spend": {**KRAKEN_QUOTE["spend"], "total": "ten"}}  # type: ignore[dict-item]
    with pytest.raises(MalformedResultError, match=r"spend\.total"):
        parse_quote(bad)


def test_terminal_status_never_changes() -> None:
    record = _record()
    assert record.advance(pb.QUOTE_STATUS_ACCEPTED)
    assert record.advance(pb.QUOTE_STATUS_CREDIT_TRANSFER_COMPLETE)
    assert not record.advance(pb.QUOTE_STATUS_CANCELLED)
    assert record.status == pb.QUOTE_STATUS_CREDIT_TRANSFER_COMPLETE


def test_status_does_not_step_back() -> None:
    record = _record()
    record.advance(pb.QUOTE_STATUS_ACCEPTED)
    assert not record.advance(pb.QUOTE_STATUS_NEW)
    assert record.status == pb.QUOTE_STATUS_ACCEPTED


def test_unconfirmed_kraken_status_after_execution_reads_as_accepted() -> None:
    record = _record()
    record.execute_sent = True
    record.advance(pb.QUOTE_STATUS_UNKNOWN)
    changed = record.absorb(parse_quote({**KRAKEN_QUOTE, "status": "order_placed"}))
    assert changed
    assert record.status == pb.QUOTE_STATUS_ACCEPTED
    assert record.kraken_status == "order_placed"


def test_record_round_trips_through_json() -> None:
    record = _record()
    record.advance(pb.QUOTE_STATUS_ACCEPTED, "sent")
    assert QuoteRecord.from_json(record.to_json()) == record


def test_proto_carries_amounts_and_expiry() -> None:
    quote = _record().to_proto()
    assert quote.spend.total == "100.00"
    assert quote.receive.asset == "BTC"
    assert quote.expire_time.ToMilliseconds() == parse_quote(KRAKEN_QUOTE).expires_ms
