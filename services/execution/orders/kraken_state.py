"""Kraken's view of an order (QueryOrders / OpenOrders / ClosedOrders) applied to the record."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from services.execution.orders.model import OrderRecord
from services.execution.orders.validation import text
from trading.common.v1 import common_pb2

_STATUS = {
    "pending": common_pb2.ORDER_STATUS_OPEN,
    "open": common_pb2.ORDER_STATUS_OPEN,
    "closed": common_pb2.ORDER_STATUS_FILLED,
    "canceled": common_pb2.ORDER_STATUS_CANCELED,
    "expired": common_pb2.ORDER_STATUS_EXPIRED,
}


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value or "0"))


def _tracked(record: OrderRecord) -> tuple[str, ...]:
    """The fields ``apply_kraken_order`` may change (a reconciliation pass compares them for
    every working order, so not the whole record's JSON)."""
    return (
        record.txid,
        record.filled_volume,
        record.cost,
        record.fee,
        record.average_price,
        record.fee_asset,
        record.description,
    )


def apply_kraken_order(record: OrderRecord, txid: str, order: Mapping[str, Any]) -> bool:
    """Update ``record`` from Kraken's order; True when anything changed."""
    before = _tracked(record)
    status = _STATUS.get(str(order.get("status", "")), record.status)
    filled = _decimal(order.get("vol_exec"))
    record.txid = record.txid or txid
    record.filled_volume = text(filled)
    record.cost = text(_decimal(order.get("cost")))
    record.fee = text(_decimal(order.get("fee")))
    if filled > 0:
        record.average_price = text(_decimal(order.get("price")))
    if not record.fee_asset:
        record.fee_asset = record.pair.partition("/")[2]
    descr = order.get("descr")
    if isinstance(descr, Mapping) and descr.get("order"):
        record.description = str(descr["order"])
    reason = order.get("reason")
    changed = _tracked(record) != before or status != record.status
    if status != record.status:
        record.set_status(status, str(reason) if reason else "")
    elif changed:
        record.set_status(status)
    return changed
