"""Execution's calls to risk for quotes: CheckQuote (a dry run when the quote is requested, a
reservation just before it is executed) and ReportOrderOutcome when it ends.

Like orders, the check fails closed: risk unreachable or slow means ``RiskUnavailable`` and
nothing is executed. Reports are best effort; the poller repeats them until risk acknowledges.
"""

from __future__ import annotations

import logging

import grpc
import grpc.aio

from services.common.context import current_request_id
from services.execution.embed.model import QuoteRecord
from services.execution.orders.risk_gate import RiskDecision, RiskGate
from trading.execution.v1 import execution_pb2
from trading.risk.v1 import risk_pb2

logger = logging.getLogger(__name__)

OUTCOME_OF_STATUS: dict[int, int] = {
    execution_pb2.QUOTE_STATUS_CREDIT_TRANSFER_COMPLETE: risk_pb2.OUTCOME_FILLED,
    execution_pb2.QUOTE_STATUS_CANCELLED: risk_pb2.OUTCOME_CANCELED,
    execution_pb2.QUOTE_STATUS_EXECUTION_FAILED: risk_pb2.OUTCOME_REJECTED,
    execution_pb2.QUOTE_STATUS_EXPIRED: risk_pb2.OUTCOME_EXPIRED,
    execution_pb2.QUOTE_STATUS_REJECTED: risk_pb2.OUTCOME_REJECTED,
}


class QuoteRiskGate(RiskGate):
    """The order risk gate's channel and report retries, with the quote messages."""

    async def check_quote(self, record: QuoteRecord, *, dry_run: bool) -> RiskDecision:
        intent = risk_pb2.QuoteIntent(
            quote_id=record.quote_id,
            client_quote_id=record.client_quote_id,
            team=record.team,
            requested_by=record.requested_by,
            request_id=current_request_id() or record.request_id,
            user=record.user,
            spend_asset=record.spend.asset,
            spend_amount=record.spend.total,
            receive_asset=record.receive.asset,
            receive_amount=record.receive.total,
            dry_run=dry_run,
        )
        return await self.decide(
            self._stub.CheckQuote(
                risk_pb2.CheckQuoteRequest(quote=intent),
                timeout=self._timeout,
                metadata=self._credentials.metadata(),
            ),
            "quote",
            {"quote_id": record.quote_id},
        )

    async def report_quote(self, record: QuoteRecord) -> int:
        """Tell risk how the quote ended; the outcome acknowledged, 0 when not (yet)."""
        outcome = OUTCOME_OF_STATUS.get(record.status)
        if not record.reservation_id or outcome is None:
            return 0
        request = risk_pb2.ReportOrderOutcomeRequest(
            reservation_id=record.reservation_id,
            quote_id=record.quote_id,
            outcome=outcome,  # type: ignore[arg-type]
            reason=record.status_reason[:500],
        )
        if outcome == risk_pb2.OUTCOME_FILLED:
            request.quote_fill.CopyFrom(
                risk_pb2.QuoteFill(
                    spend_asset=record.spend.asset,
                    spend_amount=record.spend.total,
                    receive_asset=record.receive.asset,
                    receive_amount=record.receive.total,
                )
            )
        settled = await self.send_report(
            request,
            {"quote_id": record.quote_id},
            # Nothing risk can apply (e.g. the reservation already lapsed): stop asking.
            give_up=frozenset({grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND}),
        )
        return 0 if settled is None else outcome
