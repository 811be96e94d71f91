"""ReportOrderOutcome: fills become position, the rest is released, repeats change nothing."""

from __future__ import annotations

import grpc
import pytest

from tests.integration.risk.conftest import Metadata, order
from trading.risk.v1 import risk_pb2, risk_pb2_grpc

pytestmark = pytest.mark.integration


def report(
    stub: risk_pb2_grpc.RiskServiceStub,
    metadata: Metadata,
    reservation_id: str,
    outcome: risk_pb2.Outcome.ValueType,
    filled: str = "",
    price: str = "",
) -> risk_pb2.ReportOrderOutcomeResponse:
    return stub.ReportOrderOutcome(
        risk_pb2.ReportOrderOutcomeRequest(
            reservation_id=reservation_id,
            outcome=outcome,
            filled_volume=filled,
            average_price=price,
        ),
        metadata=metadata,
        timeout=5,
    )


def exposure(
    stub: risk_pb2_grpc.RiskServiceStub, metadata: Metadata
) -> risk_pb2.GetExposureResponse:
    return stub.GetExposure(risk_pb2.GetExposureRequest(), metadata=metadata, timeout=5)


def test_partial_fill_then_cancel_keeps_the_fill_and_releases_the_rest(
    redis_url: str, stub: risk_pb2_grpc.RiskServiceStub, as_execution: Metadata
) -> None:
    checked = stub.CheckOrder(order("2"), metadata=as_execution, timeout=5)
    rid = checked.reservation_id

    partial = report(stub, as_execution, rid, risk_pb2.OUTCOME_PARTIALLY_FILLED, "0.5", "29900")
    repeat = report(stub, as_execution, rid, risk_pb2.OUTCOME_PARTIALLY_FILLED, "0.5", "29900")
    older = report(stub, as_execution, rid, risk_pb2.OUTCOME_PARTIALLY_FILLED, "0.2", "29900")
    middle = exposure(stub, as_execution)
    cancel = report(stub, as_execution, rid, risk_pb2.OUTCOME_CANCELED, "0.5", "29900")
    after = exposure(stub, as_execution)

    assert partial.applied
    assert partial.remaining_reserved_notional == "45000"
    assert not repeat.applied
    assert not older.applied
    assets = {a.asset: a for a in middle.assets}
    assert (assets["BTC"].position, assets["BTC"].reserved_buy) == ("0.5", "1.5")
    assert cancel.applied
    assert cancel.remaining_reserved_notional == "0"
    assets = {a.asset: a for a in after.assets}
    assert (assets["BTC"].position, assets["BTC"].reserved_buy) == ("0.5", "0")
    assert (assets["USD"].position, assets["USD"].reserved_sell) == ("-14950", "0")
    team = after.teams[0]
    assert (team.daily_notional_used, team.daily_notional_reserved) == ("14950", "0")
    assert team.open_orders == 0


def test_rejected_order_releases_everything(
    redis_url: str, stub: risk_pb2_grpc.RiskServiceStub, as_execution: Metadata
) -> None:
    checked = stub.CheckOrder(order("1"), metadata=as_execution, timeout=5)

    reply = report(stub, as_execution, checked.reservation_id, risk_pb2.OUTCOME_REJECTED)
    again = report(stub, as_execution, checked.reservation_id, risk_pb2.OUTCOME_REJECTED)

    assert reply.applied
    assert not again.applied
    btc = next(a for a in exposure(stub, as_execution).assets if a.asset == "BTC")
    assert (btc.position, btc.reserved_buy) == ("0", "0")


def test_report_by_client_order_id(
    redis_url: str, stub: risk_pb2_grpc.RiskServiceStub, as_execution: Metadata
) -> None:
    request = order("1")
    stub.CheckOrder(request, metadata=as_execution, timeout=5)

    reply = stub.ReportOrderOutcome(
        risk_pb2.ReportOrderOutcomeRequest(
            client_order_id=request.order.client_order_id,
            outcome=risk_pb2.OUTCOME_FILLED,
            average_price="30000",
        ),
        metadata=as_execution,
        timeout=5,
    )

    assert reply.applied
    btc = next(a for a in exposure(stub, as_execution).assets if a.asset == "BTC")
    assert btc.position == "1"


def test_unknown_reservation_is_not_found(
    redis_url: str, stub: risk_pb2_grpc.RiskServiceStub, as_execution: Metadata
) -> None:
    with pytest.raises(grpc.RpcError) as failed:
        report(
            stub,
            as_execution,
            "order:00000000-0000-0000-0000-000000000000",
            risk_pb2.OUTCOME_CANCELED,
        )
    assert failed.value.code() is grpc.StatusCode.NOT_FOUND


def test_overfill_is_invalid_argument(
    redis_url: str, stub: risk_pb2_grpc.RiskServiceStub, as_execution: Metadata
) -> None:
    checked = stub.CheckOrder(order("1"), metadata=as_execution, timeout=5)
    with pytest.raises(grpc.RpcError) as failed:
        report(stub, as_execution, checked.reservation_id, risk_pb2.OUTCOME_FILLED, "2", "1")
    assert failed.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert (failed.value.details() or "").startswith("filled_volume")


def test_quote_fill_becomes_position_and_notional(
    redis_url: str, stub: risk_pb2_grpc.RiskServiceStub, as_execution: Metadata
) -> None:
    quote = risk_pb2.QuoteIntent(
        quote_id="Q-77",
        team="desk-b",
        spend_asset="USD",
        spend_amount="3000",
        receive_asset="ETH",
        receive_amount="1.5",
    )
    checked = stub.CheckQuote(
        risk_pb2.CheckQuoteRequest(quote=quote), metadata=as_execution, timeout=5
    )
    fill = risk_pb2.QuoteFill(
        spend_asset="USD", spend_amount="2990", receive_asset="ETH", receive_amount="1.5"
    )
    reply = stub.ReportOrderOutcome(
        risk_pb2.ReportOrderOutcomeRequest(
            quote_id="Q-77", outcome=risk_pb2.OUTCOME_FILLED, quote_fill=fill
        ),
        metadata=as_execution,
        timeout=5,
    )

    assert checked.approved
    assert checked.notional == "3000"
    assert reply.applied
    after = exposure(stub, as_execution)
    assets = {a.asset: a for a in after.assets}
    assert (assets["ETH"].position, assets["USD"].position) == ("1.5", "-2990")
    team = next(t for t in after.teams if t.team == "desk-b")
    assert (team.daily_notional_used, team.daily_notional_reserved) == ("2990", "0")
