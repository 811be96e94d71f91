"""RiskService: pre-trade checks, outcome reports, limits, exposure, kill switch, audit trail.

Every handler maps errors in one place (`_answer`): bad input is INVALID_ARGUMENT naming the
field, Redis unreachable is UNAVAILABLE (fail closed: no decision without the shared book).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import grpc
import grpc.aio
import redis.exceptions
from google.protobuf.timestamp_pb2 import Timestamp

from services.common.context import current_request_id, note_outcome_logged
from services.common.interceptor import current_identity
from services.common.logs import log_off_path
from services.common.reservations import (
    ORDER_PREFIX,
    QUOTE_PREFIX,
    order_reservation_id,
    quote_reservation_id,
)
from services.risk.amounts import format_amount, from_units
from services.risk.audit import AuditTrail, parse_query
from services.risk.book import ReservationBook
from services.risk.checks import Decision, PreTradeCheck
from services.risk.errors import (
    InvalidArgument,
    RiskError,
    describe,
    status_of,
)
from services.risk.intents import (
    OrderIntent,
    QuoteIntent,
    amount,
    asset,
    client_order_id,
    parse_order,
    parse_quote,
    quote_id,
    team_name,
)
from services.risk.kill_switch import KillSwitchStore
from services.risk.limits import (
    LimitsInvalid,
    parse_limits,
    proto_to_data,
    render_path,
)
from services.risk.limits_store import LimitsStore
from services.risk.outcomes import OutcomeReport
from trading.risk.v1 import risk_pb2, risk_pb2_grpc

log = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext[Any, Any]
Response = TypeVar("Response")
MAX_REASON = 500
OUTCOMES = {
    risk_pb2.OUTCOME_NOT_SENT: "NOT_SENT",
    risk_pb2.OUTCOME_REJECTED: "REJECTED",
    risk_pb2.OUTCOME_PARTIALLY_FILLED: "PARTIALLY_FILLED",
    risk_pb2.OUTCOME_FILLED: "FILLED",
    risk_pb2.OUTCOME_CANCELED: "CANCELED",
    risk_pb2.OUTCOME_EXPIRED: "EXPIRED",
}


class RiskServicer(risk_pb2_grpc.RiskServiceServicer):
    def __init__(
        self,
        checks: PreTradeCheck,
        limits: LimitsStore,
        book: ReservationBook,
        switches: KillSwitchStore,
        audit: AuditTrail,
    ) -> None:
        self._checks = checks
        self._limits = limits
        self._book = book
        self._switches = switches
        self._audit = audit

    # --- pre-trade checks ---------------------------------------------------------------------

    async def CheckOrder(
        self, request: risk_pb2.CheckOrderRequest, context: Context
    ) -> risk_pb2.CheckOrderResponse:
        async def handle() -> risk_pb2.CheckOrderResponse:
            started = time.perf_counter()
            if not request.HasField("order"):
                raise InvalidArgument("order", "is required")
            order = parse_order(request.order)
            decision = await self._checks.check_order(order)
            _log_decision("order decision", decision, started, _order_fields(order))
            return risk_pb2.CheckOrderResponse(
                **_decision_fields(decision), reservation_grant=decision.grant
            )

        return await _answer(context, handle)

    async def CheckQuote(
        self, request: risk_pb2.CheckQuoteRequest, context: Context
    ) -> risk_pb2.CheckQuoteResponse:
        async def handle() -> risk_pb2.CheckQuoteResponse:
            started = time.perf_counter()
            if not request.HasField("quote"):
                raise InvalidArgument("quote", "is required")
            quote = parse_quote(request.quote)
            decision = await self._checks.check_quote(quote)
            _log_decision("quote decision", decision, started, _quote_fields(quote))
            return risk_pb2.CheckQuoteResponse(**_decision_fields(decision))

        return await _answer(context, handle)

    async def ReportOrderOutcome(
        self, request: risk_pb2.ReportOrderOutcomeRequest, context: Context
    ) -> risk_pb2.ReportOrderOutcomeResponse:
        async def handle() -> risk_pb2.ReportOrderOutcomeResponse:
            reservation_id = _reservation_of(request)
            outcome = OUTCOMES.get(request.outcome)
            if outcome is None:
                raise InvalidArgument("outcome", "is required")
            if request.reservation_grant < 0:
                raise InvalidArgument("reservation_grant", "must not be negative")
            report = OutcomeReport(
                outcome=outcome,
                filled_volume=amount(request.filled_volume, "filled_volume"),
                average_price=amount(request.average_price, "average_price"),
                spend_asset=request.quote_fill.spend_asset,
                spend_amount=amount(request.quote_fill.spend_amount, "quote_fill.spend_amount"),
                receive_asset=request.quote_fill.receive_asset,
                receive_amount=amount(
                    request.quote_fill.receive_amount, "quote_fill.receive_amount"
                ),
                grant=request.reservation_grant,
            )
            result = await self._checks.report(reservation_id, report)
            log.info(
                "outcome",
                extra={
                    "reservation_id": reservation_id,
                    "outcome": outcome,
                    "filled_volume": request.filled_volume,
                    "applied": result.applied,
                    "grant": request.reservation_grant,
                    "reason": request.reason,
                },
            )
            return risk_pb2.ReportOrderOutcomeResponse(
                applied=result.applied,
                remaining_reserved_notional=format_amount(
                    from_units(result.remaining_notional_units)
                ),
            )

        return await _answer(context, handle)

    # --- limits -------------------------------------------------------------------------------

    async def GetLimits(
        self, request: risk_pb2.GetLimitsRequest, context: Context
    ) -> risk_pb2.GetLimitsResponse:
        async def handle() -> risk_pb2.GetLimitsResponse:
            stored = await self._limits.reload()
            return risk_pb2.GetLimitsResponse(limits=stored.to_proto())

        return await _answer(context, handle)

    async def SetLimits(
        self, request: risk_pb2.SetLimitsRequest, context: Context
    ) -> risk_pb2.SetLimitsResponse:
        async def handle() -> risk_pb2.SetLimitsResponse:
            if not request.HasField("limits"):
                raise InvalidArgument("limits", "is required")
            reason = _reason(request.reason)
            try:
                limits = parse_limits(proto_to_data(request.limits))
            except LimitsInvalid as exc:
                raise InvalidArgument(f"limits.{render_path(exc.path)}", exc.problem) from exc
            if request.expected_version < 0:
                raise InvalidArgument("expected_version", "must not be negative")
            caller = current_identity().subject
            change = await self._limits.replace(
                limits, caller, reason, current_request_id() or "", request.expected_version
            )
            log.warning(
                "limits changed",
                extra={
                    "version": change.stored.version,
                    "change_id": change.change_id,
                    "reason": reason,
                },
            )
            return risk_pb2.SetLimitsResponse(
                limits=change.stored.to_proto(), change_id=change.change_id
            )

        return await _answer(context, handle)

    # --- exposure -----------------------------------------------------------------------------

    async def GetExposure(
        self, request: risk_pb2.GetExposureRequest, context: Context
    ) -> risk_pb2.GetExposureResponse:
        async def handle() -> risk_pb2.GetExposureResponse:
            team = team_name(request.team, "team") if request.team else ""
            assets = [asset(a, f"assets[{i}]") for i, a in enumerate(request.assets)]
            limits = (await self._limits.reload()).limits
            now = datetime.now(UTC)
            day = now.date().isoformat()
            response = risk_pb2.GetExposureResponse(
                as_of=_timestamp_ms(int(now.timestamp() * 1000))
            )
            for row in await self._book.assets(assets):
                cap = limits.max_position.get(row.asset)
                response.assets.add(
                    asset=row.asset,
                    position=format_amount(from_units(row.position)),
                    reserved_buy=format_amount(from_units(row.reserved_buy)),
                    reserved_sell=format_amount(from_units(row.reserved_sell)),
                    max_position=_decimal_text(cap),
                )
            for team_row in await self._book.teams(day, team):
                response.teams.add(
                    team=team_row.team,
                    daily_notional_used=format_amount(from_units(team_row.used)),
                    daily_notional_reserved=format_amount(from_units(team_row.reserved)),
                    daily_notional_limit=format_amount(limits.team_daily_limit(team_row.team)),
                    open_orders=team_row.open_orders,
                    day=day,
                )
            return response

        return await _answer(context, handle)

    # --- kill switch --------------------------------------------------------------------------

    async def SetKillSwitch(
        self, request: risk_pb2.SetKillSwitchRequest, context: Context
    ) -> risk_pb2.SetKillSwitchResponse:
        async def handle() -> risk_pb2.SetKillSwitchResponse:
            if request.scope == risk_pb2.KILL_SWITCH_SCOPE_GLOBAL:
                if request.team:
                    raise InvalidArgument("team", "must be empty for scope GLOBAL")
                team = ""
            elif request.scope == risk_pb2.KILL_SWITCH_SCOPE_TEAM:
                team = team_name(request.team, "team")
            else:
                raise InvalidArgument("scope", "is required: GLOBAL or TEAM")
            reason = _reason(request.reason)
            change = await self._switches.set(
                team,
                request.engaged,
                reason,
                current_identity().subject,
                current_request_id() or "",
            )
            log.warning(
                "kill switch engaged" if request.engaged else "kill switch released",
                extra={
                    "scope": change.state.scope,
                    "team": team,
                    "reason": reason,
                    "change_id": change.change_id,
                },
            )
            return risk_pb2.SetKillSwitchResponse(
                state=change.state.to_proto(), change_id=change.change_id
            )

        return await _answer(context, handle)

    async def GetKillSwitch(
        self, request: risk_pb2.GetKillSwitchRequest, context: Context
    ) -> risk_pb2.GetKillSwitchResponse:
        async def handle() -> risk_pb2.GetKillSwitchResponse:
            team = team_name(request.team, "team") if request.team else ""
            global_switch, teams = await self._switches.get_all(team)
            response = risk_pb2.GetKillSwitchResponse(teams=[t.to_proto() for t in teams])
            # `global` is a Python keyword, so the field is reached by name.
            getattr(response, "global").CopyFrom(global_switch.to_proto())
            return response

        return await _answer(context, handle)

    async def ListLimitChanges(
        self, request: risk_pb2.ListLimitChangesRequest, context: Context
    ) -> risk_pb2.ListLimitChangesResponse:
        async def handle() -> risk_pb2.ListLimitChangesResponse:
            changes, token = await self._audit.changes(parse_query(request))
            response = risk_pb2.ListLimitChangesResponse(changes=changes)
            response.page.next_page_token = token
            return response

        return await _answer(context, handle)


async def _answer(context: Context, handle: Callable[[], Awaitable[Response]]) -> Response:
    """Run a handler; risk's and Redis's errors become the status of the one table (errors.py)."""
    try:
        return await handle()
    except (RiskError, redis.exceptions.RedisError) as exc:
        code = status_of(exc) or grpc.StatusCode.INTERNAL
        if code is not grpc.StatusCode.INVALID_ARGUMENT:
            log.warning("rpc failed", extra={"code": code.name, "error": describe(exc)})
        await context.abort(code, describe(exc))
        raise  # abort raises; this line only tells the type checker


def _reservation_of(request: risk_pb2.ReportOrderOutcomeRequest) -> str:
    if request.reservation_id:
        if not request.reservation_id.startswith((ORDER_PREFIX, QUOTE_PREFIX)):
            raise InvalidArgument("reservation_id", "is not an id risk issued")
        return request.reservation_id
    if request.client_order_id:
        return order_reservation_id(client_order_id(request.client_order_id, "client_order_id"))
    if request.quote_id:
        return quote_reservation_id(quote_id(request.quote_id, "quote_id"))
    raise InvalidArgument("reservation_id", "is required (or client_order_id, or quote_id)")


def _reason(text: str) -> str:
    reason = text.strip()
    if not 1 <= len(reason) <= MAX_REASON:
        raise InvalidArgument("reason", f"is required: 1 to {MAX_REASON} characters")
    return reason


def _decimal_text(value: Decimal | None) -> str:
    return "" if value is None else format_amount(value)


def _timestamp_ms(ms: int) -> Timestamp:
    seconds, millis = divmod(ms, 1000)
    return Timestamp(seconds=seconds, nanos=millis * 1_000_000)


def _order_fields(order: OrderIntent) -> dict[str, Any]:
    return {
        "client_order_id": order.client_order_id,
        "team": order.team,
        "pair": order.pair,
        "side": order.side,
        "order_type": order.order_type,
        "volume": format_amount(order.volume),
        "reduce_only": order.reduce_only,
        "dry_run": order.dry_run,
    }


def _quote_fields(quote: QuoteIntent) -> dict[str, Any]:
    return {"quote_id": quote.quote_id, "team": quote.team}


def _log_decision(message: str, decision: Decision, started: float, fields: dict[str, Any]) -> None:
    # Written after the answer has left: the decision is logged, but not on the order's path.
    log_off_path(
        log,
        message,
        {
            **fields,
            "approved": decision.approved,
            "violations": [v.code for v in decision.violations],
            "reservation_id": decision.reservation_id,
            "notional": _decimal_text(decision.notional),
            "limits_version": decision.limits_version,
            "decision_ms": round((time.perf_counter() - started) * 1000, 3),
        },
    )
    note_outcome_logged()


def _decision_fields(decision: Decision) -> dict[str, Any]:
    """The fields CheckOrderResponse and CheckQuoteResponse share."""
    return {
        "approved": decision.approved,
        "reservation_id": decision.reservation_id,
        "violations": [v.to_proto() for v in decision.violations],
        "notional": _decimal_text(decision.notional),
        "limits_version": decision.limits_version,
        **_expiry(decision),
    }


def _expiry(decision: Decision) -> dict[str, Timestamp]:
    if not decision.expire_at_ms:
        return {}
    return {"reservation_expire_time": _timestamp_ms(decision.expire_at_ms)}
