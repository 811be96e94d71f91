"""Bringing recorded orders in line with Kraken, in a background loop and on demand.

A pass costs few REST calls however many orders are working: one OpenOrders for all of them,
QueryOrders (50 txids a call) for those no longer open, and ``cl_ord_id`` lookups (OpenOrders then
ClosedOrders) only for orders without a txid that are not open. A background pass runs its Kraken
calls only while half the REST counter is free, so callers keep their budget. An UNKNOWN order
Kraken does not know after ``grace`` seconds becomes REJECTED ("not found at Kraken"), and its id
stays used. So does an order still at stage ``sending`` (placement claims at that stage and may
have died after sending). That answer is final when the AddOrder carried a deadline, which runs
out before the grace does (orders/deadline.py). A claim at stage ``claimed`` that is not final
(stored by earlier versions, which claimed before asking risk) is freed after the same grace.
Outcomes risk has not acknowledged are reported again on every pass.

Every replica runs this loop over the same orders, and placement writes them too: each save is a
compare-and-set, and a reconciliation that lost the race starts over from the stored order, so
it never overwrites a newer state with what it read before asking Kraken.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from services.execution.kraken.client import KrakenSpotClient
from services.execution.kraken.errors import KrakenError
from services.execution.orders.kraken_state import apply_kraken_order
from services.execution.orders.model import STAGE_CLAIMED, STAGE_SENT, OrderRecord, now_ms
from services.execution.orders.risk_gate import RiskGate, outcome_for
from services.execution.orders.store import OrderStore, StaleRecord, needs_attention
from trading.common.v1 import common_pb2
from trading.execution.v1 import execution_pb2

logger = logging.getLogger(__name__)

RECONCILE_ATTEMPTS = 3
QUERY_BATCH = 50
"""Most txids Kraken's QueryOrders takes in one call."""
PASS_BUDGET_SHARE = 0.5
"""Share of the REST counter that must be free for a background pass to call Kraken."""

KrakenView = tuple[str, Mapping[str, Any]]
"""An order as Kraken shows it, with its txid."""
ABSENT: KrakenView = ("", {})
"""Kraken was just asked and has no such order."""

_EVENT_OF_STATUS: dict[int, int] = {
    common_pb2.ORDER_STATUS_OPEN: execution_pb2.ORDER_EVENT_TYPE_OPENED,
    common_pb2.ORDER_STATUS_FILLED: execution_pb2.ORDER_EVENT_TYPE_FILLED,
    common_pb2.ORDER_STATUS_CANCELED: execution_pb2.ORDER_EVENT_TYPE_CANCELED,
    common_pb2.ORDER_STATUS_EXPIRED: execution_pb2.ORDER_EVENT_TYPE_EXPIRED,
    common_pb2.ORDER_STATUS_REJECTED: execution_pb2.ORDER_EVENT_TYPE_REJECTED,
}


