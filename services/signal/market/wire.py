"""Kraken WebSocket v2 wire values into model objects (kraken.md §5.3).

Messages are decoded with ``parse_float=Decimal`` so prices keep their exact digits; the docs
promise decimal strings but the live endpoint sends JSON numbers, so both are accepted, and an
integral number (``65000``) arrives as an ``int``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from services.signal.market.errors import MalformedMessage
from services.signal.market.model import Candle, Ticker, Trade
from services.signal.market.times import from_ns

WireEntry = Mapping[str, Any]


def decode(text: str | bytes) -> Any:
    """One WebSocket message as Python values, decimals exact."""
    return json.loads(text, parse_float=Decimal)


def decimal(value: object, name: str) -> Decimal:
    """A wire number or decimal string as a ``Decimal``; anything else is malformed."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | str) and not isinstance(value, bool):
        try:
            return Decimal(value)
        except InvalidOperation:
            pass
    raise MalformedMessage(f"{name} is not a number: {value!r}")


def _optional_decimal(entry: WireEntry, name: str) -> Decimal | None:
    value = entry.get(name)
    return None if value is None else decimal(value, name)


def _field(entry: WireEntry, name: str) -> Any:
    try:
        return entry[name]
    except KeyError:
        raise MalformedMessage(f"missing {name}") from None


def parse_time(text: object) -> datetime:
    """An RFC3339 timestamp (nanoseconds allowed, kept to microseconds) as an aware datetime."""
    if not isinstance(text, str):
        raise MalformedMessage(f"timestamp is not a string: {text!r}")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise MalformedMessage(f"bad timestamp {text!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def ticker_from_wire(entry: WireEntry, received_ns: int) -> Ticker:
    stamp = entry.get("timestamp")
    return Ticker(
        pair=str(_field(entry, "symbol")),
        bid=decimal(_field(entry, "bid"), "bid"),
        bid_qty=decimal(_field(entry, "bid_qty"), "bid_qty"),
        ask=decimal(_field(entry, "ask"), "ask"),
        ask_qty=decimal(_field(entry, "ask_qty"), "ask_qty"),
        last=decimal(_field(entry, "last"), "last"),
        volume=decimal(_field(entry, "volume"), "volume"),
        vwap=_optional_decimal(entry, "vwap"),
        low=decimal(_field(entry, "low"), "low"),
        high=decimal(_field(entry, "high"), "high"),
        change=_optional_decimal(entry, "change"),
        change_pct=_optional_decimal(entry, "change_pct"),
        time=from_ns(received_ns) if stamp is None else parse_time(stamp),
        received_ns=received_ns,
    )


def trade_from_wire(entry: WireEntry, received_ns: int) -> Trade:
    trade_id = _field(entry, "trade_id")
    if not isinstance(trade_id, int) or isinstance(trade_id, bool):
        raise MalformedMessage(f"trade_id is not an integer: {trade_id!r}")
    return Trade(
        pair=str(_field(entry, "symbol")),
        trade_id=trade_id,
        side=str(_field(entry, "side")),
        price=decimal(_field(entry, "price"), "price"),
        qty=decimal(_field(entry, "qty"), "qty"),
        time=parse_time(_field(entry, "timestamp")),
        received_ns=received_ns,
    )


def candle_from_wire(entry: WireEntry) -> Candle:
    """An ``ohlc`` entry as a candle still forming; the tracker decides when it closed."""
    interval = _field(entry, "interval")
    trades = entry.get("trades", 0)
    if not isinstance(interval, int) or not isinstance(trades, int):
        raise MalformedMessage("interval and trades must be integers")
    return Candle(
        pair=str(_field(entry, "symbol")),
        interval_minutes=interval,
        open_time=parse_time(_field(entry, "interval_begin")),
        open=decimal(_field(entry, "open"), "open"),
        high=decimal(_field(entry, "high"), "high"),
        low=decimal(_field(entry, "low"), "low"),
        close=decimal(_field(entry, "close"), "close"),
        volume=decimal(_field(entry, "volume"), "volume"),
        vwap=_optional_decimal(entry, "vwap"),
        trades=trades,
        closed=False,
    )
