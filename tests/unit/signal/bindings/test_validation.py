"""CreateBindingRequest checks name the offending field; a binding reads back unchanged."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.signal.bindings.model import SizingKind
from services.signal.bindings.validation import parse_spec
from services.signal.signals.errors import InvalidArgument
from trading.common.v1 import common_pb2
from trading.signal.v1 import signal_pb2

MARKET, LIMIT = common_pb2.ORDER_TYPE_MARKET, common_pb2.ORDER_TYPE_LIMIT


def request(**fields: object) -> signal_pb2.CreateBindingRequest:
    values: dict[str, object] = {
        "name": "follow momentum",
        "signal_source": "quant-momentum",
        "pair": "BTC/USD",
        "sizing": signal_pb2.SizingPolicy(
            fixed_quote_amount=signal_pb2.FixedQuoteAmount(amount="100")
        ),
        "order_type": MARKET,
    }
    values.update(fields)
    return signal_pb2.CreateBindingRequest(**values)  # type: ignore[arg-type]


def parse(message: signal_pb2.CreateBindingRequest) -> object:
    return parse_spec(message, binding_id="b-1", team="desk-a", create_ms=1)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (request(name=" "), "name: is required"),
        (signal_pb2.CreateBindingRequest(name="x"), "trigger: is required"),
        (request(signal_source="Bad Source"), "signal_source: must be 1 to 64 characters"),
        (request(pair="BTC"), "pair: 'BTC' is not a pair"),
        (request(sizing=signal_pb2.SizingPolicy()), "sizing: needs exactly one of"),
        (
            request(sizing=signal_pb2.SizingPolicy(fixed_volume=signal_pb2.FixedVolume())),
            "sizing.fixed_volume.volume: is required",
        ),
        (
            request(
                sizing=signal_pb2.SizingPolicy(
                    balance_fraction=signal_pb2.BalanceFraction(fraction="1.5")
                )
            ),
            "sizing.balance_fraction.fraction: must be in (0, 1]",
        ),
        (request(order_type=common_pb2.ORDER_TYPE_STOP_LOSS), "order_type: is required"),
        (request(limit_offset_bps=10), "limit_offset_bps: must be 0 for ORDER_TYPE_MARKET"),
        (request(order_type=LIMIT, limit_offset_bps=10_001), "limit_offset_bps: must be from 0"),
        (
            request(time_in_force=common_pb2.TIME_IN_FORCE_GTD),
            "time_in_force: must be TIME_IN_FORCE_GTC or TIME_IN_FORCE_IOC",
        ),
        (request(min_strength="2"), 'min_strength: must be from "0" to "1"'),
    ],
)
def test_bad_binding_names_the_field(
    message: signal_pb2.CreateBindingRequest, expected: str
) -> None:
    with pytest.raises(InvalidArgument) as failed:
        parse(message)
    assert str(failed.value).startswith(expected)


def test_limit_orders_default_to_gtc_and_strength_to_zero() -> None:
    spec = parse_spec(
        request(order_type=LIMIT, limit_offset_bps=25), binding_id="b", team="t", create_ms=1
    )

    assert spec.time_in_force == common_pb2.TIME_IN_FORCE_GTC
    assert spec.min_strength == 0
    assert spec.sizing.kind is SizingKind.QUOTE_AMOUNT
    assert spec.sizing.value == Decimal(100)


def test_a_binding_reads_back_from_its_proto_unchanged() -> None:
    message = request(
        rule_id="r-1",
        side_filter=common_pb2.SIDE_SELL,
        min_strength="0.5",
        order_type=LIMIT,
        limit_offset_bps=10,
        dry_run=True,
    )
    message.cooldown.FromSeconds(30)
    spec = parse_spec(message, binding_id="b-7", team="desk-a", create_ms=1_700_000_000_000)

    stored = spec.to_proto()
    again = parse_spec(stored, binding_id="b-7", team="desk-a", create_ms=1_700_000_000_000)

    assert again == spec
    assert (spec.rule_id, spec.signal_source) == ("r-1", "")
    assert spec.cooldown_ms == 30_000
