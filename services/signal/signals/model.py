"""A signal as the platform records it: its stream fields in Redis and its proto.

Stream ids are Redis stream ids ("1700000000000-0"): increasing in stream order, so a signal id is
also the resume point of StreamSignals.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TypeAlias

from google.protobuf.timestamp_pb2 import Timestamp

from services.signal.signals.fields import SIDE_NAMES, plain
from trading.common.v1 import common_pb2
from trading.signal.v1 import signal_pb2

Side: TypeAlias = common_pb2.Side.ValueType

# The source of every rule signal; PublishSignal refuses it.
RULE_SOURCE = "rule"
_SIDE_OF_NAME: dict[str, Side] = {text: side for side, text in SIDE_NAMES.items()}


@dataclass(frozen=True)
class SignalRecord:
    """One signal; ``id`` is empty until the stream has recorded it."""

    pair: str
    side: Side
    strength: Decimal
    reason: str
    source: str
    external_id: str
    time_ms: int
    price: Decimal | None
    rule_id: str = ""
    published_by: str = ""
    id: str = ""

    def recorded_as(self, signal_id: str) -> SignalRecord:
        return replace(self, id=signal_id)

    @property
    def recorded_ms(self) -> int:
        """When the stream recorded it: the millisecond part of its id."""
        return int(self.id.partition("-")[0])

    def to_fields(self) -> dict[str, str]:
        return {
            "pair": self.pair,
            "side": SIDE_NAMES[self.side],
            "strength": plain(self.strength),
            "reason": self.reason,
            "source": self.source,
            "external_id": self.external_id,
            "time_ms": str(self.time_ms),
            "price": "" if self.price is None else plain(self.price),
            "rule_id": self.rule_id,
            "published_by": self.published_by,
        }

    @classmethod
    def from_fields(cls, signal_id: str, fields: dict[str, str]) -> SignalRecord:
        price = fields.get("price", "")
        return cls(
            id=signal_id,
            pair=fields["pair"],
            side=_SIDE_OF_NAME[fields["side"]],
            strength=Decimal(fields["strength"]),
            reason=fields.get("reason", ""),
            source=fields["source"],
            external_id=fields.get("external_id", ""),
            time_ms=int(fields["time_ms"]),
            price=Decimal(price) if price else None,
            rule_id=fields.get("rule_id", ""),
            published_by=fields.get("published_by", ""),
        )

    def to_proto(self) -> signal_pb2.Signal:
        when = Timestamp()
        when.FromMilliseconds(self.time_ms)
        return signal_pb2.Signal(
            id=self.id,
            pair=self.pair,
            side=self.side,
            strength=plain(self.strength),
            reason=self.reason,
            source=self.source,
            external_id=self.external_id,
            time=when,
            price="" if self.price is None else plain(self.price),
            rule_id=self.rule_id,
            published_by=self.published_by,
        )
