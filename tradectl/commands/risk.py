"""`tradectl risk …`: what risk officers reach for: limits, exposure, halt, resume, kill-switch."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict

from tradectl.connection import Connection
from tradectl.output import render_table
from trading.risk.v1 import risk_pb2, risk_pb2_grpc

TIMEOUT = 5.0

# A handler makes its call and returns the reply with the function that renders it as a table.
Handler = Callable[[Any, argparse.Namespace], tuple[Any, Callable[[Any], str]]]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    risk = commands.add_parser("risk", help="risk limits, exposure and the kill switch")
    actions = risk.add_subparsers(dest="risk_command", required=True)
    actions.add_parser("limits", help="the limits in force, with their version")
    exposure = actions.add_parser("exposure", help="positions, reservations and team usage")
    exposure.add_argument("--team", default="", help="only this team's usage")
    exposure.add_argument("--asset", action="append", default=[], help="only this asset")
    for name, text in (("halt", "engage"), ("resume", "release")):
        switch = actions.add_parser(name, help=f"{text} the kill switch, global or for one team")
        switch.add_argument("--reason", required=True, help="why; kept in the audit trail")
        switch.add_argument("--team", default="", help="only this team (default: global)")
    actions.add_parser("kill-switch", help="state of the global and team kill switches")
    changes = actions.add_parser("changes", help="audit trail of limit and kill-switch changes")
    changes.add_argument("--limit", type=int, default=20, help="how many, newest first")


def run(args: argparse.Namespace, connection: Connection) -> str:
    """The command's output: a human table, or JSON with --json."""
    handlers: Mapping[str, Handler] = {
        "limits": _limits,
        "exposure": _exposure,
        "halt": _set_switch(engaged=True),
        "resume": _set_switch(engaged=False),
        "kill-switch": _kill_switches,
        "changes": _changes,
    }
    with connection.channel("risk") as channel:
        stub = risk_pb2_grpc.RiskServiceStub(channel)
        call = _Call(stub, connection)
        try:
            reply, render = handlers[args.risk_command](call, args)
        except grpc.RpcError as exc:
            raise SystemExit(
                f"tradectl risk {args.risk_command}: {exc.code().name}: {exc.details()}"
            ) from exc
    if args.json:
        return json.dumps(MessageToDict(reply, preserving_proto_field_name=True), indent=2)
    text: str = render(reply)
    return text


class _Call:
    """The stub with this connection's metadata and timeout on every call."""

    def __init__(self, stub: risk_pb2_grpc.RiskServiceStub, connection: Connection) -> None:
        self._stub = stub
        self._connection = connection

    def __getattr__(self, name: str) -> Callable[[Any], Any]:
        method = getattr(self._stub, name)
        return lambda request: method(
            request, metadata=self._connection.metadata(), timeout=TIMEOUT
        )


def _limits(call: Any, args: argparse.Namespace) -> tuple[Any, Callable[[Any], str]]:
    reply = call.GetLimits(risk_pb2.GetLimitsRequest())

    def render(reply: risk_pb2.GetLimitsResponse) -> str:
        limits = reply.limits
        data = MessageToDict(limits, preserving_proto_field_name=True)
        meta = [f"version {limits.version}, last changed by {limits.updated_by or '-'}"]
        rows = [
            {"limit": key, "value": value}
            for key, value in _flatten(data)
            if key not in {"version", "updated_by", "update_time"}
        ]
        return "\n".join([*meta, render_table(rows, ["limit", "value"])])

    return reply, render


def _exposure(call: Any, args: argparse.Namespace) -> tuple[Any, Callable[[Any], str]]:
    reply = call.GetExposure(risk_pb2.GetExposureRequest(team=args.team, assets=args.asset))

    def render(reply: risk_pb2.GetExposureResponse) -> str:
        assets = [
            {
                "asset": a.asset,
                "position": a.position,
                "reserved_buy": a.reserved_buy,
                "reserved_sell": a.reserved_sell,
                "max_position": a.max_position or "-",
            }
            for a in reply.assets
        ]
        teams = [
            {
                "team": t.team,
                "day": t.day,
                "used": t.daily_notional_used,
                "reserved": t.daily_notional_reserved,
                "limit": t.daily_notional_limit,
                "open_orders": t.open_orders,
            }
            for t in reply.teams
        ]
        return "\n\n".join(
            [
                render_table(
                    assets, ["asset", "position", "reserved_buy", "reserved_sell", "max_position"]
                ),
                render_table(teams, ["team", "day", "used", "reserved", "limit", "open_orders"]),
            ]
        )

    return reply, render


def _set_switch(engaged: bool) -> Handler:
    def handler(call: Any, args: argparse.Namespace) -> tuple[Any, Callable[[Any], str]]:
        scope = risk_pb2.KILL_SWITCH_SCOPE_TEAM if args.team else risk_pb2.KILL_SWITCH_SCOPE_GLOBAL
        reply = call.SetKillSwitch(
            risk_pb2.SetKillSwitchRequest(
                scope=scope, team=args.team, engaged=engaged, reason=args.reason
            )
        )

        def render(reply: risk_pb2.SetKillSwitchResponse) -> str:
            table = render_table([_switch_row(reply.state)], _SWITCH_COLUMNS)
            return f"{table}\naudit record {reply.change_id}"

        return reply, render

    return handler


def _kill_switches(call: Any, args: argparse.Namespace) -> tuple[Any, Callable[[Any], str]]:
    reply = call.GetKillSwitch(risk_pb2.GetKillSwitchRequest())

    def render(reply: risk_pb2.GetKillSwitchResponse) -> str:
        states = [getattr(reply, "global"), *reply.teams]
        return render_table([_switch_row(s) for s in states], _SWITCH_COLUMNS)

    return reply, render


def _changes(call: Any, args: argparse.Namespace) -> tuple[Any, Callable[[Any], str]]:
    request = risk_pb2.ListLimitChangesRequest()
    request.page.page_size = args.limit
    reply = call.ListLimitChanges(request)

    def render(reply: risk_pb2.ListLimitChangesResponse) -> str:
        rows = [
            {
                "when": c.change_time.ToDatetime().isoformat(timespec="seconds"),
                "kind": risk_pb2.LimitChangeKind.Name(c.kind).removeprefix("LIMIT_CHANGE_KIND_"),
                "by": c.changed_by,
                "reason": c.reason,
                "request_id": c.request_id,
                "id": c.change_id,
            }
            for c in reply.changes
        ]
        return render_table(rows, ["when", "kind", "by", "reason", "request_id", "id"])

    return reply, render


_SWITCH_COLUMNS = ["scope", "team", "engaged", "reason", "updated_by", "updated"]


def _switch_row(state: risk_pb2.KillSwitchState) -> dict[str, Any]:
    return {
        "scope": "team" if state.team else "global",
        "team": state.team or "-",
        "engaged": "ENGAGED" if state.engaged else "released",
        "reason": state.reason or "-",
        "updated_by": state.updated_by or "-",
        "updated": state.update_time.ToDatetime().isoformat(timespec="seconds")
        if state.HasField("update_time")
        else "-",
    }


def _flatten(data: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(data, dict):
        return [
            item
            for key, value in sorted(data.items())
            for item in _flatten(value, f"{prefix}.{key}" if prefix else key)
        ]
    if isinstance(data, list):
        return [(prefix, ", ".join(str(v) for v in data))]
    return [(prefix, str(data))]
