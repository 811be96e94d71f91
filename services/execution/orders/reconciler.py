"""Bringing recorded orders in line with Kraken, in a background loop and on demand.

An order is looked up by txid (QueryOrders) when it has one, else by ``cl_ord_id`` in OpenOrders
then ClosedOrders. An UNKNOWN order Kraken does not know after ``grace`` seconds becomes REJECTED
("not found at Kraken"); its id stays used. A claim that never got to sending is freed after the
same grace. Outcomes risk has not acknowledged are reported again on every pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from services.execution.kraken.client import KrakenSpotClient
from services.execution.kraken.errors import KrakenError
from services.execution.orders.journal import OrderJournal
from services.execution.orders.kraken_state import apply_kraken_order
from services.execution.orders.model import STAGE_CLAIMED, STAGE_SENT, OrderRecord, now_ms
from services.execution.orders.risk_gate import RiskGate, outcome_for
from services.execution.orders.store import OrderStore, needs_attention
from trading.common.v1 import common_pb2
from trading.execution.v1 import execution_pb2

logger = logging.getLogger(__name__)

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
        journal: OrderJournal,
        risk: RiskGate,
        *,
        interval: float,
        grace: float,
    ) -> None:
        self._kraken = kraken
        self._store = store
        self._journal = journal
        self._risk = risk
        self._interval = interval
        self._grace_ms = int(grace * 1000)
        self._task: asyncio.Task[None] | None = None

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
        for client_order_id in await self._store.attention():
            try:
                await self.reconcile(client_order_id)
            except KrakenError as exc:
                logger.info(
                    "reconciliation of an order failed; next pass retries",
                    extra={"client_order_id": client_order_id, "error": type(exc).__name__},
                )

    async def reconcile(
        self, client_order_id: str, *, force: bool = False
    ) -> tuple[OrderRecord | None, bool]:
        """The order after reconciliation, and whether it changed."""
        record = await self._store.get(client_order_id)
        if record is None:
            return None, False
        age_ms = now_ms() - record.updated_ms
        was_unknown = record.status == common_pb2.ORDER_STATUS_UNKNOWN
        changed = False
        if not record.terminal:
            if record.stage == STAGE_CLAIMED:
                if age_ms > self._grace_ms:
                    # Placement died before sending anything: free the id.
                    await self._store.release(client_order_id)
                return record, False
            if record.stage != STAGE_SENT and not force and age_ms <= self._grace_ms:
                return record, False  # placement is still in flight
            changed = await self._refresh(record, age_ms)
        if changed:
            event = _EVENT_OF_STATUS.get(record.status, execution_pb2.ORDER_EVENT_TYPE_RECONCILED)
            if was_unknown:
                event = execution_pb2.ORDER_EVENT_TYPE_RECONCILED
            record.stage = STAGE_SENT
            await self._store.save(record, attention=needs_attention(record, outcome_for(record)))
            await self._journal.append(event, record)
        await self.report(record)
        return record, changed

    async def report(self, record: OrderRecord) -> None:
        """Report the order's outcome to risk once; remembered so that it is not repeated."""
        outcome = outcome_for(record)
        if not outcome or outcome == record.reported_outcome or not record.reservation_id:
            return
        if await self._risk.report(record, outcome):
            record.reported_outcome = outcome
            await self._store.save(record, attention=needs_attention(record, outcome))

    async def _refresh(self, record: OrderRecord, age_ms: int) -> bool:
        found = await self._find(record)
        if found is not None:
            txid, order = found
            return apply_kraken_order(record, txid, order) or record.stage != STAGE_SENT
        if record.status == common_pb2.ORDER_STATUS_UNKNOWN or record.stage != STAGE_SENT:
            if age_ms > self._grace_ms:
                record.set_status(common_pb2.ORDER_STATUS_REJECTED, "not found at Kraken")
                return True
        return False

    async def _find(self, record: OrderRecord) -> tuple[str, Mapping[str, Any]] | None:
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
