"""Kraken Embed webhooks: verify, deduplicate, apply, acknowledge (``kraken.md`` §6.5).

``POST /webhooks/kraken-embed`` on ``WEBHOOK_LISTEN_ADDR`` (Kong's public webhook route ends
here). ``X-Signature: t=<unix>,v1=<hex>`` must be HMAC-SHA256 of ``"{t}.{raw body}"`` under the
base64-decoded secret, and ``t`` within the tolerance window, else 401 and nothing changes. An
event id already applied is acknowledged again without effect. The quote update is one Redis
compare-and-set, so the answer still goes back at once; a failure to apply answers 500 so that
Kraken delivers the event again. Unknown events are logged and acknowledged.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from pydantic import SecretStr

from services.common.kraken_auth import webhook_signature
from services.execution.embed.desk import QuoteDesk
from services.execution.embed.model import parse_quote
from services.execution.embed.store import QuoteStore
from services.execution.kraken.errors import KrakenError

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/kraken-embed"
MAX_BODY = 256 * 1024
_QUOTE_EVENTS: dict[str, str] = {
    "quote.executed": "credit_transfer_complete",
    "quote.execution_failed": "quote_execution_failed",
    "quote.cancelled": "quote_cancelled",
}


class SignatureRefused(Exception):
    """The webhook is not signed by Kraken with our secret, or is too old or too new."""


def verify_signature(
    header: str | None, body: bytes, secret: SecretStr, *, tolerance: int, now: float
) -> int:
    """The signed timestamp when ``header`` is a valid, fresh signature of ``body``."""
    if not header:
        raise SignatureRefused("X-Signature is missing")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            candidates.append(value.lower())
    if timestamp is None or not candidates:
        raise SignatureRefused("X-Signature needs t=<unix seconds> and v1=<hex>")
    if abs(now - timestamp) > tolerance:
        raise SignatureRefused(f"X-Signature timestamp is outside the {tolerance}s window")
    expected = webhook_signature(secret.get_secret_value(), timestamp, body).encode("ascii")
    # Every candidate is compared, so timing does not tell which one matched.
    matched = [hmac.compare_digest(expected, c.encode("ascii", "replace")) for c in candidates]
    if not any(matched):
        raise SignatureRefused("X-Signature does not match")
    return timestamp


class WebhookReceiver:
    def __init__(
        self,
        desk: QuoteDesk,
        store: QuoteStore,
        secret: SecretStr | None,
        tolerance: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._desk = desk
        self._store = store
        self._secret = secret
        self._tolerance = tolerance
        self._clock = clock
        self._settling: set[asyncio.Task[None]] = set()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post(WEBHOOK_PATH, self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        if self._secret is None:
            logger.error("webhook refused: KRAKEN_EMBED_WEBHOOK_SECRET is not set")
            return _answer(503, "webhook secret not configured")
        body = await request.read()
        try:
            verify_signature(
                request.headers.get("X-Signature"),
                body,
                self._secret,
                tolerance=self._tolerance,
                now=self._clock(),
            )
        except SignatureRefused as exc:
            logger.warning("webhook refused", extra={"reason": str(exc)})
            return _answer(401, str(exc))
        try:
            event = json.loads(body)
        except ValueError:
            return _answer(400, "body is not JSON")
        if not isinstance(event, dict):
            return _answer(400, "body is not a JSON object")
        event_type = str(event.get("event_type") or request.headers.get("X-Webhook-Event") or "")
        event_id = str(event.get("id") or request.headers.get("X-Webhook-ID") or "")
        if not event_id:
            return _answer(400, "event has no id")
        if not await self._store.first_delivery(event_id):
            logger.info("webhook duplicate ignored", extra={"event_id": event_id})
            return _answer(200, "duplicate")
        try:
            applied = await self._apply(event_type, event)
        except (KrakenError, OSError, ValueError) as exc:
            await self._store.forget_delivery(event_id)
            logger.warning(
                "webhook not applied; Kraken will deliver it again",
                extra={"event_id": event_id, "error": type(exc).__name__},
            )
            return _answer(500, "not applied")
        logger.info(
            "webhook received",
            extra={"event_id": event_id, "event_type": event_type, "applied": applied},
        )
        return _answer(200, "ok")

    async def _apply(self, event_type: str, event: dict[str, Any]) -> bool:
        if event_type not in _QUOTE_EVENTS:
            return False
        quote_doc = event.get("quote") if isinstance(event.get("quote"), dict) else None
        qid = str(event.get("quote_id") or (quote_doc or {}).get("quote_id") or "")
        if not qid:
            return False
        quote = parse_quote(quote_doc) if quote_doc and quote_doc.get("quote_id") else None
        status = str(event.get("status") or _QUOTE_EVENTS[event_type])
        record = await self._desk.apply(qid, status, quote)
        if record is None:
            return False
        # Risk hears the outcome after Kraken has its answer; the poller repeats it if this fails.
        task = asyncio.create_task(self._desk.settle(record))
        self._settling.add(task)
        task.add_done_callback(self._settled)
        return True

    def _settled(self, task: asyncio.Task[None]) -> None:
        self._settling.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning(
                "quote outcome not reported yet", extra={"error": repr(task.exception())}
            )


def _answer(status: int, text: str) -> web.Response:
    return web.json_response({"result": text} if status < 400 else {"error": [text]}, status=status)
