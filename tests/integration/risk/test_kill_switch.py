"""The kill switch refuses new orders in scope, lets reduce-only orders pass, and is audited."""

from __future__ import annotations

import pytest

from tests.integration.risk.conftest import Metadata, order
from trading.common.v1 import common_pb2
from trading.risk.v1 import risk_pb2, risk_pb2_grpc

pytestmark = pytest.mark.integration


def engage(
    stub: risk_pb2_grpc.RiskServiceStub, metadata: Metadata, engaged: bool, team: str = ""
) -> risk_pb2.SetKillSwitchResponse:
    scope = risk_pb2.KILL_SWITCH_SCOPE_TEAM if team else risk_pb2.KILL_SWITCH_SCOPE_GLOBAL
    request = risk_pb2.SetKillSwitchRequest(
        scope=scope, team=team, engaged=engaged, reason="runaway strategy"
    )
    return stub.SetKillSwitch(request, metadata=metadata, timeout=5)


def fill(stub: risk_pb2_grpc.RiskServiceStub, metadata: Metadata, volume: str) -> None:
    reply = stub.CheckOrder(order(volume), metadata=metadata, timeout=5)
    stub.ReportOrderOutcome(
        risk_pb2.ReportOrderOutcomeRequest(
            reservation_id=reply.reservation_id,
            outcome=risk_pb2.OUTCOME_FILLED,
            filled_volume=volume,
            average_price="30000",
        ),
        metadata=metadata,
        timeout=5,
    )


def test_global_switch_refuses_new_orders_but_passes_reduce_only(
    redis_url: str,
    stub: risk_pb2_grpc.RiskServiceStub,
    as_execution: Metadata,
    as_officer: Metadata,
) -> None:
    fill(stub, as_execution, "2")
    change = engage(stub, as_officer, True)

    refused = stub.CheckOrder(order("1"), metadata=as_execution, timeout=5)
    reducing = stub.CheckOrder(
        order("1", side=common_pb2.SIDE_SELL, reduce_only=True), metadata=as_execution, timeout=5
    )
    too_big = stub.CheckOrder(
        order("5", side=common_pb2.SIDE_SELL, reduce_only=True), metadata=as_execution, timeout=5
    )

    assert change.state.engaged
    assert change.state.updated_by == "officer-1"
    assert [v.code for v in refused.violations] == ["KILL_SWITCH"]
    assert reducing.approved, reducing.violations
    assert [v.code for v in too_big.violations] == ["REDUCE_ONLY"]
    engage(stub, as_officer, False)
    assert stub.CheckOrder(order("1"), metadata=as_execution, timeout=5).approved


def test_team_switch_stops_only_that_team(
    redis_url: str,
    stub: risk_pb2_grpc.RiskServiceStub,
    as_execution: Metadata,
    as_officer: Metadata,
) -> None:
    engage(stub, as_officer, True, team="desk-a")

    desk_a = stub.CheckOrder(order(team="desk-a"), metadata=as_execution, timeout=5)
    desk_b = stub.CheckOrder(order(team="desk-b"), metadata=as_execution, timeout=5)
    state = stub.GetKillSwitch(risk_pb2.GetKillSwitchRequest(), metadata=as_officer, timeout=5)

    assert [v.code for v in desk_a.violations] == ["KILL_SWITCH"]
    assert "desk-a" in desk_a.violations[0].message
    assert desk_b.approved
    assert not getattr(state, "global").engaged
    assert [(t.team, t.engaged, t.reason) for t in state.teams] == [
        ("desk-a", True, "runaway strategy")
    ]


def test_quotes_are_refused_while_engaged(
    redis_url: str,
    stub: risk_pb2_grpc.RiskServiceStub,
    as_execution: Metadata,
    as_officer: Metadata,
) -> None:
    engage(stub, as_officer, True)
    quote = risk_pb2.QuoteIntent(
        quote_id="Q-1",
        team="desk-a",
        spend_asset="USD",
        spend_amount="1000",
        receive_asset="BTC",
        receive_amount="0.03",
    )

    reply = stub.CheckQuote(risk_pb2.CheckQuoteRequest(quote=quote), metadata=as_execution)

    assert [v.code for v in reply.violations] == ["KILL_SWITCH"]


def test_switch_changes_are_in_the_audit_trail(
    redis_url: str,
    stub: risk_pb2_grpc.RiskServiceStub,
    as_officer: Metadata,
) -> None:
    change = engage(stub, as_officer, True, team="desk-b")

    trail = stub.ListLimitChanges(
        risk_pb2.ListLimitChangesRequest(kind=risk_pb2.LIMIT_CHANGE_KIND_KILL_SWITCH),
        metadata=as_officer,
        timeout=5,
    )

    entry = trail.changes[0]
    assert entry.change_id == change.change_id
    assert (entry.changed_by, entry.reason) == ("officer-1", "runaway strategy")
    assert entry.new_kill_switch.engaged
    assert entry.new_kill_switch.team == "desk-b"
    assert not entry.HasField("old_kill_switch")
