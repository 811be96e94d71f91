"""Placing and cancelling orders: the order path of DESIGN.md, steps 2 to 6.

Placement: validate, claim the client_order_id in Redis (SET NX, before anything is sent), ask
risk, journal CREATED, send AddOrder with ``cl_ord_id``, record the outcome. Nothing is sent when
Redis or risk fails; the claim is then released so the caller may retry with the same id. An
AddOrder whose outcome is unknown leaves the order UNKNOWN for the reconciler, never resent.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from services.common.access import ADMINS, RISK_OFFICERS, SERVICES
from services.common.context import current_request_id
from services.common.identity import Identity
from services.execution.kraken.client import KrakenSpotClient
from services.execution.kraken.errors import (
    InvalidRequestError,
    KeyPermissionError,
    KrakenError,
    MarketStateError,
    OrderNotFoundError,
    OrderRejectedError,
    StateUnavailableError,
    UnrecognizedKrakenError,
)
from services.execution.orders.journal import RELEASED, OrderJournal
from services.execution.orders.model import STAGE_SENDING, STAGE_SENT, OrderRecord
from services.execution.orders.pairs import PairCatalog
from services.execution.orders.reconciler import Reconciler
from services.execution.orders.risk_gate import RiskGate, RiskUnavailable, outcome_for
from services.execution.orders.store import OrderStore, needs_attention
from services.execution.orders.validation import (
    ValidatedOrder,
    owner_team,
    text,
    validate_order,
)
from trading.common.v1 import common_pb2
from trading.execution.v1 import execution_pb2

logger = logging.getLogger(__name__)

# Kraken refused the order itself: the order is REJECTED and its id stays used.
_REFUSALS = (
    OrderRejectedError,
    InvalidRequestError,
    MarketStateError,
    KeyPermissionError,
    UnrecognizedKrakenError,
)
_SEES_ALL_TEAMS = frozenset({RISK_OFFICERS, ADMINS, SERVICES})


class DuplicateOrder(Exception):
    """The client_order_id was used before with different parameters (ALREADY_EXISTS)."""


class OrderNotVisible(Exception):
    """No such order, or not the caller's (NOT_FOUND)."""


def sees_all_teams(identity: Identity) -> bool:
    return bool(identity.groups & _SEES_ALL_TEAMS)


def visible(record: OrderRecord, identity: Identity) -> bool:
    return sees_all_teams(identity) or record.team == identity.subject


