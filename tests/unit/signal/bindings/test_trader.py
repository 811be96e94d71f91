"""Which signals a binding acts on, and the one client_order_id it may use for each."""

from __future__ import annotations

import uuid
from dataclasses import replace
from decimal import Decimal

from services.signal.bindings.model import (
    ACTIVE,
    PAUSED,
    Binding,
    BindingSpec,
    BindingStatus,
    Sizing,
    SizingKind,
)
from services.signal.bindings.trader import ORDER_NAMESPACE, client_order_id, skip_reason
from services.signal.signals.model import SignalRecord
from trading.common.v1 import common_pb2

SPEC = BindingSpec(
    id="b-1",
    name="n",
    rule_id="",
    signal_source="quant",
    pair="BTC/USD",
    side_filter=common_pb2.SIDE_UNSPECIFIED,
    min_strength=Decimal("0.5"),
    sizing=Sizing(SizingKind.VOLUME, Decimal("0.01")),
    order_type=common_pb2.ORDER_TYPE_MARKET,
    limit_offset_bps=0,
    time_in_force=common_pb2.TIME_IN_FORCE_UNSPECIFIED,
    cooldown_ms=0,
    dry_run=False,
    team="desk-a",
    created_by="desk-a",
    create_ms=0,
)
STATUS = BindingStatus(ACTIVE, "", 0, "", "", "", 0)
SIGNAL = SignalRecord(
    "BTC/USD", common_pb2.SIDE_BUY, Decimal("0.7"), "", "quant", "e-1", 1, None, id="9-0"
)


def test_client_order_id_is_a_uuid5_of_binding_and_signal() -> None:
    order_id = client_order_id("b-1", "1700000000000-0")

    assert order_id == str(uuid.uuid5(ORDER_NAMESPACE, "b-1:1700000000000-0"))
    assert uuid.UUID(order_id).version == 5
    assert client_order_id("b-1", "1700000000000-0") == order_id
    assert client_order_id("b-2", "1700000000000-0") != order_id
    assert client_order_id("b-1", "1700000000000-1") != order_id


def test_an_active_matching_binding_acts() -> None:
    assert skip_reason(Binding(SPEC, STATUS), SIGNAL) == ""


def test_skips() -> None:
    paused = Binding(SPEC, replace(STATUS, state=PAUSED))
    sells_only = Binding(replace(SPEC, side_filter=common_pb2.SIDE_SELL), STATUS)
    binding = Binding(SPEC, STATUS)

    assert skip_reason(paused, SIGNAL) == "binding paused"
    assert skip_reason(sells_only, SIGNAL) == "side filtered out"
    assert skip_reason(binding, replace(SIGNAL, pair="ETH/USD")).startswith("signal pair ETH/USD")
    assert skip_reason(binding, replace(SIGNAL, strength=Decimal("0.4"))).startswith("strength")
