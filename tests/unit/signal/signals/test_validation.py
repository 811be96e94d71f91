"""PublishSignalRequest and StreamSignalsRequest checks name the offending field."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.signal.signals.errors import InvalidArgument
from services.signal.signals.validation import parse_publish, parse_stream, stream_id
from trading.common.v1 import common_pb2
from trading.signal.v1 import signal_pb2

NOW = 1_700_000_000_000


def publish(**fields: object) -> signal_pb2.PublishSignalRequest:
    values: dict[str, object] = {
        "source": "quant-momentum",
        "external_id": "sig-1",
        "pair": "ETH/USD",
        "side": common_pb2.SIDE_BUY,
        "strength": "0.8",
    }
    values.update(fields)
    return signal_pb2.PublishSignalRequest(**values)  # type: ignore[arg-type]


def error_of(request: signal_pb2.PublishSignalRequest) -> str:
    with pytest.raises(InvalidArgument) as failed:
        parse_publish(request, publisher="quant-1", now_ms=NOW)
    return str(failed.value)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"source": ""}, "source: must be 1 to 64 characters of [a-z0-9._-]"),
        ({"source": "Quant"}, "source: must be 1 to 64 characters"),
        ({"source": "rule"}, "source: 'rule' is reserved for rule signals"),
        ({"external_id": ""}, "external_id: is required"),
        ({"external_id": "x" * 129}, "external_id: is required: 1 to 128 characters"),
        ({"pair": ""}, "pair: is required"),
        ({"pair": "ETH-USD"}, "pair: 'ETH-USD' is not a pair in BASE/QUOTE form"),
        ({"side": common_pb2.SIDE_UNSPECIFIED}, "side: is required"),
        ({"strength": ""}, "strength: is required"),
        ({"strength": "1.01"}, 'strength: must be from "0" to "1"'),
        ({"strength": "high"}, "strength: 'high' is not a decimal number"),
        ({"reason": "x" * 501}, "reason: must be at most 500 characters"),
        ({"price": "0"}, "price: must be > 0"),
    ],
)
def test_bad_signal_names_the_field(fields: dict[str, object], expected: str) -> None:
    assert error_of(publish(**fields)).startswith(expected)


def test_time_more_than_five_minutes_ahead_is_refused() -> None:
    request = publish()
    request.time.FromMilliseconds(NOW + 5 * 60_000 + 1)
    assert error_of(request) == "time: must be at most 5 minutes in the future"


def test_valid_signal_defaults_its_time_to_now_and_records_the_publisher() -> None:
    signal = parse_publish(publish(price="3000.5", strength="1"), publisher="quant-1", now_ms=NOW)

    assert signal.time_ms == NOW
    assert signal.published_by == "quant-1"
    assert signal.source == "quant-momentum"
    assert signal.price == Decimal("3000.5")
    assert signal.strength == 1
    assert signal.rule_id == ""


def test_stream_request_resume_points_and_filters() -> None:
    after, wanted = parse_stream(
        signal_pb2.StreamSignalsRequest(after_signal_id="1700000000000", pairs=["eth/usd"])
    )

    assert after == "1700000000000-0"
    assert wanted.pairs == {"ETH/USD"}
    assert parse_stream(signal_pb2.StreamSignalsRequest(after_signal_id="0"))[0] == "0"
    assert parse_stream(signal_pb2.StreamSignalsRequest())[0] == ""


def test_a_resume_point_that_is_not_a_stream_id_is_refused() -> None:
    with pytest.raises(InvalidArgument) as failed:
        stream_id("yesterday", "after_signal_id")
    assert str(failed.value).startswith("after_signal_id: 'yesterday' is not a signal id")
