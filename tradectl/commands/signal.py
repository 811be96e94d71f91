"""`tradectl signal …`: rules, automated-trading bindings, publishing and watching signals."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from tradectl.connection import Connection
from tradectl.output import render_table, stream_line
from trading.common.v1 import common_pb2
from trading.signal.v1 import signal_pb2, signal_pb2_grpc

TIMEOUT = 10.0
INTERVALS = {
    "1m": signal_pb2.CANDLE_INTERVAL_1M,
    "5m": signal_pb2.CANDLE_INTERVAL_5M,
    "15m": signal_pb2.CANDLE_INTERVAL_15M,
    "30m": signal_pb2.CANDLE_INTERVAL_30M,
    "1h": signal_pb2.CANDLE_INTERVAL_1H,
    "4h": signal_pb2.CANDLE_INTERVAL_4H,
    "1d": signal_pb2.CANDLE_INTERVAL_1D,
    "1w": signal_pb2.CANDLE_INTERVAL_1W,
    "15d": signal_pb2.CANDLE_INTERVAL_15D,
}
DIRECTIONS = {
    "above": signal_pb2.CROSS_DIRECTION_ABOVE,
    "below": signal_pb2.CROSS_DIRECTION_BELOW,
    "both": signal_pb2.CROSS_DIRECTION_UNSPECIFIED,
}
AVERAGES = {"sma": signal_pb2.MOVING_AVERAGE_TYPE_SMA, "ema": signal_pb2.MOVING_AVERAGE_TYPE_EMA}
SIDES = {"buy": common_pb2.SIDE_BUY, "sell": common_pb2.SIDE_SELL}
ORDER_TYPES = {"market": common_pb2.ORDER_TYPE_MARKET, "limit": common_pb2.ORDER_TYPE_LIMIT}
TIMES_IN_FORCE = {"gtc": common_pb2.TIME_IN_FORCE_GTC, "ioc": common_pb2.TIME_IN_FORCE_IOC}
STATES = {"active": signal_pb2.BINDING_STATE_ACTIVE, "paused": signal_pb2.BINDING_STATE_PAUSED}
RULE_COLUMNS = ["id", "name", "pair", "kind", "detail", "cooldown_s", "team"]
BINDING_COLUMNS = [
    "id",
    "name",
    "trigger",
    "pair",
    "sizing",
    "order",
    "state",
    "last_order",
    "failures",
    "last_error",
]
SIGNAL_COLUMNS = ["id", "time", "pair", "side", "strength", "source", "price", "reason"]

# A handler makes its call and returns the reply with the function that renders it as a table.
Handler = Callable[[Any, argparse.Namespace], tuple[Message, Callable[[Any], str]]]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    signal = commands.add_parser("signal", help="rules, bindings, publishing and watching signals")
    actions = signal.add_subparsers(dest="signal_command", required=True)

    rules = actions.add_parser("rules", help="list rules")
    rules.add_argument("--pair", default="")
    create_rule = actions.add_parser("create-rule", help="create a rule that emits signals")
    create_rule.add_argument("kind", choices=["price-cross", "ma-cross", "breakout", "rsi"])
    create_rule.add_argument("--name", required=True)
    create_rule.add_argument("--pair", required=True, help='e.g. "BTC/USD"')
    create_rule.add_argument("--interval", choices=list(INTERVALS), help="candle interval")
    create_rule.add_argument("--threshold", default="", help="price-cross: the price")
    create_rule.add_argument("--direction", choices=list(DIRECTIONS), help="price-cross, breakout")
    create_rule.add_argument("--average", choices=list(AVERAGES), help="ma-cross: sma or ema")
    create_rule.add_argument("--fast", type=int, default=0, help="ma-cross: fast period")
    create_rule.add_argument("--slow", type=int, default=0, help="ma-cross: slow period")
    create_rule.add_argument("--periods", type=int, default=0, help="breakout: look-back")
    create_rule.add_argument("--period", type=int, default=0, help="rsi: period (default 14)")
    create_rule.add_argument("--lower", default="", help="rsi: lower bound, e.g. 30")
    create_rule.add_argument("--upper", default="", help="rsi: upper bound, e.g. 70")
    create_rule.add_argument("--cooldown", type=float, default=0.0, help="seconds between signals")
    delete_rule = actions.add_parser("delete-rule", help="delete a rule no binding uses")
    delete_rule.add_argument("rule_id")

    bindings = actions.add_parser("bindings", help="list bindings")
    bindings.add_argument("--pair", default="")
    bindings.add_argument("--state", choices=list(STATES))
    create = actions.add_parser("create-binding", help="trade a rule's or a source's signals")
    create.add_argument("--name", required=True)
    create.add_argument("--pair", required=True, help='e.g. "BTC/USD"')
    trigger = create.add_mutually_exclusive_group(required=True)
    trigger.add_argument("--rule", default="", help="rule id")
    trigger.add_argument("--source", default="", help="external signal source")
    sizing = create.add_mutually_exclusive_group(required=True)
    sizing.add_argument("--quote-amount", default="", help="spend this much quote per order")
    sizing.add_argument("--volume", default="", help="trade this base volume per order")
    sizing.add_argument("--fraction", default="", help="trade this fraction of the balance")
    create.add_argument("--type", choices=list(ORDER_TYPES), default="market")
    create.add_argument("--offset-bps", type=int, default=0, help="limit: passive offset")
    create.add_argument("--side", choices=list(SIDES), help="only signals of this side")
    create.add_argument("--min-strength", default="", help="ignore weaker signals")
    create.add_argument("--tif", choices=list(TIMES_IN_FORCE), help="time in force")
    create.add_argument("--cooldown", type=float, default=0.0, help="seconds between orders")
    create.add_argument("--dry-run", action="store_true", help="validate orders only")
    create.add_argument("--paused", action="store_true", help="create it paused")
    pause = actions.add_parser("pause", help="pause a binding")
    pause.add_argument("binding_id")
    pause.add_argument("--reason", default="")
    resume = actions.add_parser("resume", help="resume a paused binding")
    resume.add_argument("binding_id")
    delete_binding = actions.add_parser("delete-binding", help="delete a binding")
    delete_binding.add_argument("binding_id")

    publish = actions.add_parser("publish", help="publish an external signal")
    publish.add_argument("source")
    publish.add_argument("external_id")
    publish.add_argument("side", choices=list(SIDES))
    publish.add_argument("pair")
    publish.add_argument("--strength", required=True, help='"0" to "1"')
    publish.add_argument("--reason", default="")
    publish.add_argument("--price", default="")
    ticker = actions.add_parser("ticker", help="the latest ticker of a pair")
    ticker.add_argument("pair", help='e.g. "BTC/USD"')
    watch = actions.add_parser("watch", help="stream signals as they are recorded")
    watch.add_argument("--after", default="", help='resume after this signal id ("0": all)')
    watch.add_argument("--pair", action="append", default=[])
    watch.add_argument("--source", action="append", default=[])
    watch.add_argument("--rule", action="append", default=[])
    watch.add_argument("--count", type=int, default=0, help="stop after this many signals")


def run(args: argparse.Namespace, connection: Connection) -> Iterator[str]:
    """The command's output, piece by piece (``watch`` streams): tables, or JSON with --json."""
    handlers: Mapping[str, Handler] = {
        "rules": _rules,
        "create-rule": _create_rule,
        "delete-rule": _delete_rule,
        "bindings": _bindings,
        "create-binding": _create_binding,
        "pause": _pause,
        "resume": _resume,
        "delete-binding": _delete_binding,
        "publish": _publish,
        "ticker": _ticker,
    }
    with connection.channel("signal") as channel:
        stub = signal_pb2_grpc.SignalServiceStub(channel)
        try:
            if args.signal_command == "watch":
                yield from _watch(stub, connection, args)
                return
            reply, render = handlers[args.signal_command](_Call(stub, connection), args)
        except grpc.RpcError as exc:
            raise SystemExit(
                f"tradectl signal {args.signal_command}: {exc.code().name}: {exc.details()}"
            ) from exc
    if args.json:
        yield json.dumps(_dict(reply), indent=2)
    else:
        yield render(reply)


