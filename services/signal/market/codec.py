"""Market events as Redis hash and stream fields (strings) and back.

Decimals are written with ``format(value, "f")``, never in exponent notation; times as integer
nanoseconds since the epoch; an absent optional decimal as the empty string.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from services.signal.market.model import BookView, Candle, Ticker, Trade
from services.signal.market.times import from_ns, to_ns

Fields = dict[str, str]


def _text(value: Decimal) -> str:
    return format(value, "f")


def _optional_text(value: Decimal | None) -> str:
    return "" if value is None else _text(value)


def _optional_decimal(text: str) -> Decimal | None:
    return Decimal(text) if text else None


def _ns(moment: datetime) -> str:
    return str(to_ns(moment))


def _time(text: str) -> datetime:
    return from_ns(int(text))


def ticker_fields(ticker: Ticker) -> Fields:
    return {
        "pair": ticker.pair,
        "bid": _text(ticker.bid),
        "bid_qty": _text(ticker.bid_qty),
        "ask": _text(ticker.ask),
        "ask_qty": _text(ticker.ask_qty),
        "last": _text(ticker.last),
        "volume": _text(ticker.volume),
        "vwap": _optional_text(ticker.vwap),
        "low": _text(ticker.low),
        "high": _text(ticker.high),
        "change": _optional_text(ticker.change),
        "change_pct": _optional_text(ticker.change_pct),
        "time_ns": _ns(ticker.time),
        "received_ns": str(ticker.received_ns),
    }


def ticker_from_fields(fields: Mapping[str, str]) -> Ticker:
    return Ticker(
        pair=fields["pair"],
        bid=Decimal(fields["bid"]),
        bid_qty=Decimal(fields["bid_qty"]),
        ask=Decimal(fields["ask"]),
        ask_qty=Decimal(fields["ask_qty"]),
        last=Decimal(fields["last"]),
        volume=Decimal(fields["volume"]),
        vwap=_optional_decimal(fields["vwap"]),
        low=Decimal(fields["low"]),
        high=Decimal(fields["high"]),
        change=_optional_decimal(fields["change"]),
        change_pct=_optional_decimal(fields["change_pct"]),
        time=_time(fields["time_ns"]),
        received_ns=int(fields["received_ns"]),
    )


def trade_fields(trade: Trade) -> Fields:
    return {
        "pair": trade.pair,
        "trade_id": str(trade.trade_id),
        "side": trade.side,
        "price": _text(trade.price),
        "qty": _text(trade.qty),
        "time_ns": _ns(trade.time),
        "received_ns": str(trade.received_ns),
    }


def trade_from_fields(fields: Mapping[str, str]) -> Trade:
    return Trade(
        pair=fields["pair"],
        trade_id=int(fields["trade_id"]),
        side=fields["side"],
        price=Decimal(fields["price"]),
        qty=Decimal(fields["qty"]),
        time=_time(fields["time_ns"]),
        received_ns=int(fields["received_ns"]),
    )


def candle_fields(candle: Candle) -> Fields:
    return {
        "pair": candle.pair,
        "interval": str(candle.interval_minutes),
        "open_time_ns": _ns(candle.open_time),
        "open": _text(candle.open),
        "high": _text(candle.high),
        "low": _text(candle.low),
        "close": _text(candle.close),
        "volume": _text(candle.volume),
        "vwap": _optional_text(candle.vwap),
        "trades": str(candle.trades),
        "closed": "1" if candle.closed else "0",
    }


def candle_from_fields(fields: Mapping[str, str]) -> Candle:
    return Candle(
        pair=fields["pair"],
        interval_minutes=int(fields["interval"]),
        open_time=_time(fields["open_time_ns"]),
        open=Decimal(fields["open"]),
        high=Decimal(fields["high"]),
        low=Decimal(fields["low"]),
        close=Decimal(fields["close"]),
        volume=Decimal(fields["volume"]),
        vwap=_optional_decimal(fields["vwap"]),
        trades=int(fields["trades"]),
        closed=fields["closed"] == "1",
    )


def book_json(view: BookView) -> str:
    return json.dumps(
        {
            "pair": view.pair,
            "bids": [[_text(price), _text(qty)] for price, qty in view.bids],
            "asks": [[_text(price), _text(qty)] for price, qty in view.asks],
            "checksum": view.checksum,
            "received_ns": view.received_ns,
        },
        separators=(",", ":"),
    )


def book_from_json(text: str) -> BookView:
    body = json.loads(text)
    return BookView(
        pair=body["pair"],
        bids=tuple((Decimal(price), Decimal(qty)) for price, qty in body["bids"]),
        asks=tuple((Decimal(price), Decimal(qty)) for price, qty in body["asks"]),
        checksum=int(body["checksum"]),
        received_ns=int(body["received_ns"]),
    )
