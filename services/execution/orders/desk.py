"""Placing and cancelling orders: the order path of DESIGN.md, steps 2 to 6.

Placement: validate; claim the client_order_id in Redis (SET NX, journal CREATED) and ask risk,
both at once; take the trading budget and nonce while risk decides; send AddOrder with
``cl_ord_id`` once both the claim and the approval are in; record the outcome. The claim stores
the order at stage ``sending`` with the reservation an approval carries, so placement that dies
after sending leaves an order reconciliation looks up by ``cl_ord_id``. Nothing is sent when
Redis or risk fails; the claim is then released so the caller may retry with the same id. An
AddOrder whose outcome is unknown leaves the order UNKNOWN for the reconciler, never resent.
An order is sent at most half a grace after its claim, with a Kraken ``deadline`` that ends
before the grace does (orders/deadline.py), so none can trade after reconciliation called it
not found.

Every write is a compare-and-set (``OrderStore``): when reconciliation recorded Kraken's view of
an order while its AddOrder answer was on the way, that view (newer) is kept and the answer only
fills in what is missing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from services.common.access import ADMINS, RISK_OFFICERS, SERVICES
from services.common.context import current_request_id
from services.common.identity import Identity
from services.common.loop_turns import let_call_leave
from services.common.reservations import order_reservation_id
from services.execution.kraken.client import KrakenSpotClient, PreparedSend
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
from services.execution.kraken.orders import OrderRequest
from services.execution.orders.deadline import deadline_at, deadline_seconds
from services.execution.orders.journal import RELEASED, OrderJournal
from services.execution.orders.model import (
    STAGE_CLAIMED,
    STAGE_SENDING,
    STAGE_SENT,
    OrderRecord,
    Status,
    Violation,
    now_ms,
)
from services.execution.orders.pairs import PairCatalog
from services.execution.orders.reconciler import Reconciler
from services.execution.orders.reference import ReferencePrices
from services.execution.orders.risk_gate import (
    RiskDecision,
    RiskGate,
    RiskUnavailable,
    outcome_for,
)
from services.execution.orders.store import OrderStore, StaleRecord, needs_attention
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
_AGE_MARGIN = 1.0


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
        self._prices = ReferencePrices(kraken)
        self._deadline_s = deadline_seconds(reconciler.grace)

    async def place(
        self, request: execution_pb2.PlaceOrderRequest, identity: Identity
    ) -> tuple[OrderRecord, bool]:
        """The order as recorded, and whether this call replayed an earlier one."""
        team = owner_team(request, identity.subject, SERVICES in identity.groups)
        order = await validate_order(request, self._catalog, team=team)
        if order.validate:
            return await self._dry_run(order, identity), False
        # The id is claimed and risk is asked at once (DESIGN.md steps 3 and 4); nothing is sent
        # before both have answered. Risk's answer is the longer wait, so its call leaves first
        # and the claim is prepared while it travels. The claim records the order as possibly
        # sent, with the reservation an approval carries: if placement dies after sending,
        # reconciliation finds the order by cl_ord_id and reports its outcome; the id is never
        # freed for a second send.
        checking = asyncio.ensure_future(self._check(order, identity))
        try:
            await let_call_leave()
            record = self._new_record(order, identity)
            record.stage = STAGE_SENDING
            record.reservation_id = order_reservation_id(order.client_order_id)
            existing = await self._store.claim(record, event=execution_pb2.ORDER_EVENT_TYPE_CREATED)
        except BaseException:
            # The reservation risk may make for this call lapses at risk after its TTL: with no
            # answer from the store, this call cannot know whose it is.
            _abandon(checking)
            raise
        if existing is not None:
            return await self._replayed(existing, record, checking), True
        # The trading budget (and in window mode the nonce) is taken while risk decides: a
        # budget taken for an order not sent only over-counts, a nonce not used leaves a gap.
        preparing = asyncio.ensure_future(self._kraken.prepare_add_order(order.rules.kraken_id))
        try:
            add_order = order.kraken_request()  # built while risk decides; the deadline later
            decision = await checking
        except (RiskUnavailable, KrakenError):
            _abandon(preparing)
            await self._journal_quietly(RELEASED, record)
            await self._release(record)
            raise
        except BaseException:
            _abandon(preparing)
            raise
        if not decision.approved:
            _abandon(preparing)
            return await self._refused(record, decision.violations), False
        try:
            prepared = await preparing
        except KrakenError:
            await self._not_sent(record, decision.grant)
            raise
        if decision.reservation_id != record.reservation_id:
            await self._not_sent(record, decision.grant)
            raise RiskUnavailable(
                f"risk approved reservation {decision.reservation_id!r}, "
                f"expected {record.reservation_id!r}: not sent"
            )
        if now_ms() - record.created_ms > self._reconciler.grace * 1000 / 2:
            # Reconciliation looks the order up after its grace; an order sent that late could
            # arrive at Kraken after it was recorded as not found.
            await self._not_sent(record, decision.grant)
            raise StateUnavailableError(
                f"placing order {record.client_order_id} took too long; nothing was sent, retry it"
            )
        if self._deadline_s is not None:
            add_order = replace(add_order, deadline=deadline_at(time.time(), self._deadline_s))
        return await self._send(add_order, record, prepared, decision.grant), False

    async def _check(self, order: ValidatedOrder, identity: Identity) -> RiskDecision:
        reference = await self._reference_price(order)
        return await self._risk.check(
            order, requested_by=identity.subject, reference_price=reference
        )

    async def _replayed(
        self, existing: OrderRecord, record: OrderRecord, checking: asyncio.Future[RiskDecision]
    ) -> OrderRecord:
        """The order an earlier call placed with this id, once this call's risk check is over."""
        try:
            decision: RiskDecision | None = await checking
        except (RiskUnavailable, KrakenError):
            decision = None
        if existing.fingerprint != record.fingerprint:
            raise DuplicateOrder(
                f"client_order_id {record.client_order_id} was used for a different order"
            )
        if (
            decision is not None
            and decision.approved
            and existing.terminal
            and existing.stage == STAGE_CLAIMED
            and not existing.reservation_id
        ):
            # The first call was refused and sent nothing, and this check reserved exposure
            # for an order that will never be sent: give it back.
            await self._risk.report(record, 0, not_sent=True, grant=decision.grant)
        logger.info("order replayed", extra={"client_order_id": record.client_order_id})
        return existing

    async def _refused(self, record: OrderRecord, violations: list[Violation]) -> OrderRecord:
        """Record risk's refusal: nothing was sent, and nothing is reserved for the order."""
        record.reservation_id = ""
        record.stage = STAGE_CLAIMED
        record.violations = violations
        record.set_status(common_pb2.ORDER_STATUS_REJECTED, "risk rejected")
        try:
            await self._store.save(
                record, attention=False, event=execution_pb2.ORDER_EVENT_TYPE_REJECTED
            )
        except StaleRecord as exc:
            raise _claim_lost(record) from exc
        return record

    async def _not_sent(self, record: OrderRecord, grant: int) -> None:
        """The order recorded as being sent certainly was not: free its reservation (unless a
        later approval holds it, ``grant``) and its id."""
        await self._risk.report(record, 0, not_sent=True, grant=grant)
        await self._journal_quietly(RELEASED, record)
        await self._release(record)

    async def _send(
        self, add_order: OrderRequest, record: OrderRecord, prepared: PreparedSend, grant: int
    ) -> OrderRecord:
        try:
            result = await self._kraken.add_order(add_order, prepared=prepared)
        except KrakenError as exc:
            if exc.outcome_unknown:
                return await self._record(
                    record,
                    _Answer(common_pb2.ORDER_STATUS_UNKNOWN, f"outcome unknown: {exc.message}"),
                    execution_pb2.ORDER_EVENT_TYPE_UNKNOWN,
                )
            if isinstance(exc, _REFUSALS):
                refused = await self._record(
                    record,
                    _Answer(common_pb2.ORDER_STATUS_REJECTED, exc.kraken_error or exc.message),
                    execution_pb2.ORDER_EVENT_TYPE_REJECTED,
                )
                return await self._reconciler.report(refused)
            # Certainly not executed (rate limit, Kraken offline, no Redis for nonce or budget).
            await self._not_sent(record, grant)
            raise
        answer = _Answer(
            common_pb2.ORDER_STATUS_OPEN,
            None,
            txid=str((result.get("txid") or [""])[0]),
            description=str((result.get("descr") or {}).get("order", "")),
        )
        return await self._record(record, answer, execution_pb2.ORDER_EVENT_TYPE_OPENED)

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
        result = await self.send_cancel(record)
        pending = bool(result and result.get("pending"))
        reconciled, _ = await self._reconciler.reconcile(record.client_order_id, force=True)
        return reconciled or record, pending

    async def send_cancel(self, record: OrderRecord) -> dict[str, Any] | None:
        """CancelOrder for one order, by txid when known, else by ``cl_ord_id``.

        Kraken's answer, or None when Kraken has no such open order (already closed, or not
        arrived yet). The record is not touched: reconciliation records what became of it.
        """
        # Kraken charges a cancel by the order's age; ours is measured from the claim, a little
        # before Kraken's, so it is shortened by a margin to never under-charge the budget.
        age = max(0.0, (now_ms() - record.created_ms) / 1000 - _AGE_MARGIN)
        try:
            if record.txid:
                result: dict[str, Any] = await self._kraken.cancel_order(
                    pair=record.kraken_pair, txid=record.txid, order_age=age
                )
            else:
                result = await self._kraken.cancel_order(
                    pair=record.kraken_pair, cl_ord_id=record.client_order_id, order_age=age
                )
        except OrderNotFoundError:
            return None
        return result

    async def cancel_all(
        self, identity: Identity, *, team: str, pair: str
    ) -> tuple[int, list[str], list[execution_pb2.CancelFailure]]:
        return await self.cancel_matching(
            lambda r: (team == "*" or r.team == team) and (not pair or r.pair == pair)
        )

    async def working(self, wanted: Callable[[OrderRecord], bool]) -> list[OrderRecord]:
        """The orders not yet final that ``wanted`` picks, oldest first."""
        records = await self._store.many(await self._store.attention(limit=None))
        return [r for r in records if not r.terminal and wanted(r)]

    async def cancel_matching(
        self, wanted: Callable[[OrderRecord], bool]
    ) -> tuple[int, list[str], list[execution_pb2.CancelFailure]]:
        """Cancel every working order ``wanted`` picks: how many ended CANCELED, the ids a
        cancel was sent for, and the cancels Kraken refused."""
        sent: list[str] = []
        failures: list[execution_pb2.CancelFailure] = []
        for record in await self.working(wanted):
            sent.append(record.client_order_id)
            try:
                await self.send_cancel(record)
            except KrakenError as exc:
                failures.append(
                    execution_pb2.CancelFailure(
                        client_order_id=record.client_order_id,
                        error=common_pb2.Violation(
                            code=exc.kraken_error or type(exc).__name__, message=exc.message
                        ),
                    )
                )
        after = await self._reconciler.reconcile_many(sent, force=True)
        count = sum(1 for r in after if r.status == common_pb2.ORDER_STATUS_CANCELED)
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
        return await self._prices.last_trade(order.rules.kraken_id)

    async def _record(self, record: OrderRecord, answer: _Answer, event: int) -> OrderRecord:
        """Record what AddOrder answered; the order as stored afterwards.

        Failing here must not hide what Kraken answered: the record stays at stage ``sending``
        and the reconciler picks it up after its grace.
        """
        applied = False

        def apply(current: OrderRecord) -> bool:
            nonlocal applied
            applied = current.stage != STAGE_SENT
            if applied:
                answer.apply(current)
                return True
            # Reconciliation already recorded Kraken's own view, which is at least as new as
            # this answer: keep it and only fill in what it lacks.
            return answer.fill_in(current)

        try:
            stored = await self._store.modify(
                record,
                apply,
                attention=lambda r: needs_attention(r, outcome_for(r)),
                event=lambda _: event if applied else None,
            )
        except (StateUnavailableError, StaleRecord):
            logger.error(
                "order outcome not recorded; reconciliation will recover it",
                extra={"client_order_id": record.client_order_id, "status": answer.status},
            )
            answer.apply(record)
            return record
        return stored

    async def _journal_quietly(self, kind: str, record: OrderRecord) -> None:
        try:
            await self._journal.append(kind, record)
        except StateUnavailableError:
            logger.warning("journal unavailable", extra={"client_order_id": record.client_order_id})

    async def _release(self, record: OrderRecord) -> None:
        try:
            await self._store.release(record)
        except (StateUnavailableError, StaleRecord):
            # The order stays as stored; the reconciler frees a claim or settles a sending
            # order after its grace.
            logger.warning(
                "could not release an unsent order's id",
                extra={"client_order_id": record.client_order_id},
            )


