"""Validated bindings: what triggers them, how they size and place orders, and their state.

`BindingSpec` is fixed at creation; `BindingStatus` changes (pause, resume, each order's outcome).
The spec's stored form is the proto `Binding` as JSON, read back through the same checks as the
request that created it (bindings/validation.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from google.protobuf.timestamp_pb2 import Timestamp

from services.signal.signals.fields import plain
from trading.common.v1 import common_pb2
from trading.signal.v1 import signal_pb2

ACTIVE = "active"
PAUSED = "paused"
_STATES = {ACTIVE: signal_pb2.BINDING_STATE_ACTIVE, PAUSED: signal_pb2.BINDING_STATE_PAUSED}


class SizingKind(Enum):
    QUOTE_AMOUNT = "fixed_quote_amount"
    VOLUME = "fixed_volume"
    BALANCE_FRACTION = "balance_fraction"


@dataclass(frozen=True)
class Sizing:
    kind: SizingKind
    value: Decimal  # quote amount, base volume, or fraction in (0, 1]


@dataclass(frozen=True)
class BindingSpec:
    id: str
    name: str
    rule_id: str  # exactly one of rule_id and signal_source is set
    signal_source: str
    pair: str
    side_filter: common_pb2.Side.ValueType  # SIDE_UNSPECIFIED: both sides
    min_strength: Decimal
    sizing: Sizing
    order_type: common_pb2.OrderType.ValueType
    limit_offset_bps: int
    time_in_force: common_pb2.TimeInForce.ValueType
    cooldown_ms: int
    dry_run: bool
    team: str
    created_by: str
    create_ms: int

    def to_proto(self) -> signal_pb2.Binding:
        binding = signal_pb2.Binding(
            id=self.id,
            name=self.name,
            pair=self.pair,
            side_filter=self.side_filter,
            min_strength=plain(self.min_strength),
            order_type=self.order_type,
            limit_offset_bps=self.limit_offset_bps,
            time_in_force=self.time_in_force,
            dry_run=self.dry_run,
            team=self.team,
            created_by=self.created_by,
            create_time=_timestamp(self.create_ms),
        )
        if self.rule_id:
            binding.rule_id = self.rule_id
        else:
            binding.signal_source = self.signal_source
        value = plain(self.sizing.value)
        if self.sizing.kind is SizingKind.QUOTE_AMOUNT:
            binding.sizing.fixed_quote_amount.amount = value
        elif self.sizing.kind is SizingKind.VOLUME:
            binding.sizing.fixed_volume.volume = value
        else:
            binding.sizing.balance_fraction.fraction = value
        binding.cooldown.FromMilliseconds(self.cooldown_ms)
        return binding


@dataclass(frozen=True)
class BindingStatus:
    state: str  # ACTIVE or PAUSED
    pause_reason: str
    update_ms: int
    last_signal_id: str
    last_client_order_id: str
    last_error: str
    failures: int  # consecutive failed signals; the binding pauses itself at the configured max


@dataclass(frozen=True)
class Binding:
    spec: BindingSpec
    status: BindingStatus

    @property
    def active(self) -> bool:
        return self.status.state == ACTIVE

    def to_proto(self) -> signal_pb2.Binding:
        binding = self.spec.to_proto()
        binding.state = _STATES[self.status.state]
        binding.pause_reason = self.status.pause_reason
        binding.update_time.CopyFrom(_timestamp(self.status.update_ms))
        binding.last_signal_id = self.status.last_signal_id
        binding.last_client_order_id = self.status.last_client_order_id
        binding.last_error = self.status.last_error
        binding.consecutive_failures = self.status.failures
        return binding


def state_name(state: signal_pb2.BindingState.ValueType) -> str:
    """The stored name of a proto state; "" for BINDING_STATE_UNSPECIFIED."""
    return next((name for name, value in _STATES.items() if value == state), "")


def _timestamp(ms: int) -> Timestamp:
    stamp = Timestamp()
    stamp.FromMilliseconds(ms)
    return stamp
