"""One WebSocket v2 connection to Kraken's public feed, kept alive for whatever is subscribed.

The wanted subscriptions are the source of truth: every (re)connection subscribes all of them,
and changes while connected are sent at once. A connection that stays silent (no message, not
even a heartbeat) for ``stale_seconds`` while something is subscribed is treated as dead.
Between attempts it waits per :class:`~services.signal.market.backoff.Backoff`. Nothing is
connected while nothing is wanted: Kraken sends no heartbeat then, so silence would mean
nothing; a connection left with no subscription closes at its first silence.

:meth:`KrakenWebSocket.down_for` tells how long the feed has been down: from the first failed
connection or lost one until a channel message other than ``status`` (which Kraken sends on
connecting, before any data) arrives again. The lease rounds use it to hand the pairs of a
replica whose feed stays down to the other replicas (ownership.py).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from services.signal.market.backoff import Backoff
from services.signal.market.metrics import MarketMetrics
from services.signal.market.tasks import YieldTo
from services.signal.market.wire import decode

log = logging.getLogger(__name__)

ChannelHandler = Callable[[str, Mapping[str, Any], int], None]
"""Called with (channel, decoded message, wall-clock ns at receipt) for each channel message."""

_CONNECT_TIMEOUT = 10.0
_IDLE = "idle"


@dataclass(frozen=True, slots=True)
class Subscription:
    """One channel of one symbol; ``depth`` for ``book``, ``interval`` for ``ohlc``."""

    channel: str
    symbol: str
    depth: int | None = None
    interval: int | None = None

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"channel": self.channel, "symbol": [self.symbol]}
        if self.depth is not None:
            params["depth"] = self.depth
        if self.interval is not None:
            params["interval"] = self.interval
        return params


class KrakenWebSocket:
    """Connects, subscribes, reads and reconnects until cancelled (:meth:`run`)."""

    def __init__(
        self,
        url: str,
        on_channel: ChannelHandler,
        metrics: MarketMetrics,
        *,
        stale_seconds: float,
        backoff: Backoff,
        yield_to: YieldTo | None = None,
    ) -> None:
        self._url = url
        self._yield_to = yield_to
        self._on_channel = on_channel
        self._metrics = metrics
        self._stale_seconds = stale_seconds
        self._backoff = backoff
        self._wanted: set[Subscription] = set()
        self._wanted_changed = asyncio.Event()
        self._outbox: asyncio.Queue[str] | None = None
        self._req_ids = itertools.count(1)
        self._requests: dict[int, Subscription] = {}
        self._down_since: float | None = None

    def down_for(self) -> float:
        """Seconds the feed has been down while something is wanted; 0.0 while it delivers."""
        if self._down_since is None or not self._wanted:
            return 0.0
        return time.monotonic() - self._down_since

    # -- what to subscribe --------------------------------------------------------------------

    def subscribe(self, subscriptions: Iterable[Subscription]) -> None:
        fresh = [sub for sub in subscriptions if sub not in self._wanted]
        self._wanted.update(fresh)
        self._wanted_changed.set()
        self._send("subscribe", fresh)

    def unsubscribe(self, subscriptions: Iterable[Subscription]) -> None:
        held = [sub for sub in subscriptions if sub in self._wanted]
        self._wanted.difference_update(held)
        if not self._wanted:
            self._down_since = None  # nothing wanted: a later subscription starts afresh
        self._send("unsubscribe", held)

    def resubscribe(self, subscription: Subscription, delay: float) -> None:
        """Unsubscribe and subscribe again after ``delay`` s, for a fresh snapshot."""
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, self._resubscribe_now, subscription)
        else:
            self._resubscribe_now(subscription)

    def _resubscribe_now(self, subscription: Subscription) -> None:
        if subscription in self._wanted:
            self._send("unsubscribe", [subscription])
            self._send("subscribe", [subscription])

    def _send(self, method: str, subscriptions: Iterable[Subscription]) -> None:
        # One request per subscription: each gets its own ack, so a refusal names its channel.
        if self._outbox is None:
            return
        for sub in subscriptions:
            req_id = next(self._req_ids)
            self._requests[req_id] = sub
            request = {"method": method, "params": sub.params(), "req_id": req_id}
            self._outbox.put_nowait(json.dumps(request, separators=(",", ":")))

    # -- connection ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Keep a connection while anything is wanted; returns only by cancellation."""
        ws_timeout = aiohttp.ClientWSTimeout(ws_close=2.0)
        async with aiohttp.ClientSession() as session:
            while True:
                while not self._wanted:
                    self._wanted_changed.clear()
                    await self._wanted_changed.wait()
                reason = await self._connect_and_read(session, ws_timeout)
                if reason == _IDLE:
                    log.info("market websocket closed: nothing subscribed")
                    continue
                self._metrics.disconnects.labels(reason).inc()
                if self._down_since is None:
                    self._down_since = time.monotonic()
                delay = self._backoff.next_delay()
                log.warning(
                    "market websocket lost: reconnecting",
                    extra={
                        "reason": reason,
                        "delay_s": round(delay, 3),
                        "attempt": self._backoff.attempt,
                    },
                )
                await asyncio.sleep(delay)

    async def _connect_and_read(
        self, session: aiohttp.ClientSession, ws_timeout: aiohttp.ClientWSTimeout
    ) -> str:
        """Returns why the connection ended: ``stale``, ``closed``, ``error`` or ``idle``."""
        try:
            async with asyncio.timeout(_CONNECT_TIMEOUT):
                ws = await session.ws_connect(self._url, timeout=ws_timeout, autoping=True)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning(
                "market websocket connect failed",
                extra={"url": self._url, "error": f"{type(exc).__name__}: {exc}"},
            )
            return "error"
        outbox: asyncio.Queue[str] = asyncio.Queue()
        self._outbox = outbox
        self._requests.clear()
        writer = asyncio.create_task(self._write(ws, outbox))
        try:
            self._metrics.connects.inc()
            self._backoff.connected()
            self._send("subscribe", self._wanted)
            log.info(
                "market websocket connected",
                extra={"url": self._url, "subscriptions": len(self._wanted)},
            )
            return await self._read(ws)
        except (aiohttp.ClientError, OSError) as exc:
            log.warning("market websocket failed", extra={"error": f"{type(exc).__name__}: {exc}"})
            return "error"
        finally:
            self._outbox = None
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
            await ws.close()

    async def _write(self, ws: aiohttp.ClientWebSocketResponse, outbox: asyncio.Queue[str]) -> None:
        while True:
            text = await outbox.get()
            try:
                await ws.send_str(text)
            except (aiohttp.ClientError, OSError) as exc:
                # The reader sees the broken connection and reconnects.
                log.warning(
                    "market websocket send failed", extra={"error": f"{type(exc).__name__}: {exc}"}
                )
                return

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> str:
        while True:
            try:
                message = await ws.receive(timeout=self._stale_seconds)
            except TimeoutError:
                # Silence is expected once nothing is subscribed: no heartbeats then.
                if not self._wanted:
                    return _IDLE
                log.warning("market websocket stale", extra={"silent_s": self._stale_seconds})
                return "stale"
            received_ns = time.time_ns()
            if message.type is aiohttp.WSMsgType.TEXT:
                if self._dispatch(message.data, received_ns) == "ticker":
                    # Let what the ticker woke (the rule feed's evaluation) run before the
                    # messages queued behind it (trades, the book) are decoded and verified,
                    # and, when it trades, until its order is on its way (trading_first.py).
                    await asyncio.sleep(0)
                    if self._yield_to is not None:
                        await self._yield_to()
            elif message.type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSING,
                aiohttp.WSMsgType.CLOSED,
            ):
                return "closed"
            elif message.type is aiohttp.WSMsgType.ERROR:
                return "error"

    def _dispatch(self, text: str, received_ns: int) -> str | None:
        """Hand one message on; its channel, if it was a channel message."""
        try:
            message = decode(text)
        except ValueError:
            self._metrics.malformed.inc()
            log.warning("market websocket sent invalid JSON", extra={"text": text[:200]})
            return None
        if not isinstance(message, dict):
            self._metrics.malformed.inc()
            return None
        channel = message.get("channel")
        if isinstance(channel, str):
            if channel != "status":
                self._down_since = None
            self._on_channel(channel, message, received_ns)
            return channel
        if "success" in message:
            self._acknowledged(message)
        return None

    def _acknowledged(self, ack: Mapping[str, Any]) -> None:
        req_id = ack.get("req_id")
        request = self._requests.pop(req_id, None) if isinstance(req_id, int) else None
        if ack.get("success") is not False:
            return
        channel = request.channel if request is not None else "unknown"
        self._metrics.refused_requests.labels(channel).inc()
        log.warning(
            "market websocket request refused",
            extra={
                "method": ack.get("method"),
                "channel": channel,
                "symbol": request.symbol if request is not None else None,
                "error": ack.get("error"),
            },
        )
