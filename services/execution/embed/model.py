"""The quote as execution records it: one JSON document per Kraken quote id, and its proto form.

Kraken's quote object (``kraken.md`` §6.3) is read into ``QuoteRecord`` with amounts kept as the
decimal strings Kraken sent. Status moves one way: ``rank`` orders the statuses, and a terminal
status never changes again (``advance``), so a late poll or a duplicate webhook cannot undo one.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from services.execution.kraken.errors import MalformedResultError
from services.execution.orders.model import Violation, timestamp_ms
from trading.common.v1 import common_pb2
from trading.execution.v1 import execution_pb2

Status = int

KRAKEN_STATUS: dict[str, Status] = {
    "new": execution_pb2.QUOTE_STATUS_NEW,
    "accepted": execution_pb2.QUOTE_STATUS_ACCEPTED,
    "credit_transfer_complete": execution_pb2.QUOTE_STATUS_CREDIT_TRANSFER_COMPLETE,
    "quote_cancelled": execution_pb2.QUOTE_STATUS_CANCELLED,
    "quote_execution_failed": execution_pb2.QUOTE_STATUS_EXECUTION_FAILED,
}
TERMINAL = frozenset(
    {
        execution_pb2.QUOTE_STATUS_CREDIT_TRANSFER_COMPLETE,
        execution_pb2.QUOTE_STATUS_CANCELLED,
        execution_pb2.QUOTE_STATUS_EXECUTION_FAILED,
        execution_pb2.QUOTE_STATUS_EXPIRED,
        execution_pb2.QUOTE_STATUS_REJECTED,
    }
)
_RANK: dict[Status, int] = {
    execution_pb2.QUOTE_STATUS_NEW: 0,
    execution_pb2.QUOTE_STATUS_UNKNOWN: 1,
    execution_pb2.QUOTE_STATUS_ACCEPTED: 2,
}
TERMINAL_RANK = 3
_FRACTION = re.compile(r"(\.\d{6})\d+")

SPEND = "spend"
RECEIVE = "receive"
QUOTE_TYPES: dict[int, str] = {
    execution_pb2.QUOTE_TYPE_SPEND: SPEND,
    execution_pb2.QUOTE_TYPE_RECEIVE: RECEIVE,
}


def now_ms() -> int:
    return int(time.time() * 1000)


def rank(status: Status) -> int:
    return TERMINAL_RANK if status in TERMINAL else _RANK.get(status, 0)


@dataclass
class QuoteLeg:
    """One side of a quote: ``total = subtotal + fee``, all decimal strings."""

    asset: str
    total: str
    fee: str = "0"
    subtotal: str = ""
    asset_class: str = "currency"

    def to_proto(self) -> execution_pb2.QuoteAmount:
        return execution_pb2.QuoteAmount(
            asset=self.asset,
            total=self.total,
            fee=self.fee,
            subtotal=self.subtotal,
            asset_class=self.asset_class,
        )


@dataclass
class UnitPrice:
    asset: str
    unit_price: str
    denomination_asset: str

    def to_proto(self) -> execution_pb2.QuoteUnitPrice:
        return execution_pb2.QuoteUnitPrice(
            asset=self.asset,
            unit_price=self.unit_price,
            denomination_asset=self.denomination_asset,
        )


@dataclass
class KrakenQuote:
    """What Kraken says about a quote, read from its JSON object."""

    quote_id: str
    kraken_type: str
    kraken_status: str
    expires_ms: int
    spend: QuoteLeg
    receive: QuoteLeg
    unit_price: UnitPrice
    quoted_spend: QuoteLeg | None = None
    quoted_receive: QuoteLeg | None = None
    quoted_unit_price: UnitPrice | None = None
    transaction_id: str = ""


@dataclass
class QuoteRecord:
    quote_id: str
    client_quote_id: str
    user: str
    quote_type: int
    team: str
    requested_by: str
    request_id: str
    expires_ms: int
    spend: QuoteLeg
    receive: QuoteLeg
    unit_price: UnitPrice
    quoted_spend: QuoteLeg | None = None
    quoted_receive: QuoteLeg | None = None
    quoted_unit_price: UnitPrice | None = None
    fee_bps: int = 0
    spread_bps: int = 0
    status: Status = execution_pb2.QUOTE_STATUS_NEW
    kraken_status: str = "new"
    status_reason: str = ""
    transaction_id: str = ""
    reservation_id: str = ""
    reported_outcome: int = 0
    execute_sent: bool = False
    violations: list[Violation] = field(default_factory=list)
    created_ms: int = field(default_factory=now_ms)
    updated_ms: int = field(default_factory=now_ms)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def expired_at(self, at_ms: int) -> bool:
        return self.status == execution_pb2.QUOTE_STATUS_NEW and at_ms >= self.expires_ms

    def advance(self, status: Status, reason: str | None = None) -> bool:
        """Move to ``status`` if it is not a step back; True when the status changed."""
        if status == self.status:
            if reason is not None and not self.terminal:
                self.status_reason = reason
            return False
        if self.terminal or rank(status) < rank(self.status):
            return False
        self.status = status
        if reason is not None:
            self.status_reason = reason
        self.updated_ms = now_ms()
        return True

    def absorb(self, kraken: KrakenQuote) -> bool:
        """Take Kraken's view of the quote; True when the status changed."""
        if kraken.transaction_id:
            self.transaction_id = kraken.transaction_id
        status = KRAKEN_STATUS.get(kraken.kraken_status)
        if status is None:
            # A status spelling the reference does not confirm: not terminal, so it means the
            # execution is in progress once we have sent it.
            status = (
                execution_pb2.QUOTE_STATUS_ACCEPTED
                if self.execute_sent
                else execution_pb2.QUOTE_STATUS_NEW
            )
        if not self.terminal:
            self.kraken_status = kraken.kraken_status
            self.spend, self.receive, self.unit_price = (
                kraken.spend,
                kraken.receive,
                kraken.unit_price,
            )
        return self.advance(status)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> QuoteRecord:
        data: dict[str, Any] = json.loads(raw)
        for name in ("spend", "receive", "quoted_spend", "quoted_receive"):
            if data.get(name) is not None:
                data[name] = QuoteLeg(**data[name])
        for name in ("unit_price", "quoted_unit_price"):
            if data.get(name) is not None:
                data[name] = UnitPrice(**data[name])
        data["violations"] = [Violation(**v) for v in data.get("violations", [])]
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_proto(self) -> execution_pb2.Quote:
        quote = execution_pb2.Quote(
            quote_id=self.quote_id,
            client_quote_id=self.client_quote_id,
            user=self.user,
            type=self.quote_type,  # type: ignore[arg-type]
            status=self.status,  # type: ignore[arg-type]
            kraken_status=self.kraken_status,
            status_reason=self.status_reason,
            spend=self.spend.to_proto(),
            receive=self.receive.to_proto(),
            unit_price=self.unit_price.to_proto(),
            transaction_id=self.transaction_id,
            fee_bps=self.fee_bps,
            spread_bps=self.spread_bps,
            team=self.team,
            requested_by=self.requested_by,
            request_id=self.request_id,
            reservation_id=self.reservation_id,
            violations=[
                common_pb2.Violation(code=v.code, message=v.message, field=v.field)
                for v in self.violations
            ],
        )
        if self.quoted_spend is not None:
            quote.quoted_spend.CopyFrom(self.quoted_spend.to_proto())
        if self.quoted_receive is not None:
            quote.quoted_receive.CopyFrom(self.quoted_receive.to_proto())
        if self.quoted_unit_price is not None:
            quote.quoted_unit_price.CopyFrom(self.quoted_unit_price.to_proto())
        quote.expire_time.CopyFrom(timestamp_ms(self.expires_ms))
        quote.create_time.CopyFrom(timestamp_ms(self.created_ms))
        quote.update_time.CopyFrom(timestamp_ms(self.updated_ms))
        return quote