class _Answer:
    """What Kraken's AddOrder answer says about the order."""

    def __init__(
        self, status: Status, reason: str | None, *, txid: str = "", description: str = ""
    ) -> None:
        self.status = status
        self.reason = reason
        self.txid = txid
        self.description = description

    def apply(self, record: OrderRecord) -> None:
        record.stage = STAGE_SENT
        self.fill_in(record)
        record.set_status(self.status, self.reason)

    def fill_in(self, record: OrderRecord) -> bool:
        changed = False
        if self.txid and not record.txid:
            record.txid = self.txid
            changed = True
        if self.description and not record.description:
            record.description = self.description
            changed = True
        return changed


def _claim_lost(record: OrderRecord) -> StateUnavailableError:
    # Reconciliation freed the claim after its grace while placement stalled; nothing was sent.
    logger.warning(
        "order claim freed before sending; nothing sent",
        extra={"client_order_id": record.client_order_id},
    )
    return StateUnavailableError(
        f"placing order {record.client_order_id} took too long; nothing was sent, retry it"
    )


def _abandon(task: asyncio.Future[Any]) -> None:
    """Stop waiting for ``task``; its outcome, whatever it is, is no longer wanted."""
    task.cancel()
    task.add_done_callback(lambda done: done.cancelled() or done.exception())