class _Call:
    """The stub with this connection's metadata and timeout on every call."""

    def __init__(self, stub: signal_pb2_grpc.SignalServiceStub, connection: Connection) -> None:
        self._stub = stub
        self._connection = connection

    def __getattr__(self, name: str) -> Callable[[Any], Any]:
        method = getattr(self._stub, name)
        return lambda request: method(
            request, metadata=self._connection.metadata(), timeout=TIMEOUT
        )


# --- market -----------------------------------------------------------------------------------


def _ticker(call: Any, args: argparse.Namespace) -> tuple[Message, Callable[[Any], str]]:
    reply = call.GetTicker(signal_pb2.GetTickerRequest(pair=args.pair))
    columns = ["pair", "bid", "ask", "last", "low", "high", "volume"]
    return reply, lambda r: render_table(
        [{name: getattr(r.ticker, name) for name in columns}], columns
    )


# --- rules ------------------------------------------------------------------------------------


def _rules(call: Any, args: argparse.Namespace) -> tuple[Message, Callable[[Any], str]]:
    reply = call.ListRules(signal_pb2.ListRulesRequest(pair=args.pair))
    return reply, lambda r: render_table([_rule_row(rule) for rule in r.rules], RULE_COLUMNS)


def _create_rule(call: Any, args: argparse.Namespace) -> tuple[Message, Callable[[Any], str]]:
    request = signal_pb2.CreateRuleRequest(name=args.name, pair=args.pair)
    interval = INTERVALS.get(args.interval or "", signal_pb2.CANDLE_INTERVAL_UNSPECIFIED)
    direction = DIRECTIONS.get(args.direction or "", signal_pb2.CROSS_DIRECTION_UNSPECIFIED)
    if args.kind == "price-cross":
        request.price_cross.threshold = args.threshold
        request.price_cross.direction = direction
    elif args.kind == "ma-cross":
        average = AVERAGES.get(args.average or "", signal_pb2.MOVING_AVERAGE_TYPE_UNSPECIFIED)
        request.moving_average_cross.type = average
        request.moving_average_cross.fast_period = args.fast
        request.moving_average_cross.slow_period = args.slow
        request.moving_average_cross.interval = interval
    elif args.kind == "breakout":
        request.breakout.periods = args.periods
        request.breakout.interval = interval
        request.breakout.direction = direction
    else:
        request.rsi.period = args.period
        request.rsi.interval = interval
        request.rsi.lower = args.lower
        request.rsi.upper = args.upper
    if args.cooldown:
        request.cooldown.FromMilliseconds(round(args.cooldown * 1000))
    reply = call.CreateRule(request)
    return reply, lambda r: render_table([_rule_row(r.rule)], RULE_COLUMNS)


