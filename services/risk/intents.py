"""Orders, quotes and outcomes as risk reads them from requests: validated, with Decimals.

Malformed input raises InvalidArgument naming the request field; a missing reference price is
not malformed input but a reason to refuse (rule REFERENCE_PRICE_MISSING), so it stays None.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from decimal import Decimal

from services.common.reservations import order_reservation_id, quote_reservation_id
from services.risk.amounts import AmountError, check_amount, parse_decimal
from services.risk.errors import InvalidArgument
from services.risk.limits import ASSET, ORDER_TYPE_NAMES, PAIR, TEAM
from trading.common.v1 import common_pb2
from trading.risk.v1 import risk_pb2

LIMIT_TYPES = frozenset({"limit", "stop-loss-limit", "take-profit-limit"})
TRIGGER_TYPES = frozenset({"stop-loss", "stop-loss-limit", "take-profit", "take-profit-limit"})
MAX_ID_LENGTH = 128
# A UUID already in the form str(uuid.UUID(...)) gives back, which clients send.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class OrderIntent:
    client_order_id: str
    team: str
    requested_by: str
    request_id: str
    pair: str
    side: str
    order_type: str
    volume: Decimal
    limit_price: Decimal | None
    stop_price: Decimal | None
    reference_price: Decimal | None
    reduce_only: bool
    dry_run: bool

    @property
    def base(self) -> str:
        return self.pair.partition("/")[0]

    @property
    def quote(self) -> str:
        return self.pair.partition("/")[2]

    @property
    def reservation_id(self) -> str:
        return order_reservation_id(self.client_order_id)

    @property
    def fingerprint(self) -> str:
        """What makes two checks of one client_order_id the same order (amounts normalized)."""
        return "|".join(
            (
                self.team,
                self.pair,
                self.side,
                self.order_type,
                _canonical(self.volume),
                _canonical(self.limit_price),
                _canonical(self.stop_price),
                "1" if self.reduce_only else "0",
            )
        )


@dataclass(frozen=True)
class QuoteIntent:
    quote_id: str
    team: str
    requested_by: str
    request_id: str
    spend_asset: str
    spend_amount: Decimal
    receive_asset: str
    receive_amount: Decimal
    notional: Decimal | None
    dry_run: bool = False

    @property
    def reservation_id(self) -> str:
        return quote_reservation_id(self.quote_id)


def parse_order(message: risk_pb2.OrderIntent) -> OrderIntent:
    order_type = ORDER_TYPE_NAMES.get(message.order_type)
    if order_type is None:
        raise InvalidArgument("order.order_type", "is required")
    if message.side not in (common_pb2.SIDE_BUY, common_pb2.SIDE_SELL):
        raise InvalidArgument("order.side", "is required: SIDE_BUY or SIDE_SELL")
    limit_price = _price(message.limit_price, "order.limit_price")
    stop_price = _price(message.stop_price, "order.stop_price")
    if order_type in LIMIT_TYPES and limit_price is None:
        raise InvalidArgument("order.limit_price", f"is required for {order_type} orders")
    if order_type not in LIMIT_TYPES and limit_price is not None:
        raise InvalidArgument("order.limit_price", f"must be empty for {order_type} orders")
    if order_type in TRIGGER_TYPES and stop_price is None:
        raise InvalidArgument("order.stop_price", f"is required for {order_type} orders")
    if order_type not in TRIGGER_TYPES and stop_price is not None:
        raise InvalidArgument("order.stop_price", f"must be empty for {order_type} orders")
    return OrderIntent(
        client_order_id=client_order_id(message.client_order_id, "order.client_order_id"),
        team=team_name(message.team, "order.team"),
        requested_by=message.requested_by[:MAX_ID_LENGTH],
        request_id=message.request_id[:MAX_ID_LENGTH],
        pair=_pair(message.pair),
        side="buy" if message.side == common_pb2.SIDE_BUY else "sell",
        order_type=order_type,
        volume=_positive_amount(message.volume, "order.volume"),
        limit_price=limit_price,
        stop_price=stop_price,
        reference_price=_price(message.reference_price, "order.reference_price"),
        reduce_only=message.reduce_only,
        dry_run=message.dry_run,
    )


def parse_quote(message: risk_pb2.QuoteIntent) -> QuoteIntent:
    spend_asset = asset(message.spend_asset, "quote.spend_asset")
    receive_asset = asset(message.receive_asset, "quote.receive_asset")
    if spend_asset == receive_asset:
        raise InvalidArgument("quote.receive_asset", "must differ from spend_asset")
    return QuoteIntent(
        quote_id=quote_id(message.quote_id, "quote.quote_id"),
        team=team_name(message.team, "quote.team"),
        requested_by=message.requested_by[:MAX_ID_LENGTH],
        request_id=message.request_id[:MAX_ID_LENGTH],
        spend_asset=spend_asset,
        spend_amount=_positive_amount(message.spend_amount, "quote.spend_amount"),
        receive_asset=receive_asset,
        receive_amount=_positive_amount(message.receive_amount, "quote.receive_amount"),
        notional=None
        if not message.notional
        else _positive_amount(message.notional, "quote.notional"),
        dry_run=message.dry_run,
    )


def client_order_id(text: str, field: str) -> str:
    if not text:
        raise InvalidArgument(field, "is required")
    if _CANONICAL_UUID.fullmatch(text):
        return text
    try:
        return str(uuid.UUID(text))
    except ValueError as exc:
        raise InvalidArgument(field, f"{text[:64]!r} is not a UUID") from exc


def quote_id(text: str, field: str) -> str:
    if not text:
        raise InvalidArgument(field, "is required")
    if len(text) > MAX_ID_LENGTH or not text.isprintable() or " " in text:
        raise InvalidArgument(field, "must be printable, without spaces, at most 128 characters")
    return text


def team_name(text: str, field: str) -> str:
    if not text:
        raise InvalidArgument(field, "is required")
    if not TEAM.fullmatch(text):
        raise InvalidArgument(field, f"{text[:64]!r} is not a team (Kong consumer) name")
    return text


def asset(text: str, field: str) -> str:
    if not text:
        raise InvalidArgument(field, "is required")
    if not ASSET.fullmatch(text):
        raise InvalidArgument(field, f"{text[:32]!r} is not an asset code like 'BTC'")
    return text


def amount(text: str, field: str) -> Decimal | None:
    """An optional non-negative amount risk can hold exactly; None when empty."""
    if not text:
        return None
    try:
        value = parse_decimal(text)
        check_amount(value)
    except AmountError as exc:
        raise InvalidArgument(field, str(exc)) from exc
    return value


def _pair(text: str) -> str:
    if not text:
        raise InvalidArgument("order.pair", "is required")
    if not PAIR.fullmatch(text):
        raise InvalidArgument("order.pair", f"{text[:32]!r} is not in 'BASE/QUOTE' form")
    return text


def _positive_amount(text: str, field: str) -> Decimal:
    value = amount(text, field)
    if value is None:
        raise InvalidArgument(field, "is required")
    if value <= 0:
        raise InvalidArgument(field, f"{text} must be greater than zero")
    return value


def _price(text: str, field: str) -> Decimal | None:
    if not text:
        return None
    try:
        value = parse_decimal(text)
    except AmountError as exc:
        raise InvalidArgument(field, str(exc)) from exc
    if value <= 0:
        raise InvalidArgument(field, f"{text} must be greater than zero")
    return value


def _canonical(value: Decimal | None) -> str:
    return "" if value is None else format(value.normalize(), "f")
