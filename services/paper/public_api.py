"""Kraken's public REST endpoints (``GET``/``POST /0/public/<Name>``), fed by the seeded market."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal

from aiohttp import web

from services.paper import errors
from services.paper.catalog import (
    ASSETS,
    FEES_MAKER,
    FEES_TAKER,
    PAIRS,
    Pair,
    find_asset,
    find_pair,
)
from services.paper.errors import KrakenError, invalid_argument
from services.paper.market import DAY_NS, PairMarket, PublicTrade, trade_stats
from services.paper.params import Params
from services.paper.rest import EXCHANGE, respond
from services.paper.state import Exchange
from services.paper.wire import JsonValue, fixed

Handler = Callable[[Exchange, Params], JsonValue]

_NANOS = 1_000_000_000

OHLC_INTERVALS = frozenset({1, 5, 15, 30, 60, 240, 1440, 10080, 21600})
OHLC_ROWS = 720


def _seconds(time_ns: int) -> Decimal:
    return (Decimal(time_ns) / _NANOS).quantize(Decimal("0.0001"))


def server_time(exchange: Exchange, params: Params) -> JsonValue:
    now = datetime.now(UTC)
    rfc1123 = now.strftime("%a, %d %b %y %H:%M:%S +0000")
    return {"unixtime": int(now.timestamp()), "rfc1123": rfc1123}


def system_status(exchange: Exchange, params: Params) -> JsonValue:
    return {"status": "online", "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def assets(exchange: Exchange, params: Params) -> JsonValue:
    aclass = params.text("aclass") or "currency"
    if aclass != "currency":
        return {}
    wanted = params.names("asset")
    chosen = [find_asset(name) for name in wanted] if wanted else list(ASSETS)
    if any(asset is None for asset in chosen):
        raise KrakenError(errors.UNKNOWN_ASSET)
    return {
        asset.id: {
            "aclass": "currency",
            "altname": asset.altname,
            "decimals": asset.decimals,
            "display_decimals": asset.display_decimals,
            "collateral_value": Decimal(1) if asset.id in ("ZUSD", "ZEUR") else Decimal("0.95"),
            "status": "enabled",
        }
        for asset in chosen
        if asset is not None
    }


def _fee_table(table: tuple[tuple[int, Decimal], ...]) -> JsonValue:
    return [[volume, pct] for volume, pct in table]


def _pair_info(pair: Pair, info: str) -> JsonValue:
    fees: dict[str, JsonValue] = {
        "fees": _fee_table(FEES_TAKER),
        "fees_maker": _fee_table(FEES_MAKER),
        "fee_volume_currency": "ZUSD",
    }
    leverage: dict[str, JsonValue] = {"leverage_buy": [2, 3, 4, 5], "leverage_sell": [2, 3, 4, 5]}
    margin: dict[str, JsonValue] = {"margin_call": 80, "margin_level": 40}
    if info == "fees":
        return fees
    if info == "leverage":
        return leverage
    if info == "margin":
        return margin
    return {
        "altname": pair.altname,
        "wsname": pair.wsname,
        "aclass_base": "currency",
        "base": pair.base.id,
        "aclass_quote": "currency",
        "quote": pair.quote.id,
        "lot": "unit",
        "cost_decimals": pair.cost_decimals,
        "pair_decimals": pair.pair_decimals,
        "lot_decimals": pair.lot_decimals,
        "lot_multiplier": 1,
        **leverage,
        **fees,
        "margin_call": 80,
        "margin_stop": 40,
        "ordermin": str(pair.ordermin),
        "costmin": str(pair.costmin),
        "tick_size": str(pair.tick_size),
        "status": "online",
        "long_position_limit": 300,
        "short_position_limit": 240,
    }


def asset_pairs(exchange: Exchange, params: Params) -> JsonValue:
    info = params.text("info") or "info"
    if info not in ("info", "leverage", "fees", "margin"):
        raise invalid_argument("info")
    return {pair.id: _pair_info(pair, info) for pair in _pairs(params, required=False)}


def _pairs(params: Params, *, required: bool) -> list[Pair]:
    names = params.names("pair")
    if not names:
        if required:
            raise invalid_argument("pair")
        return list(PAIRS)
    return [find_pair(name) for name in names]


def _one_pair(exchange: Exchange, params: Params) -> PairMarket:
    names = params.names("pair")
    if len(names) != 1:
        raise invalid_argument("pair")
    return exchange.market.pairs[find_pair(names[0]).id]


def _ticker_entry(state: PairMarket, now_ns: int) -> JsonValue:
    pair = state.pair
    midnight_ns = now_ns - now_ns % DAY_NS
    trades = list(state.trades)
    day = [trade for trade in trades if trade.time_ns > now_ns - DAY_NS]
    today = [trade for trade in day if trade.time_ns >= midnight_ns]
    day_volume, day_vwap, day_count, day_low, day_high = trade_stats(day)
    t_volume, t_vwap, t_count, t_low, t_high = trade_stats(today)

    def price(value: Decimal) -> str:
        return fixed(value, pair.pair_decimals)

    def volume(value: Decimal) -> str:
        return fixed(value, pair.lot_decimals)

    def level(price_value: Decimal, qty: Decimal) -> list[JsonValue]:
        return [price(price_value), str(qty.to_integral_value(ROUND_DOWN)), fixed(qty, 3)]

    last_trade = trades[-1] if trades else None
    return {
        "a": level(state.best_ask(), state.asks.get(state.best_ask(), Decimal(0))),
        "b": level(state.best_bid(), state.bids.get(state.best_bid(), Decimal(0))),
        "c": [price(state.last), volume(last_trade.volume if last_trade else Decimal(0))],
        "v": [volume(t_volume), volume(day_volume)],
        "p": [price(t_vwap), price(day_vwap)],
        "t": [t_count, day_count],
        "l": [price(t_low or state.last), price(day_low or state.last)],
        "h": [price(t_high or state.last), price(day_high or state.last)],
        "o": price(today[0].price if today else state.last),
    }


def ticker(exchange: Exchange, params: Params) -> JsonValue:
    now_ns = exchange.market.now_ns()
    return {
        pair.id: _ticker_entry(exchange.market.pairs[pair.id], now_ns)
        for pair in _pairs(params, required=False)
    }


def ohlc(exchange: Exchange, params: Params) -> JsonValue:
    state = _one_pair(exchange, params)
    pair = state.pair
    interval = params.integer("interval") or 1
    if interval not in OHLC_INTERVALS:
        raise invalid_argument("interval")
    since = params.integer("since") or 0
    width = interval * 60
    candles: dict[int, list[PublicTrade]] = {}
    for trade in state.trades:
        start = trade.time_ns // _NANOS // width * width
        candles.setdefault(start, []).append(trade)
    rows: list[JsonValue] = []
    starts = sorted(candles)[-OHLC_ROWS:]
    for start in starts:
        if start < since:
            continue
        prints = candles[start]
        volume, vwap, count, low, high = trade_stats(prints)
        rows.append(
            [
                start,
                fixed(prints[0].price, pair.pair_decimals),
                fixed(high, pair.pair_decimals),
                fixed(low, pair.pair_decimals),
                fixed(prints[-1].price, pair.pair_decimals),
                fixed(vwap, pair.pair_decimals),
                fixed(volume, pair.lot_decimals),
                count,
            ]
        )
    # ``last`` names the newest committed candle; the newest row is still forming.
    last = starts[-2] if len(starts) > 1 else (starts[0] if starts else 0)
    return {pair.id: rows, "last": last}


def depth(exchange: Exchange, params: Params) -> JsonValue:
    state = _one_pair(exchange, params)
    pair = state.pair
    count = params.integer("count") or 100
    if not 1 <= count <= 500:
        raise invalid_argument("count")
    stamp = exchange.market.now_ns() // _NANOS

    def levels(side: list[tuple[Decimal, Decimal]]) -> list[JsonValue]:
        return [
            [fixed(price, pair.pair_decimals), fixed(qty, pair.lot_decimals), stamp]
            for price, qty in side[:count]
        ]

    return {pair.id: {"asks": levels(state.sorted_asks()), "bids": levels(state.sorted_bids())}}


def recent_trades(exchange: Exchange, params: Params) -> JsonValue:
    state = _one_pair(exchange, params)
    pair = state.pair
    count = params.integer("count") or 1000
    if not 1 <= count <= 1000:
        raise invalid_argument("count")
    since = params.integer("since") or 0
    since_ns = since * _NANOS if 0 < since < 10**12 else since
    trades = [trade for trade in state.trades if trade.time_ns > since_ns][-count:]
    rows: list[JsonValue] = [
        [
            fixed(trade.price, pair.pair_decimals),
            fixed(trade.volume, pair.lot_decimals),
            _seconds(trade.time_ns),
            trade.side,
            trade.kind,
            "",
            trade.trade_id,
        ]
        for trade in trades
    ]
    last = trades[-1].time_ns if trades else since_ns
    return {pair.id: rows, "last": str(last)}


HANDLERS: dict[str, Handler] = {
    "Time": server_time,
    "SystemStatus": system_status,
    "Assets": assets,
    "AssetPairs": asset_pairs,
    "Ticker": ticker,
    "OHLC": ohlc,
    "Depth": depth,
    "Trades": recent_trades,
}


async def public_call(request: web.Request) -> web.Response:
    """``/0/public/<Name>``: parameters from the query string, or a form body as krakenex sends."""
    endpoint = request.match_info["endpoint"]
    exchange = request.app[EXCHANGE]

    async def call() -> JsonValue:
        handler = HANDLERS.get(endpoint)
        if handler is None:
            raise KrakenError(errors.UNKNOWN_METHOD)
        params = Params(dict(request.query))
        if request.method == "POST" and request.can_read_body:
            body = await request.read()
            params = Params.from_body(body, request.content_type).merged(dict(request.query))
        return handler(exchange, params)

    return await respond(request, endpoint, call)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/0/public/{endpoint}", public_call)
    app.router.add_post("/0/public/{endpoint}", public_call)