def _delete_rule(call: Any, args: argparse.Namespace) -> tuple[Message, Callable[[Any], str]]:
    reply = call.DeleteRule(signal_pb2.DeleteRuleRequest(rule_id=args.rule_id))
    return reply, lambda _r: f"rule {args.rule_id} deleted"


def _rule_row(rule: signal_pb2.Rule) -> dict[str, Any]:
    kind = rule.WhichOneof("kind") or ""
    detail = MessageToDict(getattr(rule, kind), preserving_proto_field_name=True) if kind else {}
    return {
        "id": rule.id,
        "name": rule.name,
        "pair": rule.pair,
        "kind": kind,
        "detail": " ".join(f"{k}={_short(v)}" for k, v in detail.items()),
        "cooldown_s": rule.cooldown.ToMilliseconds() / 1000,
        "team": rule.team,
    }


# --- bindings ---------------------------------------------------------------------------------


def _bindings(call: Any, args: argparse.Namespace) -> tuple[Message, Callable[[Any], str]]:
    request = signal_pb2.ListBindingsRequest(pair=args.pair)
    if args.state:
        request.state = STATES[args.state]
    reply = call.ListBindings(request)
    return reply, lambda r: render_table([_binding_row(b) for b in r.bindings], BINDING_COLUMNS)


def _create_binding(call: Any, args: argparse.Namespace) -> tuple[Message, Callable[[Any], str]]:
    request = signal_pb2.CreateBindingRequest(
        name=args.name,
        pair=args.pair,
        order_type=ORDER_TYPES[args.type],
        limit_offset_bps=args.offset_bps,
        min_strength=args.min_strength,
        dry_run=args.dry_run,
        start_paused=args.paused,
    )
    if args.rule:
        request.rule_id = args.rule
    else:
        request.signal_source = args.source
    if args.quote_amount:
        request.sizing.fixed_quote_amount.amount = args.quote_amount
    elif args.volume:
        request.sizing.fixed_volume.volume = args.volume
    else:
        request.sizing.balance_fraction.fraction = args.fraction
    if args.side:
        request.side_filter = SIDES[args.side]
    if args.tif:
        request.time_in_force = TIMES_IN_FORCE[args.tif]
    if args.cooldown:
        request.cooldown.FromMilliseconds(round(args.cooldown * 1000))
    reply = call.CreateBinding(request)
    return reply, lambda r: render_table([_binding_row(r.binding)], BINDING_COLUMNS)


