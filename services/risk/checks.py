"""The pre-trade check: stateless rules, then the reservation script, as one decision.

`PreTradeCheck` is what the servicer calls for CheckOrder, CheckQuote and ReportOrderOutcome;
it knows nothing of gRPC, so the property tests drive it directly against a real Redis.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from services.risk.amounts import format_amount, from_units
from services.risk.book import BookDecision, ReservationBook, ReservationRequest, SettleResult
from services.risk.errors import NotFound, StoreUnavailable
from services.risk.intents import OrderIntent, QuoteIntent
from services.risk.limits import StoredLimits
from services.risk.limits_store import LimitsStore
from services.risk.outcomes import OutcomeReport
from services.risk.rules import (
    CLIENT_ORDER_ID_REUSED,
    Assessment,
    Violation,
    assess_order,
    assess_quote,
    explain_book_failure,
    notional_price,
)

# A check retries with fresh limits when they changed under it; more than this is a storm.
_STALE_RETRIES = 3


@dataclass(frozen=True)
class Decision:
    approved: bool
    reservation_id: str
    violations: list[Violation]
    notional: Decimal | None
    expire_at_ms: int
    limits_version: int
    grant: int = 0
    """Approved with a reservation: which approval of it this is (book.py)."""

    @property
    def codes(self) -> list[str]:
        return [v.code for v in self.violations]


class PreTradeCheck:
    def __init__(self, limits: LimitsStore, book: ReservationBook, reservation_ttl: int) -> None:
        self._limits = limits
        self._book = book
        self._ttl_ms = reservation_ttl * 1000

    async def check_order(self, order: OrderIntent) -> Decision:
        return await self._decide(
            order.reservation_id,
            order.team,
            is_order=True,
            reduce_only=order.reduce_only,
            dry_run=order.dry_run,
            assess=lambda stored: assess_order(order, stored.limits),
            fingerprint=order.fingerprint,
            meta={
                "kind": "order",
                "pair": order.pair,
                "side": order.side,
                "price": format_amount(notional_price(order) or Decimal(0)),
                "requested_by": order.requested_by,
                "request_id": order.request_id,
            },
        )

    async def check_quote(self, quote: QuoteIntent) -> Decision:
        return await self._decide(
            quote.reservation_id,
            quote.team,
            is_order=False,
            reduce_only=False,
            dry_run=quote.dry_run,
            assess=lambda stored: assess_quote(quote, stored.limits),
            meta={
                "kind": "quote",
                "requested_by": quote.requested_by,
                "request_id": quote.request_id,
            },
        )

    async def report(self, reservation_id: str, report: OutcomeReport) -> SettleResult:
        stored = await self._limits.current()
        result = await self._book.settle(reservation_id, report, stored.limits.notional_currency)
        if result is None:
            raise NotFound(
                f"reservation {reservation_id} is unknown: never issued, or closed long ago"
            )
        return result

    async def _decide(
        self,
        reservation_id: str,
        team: str,
        *,
        is_order: bool,
        reduce_only: bool,
        dry_run: bool,
        assess: Callable[[StoredLimits], Assessment],
        meta: dict[str, str],
        fingerprint: str = "",
    ) -> Decision:
        stored = await self._limits.current()
        for _ in range(_STALE_RETRIES):
            assessment = assess(stored)
            now = datetime.now(UTC)
            expire_at_ms = int(now.timestamp() * 1000) + self._ttl_ms
            result = await self._book.check(
                ReservationRequest(
                    reservation_id=reservation_id,
                    team=team,
                    day=now.date().isoformat(),
                    is_order=is_order,
                    legs=assessment.legs,
                    notional=assessment.notional,
                    team_daily_limit=stored.limits.team_daily_limit(team),
                    max_open_orders=stored.limits.max_open_orders if is_order else 0,
                    limits_version=stored.version,
                    expire_at_ms=expire_at_ms,
                    reserve=not dry_run and not assessment.violations,
                    reduce_only=reduce_only,
                    meta=meta,
                    fingerprint=fingerprint,
                )
            )
            if result.status != "STALE":
                return _decision(reservation_id, stored, assessment, result, expire_at_ms)
            stored = await self._limits.reload()
        raise StoreUnavailable("the limits kept changing during the check; retry")


def _decision(
    reservation_id: str,
    stored: StoredLimits,
    assessment: Assessment,
    result: BookDecision,
    expire_at_ms: int,
) -> Decision:
    if result.status == "EXISTS":
        # A repeated check of an approved order: the same decision and reservation.
        return Decision(
            True,
            reservation_id,
            [],
            from_units(result.notional_units),
            result.expire_at_ms,
            result.limits_version,
            result.grant,
        )
    if result.status == "CONFLICT":
        return Decision(
            False,
            "",
            [
                Violation(
                    CLIENT_ORDER_ID_REUSED,
                    "this client_order_id is already reserved for a different order",
                    "client_order_id",
                )
            ],
            assessment.notional,
            0,
            stored.version,
        )
    currency = stored.limits.notional_currency
    violations = assessment.violations + [
        explain_book_failure(f.code, f.subject, f.figures, assessment, currency)
        for f in result.failures
    ]
    reserved = result.status == "RESERVED"
    return Decision(
        approved=not violations,
        reservation_id=reservation_id if reserved else "",
        violations=violations,
        notional=assessment.notional,
        expire_at_ms=expire_at_ms if reserved else 0,
        limits_version=stored.version,
        grant=result.grant if reserved else 0,
    )