class OrderDesk:
    def __init__(
        self,
        kraken: KrakenSpotClient,
        catalog: PairCatalog,
        store: OrderStore,
        journal: OrderJournal,
        risk: RiskGate,
        reconciler: Reconciler,
    ) -> None:
        self._kraken = kraken
        self._catalog = catalog
        self._store = store
        self._journal = journal
        self._risk = risk
        self._reconciler = reconciler

    async def place(
        self, request: execution_pb2.PlaceOrderRequest, identity: Identity
    ) -> tuple[OrderRecord, bool]:
        """The order as recorded, and whether this call replayed an earlier one."""
        team = owner_team(request, identity.subject, SERVICES in identity.groups)
        order = await validate_order(request, self._catalog, team=team)
        if order.validate:
            return await self._dry_run(order, identity), False
        record = self._new_record(order, identity)
        existing = await self._store.claim(record)
        if existing is not None:
            if existing.fingerprint != record.fingerprint:
                raise DuplicateOrder(
                    f"client_order_id {order.client_order_id} was used for a different order"
                )
            logger.info("order replayed", extra={"client_order_id": order.client_order_id})
            return existing, True
        try:
            reference = await self._reference_price(order)
            decision = await self._risk.check(
                order, requested_by=identity.subject, reference_price=reference
            )
        except (RiskUnavailable, KrakenError):
            await self._release(record)
            raise
        if not decision.approved:
            record.violations = decision.violations
            record.set_status(common_pb2.ORDER_STATUS_REJECTED, "risk rejected")
            await self._store.save(record, attention=False)
            await self._journal.append(execution_pb2.ORDER_EVENT_TYPE_REJECTED, record)
            return record, False
        record.reservation_id = decision.reservation_id
        record.stage = STAGE_SENDING
        try:
            await self._store.save(record, attention=True)
            await self._journal.append(execution_pb2.ORDER_EVENT_TYPE_CREATED, record)
        except StateUnavailableError:
            await self._risk.report(record, 0, not_sent=True)
            await self._release(record)
            raise
        return await self._send(order, record), False

    async def _send(self, order: ValidatedOrder, record: OrderRecord) -> OrderRecord:
        try:
            result = await self._kraken.add_order(order.kraken_request())
        except KrakenError as exc:
            if exc.outcome_unknown:
                record.stage = STAGE_SENT
                record.set_status(
                    common_pb2.ORDER_STATUS_UNKNOWN, f"outcome unknown: {exc.message}"
                )
                await self._record(record, execution_pb2.ORDER_EVENT_TYPE_UNKNOWN)
                return record
            if isinstance(exc, _REFUSALS):
                record.stage = STAGE_SENT
                record.set_status(common_pb2.ORDER_STATUS_REJECTED, exc.kraken_error or exc.message)
                await self._record(record, execution_pb2.ORDER_EVENT_TYPE_REJECTED)
                await self._reconciler.report(record)
                return record
            # Certainly not executed (rate limit, Kraken offline, no Redis for nonce or budget).
            await self._risk.report(record, 0, not_sent=True)
            await self._journal_quietly(RELEASED, record)
            await self._release(record)
            raise
        record.stage = STAGE_SENT
        record.txid = str((result.get("txid") or [""])[0])
        record.description = str((result.get("descr") or {}).get("order", ""))
        record.set_status(common_pb2.ORDER_STATUS_OPEN)
        await self._record(record, execution_pb2.ORDER_EVENT_TYPE_OPENED)
        return record

    async def _dry_run(self, order: ValidatedOrder, identity: Identity) -> OrderRecord:
        record = self._new_record(order, identity)
        reference = await self._reference_price(order)
        decision = await self._risk.check(
            order, requested_by=identity.subject, reference_price=reference
        )
        if not decision.approved:
            record.violations = decision.violations
            record.set_status(common_pb2.ORDER_STATUS_REJECTED, "risk rejected")
            return record
        try:
            result = await self._kraken.add_order(order.kraken_request())
        except _REFUSALS as exc:
            record.set_status(common_pb2.ORDER_STATUS_REJECTED, exc.kraken_error or exc.message)
            return record
        record.description = str((result.get("descr") or {}).get("order", ""))
        record.set_status(common_pb2.ORDER_STATUS_VALIDATED)
        return record

    async def cancel(self, record: OrderRecord) -> tuple[OrderRecord, bool]:
        """Cancel one order; the order afterwards and whether Kraken reported it pending."""
        if record.terminal:
            return record, False
        try:
            if record.txid:
                result = await self._kraken.cancel_order(pair=record.kraken_pair, txid=record.txid)
            else:
                result = await self._kraken.cancel_order(
                    pair=record.kraken_pair, cl_ord_id=record.client_order_id
                )
        except OrderNotFoundError:
            result = {}
        pending = bool(result.get("pending"))
        reconciled, _ = await self._reconciler.reconcile(record.client_order_id, force=True)
        return reconciled or record, pending

    async def cancel_all(
        self, identity: Identity, *, team: str, pair: str
    ) -> tuple[int, list[str], list[execution_pb2.CancelFailure]]:
        records = [
            r
            for r in await self._store.many(await self._store.attention())
            if not r.terminal and (team == "*" or r.team == team) and (not pair or r.pair == pair)
        ]
        count = 0
        sent: list[str] = []
        failures: list[execution_pb2.CancelFailure] = []
        for record in records:
            sent.append(record.client_order_id)
            try:
                after, _ = await self.cancel(record)
            except KrakenError as exc:
                failures.append(
                    execution_pb2.CancelFailure(
                        client_order_id=record.client_order_id,
                        error=common_pb2.Violation(
                            code=exc.kraken_error or type(exc).__name__, message=exc.message
                        ),
                    )
                )
                continue
            if after.status == common_pb2.ORDER_STATUS_CANCELED:
                count += 1
        return count, sent, failures

    def _new_record(self, order: ValidatedOrder, identity: Identity) -> OrderRecord:
        return OrderRecord(
            client_order_id=order.client_order_id,
            pair=order.pair,
            kraken_pair=order.rules.kraken_id,
            side=order.side,
            order_type=order.order_type,
            volume=text(order.volume),
            fingerprint=order.fingerprint(),
            team=order.team,
            placed_by=identity.subject,
            request_id=current_request_id() or "",
            time_in_force=order.time_in_force,
            limit_price=text(order.limit_price),
            stop_price=text(order.stop_price),
            post_only=order.post_only,
            reduce_only=order.reduce_only,
            expire_time=order.expire_time,
            binding_id=order.binding_id,
            signal_id=order.signal_id,
            fee_asset=order.rules.quote,
        )

    async def _reference_price(self, order: ValidatedOrder) -> Decimal | None:
        """The last trade price Kraken reports for the pair (risk values the order with it)."""
        ticker: dict[str, Any] = await self._kraken.ticker([order.rules.kraken_id])
        for record in ticker.values():
            last = record.get("c")
            if last:
                price: Decimal = last[0]
                return price
        return None

    async def _record(self, record: OrderRecord, event: int) -> None:
        """Record an outcome after sending. Failing here must not hide what Kraken answered:
        the record stays at stage ``sending`` and the reconciler picks it up after its grace."""
        try:
            await self._store.save(record, attention=needs_attention(record, outcome_for(record)))
            await self._journal.append(event, record)
        except StateUnavailableError:
            logger.error(
                "order outcome not recorded; reconciliation will recover it",
                extra={"client_order_id": record.client_order_id, "status": record.status},
            )

    async def _journal_quietly(self, kind: str, record: OrderRecord) -> None:
        try:
            await self._journal.append(kind, record)
        except StateUnavailableError:
            logger.warning("journal unavailable", extra={"client_order_id": record.client_order_id})

    async def _release(self, record: OrderRecord) -> None:
        try:
            await self._store.release(record.client_order_id)
        except StateUnavailableError:
            # The claim stays at stage ``claimed``; the reconciler frees it after its grace.
            logger.warning(
                "could not release an unsent order's id",
                extra={"client_order_id": record.client_order_id},
            )
