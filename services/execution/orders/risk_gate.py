"""Execution's calls to risk: CheckOrder before sending, ReportOrderOutcome after.

CheckOrder fails closed: risk unreachable, slow (past ``timeout``) or answering with any error
means ``RiskUnavailable`` and nothing is sent. ReportOrderOutcome is best effort with a few quick
retries; when risk stays down the order keeps ``reported_outcome`` behind its status, so the
reconciliation loop reports it again on its next passes, and a report that never arrives lets
the reservation lapse at risk after its TTL (risk's sweeper releases it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import grpc
import grpc.aio

from services.common.calls import CallerCredentials
from services.common.context import current_request_id
from services.execution.orders.model import OrderRecord, Violation
from services.execution.orders.validation import ValidatedOrder, text
from trading.common.v1 import common_pb2
from trading.risk.v1 import risk_pb2, risk_pb2_grpc

logger = logging.getLogger(__name__)

REPORT_ATTEMPTS = 3


class RiskUnavailable(Exception):
    """Risk could not decide: refuse the order, send nothing."""


@dataclass(frozen=True)
class RiskDecision:
    approved: bool
    reservation_id: str
    violations: list[Violation]
    grant: int = 0
    """Orders: which approval of the reservation this is; a NOT_SENT report names it."""


OUTCOME_OF_STATUS: dict[int, int] = {
    common_pb2.ORDER_STATUS_REJECTED: risk_pb2.OUTCOME_REJECTED,
    common_pb2.ORDER_STATUS_FILLED: risk_pb2.OUTCOME_FILLED,
    common_pb2.ORDER_STATUS_CANCELED: risk_pb2.OUTCOME_CANCELED,
    common_pb2.ORDER_STATUS_EXPIRED: risk_pb2.OUTCOME_EXPIRED,
}


def outcome_for(record: OrderRecord) -> int:
    """The outcome risk should know for the order now; 0 when there is nothing to report."""
    outcome = OUTCOME_OF_STATUS.get(record.status)
    if outcome is not None:
        return outcome
    if record.status == common_pb2.ORDER_STATUS_OPEN and Decimal(record.filled_volume or "0") > 0:
        return risk_pb2.OUTCOME_PARTIALLY_FILLED
    return 0


class RiskGate:
    def __init__(self, target: str, credentials: CallerCredentials, timeout: float) -> None:
        self._channel = grpc.aio.insecure_channel(target)
        self._stub = risk_pb2_grpc.RiskServiceStub(self._channel)
        self._credentials = credentials
        self._timeout = timeout

    async def close(self) -> None:
        await self._channel.close(None)

    async def check(
        self, order: ValidatedOrder, *, requested_by: str, reference_price: Decimal | None
    ) -> RiskDecision:
        intent = risk_pb2.OrderIntent(
            client_order_id=order.client_order_id,
            team=order.team,
            requested_by=requested_by,
            request_id=current_request_id() or "",
            pair=order.pair,
            side=order.side,  # type: ignore[arg-type]
            order_type=order.order_type,  # type: ignore[arg-type]
            volume=text(order.volume),
            limit_price=text(order.limit_price),
            stop_price=text(order.stop_price),
            reference_price=text(reference_price),
            reduce_only=order.reduce_only,
            dry_run=order.validate,
        )
        return await self.decide(
            self._stub.CheckOrder(
                risk_pb2.CheckOrderRequest(order=intent),
                timeout=self._timeout,
                metadata=self._credentials.metadata(),
            ),
            "order",
            {"client_order_id": order.client_order_id},
        )

    async def decide(
        self, call: Awaitable[Any], what: str, subject: dict[str, str]
    ) -> RiskDecision:
        """Risk's answer to a CheckOrder or CheckQuote ``call``; ``RiskUnavailable`` (fail closed)
        when risk is unreachable, slow or answers with any error."""
        try:
            reply = await call
        except grpc.aio.AioRpcError as exc:
            logger.warning(
                "risk check failed; refused",
                extra={**subject, "kind": what, "code": exc.code().name},
            )
            raise RiskUnavailable(f"risk could not check the {what} ({exc.code().name})") from exc
        return RiskDecision(
            approved=reply.approved,
            reservation_id=reply.reservation_id,
            violations=[Violation(v.code, v.message, v.field) for v in reply.violations],
            grant=(
                reply.reservation_grant if isinstance(reply, risk_pb2.CheckOrderResponse) else 0
            ),
        )

    async def report(
        self, record: OrderRecord, outcome: int, *, not_sent: bool = False, grant: int = 0
    ) -> bool:
        """Tell risk what became of the order; True once risk acknowledged it. A ``not_sent``
        report names the ``grant`` of the approval it gives back: risk does not apply it once a
        later check of the same order has been approved on the same reservation."""
        if not record.reservation_id:
            return True
        request = risk_pb2.ReportOrderOutcomeRequest(
            reservation_id=record.reservation_id,
            client_order_id=record.client_order_id,
            outcome=risk_pb2.OUTCOME_NOT_SENT if not_sent else outcome,  # type: ignore[arg-type]
            filled_volume=record.filled_volume or "0",
            average_price=record.average_price,
            fee=record.fee,
            fee_asset=record.fee_asset,
            reason=record.status_reason[:500],
            reservation_grant=grant if not_sent else 0,
        )
        acknowledged = await self.send_report(
            request,
            {"client_order_id": record.client_order_id},
            # Nothing risk can apply (never reserved: the check was refused or never arrived; or
            # long closed): stop asking.
            give_up=frozenset({grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND}),
        )
        return acknowledged is not None

    async def send_report(
        self,
        request: risk_pb2.ReportOrderOutcomeRequest,
        subject: dict[str, str],
        give_up: frozenset[grpc.StatusCode] = frozenset({grpc.StatusCode.INVALID_ARGUMENT}),
    ) -> bool | None:
        """ReportOrderOutcome with a few quick retries: True once risk acknowledged it, False when
        risk refused it with a code in ``give_up`` (asking again cannot help), None when risk
        stayed unreachable (the caller asks again later)."""
        for attempt in range(1, REPORT_ATTEMPTS + 1):
            try:
                await self._stub.ReportOrderOutcome(
                    request, timeout=self._timeout, metadata=self._credentials.metadata()
                )
                return True
            except grpc.aio.AioRpcError as exc:
                logger.warning(
                    "risk outcome report failed",
                    extra={**subject, "attempt": attempt, "code": exc.code().name},
                )
                if exc.code() in give_up:
                    return False
                await asyncio.sleep(0.2 * attempt)
        return None
