"""A signal survives the stream's fields and becomes the proto with plain decimal strings."""

from __future__ import annotations

from decimal import Decimal

from services.signal.signals.model import SignalRecord
from trading.common.v1 import common_pb2

SIGNAL = SignalRecord(
    pair="BTC/USD",
    side=common_pb2.SIDE_SELL,
    strength=Decimal("0.50"),
    reason="overbought",
    source="rule",
    external_id="r-1:1700000000000",
    time_ms=1_700_000_060_000,
    price=Decimal("0.00000001"),
    rule_id="r-1",
)


def test_stream_fields_round_trip() -> None:
    recorded = SIGNAL.recorded_as("1700000000000-3")

    assert SignalRecord.from_fields(recorded.id, recorded.to_fields()) == recorded
    assert recorded.recorded_ms == 1_700_000_000_000


def test_proto_carries_plain_decimals_and_the_id() -> None:
    proto = SIGNAL.recorded_as("5-0").to_proto()

    assert proto.id == "5-0"
    assert proto.price == "0.00000001"
    assert proto.strength == "0.50"
    assert proto.time.ToMilliseconds() == 1_700_000_060_000
    assert proto.rule_id == "r-1"


def test_a_signal_without_price_keeps_it_empty() -> None:
    signal = SignalRecord("ETH/USD", common_pb2.SIDE_BUY, Decimal(1), "", "q", "e", 1, None)

    assert signal.to_fields()["price"] == ""
    assert SignalRecord.from_fields("1-0", signal.to_fields()).price is None
