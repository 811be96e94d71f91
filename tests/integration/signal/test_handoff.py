"""Recording a rule signal on a real Redis delivers it to the recording replica's consumer only
when the group could give it nobody else, and that replica then works on it as the group's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
import redis.asyncio as aioredis

from services.signal.bindings.consumer import SignalConsumer
from services.signal.bindings.handoff import LocalTrading
from services.signal.bindings.store import VERSION
from services.signal.signals.model import RULE_SOURCE, SignalRecord
from services.signal.signals.store import STREAM, SignalStore
from trading.common.v1 import common_pb2

pytestmark = pytest.mark.integration

GROUP = "signal-traders"


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


def store(client: aioredis.Redis) -> SignalStore:
    return SignalStore(client, maxlen=1000, dedupe_ttl=60, block_ms=100)


def rule_signal(event_ms: int) -> SignalRecord:
    return SignalRecord(
        "BTC/USD",
        common_pb2.SIDE_BUY,
        Decimal(1),
        "crossed",
        RULE_SOURCE,
        f"r-1:{event_ms}",
        event_ms,
        Decimal("50000"),
        rule_id="r-1",
    )


class Handled:
    """The consumer's handler: records what it was given, finishes every signal."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bool, int | None]] = []

    async def __call__(self, signal: SignalRecord, first: bool, version: int | None) -> bool:
        self.calls.append((signal.id, first, version))
        return True


async def pending(client: aioredis.Redis) -> list[tuple[str, str]]:
    entries = await client.xpending_range(STREAM, GROUP, min="-", max="+", count=100)
    return [(str(e["message_id"]), str(e["consumer"])) for e in entries]


async def test_a_new_signal_is_delivered_to_the_recording_consumer_when_the_group_is_caught_up(
    client: aioredis.Redis,
) -> None:
    await client.xgroup_create(STREAM, GROUP, id="$", mkstream=True)
    await client.set(VERSION, 7)

    recorded = await store(client).record_for(
        rule_signal(1), group=GROUP, consumer="me", counter=VERSION
    )
    repeat = await store(client).record_for(rule_signal(1), group=GROUP, consumer="me")

    assert (recorded.duplicate, recorded.delivered, recorded.counter) == (False, True, 7)
    assert await pending(client) == [(recorded.signal.id, "me")]
    # Nobody else's ">" read gets it: it was delivered once, to "me".
    assert await client.xreadgroup(GROUP, "other", {STREAM: ">"}, count=10) == []
    assert (repeat.duplicate, repeat.delivered) == (True, False)


async def test_nothing_is_delivered_while_older_entries_wait_for_the_group(
    client: aioredis.Redis,
) -> None:
    await client.xgroup_create(STREAM, GROUP, id="$", mkstream=True)
    waiting = await store(client).record_for(rule_signal(1), group="", consumer="")

    recorded = await store(client).record_for(rule_signal(2), group=GROUP, consumer="me")

    assert recorded.delivered is False
    assert await pending(client) == []
    # The group hands them out in stream order, the older one first.
    reply: Any = await client.xreadgroup(GROUP, "other", {STREAM: ">"}, count=10)
    assert [entry_id for entry_id, _ in reply[0][1]] == [waiting.signal.id, recorded.signal.id]


async def test_without_a_group_the_signal_is_recorded_and_not_delivered(
    client: aioredis.Redis,
) -> None:
    recorded = await store(client).record_for(rule_signal(1), group=GROUP, consumer="me")

    assert (recorded.duplicate, recorded.delivered) == (False, False)
    assert await client.xlen(STREAM) == 1


async def test_a_taken_signal_is_handled_once_and_acknowledged(client: aioredis.Redis) -> None:
    await client.xgroup_create(STREAM, GROUP, id="$", mkstream=True)
    handled = Handled()
    consumer = SignalConsumer(client, handled, group=GROUP, claim_idle_ms=60_000, block_ms=100)
    await client.set(VERSION, 3)

    signal, duplicate = await LocalTrading(store(client), consumer).record(rule_signal(1))
    await consumer.stop(grace=5)  # waits for the signal it took

    assert duplicate is False
    assert handled.calls == [(signal.id, True, 3)]
    assert await pending(client) == []


async def test_a_taken_signal_left_unfinished_stays_pending_for_a_claim(
    client: aioredis.Redis,
) -> None:
    await client.xgroup_create(STREAM, GROUP, id="$", mkstream=True)

    async def unfinished(signal: SignalRecord, first: bool, version: int | None) -> bool:
        return False

    consumer = SignalConsumer(client, unfinished, group=GROUP, claim_idle_ms=60_000, block_ms=100)
    signal, _ = await LocalTrading(store(client), consumer).record(rule_signal(1))
    await consumer.stop(grace=5)
    await asyncio.sleep(0.05)

    claimed = await client.xautoclaim(STREAM, GROUP, "survivor", 0, start_id="0-0")
    assert [entry_id for entry_id, _ in claimed[1]] == [signal.id]
