"""Webhook delivery against a real local receiver: signature, retries, duplicates, giving up."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from aiohttp import web

from services.common.kraken_auth import webhook_signature
from services.paper.embed import webhooks
from services.paper.embed.assets import EmbedAsset, find_embed_asset
from services.paper.embed.faults import EmbedFaultBook, EmbedFaultKind, EmbedFaultSpec
from services.paper.embed.pricing import Leg, Priced, UnitPrice
from services.paper.embed.quote_request import QuoteType
from services.paper.embed.quotes import Quote, QuoteStatus
from services.paper.embed.webhooks import WebhookSender
from tests.support.ports import free_port

SECRET = "dGVzdC1zZWNyZXQtcGxlYXNlLWlnbm9yZQ=="


def _asset(name: str) -> EmbedAsset:
    asset = find_embed_asset(name)
    assert asset is not None
    return asset


def _quote(status: QuoteStatus = QuoteStatus.CREDIT_TRANSFER_COMPLETE) -> Quote:
    usd, btc = _asset("USD"), _asset("BTC")
    priced = Priced(
        spend=Leg(usd, Decimal("100.00"), Decimal("1.00"), Decimal("99.00")),
        receive=Leg(btc, Decimal("0.00151549"), Decimal(0), Decimal("0.00151549")),
        unit_price=UnitPrice(btc, Decimal("65325.00"), usd),
    )
    return Quote("QTEST", "AA00 PAPE RUSE R001", QuoteType.SPEND, priced, None, 0, status, "TX")


@dataclass
class Receiver:
    """Records every webhook request; answers ``statuses`` in turn, then 200."""

    statuses: list[int] = field(default_factory=list)
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), await request.read()))
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hooks", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    receiver.url = f"http://127.0.0.1:{port}/hooks"
    yield receiver
    await runner.cleanup()


async def _sender(
    url: str, faults: EmbedFaultBook | None = None, rate: float = 0.0
) -> WebhookSender:
    sender = WebhookSender(
        url, SECRET, duplicate_rate=rate, seed=42, faults=faults or EmbedFaultBook()
    )
    await sender.start()
    return sender


async def _until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` for up to five seconds."""
    for _ in range(250):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met within 5 s")


def _verifies(headers: dict[str, str], body: bytes) -> bool:
    parts = dict(part.split("=", 1) for part in headers["X-Signature"].split(","))
    return parts["v1"] == webhook_signature(SECRET, int(parts["t"]), body)


@pytest.mark.parametrize(
    ("status", "event"),
    [
        (QuoteStatus.CREDIT_TRANSFER_COMPLETE, "quote.executed"),
        (QuoteStatus.QUOTE_EXECUTION_FAILED, "quote.execution_failed"),
        (QuoteStatus.QUOTE_CANCELLED, "quote.cancelled"),
    ],
)
async def test_a_final_quote_is_posted_signed(
    receiver: Receiver, status: QuoteStatus, event: str
) -> None:
    sender = await _sender(receiver.url)

    sender.publish(_quote(status))
    await _until(lambda: sender.deliveries[0].state == "delivered")
    await sender.close()

    [(headers, body)] = receiver.requests
    payload = json.loads(body)
    assert _verifies(headers, body)
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Webhook-Event"] == event
    assert headers["X-Webhook-ID"] == payload["id"]
    assert payload["event_type"] == event
    assert payload["iiban"] == "AA00 PAPE RUSE R001"
    assert payload["quote_id"] == "QTEST"
    assert payload["status"] == status.value
    assert payload["quote"]["receive"]["total"] == "0.00151549"
    assert payload["timestamp"].endswith("Z")


async def test_a_refused_delivery_is_retried_and_re_signed(receiver: Receiver) -> None:
    receiver.statuses = [500, 503]
    sender = await _sender(receiver.url)

    sender.publish(_quote())
    await _until(lambda: sender.deliveries[0].state == "delivered")
    await sender.close()

    assert len(receiver.requests) == 3
    assert all(_verifies(headers, body) for headers, body in receiver.requests)
    assert len({body for _, body in receiver.requests}) == 1
    delivery = sender.deliveries[0].as_json()
    assert (delivery["attempts"], delivery["last_status"]) == (3, 200)


async def test_duplicates_fault_sends_copies_with_one_id(receiver: Receiver) -> None:
    faults = EmbedFaultBook()
    faults.add(EmbedFaultSpec(kind=EmbedFaultKind.WEBHOOK_DUPLICATES, copies=3))
    sender = await _sender(receiver.url, faults)

    sender.publish(_quote())
    sender.publish(_quote())
    await _until(lambda: len(receiver.requests) == 4)
    await sender.close()

    ids = [headers["X-Webhook-ID"] for headers, _ in receiver.requests]
    assert len(set(ids)) == 2
    assert sorted(ids.count(event_id) for event_id in set(ids)) == [1, 3]


async def test_duplicate_rate_one_sends_every_event_twice(receiver: Receiver) -> None:
    sender = await _sender(receiver.url, rate=1.0)

    sender.publish(_quote())
    await _until(lambda: len(receiver.requests) == 2)
    await sender.close()

    assert receiver.requests[0][1] == receiver.requests[1][1]


async def test_an_unreachable_receiver_is_given_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhooks, "GIVE_UP_AFTER", 0.5)
    sender = await _sender(f"http://127.0.0.1:{free_port()}/hooks")

    sender.publish(_quote())
    await _until(lambda: sender.deliveries[0].state == "gave_up")
    await sender.close()

    delivery = sender.deliveries[0]
    assert delivery.attempts >= 2
    assert delivery.last_status is None
    assert delivery.last_error


async def test_close_stops_deliveries_in_flight() -> None:
    sender = await _sender(f"http://127.0.0.1:{free_port()}/hooks")
    sender.publish(_quote())

    await sender.close()

    assert sender.deliveries[0].state == "pending"
