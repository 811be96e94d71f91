"""Turning one signal into orders: every binding it triggers places at most one order for it.

For each active binding whose pair, side filter and minimum strength admit the signal, the
trader sizes the order, records it as the binding's intent for the signal (bindings/store.py),
and calls execution.PlaceOrder on behalf of the binding's team with
``client_order_id = uuid5(ORDER_NAMESPACE, "<binding id>:<signal id>")``. Whatever happens to
the process in between, one signal never trades twice on one binding: execution answers a
repeated id with the order it already has.

On a signal's first delivery to a binding whose order depends on the binding and the signal
alone (no cooldown, no balance or live price read), the intent is written while PlaceOrder is
on its way rather than before (`AutoTrader._place_while_claiming`): no earlier attempt exists
to find, and a redelivery after a crash sizes the very same order again.

`handle` answers whether the signal is finished (the consumer then XACKs it): a definite answer
from execution, placed or refused (risk's kill switch, a pair rule), is recorded on the binding
and finishes it; execution unreachable or overloaded, or an order still PENDING there (the replay
of a call a dead replica left in flight), does not, and the signal is delivered again after the
claim idle time, until it is older than the maximum delay and is given up. A binding
whose signals fail ``max_failures`` times in a row pauses itself, saying why.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from decimal import Decimal
from typing import Protocol

import grpc
import grpc.aio

from services.common.loop_turns import let_call_leave
from services.signal.bindings.model import Binding, BindingSpec, SizingKind
from services.signal.bindings.sizing import SizingError, limit_price, order_volume
from services.signal.bindings.store import BindingStore
from services.signal.signals.fields import plain
from services.signal.signals.model import SignalRecord
from trading.common.v1 import common_pb2
from trading.execution.v1 import execution_pb2

log = logging.getLogger(__name__)

# Fixed forever: changing it would change every automated order's client_order_id.
ORDER_NAMESPACE = uuid.UUID("6f1c3f0e-4b5a-5d2e-9c1a-7a7e5b0d2c11")

# Execution could not answer now; the same request may succeed later.
_TRANSIENT = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.CANCELLED,
    }
)


def client_order_id(binding_id: str, signal_id: str) -> str:
    """The one client_order_id a binding may ever use for a signal."""
    return str(uuid.uuid5(ORDER_NAMESPACE, f"{binding_id}:{signal_id}"))


class OrderGateway(Protocol):
    """What the trader needs of execution (bindings/execution.py's ExecutionClient)."""

    async def place(
        self, request: execution_pb2.PlaceOrderRequest
    ) -> execution_pb2.PlaceOrderResponse: ...

    async def pair(self, pair: str) -> common_pb2.Pair: ...

    async def available(self, asset: str) -> Decimal: ...


class PriceSource(Protocol):
    async def last_price(self, pair: str) -> Decimal | None:
        """The pair's last trade price, or None when not known."""
        ...


def skip_reason(binding: Binding, signal: SignalRecord) -> str:
    """Why the binding ignores the signal; "" when it acts on it."""
    spec = binding.spec
    if not binding.active:
        return "binding paused"
    if signal.pair != spec.pair:
        return f"signal pair {signal.pair} is not the binding's {spec.pair}"
    if spec.side_filter and signal.side != spec.side_filter:
        return "side filtered out"
    if signal.strength < spec.min_strength:
        return f"strength {signal.strength} below {spec.min_strength}"
    return ""


class AutoTrader:
    def __init__(
        self,
        store: BindingStore,
        execution: OrderGateway,
        prices: PriceSource | None,
        *,
        max_failures: int,
        max_delay_ms: int,
    ) -> None:
        self._store = store
        self._execution = execution
        self._prices = prices
        self._max_failures = max_failures
        self._max_delay_ms = max_delay_ms

    async def handle(
        self,
        signal: SignalRecord,
        first_delivery: bool = False,
        bindings_version: int | None = None,
    ) -> bool:
        """Act on a signal for every binding it triggers; True when it is finished.

        ``first_delivery``: no attempt at this signal can have been made (the consumer group
        delivers it for the first time), so no binding has an intent for it yet.
        ``bindings_version``: the bindings' version read when the signal was recorded, if known.
        """
        bindings = await self._store.triggered_by(
            rule_id=signal.rule_id, source=signal.source, version=bindings_version
        )
        finished = True
        for binding in bindings:
            finished = await self.act(binding, signal, first_delivery) and finished
        return finished

    async def act(
        self, binding: Binding, signal: SignalRecord, first_delivery: bool = False
    ) -> bool:
        """One binding on one signal; True when done with it, False to try again later."""
        spec = binding.spec
        skip = skip_reason(binding, signal)
        if skip:
            log.info("signal skipped", extra=_fields(spec, signal, reason=skip))
            return True
        # An intent exists only if an earlier delivery got this far; claim_intent would still
        # answer it, but a redelivery must not size (or give up) before seeing its outcome.
        intent = None if first_delivery else await self._store.intent(spec.id, signal.id)
        if intent is not None and intent.outcome:
            return True
        request = intent.request if intent is not None else None
        if await self._too_late(spec, signal, request, first_delivery):
            return True
        placing: asyncio.Future[execution_pb2.PlaceOrderResponse] | None = None
        if request is None:
            try:
                request = await self._order_for(spec, signal)
            except SizingError as exc:
                await self._finish(spec, signal, "", f"not traded: {exc}")
                return True
            except grpc.aio.AioRpcError as exc:
                return await self._execution_failed(spec, signal, "", exc)
            if first_delivery and _sized_alike_every_time(spec, signal):
                placing = await self._place_while_claiming(spec, signal, request)
            else:
                claimed = await self._store.claim_intent(spec, signal.id, request)
                if claimed.in_cooldown:
                    log.info("signal skipped", extra=_fields(spec, signal, reason="cooldown"))
                    return True
                if claimed.outcome or claimed.request is None:
                    return True
                request = claimed.request
        try:
            reply = await (self._execution.place(request) if placing is None else placing)
        except grpc.aio.AioRpcError as exc:
            return await self._execution_failed(spec, signal, request.client_order_id, exc)
        order = reply.order
        if order.status == common_pb2.ORDER_STATUS_PENDING:
            # A replay of a call still in flight (a replica died inside PlaceOrder): execution
            # has not finished with it yet, so neither have we. Asked again after the claim time.
            log.info(
                "order still pending at execution; will ask again",
                extra=_fields(spec, signal, client_order_id=order.client_order_id),
            )
            return False
        error = ""
        if order.status == common_pb2.ORDER_STATUS_REJECTED:
            reasons = [v.code for v in order.violations] or [order.status_reason or "no reason"]
            error = f"order rejected: {', '.join(reasons)}"
        await self._finish(spec, signal, order.client_order_id, error, order=order)
        return True

    async def _place_while_claiming(
        self, spec: BindingSpec, signal: SignalRecord, request: execution_pb2.PlaceOrderRequest
    ) -> asyncio.Future[execution_pb2.PlaceOrderResponse]:
        """Send PlaceOrder and record the intent at once; the reply once the intent is written.

        Only for a signal's first delivery on a binding without a cooldown: no earlier attempt
        exists, so the claim can only answer "new", and the write is not a decision but the
        record a redelivery replays. Should this replica die before the write, a redelivery
        sizes the order again from the same signal alone (`_sized_alike_every_time`), so it
        asks for the same order under the same client_order_id and execution answers with the
        one already placed. An order is never sent twice either way: the id decides that.
        """
        placing = asyncio.ensure_future(self._execution.place(request))
        try:
            # PlaceOrder leaves first; the intent is packed and written while it travels.
            await let_call_leave()
            claimed = await self._store.claim_intent(spec, signal.id, request)
        except BaseException:
            # The intent is not written: the signal stays pending and is delivered again. The
            # order in flight is left to finish, so that redelivery finds it at execution.
            await asyncio.wait([placing])
            if not placing.cancelled():
                placing.exception()
            raise
        if claimed.request != request:
            log.error(
                "intent of a first delivery was already recorded",
                extra=_fields(spec, signal, outcome=claimed.outcome),
            )
        return placing

    async def _too_late(
        self,
        spec: BindingSpec,
        signal: SignalRecord,
        request: execution_pb2.PlaceOrderRequest | None,
        first_delivery: bool,
    ) -> bool:
        """Give up a signal older than the maximum delay: a late order is worse than none."""
        age_ms = int(time.time() * 1000) - signal.recorded_ms
        if age_ms <= self._max_delay_ms:
            return False
        if request is None and (first_delivery or not _sized_alike_every_time(spec, signal)):
            error = f"not traded: signal is {age_ms} ms old, past the maximum delay"
            await self._finish(spec, signal, "", error)
            return True
        # A first attempt may have sent its order before writing the intent
        # (`_place_while_claiming`), so only execution knows whether this id was used.
        order_id = (
            client_order_id(spec.id, signal.id) if request is None else request.client_order_id
        )
        error = (
            f"gave up after {age_ms} ms without a definite answer from execution; "
            f"order {order_id} may still exist there"
        )
        await self._finish(spec, signal, order_id, error)
        return True

    async def _order_for(
        self, spec: BindingSpec, signal: SignalRecord
    ) -> execution_pb2.PlaceOrderRequest:
        pair = await self._execution.pair(spec.pair)
        price = signal.price
        if price is None and self._prices is not None:
            price = await self._prices.last_price(spec.pair)
        available = None
        if spec.sizing.kind is SizingKind.BALANCE_FRACTION:
            asset = pair.quote if signal.side == common_pb2.SIDE_BUY else pair.base
            available = await self._execution.available(asset)
        volume = order_volume(
            spec.sizing,
            signal.side,
            price=price,
            available=available,
            volume_decimals=pair.volume_decimals,
        )
        limit = ""
        if spec.order_type == common_pb2.ORDER_TYPE_LIMIT:
            if price is None:
                raise SizingError("no market price to set the limit price from")
            tick = (
                Decimal(pair.tick_size)
                if pair.tick_size
                else Decimal(1).scaleb(-pair.price_decimals)
            )
            limit = plain(
                limit_price(signal.side, price, offset_bps=spec.limit_offset_bps, tick_size=tick)
            )
        return execution_pb2.PlaceOrderRequest(
            client_order_id=client_order_id(spec.id, signal.id),
            pair=spec.pair,
            side=signal.side,
            order_type=spec.order_type,
            volume=plain(volume),
            limit_price=limit,
            time_in_force=spec.time_in_force,
            validate=spec.dry_run,
            on_behalf_of=spec.team,
            binding_id=spec.id,
            signal_id=signal.id,
        )

    async def _execution_failed(
        self, spec: BindingSpec, signal: SignalRecord, order_id: str, exc: grpc.aio.AioRpcError
    ) -> bool:
        code = exc.code()
        if code in _TRANSIENT:
            log.warning(
                "execution did not answer; signal will be retried",
                extra=_fields(spec, signal, code=code.name, error=exc.details()),
            )
            return False
        error = f"execution refused: {code.name}: {exc.details()}"
        await self._finish(spec, signal, order_id, error)
        return True

    async def _finish(
        self,
        spec: BindingSpec,
        signal: SignalRecord,
        order_id: str,
        error: str,
        *,
        order: common_pb2.Order | None = None,
    ) -> None:
        """Record a definite outcome on the intent and on the binding."""
        await self._store.finish_intent(spec.id, signal.id, error or "placed")
        paused = await self._store.record_outcome(
            spec.id,
            signal.id,
            client_order_id=order_id,
            error=error,
            now_ms=int(time.time() * 1000),
            max_failures=self._max_failures,
        )
        status = "" if order is None else common_pb2.OrderStatus.Name(order.status)
        extra = _fields(spec, signal, client_order_id=order_id, status=status, error=error)
        if error:
            log.warning("binding signal failed", extra=extra)
        else:
            log.info("binding order placed", extra=extra)
        if paused:
            log.warning("binding paused after repeated failures", extra=extra)


def _sized_alike_every_time(spec: BindingSpec, signal: SignalRecord) -> bool:
    """Whether the order depends on the binding and the signal alone: no cooldown to decide,
    no balance and no live price read, so sizing again later asks for the same order."""
    return (
        spec.cooldown_ms == 0
        and spec.sizing.kind is not SizingKind.BALANCE_FRACTION
        and signal.price is not None
    )


def _fields(spec: BindingSpec, signal: SignalRecord, **more: object) -> dict[str, object]:
    return {"binding_id": spec.id, "signal_id": signal.id, "pair": signal.pair, **more}
