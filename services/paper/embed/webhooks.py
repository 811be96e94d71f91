"""Signed webhooks for quotes that reach a final status (kraken.md §6.5), sent in the background.

``credit_transfer_complete`` sends ``quote.executed``, ``quote_execution_failed`` sends
``quote.execution_failed`` and ``quote_cancelled`` sends ``quote.cancelled``: a ``POST`` of
``{"event_type","id","iiban","timestamp","quote_id","status","quote"}`` with the headers
``X-Webhook-Event``, ``X-Webhook-ID`` and ``X-Signature: t=<unix seconds>,v1=<hex>``.
A non-2xx answer or a failed connection is retried with exponential backoff, re-signed with a
fresh ``t`` each time, until :data:`GIVE_UP_AFTER` seconds have passed. Like Kraken ("webhooks
may be delivered more than once"), an event is now and then delivered twice, at the configured
rate; every copy carries the same body and event id.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp

from services.common.kraken_auth import webhook_signature
from services.paper.embed.faults import EmbedFaultBook, EmbedFaultKind
from services.paper.embed.ids import new_kraken_id
from services.paper.embed.quotes import Quote, QuoteStatus, quote_view
from services.paper.wire import JsonValue, dumps

log = logging.getLogger(__name__)

FIRST_RETRY_DELAY = 0.2
MAX_RETRY_DELAY = 5.0
GIVE_UP_AFTER = 60.0
ATTEMPT_TIMEOUT = 10.0

EVENT_OF_STATUS = {
    QuoteStatus.CREDIT_TRANSFER_COMPLETE: "quote.executed",
    QuoteStatus.QUOTE_EXECUTION_FAILED: "quote.execution_failed",
    QuoteStatus.QUOTE_CANCELLED: "quote.cancelled",
}

WallClockNs = Callable[[], int]


def signature_header(secret_b64: str, timestamp: int, body: bytes) -> str:
    """The ``X-Signature`` value for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},v1={webhook_signature(secret_b64, timestamp, body)}"


def _rfc3339_ns(time_ns: int) -> str:
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    return f"{datetime.fromtimestamp(seconds, UTC):%Y-%m-%dT%H:%M:%S}.{nanos:09d}Z"


@dataclass
class Delivery:
    """One copy of one event on its way: ``pending``, then ``delivered`` or ``gave_up``."""

    event_id: str
    event_type: str
    quote_id: str
    copy: int
    attempts: int = 0
    last_status: int | None = None
    last_error: str | None = None
    state: str = "pending"

    def as_json(self) -> dict[str, JsonValue]:
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "quote_id": self.quote_id,
            "copy": self.copy,
            "attempts": self.attempts,
            "last_status": self.last_status,
            "last_error": self.last_error,
            "state": self.state,
        }


class WebhookSender:
    """Delivers each final quote to one URL; :attr:`deliveries` is the log, oldest first."""

    def __init__(
        self,
        url: str,
        secret_b64: str,
        *,
        duplicate_rate: float,
        seed: int,
        faults: EmbedFaultBook,
        clock_ns: WallClockNs = time.time_ns,
    ) -> None:
        self._url = url
        self._secret = secret_b64
        self._duplicate_rate = duplicate_rate
        # A simulation, not cryptography: the seed must replay the same duplicates.
        self._rng = random.Random(seed)  # noqa: S311
        self._faults = faults
        self._clock_ns = clock_ns
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.deliveries: list[Delivery] = []

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=ATTEMPT_TIMEOUT))

    async def close(self) -> None:
        """Stop every delivery in flight and close the connections."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def publish(self, quote: Quote) -> None:
        """Send the event for ``quote``'s final status, without waiting for it."""
        event_type = EVENT_OF_STATUS[quote.status]
        event_id = new_kraken_id()
        body = dumps(
            {
                "event_type": event_type,
                "id": event_id,
                "iiban": quote.user,
                "timestamp": _rfc3339_ns(self._clock_ns()),
                "quote_id": quote.quote_id,
                "status": quote.status.value,
                "quote": quote_view(quote),
            }
        ).encode("utf-8")
        for copy in range(1, self._copies() + 1):
            delivery = Delivery(event_id, event_type, quote.quote_id, copy)
            self.deliveries.append(delivery)
            task = asyncio.create_task(self._deliver(delivery, body))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _copies(self) -> int:
        fault = self._faults.take({EmbedFaultKind.WEBHOOK_DUPLICATES})
        if fault is not None:
            return fault.copies
        return 2 if self._rng.random() < self._duplicate_rate else 1

    async def _deliver(self, delivery: Delivery, body: bytes) -> None:
        if self._session is None:
            raise RuntimeError("WebhookSender.start() was not awaited")
        started = time.monotonic()
        delay = FIRST_RETRY_DELAY
        while True:
            delivery.attempts += 1
            timestamp = self._clock_ns() // 1_000_000_000
            headers = {
                "Content-Type": "application/json",
                "X-Webhook-Event": delivery.event_type,
                "X-Webhook-ID": delivery.event_id,
                "X-Signature": signature_header(self._secret, timestamp, body),
            }
            try:
                async with self._session.post(self._url, data=body, headers=headers) as response:
                    delivery.last_status = response.status
                    if 200 <= response.status < 300:
                        delivery.state = "delivered"
                        return
                    delivery.last_error = f"HTTP {response.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                delivery.last_error = f"{type(exc).__name__}: {exc}"
            if time.monotonic() - started + delay > GIVE_UP_AFTER:
                delivery.state = "gave_up"
                log.warning("webhook not delivered", extra=delivery.as_json())
                return
            log.info("webhook retry", extra=delivery.as_json())
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_DELAY)
