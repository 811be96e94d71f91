"""The trader's decisions on a real Redis, with execution's answers scripted: transient errors
leave the signal for later with the same order, late signals are given up, refusals count
toward pausing the binding.

Execution is a test double here; test_bindings.py runs the same paths against the real one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal

import grpc
import grpc.aio
import pytest
import redis.asyncio as aioredis
import redis.exceptions

from services.signal.bindings.model import PAUSED, Binding, BindingSpec, Sizing, SizingKind
from services.signal.bindings.store import BindingStore, Intent
from services.signal.bindings.trader import AutoTrader, client_order_id
from services.signal.bindings.validation import parse_spec
from services.signal.signals.model import SignalRecord
from trading.common.v1 import common_pb2
from trading.execution.v1 import execution_pb2
from trading.signal.v1 import signal_pb2

pytestmark = pytest.mark.integration

BTC_USD = common_pb2.Pair(
    pair="BTC/USD", base="BTC", quote="USD", volume_decimals=8, price_decimals=1, tick_size="0.1"
)


class ScriptedExecution:
    """Answers PlaceOrder from a script: an order status, or a gRPC error code."""

    def __init__(self, *answers: int | grpc.StatusCode) -> None:
        self.answers = list(answers)
        self.placed: list[execution_pb2.PlaceOrderRequest] = []
        self.balance = Decimal(1000)

    async def place(
        self, request: execution_pb2.PlaceOrderRequest
    ) -> execution_pb2.PlaceOrderResponse:
        self.placed.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, grpc.StatusCode):
            raise grpc.aio.AioRpcError(
                answer, grpc.aio.Metadata(), grpc.aio.Metadata(), "scripted", "scripted"
            )
        order = common_pb2.Order(
            client_order_id=request.client_order_id,
            status=answer,  # type: ignore[arg-type]
            status_reason="EOrder:Insufficient funds",
        )
        return execution_pb2.PlaceOrderResponse(order=order)

    async def pair(self, pair: str) -> common_pb2.Pair:
        return BTC_USD

    async def available(self, asset: str) -> Decimal:
        return self.balance


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[BindingStore]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield BindingStore(client)
    await client.aclose()


async def new_binding(store: BindingStore, sizing: Sizing | None = None) -> Binding:
    request = signal_pb2.CreateBindingRequest(
        name="b",
        signal_source="quant",
        pair="BTC/USD",
        sizing=signal_pb2.SizingPolicy(fixed_volume=signal_pb2.FixedVolume(volume="0.01")),
        order_type=common_pb2.ORDER_TYPE_MARKET,
    )
    if sizing is not None:
        request.sizing.balance_fraction.fraction = str(sizing.value)
    spec = parse_spec(request, binding_id="b-1", team="desk-a", create_ms=1)
    return await store.create(spec, paused=False)


def signal(age_ms: int = 0, price: str = "50000") -> SignalRecord:
    recorded = int(time.time() * 1000) - age_ms
    return SignalRecord(
        "BTC/USD", common_pb2.SIDE_BUY, Decimal(1), "", "quant", "e", 1, Decimal(price)
    ).recorded_as(f"{recorded}-0")


def trader(store: BindingStore, execution: ScriptedExecution, max_failures: int = 3) -> AutoTrader:
    return AutoTrader(store, execution, None, max_failures=max_failures, max_delay_ms=60_000)


async def test_a_transient_error_leaves_the_signal_for_later_with_the_same_order(
    store: BindingStore,
) -> None:
    binding = await new_binding(store, Sizing(SizingKind.BALANCE_FRACTION, Decimal("0.5")))
    execution = ScriptedExecution(grpc.StatusCode.UNAVAILABLE, common_pb2.ORDER_STATUS_FILLED)
    seen = signal()

    first = await trader(store, execution).act(binding, seen)
    execution.balance = Decimal(10)  # the balance moved: the recorded order must not
    second = await trader(store, execution).act(binding, seen)

    assert (first, second) == (False, True)
    assert execution.placed[0] == execution.placed[1]
    assert execution.placed[0].client_order_id == client_order_id("b-1", seen.id)
    assert execution.placed[0].volume == "0.01000000"  # half of 1000 USD at 50000


async def test_a_pending_replay_is_asked_again_until_execution_is_done(
    store: BindingStore,
) -> None:
    binding = await new_binding(store)
    execution = ScriptedExecution(common_pb2.ORDER_STATUS_PENDING, common_pb2.ORDER_STATUS_OPEN)
    seen = signal()

    answers = [await trader(store, execution).act(binding, seen) for _ in range(2)]
    again = await trader(store, execution).act(binding, seen)

    assert answers == [False, True]
    assert again is True
    assert len(execution.placed) == 2  # the finished signal is not placed a third time


async def test_a_signal_past_the_maximum_delay_is_given_up(store: BindingStore) -> None:
    binding = await new_binding(store)
    execution = ScriptedExecution()

    done = await trader(store, execution).act(binding, signal(age_ms=61_000), first_delivery=True)

    stored = await store.get("b-1")
    assert done is True
    assert execution.placed == []
    assert stored is not None
    assert "not traded" in stored.status.last_error
    assert "past the maximum delay" in stored.status.last_error
    assert stored.status.last_client_order_id == ""


@pytest.mark.parametrize(
    ("sizing", "may_exist"),
    [(None, True), (Sizing(SizingKind.BALANCE_FRACTION, Decimal("0.5")), False)],
)
async def test_a_late_redelivery_without_an_intent_says_whether_its_order_may_exist(
    store: BindingStore, sizing: Sizing | None, may_exist: bool
) -> None:
    """A first attempt places a fixed-size order while writing its intent: if it died in
    between, only execution knows whether the order went out, and the outcome says so."""
    binding = await new_binding(store, sizing)
    late = signal(age_ms=61_000)

    done = await trader(store, ScriptedExecution()).act(binding, late)

    stored = await store.get("b-1")
    assert done is True
    assert stored is not None
    if may_exist:
        order_id = client_order_id("b-1", late.id)
        assert stored.status.last_error.endswith(f"order {order_id} may still exist there")
        assert stored.status.last_client_order_id == order_id
    else:
        assert stored.status.last_error.startswith("not traded:")


class ObservedStore(BindingStore):
    """A binding store that notes how many intent claims had answered when PlaceOrder began,
    and can be made to fail its intent claims as a Redis outage would."""

    def __init__(self, client: aioredis.Redis) -> None:
        super().__init__(client)
        self.claims_answered = 0
        self.failing = False

    async def claim_intent(
        self, spec: BindingSpec, signal_id: str, request: execution_pb2.PlaceOrderRequest
    ) -> Intent:
        if self.failing:
            await asyncio.sleep(0.01)
            raise redis.exceptions.ConnectionError("Redis went away")
        claimed = await super().claim_intent(spec, signal_id, request)
        self.claims_answered += 1
        return claimed


class ObservingExecution(ScriptedExecution):
    def __init__(self, store: ObservedStore, *answers: int | grpc.StatusCode) -> None:
        super().__init__(*answers)
        self.store = store
        self.claims_answered_at_place: list[int] = []
        self.finished = 0

    async def place(
        self, request: execution_pb2.PlaceOrderRequest
    ) -> execution_pb2.PlaceOrderResponse:
        self.claims_answered_at_place.append(self.store.claims_answered)
        await asyncio.sleep(0.05)  # longer than the intent claim
        reply = await super().place(request)
        self.finished += 1
        return reply


@pytest.fixture
async def observed(redis_url: str) -> AsyncIterator[ObservedStore]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield ObservedStore(client)
    await client.aclose()


@pytest.mark.parametrize(
    ("sizing", "first_delivery", "overlapped"),
    [
        (None, True, True),
        (None, False, False),  # a redelivery may find an intent: it reads it first
        (Sizing(SizingKind.BALANCE_FRACTION, Decimal("0.5")), True, False),
    ],
)
async def test_a_first_delivery_of_a_fixed_size_order_places_while_writing_its_intent(
    observed: ObservedStore, sizing: Sizing | None, first_delivery: bool, overlapped: bool
) -> None:
    binding = await new_binding(observed, sizing)
    execution = ObservingExecution(observed, common_pb2.ORDER_STATUS_FILLED)
    seen = signal()

    done = await trader(observed, execution).act(binding, seen, first_delivery=first_delivery)

    intent = await observed.intent("b-1", seen.id)
    assert done is True
    assert execution.claims_answered_at_place == [0 if overlapped else 1]
    assert intent is not None
    assert intent.request == execution.placed[0]
    assert intent.outcome == "placed"


async def test_an_intent_that_cannot_be_written_leaves_the_signal_to_a_redelivery(
    observed: ObservedStore,
) -> None:
    """The order in flight is let finish, the signal is not finished, and its redelivery asks
    execution for the very same order, which execution answers from its record."""
    binding = await new_binding(observed)
    execution = ObservingExecution(
        observed, common_pb2.ORDER_STATUS_FILLED, common_pb2.ORDER_STATUS_FILLED
    )
    seen = signal()
    observed.failing = True

    with pytest.raises(redis.exceptions.ConnectionError):
        await trader(observed, execution).act(binding, seen, first_delivery=True)
    first_attempt_finished = execution.finished
    observed.failing = False
    done = await trader(observed, execution).act(binding, seen)

    assert first_attempt_finished == 1
    assert done is True
    assert len(execution.placed) == 2
    assert execution.placed[0] == execution.placed[1]
    assert execution.placed[0].client_order_id == client_order_id("b-1", seen.id)


async def test_refusals_are_final_and_pause_the_binding_at_the_maximum(
    store: BindingStore,
) -> None:
    binding = await new_binding(store)
    execution = ScriptedExecution(
        grpc.StatusCode.INVALID_ARGUMENT, common_pb2.ORDER_STATUS_REJECTED
    )
    signals = [signal(), signal().recorded_as(f"{int(time.time() * 1000)}-1")]

    done = [await trader(store, execution, max_failures=2).act(binding, s) for s in signals]

    stored = await store.get("b-1")
    assert done == [True, True]
    assert stored is not None
    assert stored.status.state == PAUSED
    assert stored.status.failures == 2
    assert stored.status.last_client_order_id == client_order_id("b-1", signals[1].id)
    assert stored.status.pause_reason.startswith("paused by the service after 2 failures")
    assert stored.status.last_error == "order rejected: EOrder:Insufficient funds"


async def test_cached_bindings_are_read_again_after_a_pause_and_only_then(
    store: BindingStore, redis_url: str
) -> None:
    binding = await new_binding(store)
    first = await store.triggered_by(rule_id="", source="quant")
    # Behind the store's back, without a version bump: the cache does not see it.
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    await client.hset(f"signal:binding:{binding.spec.id}", "state", PAUSED)
    await client.aclose()
    cached = await store.triggered_by(rule_id="", source="quant")

    await store.set_state(binding.spec.id, "active", "", 2)
    await store.set_state(binding.spec.id, PAUSED, "by hand", 3)
    after_pause = await store.triggered_by(rule_id="", source="quant")

    assert [b.active for b in first] == [True]
    assert [b.active for b in cached] == [True]
    assert [b.active for b in after_pause] == [False]


async def test_a_binding_created_after_its_trigger_was_cached_is_found(
    store: BindingStore,
) -> None:
    assert await store.triggered_by(rule_id="", source="quant") == []

    binding = await new_binding(store)

    found = await store.triggered_by(rule_id="", source="quant")
    assert [b.spec.id for b in found] == [binding.spec.id]
