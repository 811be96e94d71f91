"""The consumer group that hands each signal to exactly one replica's trader.

Every replica reads ``signal:signals`` in the group ``SIGNAL_CONSUMER_GROUP`` under a name of its
own (``XREADGROUP … >``), one signal at a time, so a signal is pending exactly while a replica
works on it. A signal is XACKed once the trader is finished with it; one it could not finish
(execution unreachable) stays pending. While it works on a signal a replica keeps claiming it
(``XCLAIM … JUSTID`` resets its idle time), however long execution takes; when the replica dies
that stops, and once the signal has been idle for the claim idle time another replica claims it
(``XAUTOCLAIM``) and handles it again, which the trader's intents make safe. A replica also
claims its own unfinished signals that way, to retry them. The group starts at the stream's end
when first created: signals recorded before any replica ran are never traded.

A replica that records a rule signal itself may have it delivered to its own consumer by the
recording script (signals/store.py, ``record_for``) and hand it to :meth:`SignalConsumer.take`,
which works on it exactly as on one it read: pending while it works, kept claimed, XACKed when
finished, left pending (for a claim) when not. The group stays the one authority on who acts.
Until it is finished with such a signal, or for at most the turn's limit, this replica's
market-data work waits (trading_first.py): the order goes out before the next market data.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions

from services.signal.signals.errors import STORE_FAILURES
from services.signal.signals.model import SignalRecord
from services.signal.signals.store import STREAM
from services.signal.trading_first import TradingFirst

log = logging.getLogger(__name__)

Handler = Callable[[SignalRecord, bool, int | None], Awaitable[bool]]
"""Acts on a signal; the flag says it is delivered for the first time (``>`` or ``take``), so
no attempt at it can have been made before; then the bindings' version when it was recorded,
if known. Answers whether it is finished."""
# Backoff after Redis or a handler failed, seconds.
RETRY_PAUSE = 1.0


def consumer_name() -> str:
    """Unique per process: a restarted replica never inherits a dead one's pending entries
    except by claiming them."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class SignalConsumer:
    def __init__(
        self,
        client: aioredis.Redis,
        handler: Handler,
        *,
        group: str,
        claim_idle_ms: int,
        block_ms: int,
        trading_first: TradingFirst | None = None,
    ) -> None:
        self._client = client
        self._first = trading_first or TradingFirst(0)
        self._handler = handler
        self.group = group
        self._claim_idle_ms = claim_idle_ms
        self._block_ms = block_ms
        self.name = consumer_name()
        self._task: asyncio.Task[None] | None = None
        self._taken: set[asyncio.Task[None]] = set()
        self._claimed_at = 0.0
        self._stopping = False

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="signal-consumer")
        log.info(
            "consuming signals",
            extra={
                "group": self.group,
                "consumer": self.name,
                "claim_idle_ms": self._claim_idle_ms,
            },
        )

    async def stop(self, grace: float) -> None:
        """Finish the signal at hand (up to ``grace`` seconds), then stop reading.

        Cutting a PlaceOrder short would leave its outcome to the replica that claims the
        signal later; letting it finish keeps a deploy from delaying orders.
        """
        self._stopping = True
        tasks = [*self._taken, *([] if self._task is None else [self._task])]
        if not tasks:
            return
        _done, late = await asyncio.wait(tasks, timeout=grace)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    def take(self, signal: SignalRecord, bindings_version: int | None) -> None:
        """Act on a signal the recording script delivered to this consumer, as if read here."""
        # Begun before the recording's own turn ends (rule_feed.py), so no market-data work
        # slips in between the record and the order.
        turn = self._first.begin()
        task = asyncio.create_task(
            self._act_on_taken(signal, bindings_version), name=f"signal-{signal.id}"
        )
        self._taken.add(task)
        task.add_done_callback(self._taken.discard)
        task.add_done_callback(lambda _task: turn.done())

    async def _act_on_taken(self, signal: SignalRecord, bindings_version: int | None) -> None:
        try:
            await self._work(signal, first_delivery=True, bindings_version=bindings_version)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Left pending: this replica's own claim round (or another's) retries it.
            log.warning(
                "signal handling failed; it stays pending",
                extra={"signal_id": signal.id, "error": f"{type(exc).__name__}: {exc}"},
            )

    async def _run(self) -> None:
        group_ready = False
        while not self._stopping:
            try:
                if not group_ready:
                    await self._create_group()
                    group_ready = True
                await self._poll()
            except redis.exceptions.ResponseError as exc:
                # NOGROUP: the stream or group was removed (e.g. Redis flushed): create it again.
                group_ready = "NOGROUP" not in str(exc)
                log.warning("signal consumer error", extra={"error": str(exc)})
                await asyncio.sleep(RETRY_PAUSE)
            except STORE_FAILURES as exc:
                log.warning(
                    "signal consumer cannot reach Redis",
                    extra={"error": f"{type(exc).__name__}: {exc}"},
                )
                await asyncio.sleep(RETRY_PAUSE)
            except Exception:
                # The consumer must outlive any one failure; the entry stays pending and is
                # claimed again after the claim idle time.
                log.exception("signal handling failed")
                await asyncio.sleep(RETRY_PAUSE)

    async def _poll(self) -> None:
        """One round: claim entries idle past the claim time (when due), then read new ones."""
        now = time.monotonic()
        if now - self._claimed_at >= self._claim_idle_ms / 2000:
            self._claimed_at = now
            await self._claim()
        reply: Any = await self._client.xreadgroup(
            self.group, self.name, {STREAM: ">"}, count=1, block=self._block_ms
        )
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                await self._handle(str(entry_id), fields, first_delivery=True)

    async def _create_group(self) -> None:
        try:
            await self._client.xgroup_create(STREAM, self.group, id="$", mkstream=True)
            log.info("consumer group created", extra={"group": self.group})
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _claim(self) -> None:
        """Handle, one by one, every signal left idle past the claim idle time."""
        start = "0-0"
        while True:
            reply: Any = await self._client.xautoclaim(
                STREAM, self.group, self.name, self._claim_idle_ms, start_id=start, count=1
            )
            start, entries = str(reply[0]), reply[1]
            deleted = reply[2] if len(reply) > 2 else []
            if deleted:
                # Trimmed from the stream while pending: nothing left to act on.
                await self._client.xack(STREAM, self.group, *deleted)
            for entry_id, fields in entries:
                log.info("signal claimed", extra={"signal_id": str(entry_id)})
                await self._handle(str(entry_id), fields, first_delivery=False)
            if start == "0-0":
                return

    async def _handle(
        self, entry_id: str, fields: dict[str, str] | None, *, first_delivery: bool
    ) -> None:
        try:
            signal = SignalRecord.from_fields(entry_id, fields or {})
        except (KeyError, ValueError, ArithmeticError):
            # Not a signal this service wrote: no attempt could ever act on it.
            log.error("unreadable stream entry acknowledged", extra={"signal_id": entry_id})
            await self._client.xack(STREAM, self.group, entry_id)
            return
        await self._work(signal, first_delivery=first_delivery)

    async def _work(
        self, signal: SignalRecord, *, first_delivery: bool, bindings_version: int | None = None
    ) -> None:
        """Hand a signal pending for this consumer to the trader; XACK it once finished."""
        keeper = asyncio.create_task(self._keep_claimed(signal.id))
        try:
            finished = await self._handler(signal, first_delivery, bindings_version)
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
        if finished:
            await self._client.xack(STREAM, self.group, signal.id)

    async def _keep_claimed(self, entry_id: str) -> None:
        """Reset the signal's idle time while this replica works on it, so no other claims it."""
        while True:
            await asyncio.sleep(self._claim_idle_ms / 3000)
            try:
                await self._client.xclaim(STREAM, self.group, self.name, 0, [entry_id], justid=True)
            except STORE_FAILURES as exc:
                log.warning(
                    "signal claim not renewed",
                    extra={"signal_id": entry_id, "error": f"{type(exc).__name__}: {exc}"},
                )
