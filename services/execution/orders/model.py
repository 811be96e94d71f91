"""The order as execution records it: one JSON document per client_order_id, and its proto form.

Amounts are kept as decimal strings, never floats. ``stage`` says how far placement got, which
is what reconciliation needs: ``sending`` (AddOrder may be in flight: placement claims the id at
this stage, before risk has answered), ``claimed`` (nothing was sent: risk refused it; claims
stored by earlier versions also start here) or ``sent`` (Kraken answered, or reconciliation found
Kraken's view). ``version`` counts the writes, for the store's compare-and-set.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from google.protobuf.timestamp_pb2 import Timestamp

from trading.common.v1 import common_pb2

Status = int

TERMINAL = frozenset(
    {
        common_pb2.ORDER_STATUS_FILLED,
        common_pb2.ORDER_STATUS_CANCELED,
        common_pb2.ORDER_STATUS_EXPIRED,
        common_pb2.ORDER_STATUS_REJECTED,
    }
)
WORKING = frozenset(
    {common_pb2.ORDER_STATUS_PENDING, common_pb2.ORDER_STATUS_OPEN, common_pb2.ORDER_STATUS_UNKNOWN}
)

STAGE_CLAIMED = "claimed"
STAGE_SENDING = "sending"
STAGE_SENT = "sent"


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Violation:
    code: str
    message: str
    field: str = ""


@dataclass
class OrderRecord:
    client_order_id: str
    pair: str
    kraken_pair: str
    side: int
    order_type: int
    volume: str
    fingerprint: str
    team: str
    placed_by: str
    request_id: str
    time_in_force: int = common_pb2.TIME_IN_FORCE_GTC
    limit_price: str = ""
    stop_price: str = ""
    post_only: bool = False
    reduce_only: bool = False
    expire_time: int | None = None
    binding_id: str = ""
    signal_id: str = ""
    status: Status = common_pb2.ORDER_STATUS_PENDING
    status_reason: str = ""
    stage: str = STAGE_CLAIMED
    txid: str = ""
    description: str = ""
    filled_volume: str = "0"
    average_price: str = ""
    cost: str = "0"
    fee: str = "0"
    fee_asset: str = ""
    violations: list[Violation] = field(default_factory=list)
    reservation_id: str = ""
    reported_outcome: int = 0
    created_ms: int = field(default_factory=now_ms)
    updated_ms: int = field(default_factory=now_ms)
    closed_ms: int | None = None
    version: int = 0
    """The stored version this copy was read at (0: never stored); see ``OrderStore.save``."""

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def set_status(self, status: Status, reason: str | None = None) -> None:
        self.status = status
        if reason is not None:
            self.status_reason = reason
        self.updated_ms = now_ms()
        if status in TERMINAL and self.closed_ms is None:
            self.closed_ms = self.updated_ms

    def to_json(self) -> str:
        # Every field is a plain value but ``violations``; this is many times faster than asdict.
        # orjson writes what json.dumps(separators=(",", ":")) wrote, non-ASCII as UTF-8.
        data = dict(self.__dict__)
        data["violations"] = [dict(v.__dict__) for v in self.violations]
        return orjson.dumps(data).decode()

    @classmethod
    def from_json(cls, raw: str | bytes) -> OrderRecord:
        data: dict[str, Any] = orjson.loads(raw)
        data["violations"] = [Violation(**v) for v in data.get("violations", [])]
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_proto(self) -> common_pb2.Order:
        order = common_pb2.Order(
            client_order_id=self.client_order_id,
            txid=self.txid,
            pair=self.pair,
            side=self.side,  # type: ignore[arg-type]
            order_type=self.order_type,  # type: ignore[arg-type]
            time_in_force=self.time_in_force,  # type: ignore[arg-type]
            volume=self.volume,
            filled_volume=self.filled_volume,
            limit_price=self.limit_price,
            stop_price=self.stop_price,
            average_price=self.average_price,
            cost=self.cost,
            fee=self.fee,
            fee_asset=self.fee_asset,
            status=self.status,  # type: ignore[arg-type]
            status_reason=self.status_reason,
            violations=[
                common_pb2.Violation(code=v.code, message=v.message, field=v.field)
                for v in self.violations
            ],
            post_only=self.post_only,
            reduce_only=self.reduce_only,
            team=self.team,
            placed_by=self.placed_by,
            request_id=self.request_id,
            reservation_id=self.reservation_id,
            binding_id=self.binding_id,
            signal_id=self.signal_id,
        )
        if self.expire_time is not None:
            order.expire_time.FromSeconds(self.expire_time)
        order.create_time.CopyFrom(timestamp_ms(self.created_ms))
        order.update_time.CopyFrom(timestamp_ms(self.updated_ms))
        if self.closed_ms is not None:
            order.close_time.CopyFrom(timestamp_ms(self.closed_ms))
        return order


def timestamp_ms(ms: int) -> Timestamp:
    stamp = Timestamp()
    stamp.FromMilliseconds(ms)
    return stamp