class Reconciler:
    def __init__(
        self,
        kraken: KrakenSpotClient,
        store: OrderStore,
        risk: RiskGate,
        *,
        interval: float,
        grace: float,
    ) -> None:
        self._kraken = kraken
        self._store = store
        self._risk = risk
        self._interval = interval
        self._grace_ms = int(grace * 1000)
        self._task: asyncio.Task[None] | None = None

    @property
    def grace(self) -> float:
        """Seconds an order that is being placed is left alone before it is looked up."""
        return self._grace_ms / 1000

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.run_once()
            except Exception:
                logger.warning("reconciliation pass failed", exc_info=True)

    async def run_once(self) -> None:
        ids = await self._store.attention()
        # Background passes yield to callers: with less than half the REST counter free, only
        # what needs no Kraken call is done (outcome reports, freeing dead claims).
        ask_kraken = await self._kraken.rest_budget_free() >= PASS_BUDGET_SHARE
        if not ask_kraken:
            logger.debug("reconciliation pass without Kraken: REST budget kept for callers")
        await self.reconcile_many(ids, ask_kraken=ask_kraken)

    async def reconcile_many(
        self, client_order_ids: Sequence[str], *, force: bool = False, ask_kraken: bool = True
    ) -> list[OrderRecord]:
        """Reconcile several orders at little REST cost: one OpenOrders call for all of them,
        then QueryOrders (50 a call) for those with a txid that are no longer open; the rest
        are looked up one by one.

        The orders afterwards (as far as they still exist); one that fails is logged and
        left for the next pass.
        """
        records = await self._store.many(client_order_ids)
        views = await self._views(records) if ask_kraken else {}
        after: list[OrderRecord] = []
        for record in records:
            if not force and self._in_flight(record):
                # Placement is still sending it; asking Kraken now would cost a lookup of its
                # own, and the next pass sees it in the bulk view.
                after.append(record)
                continue
            try:
                found, _ = await self.reconcile(
                    record.client_order_id,
                    force=force,
                    known=views.get(record.client_order_id),
                    ask_kraken=ask_kraken,
                    stored=record,
                )
            except KrakenError as exc:
                logger.info(
                    "reconciliation of an order failed; next pass retries",
                    extra={"client_order_id": record.client_order_id, "error": type(exc).__name__},
                )
                found = record
            if found is not None:
                after.append(found)
        return after

    def _in_flight(self, record: OrderRecord) -> bool:
        return (
            not record.terminal
            and record.stage != STAGE_SENT
            and now_ms() - record.updated_ms <= self._grace_ms
        )

    async def _views(self, records: Sequence[OrderRecord]) -> dict[str, KrakenView]:
        """Kraken's view of the orders that were sent, by client_order_id, where it could be
        fetched in bulk."""
        sent = [r for r in records if not r.terminal and r.stage == STAGE_SENT]
        if not sent:
            return {}
        views: dict[str, KrakenView] = {}
        try:
            opened: Mapping[str, Any] = (await self._kraken.open_orders()).get("open", {})
        except KrakenError as exc:
            logger.info("open orders query failed", extra={"error": str(exc)})
            return views
        by_cl_ord_id = {
            str(order["cl_ord_id"]): (str(txid), order)
            for txid, order in opened.items()
            if order.get("cl_ord_id")
        }
        closed: list[OrderRecord] = []
        for record in sent:
            if record.txid and record.txid in opened:
                views[record.client_order_id] = (record.txid, opened[record.txid])
            elif record.txid:
                closed.append(record)
            elif record.client_order_id in by_cl_ord_id:
                views[record.client_order_id] = by_cl_ord_id[record.client_order_id]
            else:
                view = await self._closed(record)
                if view is not None:
                    views[record.client_order_id] = view
        for start in range(0, len(closed), QUERY_BATCH):
            chunk = closed[start : start + QUERY_BATCH]
            try:
                found = await self._kraken.query_orders([r.txid for r in chunk])
            except KrakenError as exc:
                # Those orders are looked up one by one.
                logger.info(
                    "batched order query failed", extra={"orders": len(chunk), "error": str(exc)}
                )
                continue
            for record in chunk:
                if record.txid in found:
                    views[record.client_order_id] = (record.txid, found[record.txid])
        return views

    async def reconcile(
        self,
        client_order_id: str,
        *,
        force: bool = False,
        known: KrakenView | None = None,
        ask_kraken: bool = True,
        stored: OrderRecord | None = None,
    ) -> tuple[OrderRecord | None, bool]:
        """The order after reconciliation, and whether it changed.

        ``known``: Kraken's view of the order, just fetched, used instead of asking again.
        ``ask_kraken`` False: only what needs no Kraken call (report an outcome, free a claim).
        ``stored``: the order as just read from the store, used for the first attempt instead of
        reading it again (a pass reads all its orders in one MGET). Every write is a
        compare-and-set on its version, so a copy that has aged only costs a retry.
        """
        for _ in range(RECONCILE_ATTEMPTS):
            try:
                return await self._reconcile_once(
                    client_order_id, force=force, known=known, ask_kraken=ask_kraken, stored=stored
                )
            except StaleRecord:
                stored = None
                known = None
                # Placement or another replica wrote the order meanwhile: look again.
                logger.debug(
                    "order changed during reconciliation; starting over",
                    extra={"client_order_id": client_order_id},
                )
        return await self._store.get(client_order_id), False

    async def _reconcile_once(
        self,
        client_order_id: str,
        *,
        force: bool,
        known: KrakenView | None,
        ask_kraken: bool,
        stored: OrderRecord | None,
    ) -> tuple[OrderRecord | None, bool]:
        record = stored if stored is not None else await self._store.get(client_order_id)
        if record is None:
            return None, False
        age_ms = now_ms() - record.updated_ms
        was_unknown = record.status == common_pb2.ORDER_STATUS_UNKNOWN
        changed = False
        if not record.terminal:
            if record.stage == STAGE_CLAIMED:
                if age_ms > self._grace_ms:
                    # Placement died before sending anything: free the id.
                    await self._store.release(record)
                return record, False
            if not force and self._in_flight(record):
                return record, False
            if known is None and not ask_kraken:
                return await self.report(record), False
            changed = await self._refresh(record, age_ms, known)
        if changed:
            event = _EVENT_OF_STATUS.get(record.status, execution_pb2.ORDER_EVENT_TYPE_RECONCILED)
            if was_unknown:
                event = execution_pb2.ORDER_EVENT_TYPE_RECONCILED
            record.stage = STAGE_SENT
            await self._store.save(
                record, attention=needs_attention(record, outcome_for(record)), event=event
            )
        return await self.report(record), changed

    async def report(self, record: OrderRecord) -> OrderRecord:
        """Report the order's outcome to risk once; remembered so that it is not repeated.

        The order as stored afterwards.
        """
        outcome = outcome_for(record)
        if not outcome or outcome == record.reported_outcome or not record.reservation_id:
            return record
        if not await self._risk.report(record, outcome):
            return record

        def remember(current: OrderRecord) -> bool:
            if outcome_for(current) != outcome or current.reported_outcome == outcome:
                return False
            current.reported_outcome = outcome
            return True

        try:
            return await self._store.modify(
                record, remember, attention=lambda r: needs_attention(r, outcome_for(r))
            )
        except StaleRecord:
            return record

    async def _refresh(self, record: OrderRecord, age_ms: int, known: KrakenView | None) -> bool:
        found: KrakenView | None
        if known is ABSENT:
            found = None
        elif known is not None and record.txid in ("", known[0]):
            found = known
        else:
            found = await self._find(record)
        if found is not None:
            txid, order = found
            return apply_kraken_order(record, txid, order) or record.stage != STAGE_SENT
        if record.status == common_pb2.ORDER_STATUS_UNKNOWN or record.stage != STAGE_SENT:
            if age_ms > self._grace_ms:
                record.set_status(common_pb2.ORDER_STATUS_REJECTED, "not found at Kraken")
                return True
        return False

    async def _closed(self, record: OrderRecord) -> KrakenView | None:
        """An order without txid that is not open, from ClosedOrders; ABSENT if not there,
        None if Kraken could not be asked."""
        try:
            closed = await self._kraken.closed_orders(cl_ord_id=record.client_order_id)
        except KrakenError as exc:
            logger.info("closed orders query failed", extra={"error": str(exc)})
            return None
        for txid, order in closed.get("closed", {}).items():
            return str(txid), order
        return ABSENT

    async def _find(self, record: OrderRecord) -> KrakenView | None:
        if record.txid:
            result = await self._kraken.query_orders([record.txid])
            order = result.get(record.txid)
            return (record.txid, order) if order is not None else None
        opened = await self._kraken.open_orders(cl_ord_id=record.client_order_id)
        for txid, order in opened.get("open", {}).items():
            return str(txid), order
        closed = await self._kraken.closed_orders(cl_ord_id=record.client_order_id)
        for txid, order in closed.get("closed", {}).items():
            return str(txid), order
        return None
