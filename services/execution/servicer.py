"""ExecutionService: Spot orders here, Embed quotes in ``quote_rpcs.py``.

Errors map in one place, ``answers.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio

from services.common.context import note_outcome_logged
from services.common.identity import Identity
from services.common.interceptor import current_identity
from services.execution.answers import answer as _answer
from services.execution.answers import run_to_completion
from services.execution.kraken.errors import KrakenError
from services.execution.orders.desk import (
    OrderNotVisible,
    sees_all_teams,
    visible,
)
from services.execution.orders.journal import RELEASED
from services.execution.orders.model import TERMINAL, WORKING, OrderRecord, timestamp_ms
from services.execution.orders.pairs import normalize_asset
from services.execution.orders.validation import OrderInputError, client_order_id, text
from services.execution.quote_rpcs import QuoteRpcs
from services.execution.runtime import ExecutionRuntime
from trading.common.v1 import common_pb2
from trading.execution.v1 import execution_pb2, execution_pb2_grpc

if TYPE_CHECKING:
    Context = grpc.aio.ServicerContext[Any, Any]
else:
    Context = grpc.aio.ServicerContext

DEFAULT_PAGE = 50
MAX_PAGE = 500


def _order_id(request: Any) -> tuple[str, str]:
    """(client_order_id, txid) of a request with the ``id`` oneof."""
    which = request.WhichOneof("id")
    if which == "client_order_id":
        return client_order_id(request.client_order_id), ""
    if which == "txid" and request.txid and len(request.txid) <= 64:
        return "", request.txid
    raise OrderInputError("client_order_id", "or txid is required")


class ExecutionServicer(QuoteRpcs, execution_pb2_grpc.ExecutionServiceServicer):
    def __init__(self, runtime: ExecutionRuntime) -> None:
        self._runtime = runtime

    async def _visible_order(self, request: Any) -> OrderRecord:
        order_id, txid = _order_id(request)
        store = self._runtime.store
        record = await (store.get(order_id) if order_id else store.get_by_txid(txid))
        if record is None or not visible(record, current_identity()):
            raise OrderNotVisible(f"no order {order_id or txid}")
        return record

    async def PlaceOrder(
        self, request: execution_pb2.PlaceOrderRequest, context: Context
    ) -> execution_pb2.PlaceOrderResponse:
        async def handle() -> execution_pb2.PlaceOrderResponse:
            record, replayed = await run_to_completion(
                self._runtime.desk.place(request, current_identity())
            )
            if not request.validate:
                # The order's journal events (or "order replayed") are logged with the request id
                # and caller: the call's own success line goes to DEBUG.
                note_outcome_logged()
            return execution_pb2.PlaceOrderResponse(
                order=record.to_proto(), replayed=replayed, description=record.description
            )

        return await _answer(context, handle)

    async def CancelOrder(
        self, request: execution_pb2.CancelOrderRequest, context: Context
    ) -> execution_pb2.CancelOrderResponse:
        async def handle() -> execution_pb2.CancelOrderResponse:
            record = await self._visible_order(request)
            after, pending = await self._runtime.desk.cancel(record)
            return execution_pb2.CancelOrderResponse(order=after.to_proto(), pending=pending)

        return await _answer(context, handle)

    async def CancelAllOrders(
        self, request: execution_pb2.CancelAllOrdersRequest, context: Context
    ) -> execution_pb2.CancelAllOrdersResponse:
        async def handle() -> execution_pb2.CancelAllOrdersResponse:
            identity = current_identity()
            if request.all_teams:
                if "admins" not in identity.groups:
                    raise PermissionError("all_teams is for admins only")
                if request.pair or request.team:
                    raise OrderInputError("all_teams", "needs pair and team empty")
                result = await self._runtime.kraken.cancel_all()
                await self._runtime.reconciler.run_once()
                return execution_pb2.CancelAllOrdersResponse(count=int(result.get("count", 0)))
            team, pair = await self._scope(identity, request.team, request.pair)
            count, ids, failures = await self._runtime.desk.cancel_all(
                identity, team=team, pair=pair
            )
            return execution_pb2.CancelAllOrdersResponse(
                count=count, client_order_ids=ids, failures=failures
            )

        return await _answer(context, handle)

    async def _scope(self, identity: Identity, team: str, pair: str) -> tuple[str, str]:
        """The team and canonical pair a bulk call covers: the caller's own team unless a
        risk officer or admin names another; the pair resolved to its canonical symbol."""
        if team and not sees_all_teams(identity):
            raise PermissionError("team is for risk-officers and admins only")
        symbol = ""
        if pair:
            rules = await self._runtime.catalog.resolve(pair)
            if rules is None:
                raise OrderInputError("pair", f"{pair!r} is not a Kraken pair")
            symbol = rules.symbol
        return team or identity.subject, symbol

    async def GetOrder(
        self, request: execution_pb2.GetOrderRequest, context: Context
    ) -> execution_pb2.GetOrderResponse:
        async def handle() -> execution_pb2.GetOrderResponse:
            record = await self._visible_order(request)
            return execution_pb2.GetOrderResponse(order=record.to_proto())

        return await _answer(context, handle)

    async def ListOrders(
        self, request: execution_pb2.ListOrdersRequest, context: Context
    ) -> execution_pb2.ListOrdersResponse:
        async def handle() -> execution_pb2.ListOrdersResponse:
            identity = current_identity()
            team, pair = await self._scope(identity, request.team, request.pair)
            size = min(request.page.page_size or DEFAULT_PAGE, MAX_PAGE)
            offset = int(request.page.page_token) if request.page.page_token.isdigit() else 0
            start = request.start_time.ToMilliseconds() if request.HasField("start_time") else 0
            end = request.end_time.ToMilliseconds() if request.HasField("end_time") else None
            wanted = {
                execution_pb2.ORDER_STATE_FILTER_OPEN: WORKING,
                execution_pb2.ORDER_STATE_FILTER_CLOSED: TERMINAL,
            }.get(request.state)
            found: list[common_pb2.Order] = []
            scanned = offset
            store = self._runtime.store
            while len(found) < size:
                ids = await store.newest(scanned, size)
                if not ids:
                    scanned = -1
                    break
                for record in await store.many(ids):
                    scanned += 1
                    if (
                        (team == "*" or record.team == team)
                        and (not pair or record.pair == pair)
                        and (wanted is None or record.status in wanted)
                        and record.created_ms >= start
                        and (end is None or record.created_ms < end)
                    ):
                        found.append(record.to_proto())
                        if len(found) == size:
                            break
            token = str(scanned) if scanned >= 0 and len(found) == size else ""
            return execution_pb2.ListOrdersResponse(
                orders=found, page=common_pb2.PageResponse(next_page_token=token)
            )

        return await _answer(context, handle)

    async def WatchOrders(
        self, request: execution_pb2.WatchOrdersRequest, context: Context
    ) -> AsyncIterator[execution_pb2.OrderEvent]:
        identity = current_identity()
        team = identity.subject
        if request.team:
            if not sees_all_teams(identity):
                await context.abort(
                    grpc.StatusCode.PERMISSION_DENIED, "team is for risk-officers and admins only"
                )
            team = request.team
        after = request.after_event_id or "$"
        pairs = set(request.pairs)
        ids = {i.lower() for i in request.client_order_ids}
        try:
            async for entry in self._runtime.journal.follow(after):
                order = entry.order
                if entry.kind == RELEASED:
                    continue
                if team != "*" and order.team != team:
                    continue
                if (pairs and order.pair not in pairs) or (
                    ids and order.client_order_id not in ids
                ):
                    continue
                yield execution_pb2.OrderEvent(
                    event_id=entry.event_id,
                    type=execution_pb2.OrderEventType.Value(entry.kind),
                    order=order.to_proto(),
                    event_time=timestamp_ms(entry.at_ms),
                )
        except KrakenError as exc:
            await context.abort(exc.grpc_status, exc.message)

    async def ReconcileOrder(
        self, request: execution_pb2.ReconcileOrderRequest, context: Context
    ) -> execution_pb2.ReconcileOrderResponse:
        async def handle() -> execution_pb2.ReconcileOrderResponse:
            order_id = client_order_id(request.client_order_id)
            record = await self._runtime.store.get(order_id)
            if record is None or not visible(record, current_identity()):
                raise OrderNotVisible(f"no order {order_id}")
            after, changed = await self._runtime.reconciler.reconcile(order_id, force=True)
            return execution_pb2.ReconcileOrderResponse(
                order=(after or record).to_proto(), changed=changed
            )

        return await _answer(context, handle)

    async def GetBalances(
        self, request: execution_pb2.GetBalancesRequest, context: Context
    ) -> execution_pb2.GetBalancesResponse:
        async def handle() -> execution_pb2.GetBalancesResponse:
            balances = await self._runtime.kraken.balance_ex()
            wanted = {normalize_asset(a) for a in request.assets}
            response = execution_pb2.GetBalancesResponse()
            for kraken_asset, fields in sorted(balances.items()):
                asset = normalize_asset(kraken_asset)
                total = fields.get("balance")
                if total is None or (wanted and asset not in wanted):
                    continue
                if not wanted and total == 0:
                    continue
                held = fields.get("hold_trade", total - total)
                credit = fields.get("credit", total - total) - fields.get(
                    "credit_used", total - total
                )
                response.balances.add(
                    asset=asset,
                    kraken_asset=kraken_asset,
                    total=text(total),
                    held=text(held),
                    available=text(total + credit - held),
                )
            response.as_of.GetCurrentTime()
            return response

        return await _answer(context, handle)

    async def ListPairs(
        self, request: execution_pb2.ListPairsRequest, context: Context
    ) -> execution_pb2.ListPairsResponse:
        async def handle() -> execution_pb2.ListPairsResponse:
            catalog = self._runtime.catalog
            if request.pairs:
                chosen = []
                for index, name in enumerate(request.pairs):
                    rules = await catalog.resolve(name)
                    if rules is None:
                        raise OrderInputError(f"pairs[{index}]", f"{name!r} is not a Kraken pair")
                    chosen.append(rules)
            else:
                chosen = list(await catalog.pairs())
            return execution_pb2.ListPairsResponse(pairs=[p.to_proto() for p in chosen])

        return await _answer(context, handle)
