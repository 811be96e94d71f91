"""SignalService: external signals, the signal stream, rules and automated-trading bindings.

Errors map in one place (`_answer`, and `_abort` for streams): bad input is INVALID_ARGUMENT
naming the field, Redis unreachable is UNAVAILABLE (fail closed: nothing is recorded or traded
without the shared store). GetTicker and StreamTickers read market data from Redis, so any
replica answers whichever one owns the feed.

Visibility: rules and signals are shared by every team. A binding trades for the team that
created it: its team sees and changes it; risk officers see and pause every binding; admins
may do anything.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import grpc
import grpc.aio

from services.common.access import ADMINS, RISK_OFFICERS
from services.common.identity import Identity
from services.common.interceptor import current_identity
from services.signal.bindings.model import ACTIVE, PAUSED, Binding, state_name
from services.signal.bindings.validation import identifier, parse_spec
from services.signal.market.proto import ticker_message, ticker_update_message
from services.signal.rules.model import (
    Breakout,
    MovingAverageCross,
    RsiBounds,
    Rule,
    interval_minutes,
)
from services.signal.rules.validation import parse_create
from services.signal.runtime import SignalRuntime
from services.signal.signals import fields
from services.signal.signals.errors import (
    STORE_FAILURES,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    SignalError,
    describe,
    status_of,
)
from services.signal.signals.validation import parse_publish, parse_stream
from trading.common.v1 import common_pb2
from trading.signal.v1 import signal_pb2, signal_pb2_grpc

if TYPE_CHECKING:
    Context = grpc.aio.ServicerContext[Any, Any]
else:
    Context = grpc.aio.ServicerContext

log = logging.getLogger(__name__)

Response = TypeVar("Response")
Item = TypeVar("Item")

DEFAULT_PAGE = 50
MAX_PAGE = 500
MAX_REASON = 500
_ANSWERED = (SignalError, *STORE_FAILURES)
# The request field that names a candle rule's interval.
_INTERVAL_FIELDS: dict[type, str] = {
    MovingAverageCross: "moving_average_cross.interval",
    Breakout: "breakout.interval",
    RsiBounds: "rsi.interval",
}


class SignalServicer(signal_pb2_grpc.SignalServiceServicer):
    def __init__(self, runtime: SignalRuntime) -> None:
        self._rules = runtime.rules
        self._signals = runtime.signals
        self._bindings = runtime.bindings
        self._market = runtime.market
        self._pairs = runtime.settings.market().pairs
        self._intervals = runtime.settings.market().ohlc_intervals

    async def GetTicker(
        self, request: signal_pb2.GetTickerRequest, context: Context
    ) -> signal_pb2.GetTickerResponse:
        pair = request.pair.upper()
        if pair not in self._pairs:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"pair: {request.pair!r} is not followed (SIGNAL_PAIRS: {', '.join(self._pairs)})",
            )
        ticker = await self._market.latest_ticker(pair)
        if ticker is None:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"no ticker for {pair} yet")
        assert ticker is not None  # noqa: S101 - abort raised otherwise
        return signal_pb2.GetTickerResponse(ticker=ticker_message(ticker))

    async def StreamTickers(
        self, request: signal_pb2.StreamTickersRequest, context: Context
    ) -> AsyncIterator[signal_pb2.TickerUpdate]:
        pairs = [p.upper() for p in request.pairs] or list(self._pairs)
        unknown = [p for p in pairs if p not in self._pairs]
        if unknown:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"pairs: {', '.join(unknown)} not followed"
            )
        async for update in self._market.ticker_updates(pairs):
            yield ticker_update_message(update)

    # --- signals ------------------------------------------------------------------------------

    async def PublishSignal(
        self, request: signal_pb2.PublishSignalRequest, context: Context
    ) -> signal_pb2.PublishSignalResponse:
        async def handle() -> signal_pb2.PublishSignalResponse:
            signal = parse_publish(request, publisher=current_identity().subject, now_ms=_now_ms())
            recorded, duplicate = await self._signals.record(signal)
            return signal_pb2.PublishSignalResponse(signal=recorded.to_proto(), duplicate=duplicate)

        return await _answer(context, handle)

    async def StreamSignals(
        self, request: signal_pb2.StreamSignalsRequest, context: Context
    ) -> AsyncIterator[signal_pb2.Signal]:
        try:
            after, wanted = parse_stream(request)
            start = await self._signals.start_point(after)
        except _ANSWERED as exc:
            await _abort(context, exc)
        try:
            async for signal in self._signals.follow(start, wanted):
                yield signal.to_proto()
        except STORE_FAILURES as exc:
            await _abort(context, exc)

    # --- rules --------------------------------------------------------------------------------

    async def CreateRule(
        self, request: signal_pb2.CreateRuleRequest, context: Context
    ) -> signal_pb2.CreateRuleResponse:
        async def handle() -> signal_pb2.CreateRuleResponse:
            rule = parse_create(
                request,
                rule_id=str(uuid.uuid4()),
                team=current_identity().subject,
                now_ms=_now_ms(),
            )
            self._check_followed(rule)
            await self._rules.create(rule)
            return signal_pb2.CreateRuleResponse(rule=rule.to_proto())

        return await _answer(context, handle)

    def _check_followed(self, rule: Rule) -> None:
        """A rule on market data this service does not follow would never fire: refuse it."""
        if rule.pair not in self._pairs:
            raise InvalidArgument(
                "pair",
                f"{rule.pair} is not followed here; SIGNAL_PAIRS is {', '.join(self._pairs)}",
            )
        minutes = interval_minutes(rule.kind)
        if minutes is not None and minutes not in self._intervals:
            field = _INTERVAL_FIELDS[type(rule.kind)]
            followed = ", ".join(str(i) for i in self._intervals)
            raise InvalidArgument(
                field,
                f"{minutes}-minute candles are not followed; SIGNAL_OHLC_INTERVALS is {followed}",
            )

    async def ListRules(
        self, request: signal_pb2.ListRulesRequest, context: Context
    ) -> signal_pb2.ListRulesResponse:
        async def handle() -> signal_pb2.ListRulesResponse:
            pair = fields.pair(request.pair) if request.pair else ""
            rules = [r for r in await self._rules.all() if not pair or r.pair == pair]
            page, token = _page(rules, request.page)
            return signal_pb2.ListRulesResponse(
                rules=[r.to_proto() for r in page],
                page=common_pb2.PageResponse(next_page_token=token),
            )

        return await _answer(context, handle)

    async def DeleteRule(
        self, request: signal_pb2.DeleteRuleRequest, context: Context
    ) -> signal_pb2.DeleteRuleResponse:
        async def handle() -> signal_pb2.DeleteRuleResponse:
            rule_id = identifier(request.rule_id, "rule_id")
            rule = await self._rules.get(rule_id)
            if rule is None:
                raise NotFound(f"no rule {rule_id}")
            identity = current_identity()
            if rule.team != identity.subject and ADMINS not in identity.groups:
                raise PermissionDenied(f"rule {rule_id} belongs to {rule.team}")
            await self._rules.delete(rule_id)
            return signal_pb2.DeleteRuleResponse()

        return await _answer(context, handle)

    # --- bindings -----------------------------------------------------------------------------

    async def CreateBinding(
        self, request: signal_pb2.CreateBindingRequest, context: Context
    ) -> signal_pb2.CreateBindingResponse:
        async def handle() -> signal_pb2.CreateBindingResponse:
            spec = parse_spec(
                request,
                binding_id=str(uuid.uuid4()),
                team=current_identity().subject,
                create_ms=_now_ms(),
            )
            if spec.rule_id:
                rule = await self._rules.get(spec.rule_id)
                if rule is None:
                    raise InvalidArgument("rule_id", f"no rule {spec.rule_id}")
                if rule.pair != spec.pair:
                    raise InvalidArgument("pair", f"must be the rule's pair {rule.pair}")
            binding = await self._bindings.create(spec, paused=request.start_paused)
            return signal_pb2.CreateBindingResponse(binding=binding.to_proto())

        return await _answer(context, handle)

    async def ListBindings(
        self, request: signal_pb2.ListBindingsRequest, context: Context
    ) -> signal_pb2.ListBindingsResponse:
        async def handle() -> signal_pb2.ListBindingsResponse:
            pair = fields.pair(request.pair) if request.pair else ""
            if request.state and not state_name(request.state):
                raise InvalidArgument("state", f"unknown state {request.state}")
            state = state_name(request.state)
            identity = current_identity()
            bindings = [
                b
                for b in await self._bindings.all()
                if _sees(identity, b)
                and (not pair or b.spec.pair == pair)
                and (not state or b.status.state == state)
            ]
            page, token = _page(bindings, request.page)
            return signal_pb2.ListBindingsResponse(
                bindings=[b.to_proto() for b in page],
                page=common_pb2.PageResponse(next_page_token=token),
            )

        return await _answer(context, handle)

    async def PauseBinding(
        self, request: signal_pb2.PauseBindingRequest, context: Context
    ) -> signal_pb2.PauseBindingResponse:
        async def handle() -> signal_pb2.PauseBindingResponse:
            identity = current_identity()
            if len(request.reason) > MAX_REASON:
                raise InvalidArgument("reason", f"must be at most {MAX_REASON} characters")
            binding = await self._visible(request.binding_id, identity)
            if binding.active:
                reason = request.reason.strip() or f"paused by {identity.subject}"
                binding = await self._bindings.set_state(binding.spec.id, PAUSED, reason, _now_ms())
            return signal_pb2.PauseBindingResponse(binding=binding.to_proto())

        return await _answer(context, handle)

    async def ResumeBinding(
        self, request: signal_pb2.ResumeBindingRequest, context: Context
    ) -> signal_pb2.ResumeBindingResponse:
        async def handle() -> signal_pb2.ResumeBindingResponse:
            identity = current_identity()
            binding = await self._changeable(request.binding_id, identity)
            if not binding.active:
                binding = await self._bindings.set_state(binding.spec.id, ACTIVE, "", _now_ms())
            return signal_pb2.ResumeBindingResponse(binding=binding.to_proto())

        return await _answer(context, handle)

    async def DeleteBinding(
        self, request: signal_pb2.DeleteBindingRequest, context: Context
    ) -> signal_pb2.DeleteBindingResponse:
        async def handle() -> signal_pb2.DeleteBindingResponse:
            binding = await self._changeable(request.binding_id, current_identity())
            await self._bindings.delete(binding)
            return signal_pb2.DeleteBindingResponse()

        return await _answer(context, handle)

    async def _visible(self, binding_id: str, identity: Identity) -> Binding:
        """The binding if the caller may see it; NOT_FOUND otherwise, as if it did not exist."""
        binding_id = identifier(binding_id, "binding_id")
        binding = await self._bindings.get(binding_id)
        if binding is None or not _sees(identity, binding):
            raise NotFound(f"no binding {binding_id}")
        return binding

    async def _changeable(self, binding_id: str, identity: Identity) -> Binding:
        """The binding if the caller may resume or delete it: its own team's, or an admin."""
        binding = await self._visible(binding_id, identity)
        if binding.spec.team != identity.subject and ADMINS not in identity.groups:
            raise PermissionDenied(
                f"binding {binding.spec.id} belongs to {binding.spec.team}; risk officers may "
                "only pause it"
            )
        return binding


