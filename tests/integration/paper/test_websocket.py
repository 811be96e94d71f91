"""WebSocket v2 against the real process: acks, snapshots, and book checksums kept on the client."""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from tests.support.paper_exchange import PaperExchange

BTC_USD_PRICE_DECIMALS = 1
BTC_USD_QTY_DECIMALS = 8


@pytest.fixture(scope="module")
def moving_paper() -> Iterator[PaperExchange]:
    with PaperExchange(tick_interval=0.05) as exchange:
        yield exchange


@pytest.fixture
async def ws(moving_paper: PaperExchange) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    async with aiohttp.ClientSession() as session, session.ws_connect(moving_paper.ws_url) as ws:
        yield ws


async def _receive(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await ws.receive_str(timeout=5), parse_float=Decimal)
    return message


async def _next(ws: aiohttp.ClientWebSocketResponse, **match: str) -> dict[str, Any]:
    while True:
        message = await _receive(ws)
        if all(message.get(key) == value for key, value in match.items()):
            return message


def _client_checksum(asks: dict[Decimal, Decimal], bids: dict[Decimal, Decimal]) -> int:
    """Kraken's recipe done on the client: fixed decimals, drop '.', strip leading zeros."""

    def text(price: Decimal, qty: Decimal) -> str:
        price_text = f"{price:.{BTC_USD_PRICE_DECIMALS}f}".replace(".", "").lstrip("0")
        qty_text = f"{qty:.{BTC_USD_QTY_DECIMALS}f}".replace(".", "").lstrip("0")
        return price_text + qty_text

    top_asks = sorted(asks.items())[:10]
    top_bids = sorted(bids.items(), reverse=True)[:10]
    return zlib.crc32("".join(text(p, q) for p, q in top_asks + top_bids).encode())


def _apply(
    side: dict[Decimal, Decimal], levels: list[dict[str, Decimal]], depth: int, *, descending: bool
) -> None:
    for level in levels:
        if level["qty"] == 0:
            side.pop(level["price"], None)
        else:
            side[level["price"]] = level["qty"]
    for price in sorted(side, reverse=descending)[depth:]:
        del side[price]


async def test_status_comes_first(ws: aiohttp.ClientWebSocketResponse) -> None:
    status = await _receive(ws)

    assert status["channel"] == "status"
    assert status["data"][0]["api_version"] == "v2"


async def test_book_checksums_verify_over_many_updates(
    ws: aiohttp.ClientWebSocketResponse,
) -> None:
    depth = 10
    await ws.send_json(
        {
            "method": "subscribe",
            "req_id": 7,
            "params": {"channel": "book", "symbol": ["BTC/USD"], "depth": depth},
        }
    )
    ack = await _next(ws, method="subscribe")
    snapshot = await _next(ws, channel="book", type="snapshot")
    asks: dict[Decimal, Decimal] = {}
    bids: dict[Decimal, Decimal] = {}
    _apply(asks, snapshot["data"][0]["asks"], depth, descending=False)
    _apply(bids, snapshot["data"][0]["bids"], depth, descending=True)

    assert ack["success"] is True
    assert ack["req_id"] == 7
    assert ack["result"] == {"channel": "book", "symbol": "BTC/USD", "depth": 10, "snapshot": True}
    assert _client_checksum(asks, bids) == snapshot["data"][0]["checksum"]

    verified = 0
    while verified < 8:
        update = await _next(ws, channel="book", type="update")
        data = update["data"][0]
        _apply(asks, data["asks"], depth, descending=False)
        _apply(bids, data["bids"], depth, descending=True)
        assert _client_checksum(asks, bids) == data["checksum"]
        verified += 1


async def test_ticker_and_trade_snapshots_then_updates(
    ws: aiohttp.ClientWebSocketResponse,
) -> None:
    await ws.send_json(
        {"method": "subscribe", "params": {"channel": "ticker", "symbol": ["ETH/USD"]}}
    )
    ticker = await _next(ws, channel="ticker", type="snapshot")
    await ws.send_json(
        {"method": "subscribe", "params": {"channel": "trade", "symbol": ["ETH/USD"]}}
    )
    trades = await _next(ws, channel="trade", type="snapshot")
    update = await _next(ws, channel="trade", type="update")

    entry = ticker["data"][0]
    assert entry["symbol"] == "ETH/USD"
    assert entry["bid"] < entry["ask"]
    assert len(trades["data"]) == 50
    assert update["data"][0]["trade_id"] > trades["data"][-1]["trade_id"]
    assert update["data"][0]["side"] in ("buy", "sell")


async def test_unsupported_pair_and_channel_are_refused(
    ws: aiohttp.ClientWebSocketResponse,
) -> None:
    await ws.send_json(
        {
            "method": "subscribe",
            "req_id": 1,
            "params": {"channel": "ticker", "symbol": ["DOGE/XYZ"]},
        }
    )
    pair_ack = await _next(ws, method="subscribe")
    await ws.send_json(
        {"method": "subscribe", "req_id": 2, "params": {"channel": "nope", "symbol": ["BTC/USD"]}}
    )
    channel_ack = await _next(ws, method="subscribe")

    assert pair_ack["success"] is False
    assert pair_ack["error"] == "Currency pair not supported DOGE/XYZ"
    assert channel_ack["error"] == "Subscription name invalid"


async def test_ping_pong_and_unsubscribe(ws: aiohttp.ClientWebSocketResponse) -> None:
    await ws.send_json({"method": "ping", "req_id": 101})
    pong = await _next(ws, method="pong")
    await ws.send_json(
        {"method": "subscribe", "params": {"channel": "ticker", "symbol": ["SOL/USD"]}}
    )
    await _next(ws, method="subscribe")
    await ws.send_json(
        {"method": "unsubscribe", "params": {"channel": "ticker", "symbol": ["SOL/USD"]}}
    )
    unsubscribed = await _next(ws, method="unsubscribe")

    assert pong["req_id"] == 101
    assert unsubscribed["success"] is True
    assert unsubscribed["result"] == {"channel": "ticker", "symbol": "SOL/USD"}


async def test_heartbeat_when_nothing_else_is_sent() -> None:
    with PaperExchange(tick_interval=3600) as quiet:
        async with aiohttp.ClientSession() as session, session.ws_connect(quiet.ws_url) as ws:
            await ws.send_json(
                {"method": "subscribe", "params": {"channel": "ticker", "symbol": ["BTC/USD"]}}
            )
            heartbeat = await asyncio.wait_for(_next(ws, channel="heartbeat"), 5)

    assert heartbeat == {"channel": "heartbeat"}