def _pause(call: Any, args: argparse.Namespace) -> tuple[Message, Callable[[Any], str]]:
    reply = call.PauseBinding(
        signal_pb2.PauseBindingRequest(binding_id=args.binding_id, reason=args.reason)
    )
    return reply, lambda r: render_table([_binding_row(r.binding)], [*BINDING_COLUMNS, "reason"])


def _resume(call: Any, args: argparse.Namespace) -> tuple[Message, Callable[[Any], str]]:
    reply = call.ResumeBinding(signal_pb2.ResumeBindingRequest(binding_id=args.binding_id))
    return reply, lambda r: render_table([_binding_row(r.binding)], BINDING_COLUMNS)


def _delete_binding(call: Any, args: argparse.Namespace) -> tuple[Message, Callable[[Any], str]]:
    reply = call.DeleteBinding(signal_pb2.DeleteBindingRequest(binding_id=args.binding_id))
    return reply, lambda _r: f"binding {args.binding_id} deleted"


def _binding_row(binding: signal_pb2.Binding) -> dict[str, Any]:
    trigger = binding.WhichOneof("trigger") or ""
    policy = binding.sizing.WhichOneof("policy") or ""
    sizing = MessageToDict(getattr(binding.sizing, policy)) if policy else {}
    order = common_pb2.OrderType.Name(binding.order_type).removeprefix("ORDER_TYPE_").lower()
    if binding.order_type == common_pb2.ORDER_TYPE_LIMIT:
        order += f" -{binding.limit_offset_bps}bps"
    return {
        "id": binding.id,
        "name": binding.name,
        "trigger": f"{trigger.removeprefix('signal_')}={getattr(binding, trigger)}"
        if trigger
        else "",
        "pair": binding.pair,
        "sizing": f"{policy}={next(iter(sizing.values()), '')}",
        "order": order + (" dry-run" if binding.dry_run else ""),
        "state": signal_pb2.BindingState.Name(binding.state).removeprefix("BINDING_STATE_"),
        "last_order": binding.last_client_order_id or "-",
        "failures": binding.consecutive_failures,
        "last_error": binding.last_error or "-",
        "reason": binding.pause_reason or "-",
    }


# --- signals ----------------------------------------------------------------------------------


def _publish(call: Any, args: argparse.Namespace) -> tuple[Message, Callable[[Any], str]]:
    reply = call.PublishSignal(
        signal_pb2.PublishSignalRequest(
            source=args.source,
            external_id=args.external_id,
            pair=args.pair,
            side=SIDES[args.side],
            strength=args.strength,
            reason=args.reason,
            price=args.price,
        )
    )

    def render(reply: signal_pb2.PublishSignalResponse) -> str:
        table = render_table([_signal_row(reply.signal)], SIGNAL_COLUMNS)
        return f"{table}\n(duplicate: already published)" if reply.duplicate else table

    return reply, render


def _watch(
    stub: signal_pb2_grpc.SignalServiceStub, connection: Connection, args: argparse.Namespace
) -> Iterator[str]:
    request = signal_pb2.StreamSignalsRequest(
        after_signal_id=args.after, pairs=args.pair, sources=args.source, rule_ids=args.rule
    )
    # Leaving early is fine: closing the channel (in `run`) cancels the stream.
    stream = stub.StreamSignals(request, metadata=connection.metadata())
    widths: dict[str, int] = {}
    try:
        for count, signal in enumerate(stream, start=1):
            if args.json:
                yield json.dumps(_dict(signal))
            else:
                yield stream_line(_signal_row(signal), SIGNAL_COLUMNS, widths, header=count == 1)
            if count == args.count:
                return
    except KeyboardInterrupt:
        return  # Ctrl-C is how a person stops watching


def _signal_row(signal: signal_pb2.Signal) -> dict[str, Any]:
    return {
        "id": signal.id,
        "time": signal.time.ToDatetime().isoformat(timespec="seconds"),
        "pair": signal.pair,
        "side": common_pb2.Side.Name(signal.side).removeprefix("SIDE_").lower(),
        "strength": signal.strength,
        "source": f"rule:{signal.rule_id}" if signal.rule_id else signal.source,
        "price": signal.price or "-",
        "reason": signal.reason,
    }


def _dict(message: Message) -> dict[str, Any]:
    return MessageToDict(message, preserving_proto_field_name=True)


def _short(value: Any) -> str:
    text = str(value)
    for prefix in ("CROSS_DIRECTION_", "MOVING_AVERAGE_TYPE_", "CANDLE_INTERVAL_"):
        text = text.removeprefix(prefix)
    return text.lower() if text.isupper() else text
