"""`tradectl quote …`: Embed quotes for an end user: request, execute, watch, get, assets.

Amounts are shown as Kraken quotes them: each side's total, and for the side that pays the fee
its subtotal plus fee, so the user's cost is never a surprise.
"""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict

from tradectl.connection import Connection
from tradectl.output import render_table, stream_line
from trading.execution.v1 import execution_pb2, execution_pb2_grpc

TIMEOUT = 15.0
WATCH_TIMEOUT = 600.0
COLUMNS = ["quote_id", "status", "spends", "receives", "unit_price", "expires", "reason"]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    quote = commands.add_parser("quote", help="Embed quotes: request, execute, watch, get, assets")
    actions = quote.add_subparsers(dest="quote_command", required=True)
    request = actions.add_parser("request", help="ask Kraken for a quote")
    # dest end_user: plain `user` would overwrite the global --user, the token's subject.
    request.add_argument("--user", dest="end_user", required=True, help="the end user's IIBAN")
    side = request.add_mutually_exclusive_group(required=True)
    side.add_argument("--spend", nargs=2, metavar=("AMOUNT", "ASSET"), help="fix what is spent")
    side.add_argument(
        "--receive", nargs=2, metavar=("AMOUNT", "ASSET"), help="fix what is received"
    )
    request.add_argument("--for", dest="other", required=True, help="the other asset")
    request.add_argument("--fee-bps", type=int, default=0, help="partner fee, basis points")
    request.add_argument("--spread-bps", type=int, default=0, help="partner spread, basis points")
    request.add_argument("--client-id", default="", help="idempotency key (default: a new UUID)")
    for name, text in (
        ("execute", "execute a quote"),
        ("watch", "follow a quote until it ends"),
        ("get", "a quote as recorded"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("quote_id")
        if name == "get":
            action.add_argument("--refresh", action="store_true", help="ask Kraken now")
    assets = actions.add_parser("assets", help="assets an end user can be quoted")
    assets.add_argument("--user", dest="end_user", required=True, help="the end user's IIBAN")


def run(args: argparse.Namespace, connection: Connection) -> Iterator[str]:
    """The text to print, a piece at a time: ``watch`` yields each status change as it comes."""
    with connection.channel("execution") as channel:
        stub = execution_pb2_grpc.ExecutionServiceStub(channel)
        try:
            if args.quote_command == "watch":
                yield from _watch_lines(_call(stub, connection, args), as_json=args.json)
                return
            replies = list(_call(stub, connection, args))
        except grpc.RpcError as exc:
            raise SystemExit(
                f"tradectl quote {args.quote_command}: {exc.code().name}: {exc.details()}"
            ) from exc
        except KeyboardInterrupt:
            return  # Ctrl-C is how a person stops watching
    if args.json:
        yield "\n".join(_json(r) for r in replies)
    elif args.quote_command == "assets":
        rows = [
            {
                "asset": a.name,
                "status": execution_pb2.QuoteAssetStatus.Name(a.status).removeprefix(
                    "QUOTE_ASSET_STATUS_"
                ),
                "decimals": a.decimals,
                "not_against": ",".join(a.disabled_against) or "-",
            }
            for reply in replies
            for a in reply.assets
        ]
        yield render_table(rows, ["asset", "status", "decimals", "not_against"])
    else:
        yield render_table([quote_row(r.quote) for r in replies], COLUMNS)


def _watch_lines(events: Iterator[Any], *, as_json: bool) -> Iterator[str]:
    widths: dict[str, int] = {}
    for count, event in enumerate(events, start=1):
        if as_json:
            yield _json(event)
        else:
            yield stream_line(quote_row(event.quote), COLUMNS, widths, header=count == 1)


def _json(message: Any) -> str:
    return json.dumps(MessageToDict(message, preserving_proto_field_name=True))


def _call(
    stub: execution_pb2_grpc.ExecutionServiceStub, connection: Connection, args: argparse.Namespace
) -> Iterator[Any]:
    command = args.quote_command
    metadata = connection.metadata()
    if command == "request":
        fixed, quote_type = (
            (args.spend, execution_pb2.QUOTE_TYPE_SPEND)
            if args.spend
            else (args.receive, execution_pb2.QUOTE_TYPE_RECEIVE)
        )
        yield stub.RequestQuote(
            execution_pb2.RequestQuoteRequest(
                client_quote_id=args.client_id or str(uuid.uuid4()),
                user=args.end_user,
                type=quote_type,
                amount=fixed[0],
                amount_asset=fixed[1],
                quote_asset=args.other,
                fee_bps=args.fee_bps,
                spread_bps=args.spread_bps,
            ),
            metadata=metadata,
            timeout=TIMEOUT,
        )
    elif command == "execute":
        yield stub.ExecuteQuote(
            execution_pb2.ExecuteQuoteRequest(quote_id=args.quote_id),
            metadata=metadata,
            timeout=TIMEOUT,
        )
    elif command == "get":
        yield stub.GetQuote(
            execution_pb2.GetQuoteRequest(quote_id=args.quote_id, refresh=args.refresh),
            metadata=metadata,
            timeout=TIMEOUT,
        )
    elif command == "watch":
        yield from stub.WatchQuote(
            execution_pb2.WatchQuoteRequest(quote_id=args.quote_id),
            metadata=metadata,
            timeout=WATCH_TIMEOUT,
        )
    else:
        yield stub.ListQuoteAssets(
            execution_pb2.ListQuoteAssetsRequest(user=args.end_user),
            metadata=metadata,
            timeout=TIMEOUT,
        )


def quote_row(quote: execution_pb2.Quote) -> dict[str, str]:
    return {
        "quote_id": quote.quote_id,
        "status": execution_pb2.QuoteStatus.Name(quote.status).removeprefix("QUOTE_STATUS_"),
        "spends": _leg(quote.spend),
        "receives": _leg(quote.receive),
        "unit_price": f"{quote.unit_price.unit_price} {quote.unit_price.denomination_asset}"
        f"/{quote.unit_price.asset}",
        "expires": quote.expire_time.ToDatetime().strftime("%H:%M:%S"),
        "reason": quote.status_reason or "-",
    }


def _leg(leg: execution_pb2.QuoteAmount) -> str:
    if leg.fee and leg.fee.strip("0.") != "":
        return f"{leg.total} {leg.asset} ({leg.subtotal} + fee {leg.fee})"
    return f"{leg.total} {leg.asset}"
