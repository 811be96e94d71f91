"""Reading risk's audit entries: which are kill-switch changes, and which orders they cover."""

from __future__ import annotations

import json

from services.execution.orders.kill_switch import parse_change
from services.execution.orders.model import OrderRecord
from trading.common.v1 import common_pb2


def audit_entry(team: str, engaged: str, kind: str = "kill_switch") -> dict[str, str]:
    """An entry as services/risk/kill_switch.py writes it."""
    return {
        "kind": kind,
        "scope": "team" if team else "global",
        "team": team,
        "changed_by": "officer-1",
        "change_time": "2026-01-02T03:04:05+00:00",
        "reason": "runaway strategy",
        "request_id": "req-7",
        "old": "",
        "new": json.dumps({"engaged": engaged, "reason": "runaway strategy"}),
    }


def order(team: str, *, reduce_only: bool = False) -> OrderRecord:
    return OrderRecord(
        client_order_id="0b8e3f3c-5b7e-4c55-9d39-2f1f3c1b7a10",
        pair="BTC/USD",
        kraken_pair="XXBTZUSD",
        side=common_pb2.SIDE_BUY,
        order_type=common_pb2.ORDER_TYPE_LIMIT,
        volume="0.01",
        fingerprint="f",
        team=team,
        placed_by=team,
        request_id="r",
        reduce_only=reduce_only,
    )


def test_global_engage_covers_every_team_but_not_reduce_only_orders() -> None:
    change = parse_change("1-0", audit_entry("", "1"))

    assert change is not None
    assert change.engaged
    assert (change.scope, change.changed_by, change.request_id) == ("global", "officer-1", "req-7")
    assert change.covers(order("desk-a"))
    assert change.covers(order("desk-b"))
    assert not change.covers(order("desk-a", reduce_only=True))


def test_team_engage_covers_only_that_team() -> None:
    change = parse_change("2-0", audit_entry("desk-b", "1"))

    assert change is not None
    assert change.scope == "team desk-b"
    assert change.covers(order("desk-b"))
    assert not change.covers(order("desk-a"))


def test_release_is_a_change_that_is_not_engaged() -> None:
    change = parse_change("3-0", audit_entry("desk-b", "0"))

    assert change is not None
    assert not change.engaged


def test_limits_changes_and_unreadable_entries_are_ignored() -> None:
    broken = audit_entry("", "1")
    broken["new"] = "{not json"

    assert parse_change("4-0", audit_entry("", "1", kind="limits")) is None
    assert parse_change("5-0", broken) is None
