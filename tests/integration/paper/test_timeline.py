"""The tick-to-trade timeline against the real process: a ticker leaving the WebSocket, then the
AddOrder it led to arriving, both stamped on the exchange's clock and served by the admin API."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import aiohttp

from tests.support.paper_exchange import PaperExchange


def _timeline(paper: PaperExchange, **query: str) -> dict[str, Any]:
    response = paper.http.get("/_paper/timeline", params=query)
    response.raise_for_status()
    timeline: dict[str, Any] = response.json()
    return timeline


async def _next(ws: aiohttp.ClientWebSocketResponse, **match: str) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(await ws.receive_str(timeout=5))
        if all(message.get(key) == value for key, value in match.items()):
            return message


async def test_ticker_sent_then_add_order_received_in_order_with_the_pair(
    paper: PaperExchange,
) -> None:
    cl_ord_id = str(uuid.uuid4())
    async with aiohttp.ClientSession() as session, session.ws_connect(paper.ws_url) as ws:
        await ws.send_json(
            {"method": "subscribe", "params": {"channel": "ticker", "symbol": ["BTC/USD"]}}
        )
        await _next(ws, channel="ticker", type="snapshot")
        cursor = (await asyncio.to_thread(_timeline, paper))["now_ns"]

        await asyncio.to_thread(paper.set_price, "XBTUSD", "60000.0")
        await _next(ws, channel="ticker", type="update")
        placed = await asyncio.to_thread(
            paper.private,
            "AddOrder",
            {
                "pair": "XBTUSD",
                "type": "buy",
                "ordertype": "market",
                "volume": "0.001",
                "cl_ord_id": cl_ord_id,
            },
        )

    assert placed["error"] == []
    timeline = _timeline(paper, after_ns=str(cursor))
    assert [(e["kind"], e["pair"], e.get("cl_ord_id")) for e in timeline["events"]] == [
        ("ws_ticker_sent", "BTC/USD", None),
        ("add_order_received", "BTC/USD", cl_ord_id),
    ]
    sent, received = (event["t_ns"] for event in timeline["events"])
    assert cursor < sent < received <= timeline["now_ns"]


def test_filters_by_kind_and_pair_and_refuses_an_unknown_kind(paper: PaperExchange) -> None:
    paper.private(
        "AddOrder",
        {"pair": "ETHUSD", "type": "buy", "ordertype": "market", "volume": "0.01"},
    )

    orders = _timeline(paper, kind="add_order_received", pair="ETH/USD")["events"]
    refused = paper.http.get("/_paper/timeline", params={"kind": "fill"})

    assert orders
    assert {(e["kind"], e["pair"]) for e in orders} == {("add_order_received", "ETH/USD")}
    assert "cl_ord_id" not in orders[-1]
    assert refused.status_code == 400
