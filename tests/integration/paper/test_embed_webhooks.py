"""Embed webhooks from the real process to a real receiver: signed, retried, duplicated."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp import web

from services.common.kraken_auth import webhook_signature
from tests.support.paper_exchange import PaperExchange, generate_secret
from tests.support.ports import free_port

SETTLE_DELAY = 0.2


class WebhookReceiver:
    """A tiny aiohttp server on its own thread that records every webhook it gets.

    It answers the statuses in ``refuse_with`` in turn, then 200.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/webhooks/kraken/events"
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.refuse_with: list[int] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        with self._lock:
            self.requests.append((dict(request.headers), body))
            status = self.refuse_with.pop(0) if self.refuse_with else 200
        return web.Response(status=status)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/webhooks/kraken/events", self._handle)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())
        self._loop.close()

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def received(self) -> list[tuple[dict[str, str], dict[str, Any], bytes]]:
        with self._lock:
            return [(headers, json.loads(body), body) for headers, body in self.requests]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self.refuse_with.clear()


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def paper(receiver: WebhookReceiver) -> Iterator[PaperExchange]:
    with PaperExchange(
        webhook_url=receiver.url,
        webhook_secret=generate_secret(),
        extra_env={"PAPER_EMBED_SETTLE_DELAY": str(SETTLE_DELAY)},
    ) as exchange:
        exchange.set_price("XBTUSD", "65000.0")
        yield exchange


@pytest.fixture(autouse=True)
def _fresh_receiver(receiver: WebhookReceiver) -> None:
    receiver.clear()


def _wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "condition not met within 10 s"
        time.sleep(0.05)


def _executed_quote(paper: PaperExchange) -> str:
    user = paper.embed_create_user({"USD": "500"})
    body = {
        "type": "spend",
        "amount": {"asset": "USD", "amount": "50", "asset_class": "currency"},
        "quote": {"asset": "BTC"},
        "fee_bps": "50",
        "spread_bps": "25",
    }
    quote_id: str = paper.embed("POST", "/b2b/quotes", {"user": user}, body).json()["result"][
        "quote_id"
    ]
    assert paper.embed("PUT", f"/b2b/quotes/{quote_id}", {"user": user}).status_code == 200
    return quote_id


def _signature_verifies(paper: PaperExchange, headers: dict[str, str], body: bytes) -> bool:
    fields = dict(part.split("=", 1) for part in headers["X-Signature"].split(","))
    return fields["v1"] == webhook_signature(paper.webhook_secret, int(fields["t"]), body)


def test_executed_quote_sends_a_signed_quote_executed(
    paper: PaperExchange, receiver: WebhookReceiver
) -> None:
    quote_id = _executed_quote(paper)

    _wait_until(lambda: len(receiver.received()) == 1)

    [(headers, event, body)] = receiver.received()
    assert _signature_verifies(paper, headers, body)
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Webhook-Event"] == "quote.executed"
    assert headers["X-Webhook-ID"] == event["id"]
    assert event["event_type"] == "quote.executed"
    assert event["quote_id"] == quote_id
    assert event["status"] == "credit_transfer_complete"
    assert event["quote"]["status"] == "credit_transfer_complete"
    assert event["quote"]["transaction_id"]
    assert event["iiban"].startswith("AA")
    [logged] = [entry for entry in paper.embed_webhooks() if entry["quote_id"] == quote_id]
    assert (logged["state"], logged["attempts"], logged["last_status"]) == ("delivered", 1, 200)
    assert logged["event_id"] == event["id"]


def test_duplicates_fault_delivers_copies_with_one_id(
    paper: PaperExchange, receiver: WebhookReceiver
) -> None:
    paper.embed_fault("webhook_duplicates", copies=3)

    quote_id = _executed_quote(paper)
    _wait_until(lambda: len(receiver.received()) == 3)

    events = receiver.received()
    assert {event["id"] for _, event, _ in events} == {events[0][1]["id"]}
    assert all(_signature_verifies(paper, headers, body) for headers, _, body in events)
    logged = [entry for entry in paper.embed_webhooks() if entry["quote_id"] == quote_id]
    assert sorted(entry["copy"] for entry in logged) == [1, 2, 3]


def test_a_refused_delivery_is_retried_with_a_fresh_signature(
    paper: PaperExchange, receiver: WebhookReceiver
) -> None:
    receiver.refuse_with = [500]

    quote_id = _executed_quote(paper)
    _wait_until(lambda: len(receiver.received()) == 2)
    _wait_until(
        lambda: any(
            entry["quote_id"] == quote_id and entry["state"] == "delivered"
            for entry in paper.embed_webhooks()
        )
    )

    (first, _, body), (second, _, again) = receiver.received()
    assert body == again
    assert first["X-Webhook-ID"] == second["X-Webhook-ID"]
    assert _signature_verifies(paper, first, body)
    assert _signature_verifies(paper, second, again)
    [logged] = [entry for entry in paper.embed_webhooks() if entry["quote_id"] == quote_id]
    assert (logged["attempts"], logged["last_status"]) == (2, 200)


def test_failed_execution_sends_quote_execution_failed(
    paper: PaperExchange, receiver: WebhookReceiver
) -> None:
    paper.embed_fault("execution_failed")

    quote_id = _executed_quote(paper)
    _wait_until(lambda: len(receiver.received()) == 1)

    [(headers, event, _)] = receiver.received()
    assert headers["X-Webhook-Event"] == "quote.execution_failed"
    assert (event["quote_id"], event["status"]) == (quote_id, "quote_execution_failed")