def _sees(identity: Identity, binding: Binding) -> bool:
    return binding.spec.team == identity.subject or bool(identity.groups & {RISK_OFFICERS, ADMINS})


def _page(items: Sequence[Item], page: common_pb2.PageRequest) -> tuple[Sequence[Item], str]:
    """One page of ``items``; the token of the next page is the offset, empty on the last."""
    token = page.page_token
    if token and not token.isdigit():
        raise InvalidArgument("page.page_token", "is not a token from a previous response")
    if page.page_size < 0:
        raise InvalidArgument("page.page_size", "must not be negative")
    size = min(page.page_size or DEFAULT_PAGE, MAX_PAGE)
    offset = int(token or 0)
    chosen = items[offset : offset + size]
    return chosen, str(offset + size) if offset + size < len(items) else ""


def _now_ms() -> int:
    return int(time.time() * 1000)


async def _answer(context: Context, handle: Callable[[], Awaitable[Response]]) -> Response:
    """Run a handler; signal's and Redis's errors become the status of the one table."""
    try:
        return await handle()
    except _ANSWERED as exc:
        await _abort(context, exc)


async def _abort(context: Context, exc: BaseException) -> NoReturn:
    code = status_of(exc) or grpc.StatusCode.INTERNAL
    if code is not grpc.StatusCode.INVALID_ARGUMENT:
        log.warning("rpc failed", extra={"code": code.name, "error": describe(exc)})
    await context.abort(code, describe(exc))
    raise AssertionError("unreachable: abort raises")  # pragma: no cover