def parse_quote(result: Any) -> KrakenQuote:
    """Kraken's quote object (``result`` of POST, PUT or GET ``/b2b/quotes``)."""
    if not isinstance(result, dict):
        raise MalformedResultError(f"expected a quote object, got {type(result).__name__}")
    quote_id = result.get("quote_id")
    if not isinstance(quote_id, str) or not quote_id:
        raise MalformedResultError("the quote has no quote_id")
    return KrakenQuote(
        quote_id=quote_id,
        kraken_type=str(result.get("type") or ""),
        kraken_status=str(result.get("status") or ""),
        expires_ms=_rfc3339_ms(result.get("expires")),
        spend=_leg(result.get("spend"), "spend"),
        receive=_leg(result.get("receive"), "receive"),
        unit_price=_unit_price(result.get("unit_price"), "unit_price"),
        quoted_spend=_leg(result["quoted_spend"], "quoted_spend")
        if result.get("quoted_spend")
        else None,
        quoted_receive=_leg(result["quoted_receive"], "quoted_receive")
        if result.get("quoted_receive")
        else None,
        quoted_unit_price=_unit_price(result["quoted_unit_price"], "quoted_unit_price")
        if result.get("quoted_unit_price")
        else None,
        transaction_id=str(result.get("transaction_id") or ""),
    )


def _amount(value: Any, name: str) -> str:
    try:
        return format(Decimal(str(value)), "f")
    except InvalidOperation as exc:
        raise MalformedResultError(f"{name} is not a decimal: {value!r}") from exc


def _leg(value: Any, name: str) -> QuoteLeg:
    if not isinstance(value, dict) or not value.get("asset"):
        raise MalformedResultError(f"the quote's {name} is missing or has no asset")
    return QuoteLeg(
        asset=str(value["asset"]),
        total=_amount(value.get("total", "0"), f"{name}.total"),
        fee=_amount(value.get("fee", "0"), f"{name}.fee"),
        subtotal=_amount(value.get("subtotal", value.get("total", "0")), f"{name}.subtotal"),
        asset_class=str(value.get("asset_class") or "currency"),
    )


def _unit_price(value: Any, name: str) -> UnitPrice:
    if not isinstance(value, dict):
        raise MalformedResultError(f"the quote's {name} is missing")
    return UnitPrice(
        asset=str(value.get("asset") or ""),
        unit_price=_amount(value.get("unit_price", "0"), f"{name}.unit_price"),
        denomination_asset=str(value.get("denomination_asset") or ""),
    )


def _rfc3339_ms(value: Any) -> int:
    if not isinstance(value, str):
        raise MalformedResultError("the quote has no expires time")
    try:
        # Kraken may send nanoseconds; datetime takes at most microseconds.
        moment = datetime.fromisoformat(_FRACTION.sub(r"\1", value.replace("Z", "+00:00")))
    except ValueError as exc:
        raise MalformedResultError(f"expires is not an RFC 3339 time: {value!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)
