"""`tradectl place | cancel | cancel-all | orders | order | balances | watch`: Spot orders via
execution."""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict

from tradectl.connection import Connection
from tradectl.output import stream_line
from trading.common.v1 import common_pb2
from trading.execution.v1 import execution_pb2, execution_pb2_grpc

ORDER_COLUMNS = ["client_order_id", "pair", "side", "type", "volume", "filled", "price", "status"]
BALANCE_COLUMNS = ["asset", "total", "held", "available"]
EVENT_COLUMNS = ["event_id", "time", "event", *ORDER_COLUMNS, "reason"]
_TIMEOUT = 15.0


def add_parsers(commands: Any) -> None:
    place = commands.add_parser("place", help="place a Spot order (or --validate only)")
    place.add_argument("side", choices=["buy", "sell"])
    place.add_argument("volume")
    place.add_argument("pair")
    place.add_argument("--type", default="limit", choices=["market", "limit"])
    place.add_argument("--price", default="", help="limit price")
    place.add_argument("--id", default="", help="client_order_id (default: a new UUID)")
    place.add_argument("--validate", action="store_true", help="dry run: nothing is placed")
    cancel = commands.add_parser("cancel", help="cancel one order by client_order_id or --txid")
    cancel.add_argument("id")
    cancel.add_argument("--txid", action="store_true", help="the id is a Kraken txid")
    cancel_all = commands.add_parser("cancel-all", help="cancel the team's working orders")
    cancel_all.add_argument("--pair", default="")
    listing = commands.add_parser("orders", help="list orders, newest first")
    listing.add_argument("--open", action="store_true", help="working orders only")
    listing.add_argument("--pair", default="")
    one = commands.add_parser("order", help="one order by client_order_id")
    one.add_argument("id")
    commands.add_parser("balances", help="the Kraken account's balances")
    watch = commands.add_parser("watch", help="stream order events as they happen")
    watch.add_argument(
        "--after", default="", help='resume after this event id ("0": all retained events)'
    )
    watch.add_argument("--pair", action="append", default=[], help="only this pair (repeatable)")
    watch.add_argument(
        "--id", action="append", default=[], help="only this client_order_id (repeatable)"
    )
    watch.add_argument("--team", default="", help='risk officers: another team, or "*" for all')
    watch.add_argument("--count", type=int, default=0, help="stop after this many events")


def _row(order: common_pb2.Order) -> dict[str, Any]:
    return {
        "client_order_id": order.client_order_id,
        "txid": order.txid,
        "pair": order.pair,
        "side": common_pb2.Side.Name(order.side).removeprefix("SIDE_").lower(),
        "type": common_pb2.OrderType.Name(order.order_type).removeprefix("ORDER_TYPE_").lower(),
        "volume": order.volume,
        "filled": order.filled_volume,
        "price": order.limit_price,
        "status": common_pb2.OrderStatus.Name(order.status).removeprefix("ORDER_STATUS_"),
        "reason": order.status_reason,
    }


def run(connection: Connection, args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows to print and their columns."""
    with connection.channel("execution") as channel:
        stub = execution_pb2_grpc.ExecutionServiceStub(channel)
        meta = connection.metadata()
        if args.command == "place":
            request = execution_pb2.PlaceOrderRequest(
                client_order_id=args.id or str(uuid.uuid4()),
                pair=args.pair,
                side=common_pb2.SIDE_BUY if args.side == "buy" else common_pb2.SIDE_SELL,
                order_type=(
                    common_pb2.ORDER_TYPE_LIMIT
                    if args.type == "limit"
                    else common_pb2.ORDER_TYPE_MARKET
                ),
                volume=args.volume,
                limit_price=args.price,
                validate=args.validate,
            )
            placed = stub.PlaceOrder(request, metadata=meta, timeout=_TIMEOUT)
            return [_row(placed.order)], [*ORDER_COLUMNS, "txid", "reason"]
        if args.command == "cancel":
            cancel = (
                execution_pb2.CancelOrderRequest(txid=args.id)
                if args.txid
                else execution_pb2.CancelOrderRequest(client_order_id=args.id)
            )
            cancelled = stub.CancelOrder(cancel, metadata=meta, timeout=_TIMEOUT)
            return [_row(cancelled.order)], ORDER_COLUMNS
        if args.command == "cancel-all":
            reply = stub.CancelAllOrders(
                execution_pb2.CancelAllOrdersRequest(pair=args.pair),
                metadata=meta,
                timeout=_TIMEOUT,
            )
            rows = [{"client_order_id": i, "result": "cancel sent"} for i in reply.client_order_ids]
            rows += [
                {"client_order_id": f.client_order_id, "result": f.error.code}
                for f in reply.failures
            ]
            return rows, ["client_order_id", "result"]
        if args.command == "orders":
            state = execution_pb2.ORDER_STATE_FILTER_OPEN if args.open else 0
            listed = stub.ListOrders(
                execution_pb2.ListOrdersRequest(state=state, pair=args.pair),  # type: ignore[arg-type]
                metadata=meta,
                timeout=_TIMEOUT,
            )
            return [_row(o) for o in listed.orders], ORDER_COLUMNS
        if args.command == "order":
            got = stub.GetOrder(
                execution_pb2.GetOrderRequest(client_order_id=args.id),
                metadata=meta,
                timeout=_TIMEOUT,
            )
            return [_row(got.order)], [*ORDER_COLUMNS, "txid", "reason"]
        balances = stub.GetBalances(
            execution_pb2.GetBalancesRequest(), metadata=meta, timeout=_TIMEOUT
        )
        rows = [
            {"asset": b.asset, "total": b.total, "held": b.held, "available": b.available}
            for b in balances.balances
        ]
        return rows, BALANCE_COLUMNS


def watch(connection: Connection, args: argparse.Namespace) -> Iterator[str]:
    """Order events as they arrive, one line each (JSON lines with --json), until --count
    events, the stream's end or Ctrl-C."""
    request = execution_pb2.WatchOrdersRequest(
        after_event_id=args.after, pairs=args.pair, client_order_ids=args.id, team=args.team
    )
    with connection.channel("execution") as channel:
        stub = execution_pb2_grpc.ExecutionServiceStub(channel)
        # Leaving early is fine: closing the channel cancels the stream.
        stream = stub.WatchOrders(request, metadata=connection.metadata())
        widths: dict[str, int] = {}
        try:
            for count, event in enumerate(stream, start=1):
                if args.json:
                    yield json.dumps(MessageToDict(event, preserving_proto_field_name=True))
                else:
                    yield stream_line(_event_row(event), EVENT_COLUMNS, widths, header=count == 1)
                if count == args.count:
                    return
        except KeyboardInterrupt:
            return  # Ctrl-C is how a person stops watching
        except grpc.RpcError as exc:
            raise SystemExit(f"tradectl watch: {exc.code().name}: {exc.details()}") from exc


def _event_row(event: execution_pb2.OrderEvent) -> dict[str, Any]:
    kind = execution_pb2.OrderEventType.Name(event.type).removeprefix("ORDER_EVENT_TYPE_")
    return {
        **_row(event.order),
        "event_id": event.event_id,
        "time": event.event_time.ToDatetime().isoformat(timespec="milliseconds"),
        "event": kind,
    }


COMMANDS = frozenset({"place", "cancel", "cancel-all", "orders", "order", "balances"})
