"""CheckOrder against a running risk process: approvals reserve, failures list every rule."""

from __future__ import annotations

import grpc
import pytest

from tests.integration.risk.conftest import Metadata, order
from trading.common.v1 import common_pb2
from trading.risk.v1 import risk_pb2, risk_pb2_grpc

pytestmark = pytest.mark.integration


def btc_exposure(stub: risk_pb2_grpc.RiskServiceStub, metadata: Metadata) -> risk_pb2.AssetExposure:
    reply = stub.GetExposure(
        risk_pb2.GetExposureRequest(assets=["BTC"]), metadata=metadata, timeout=5
    )
    asset: risk_pb2.AssetExposure = reply.assets[0]
    return asset


def test_approved_order_reserves_its_exposure(
    redis_url: str, stub: risk_pb2_grpc.RiskServiceStub, as_execution: Metadata
) -> None:
    reply = stub.CheckOrder(order("0.5"), metadata=as_execution, timeout=5)

    assert reply.approved, reply.violations
    assert reply.reservation_id.startswith("order:")
    assert reply.notional == "15000"
    assert reply.limits_version == 1
    exposure = stub.GetExposure(risk_pb2.GetExposureRequest(), metadata=as_execution, timeout=5)
    btc = next(a for a in exposure.assets if a.asset == "BTC")
    assert (btc.position, btc.reserved_buy, btc.max_position) == ("0", "0.5", "7.3")
    team = next(t for t in exposure.teams if t.team == "desk-a")
    assert team.daily_notional_reserved == "15000"


def test_repeated_check_returns_the_same_reservation(
    redis_url: str, stub: risk_pb2_grpc.RiskServiceStub, as_execution: Metadata
) -> None:
    request = order("1")
    first = stub.CheckOrder(request, metadata=as_execution, timeout=5)
    second = stub.CheckOrder(request, metadata=as_execution, timeout=5)

    assert first.approved
    assert second.approved
    assert second.reservation_id == first.reservation_id
    exposure = btc_exposure(stub, as_execution)
    assert exposure.reserved_buy == "1"


def test_a_client_order_id_reused_for_another_order_is_refused(
    redis_url: str, stub: risk_pb2_grpc.RiskServiceStub, as_execution: Metadata
) -> None:
    request = order("1")
    first = stub.CheckOrder(request, metadata=as_execution, timeout=5)
    same_amount_spelled_otherwise = risk_pb2.CheckOrderRequest()
    same_amount_spelled_otherwise.CopyFrom(request)
    same_amount_spelled_otherwise.order.volume = "1.000"
    again = stub.CheckOrder(same_amount_spelled_otherwise, metadata=as_execution, timeout=5)
    other = risk_pb2.CheckOrderRequest()
    other.CopyFrom(request)
    other.order.volume = "2"

    reused = stub.CheckOrder(other, metadata=as_execution, timeout=5)

    assert first.approved
    assert again.approved
    assert again.reservation_id == first.reservation_id
    assert not reused.approved
    assert not reused.reservation_id
    assert [(v.code, v.field) for v in reused.violations] == [
        ("CLIENT_ORDER_ID_REUSED", "client_order_id")
    ]
    exposure = btc_exposure(stub, as_execution)
    assert exposure.reserved_buy == "1"


def test_a_check_after_not_sent_reserves_again(
    redis_url: str, stub: risk_pb2_grpc.RiskServiceStub, as_execution: Metadata
) -> None:
    # Execution reports NOT_SENT and frees the id; the caller's retry must reserve anew, or the
    # order it then sends would trade against a closed reservation that no report can settle.
    request = order("1")
    first = stub.CheckOrder(request, metadata=as_execution, timeout=5)
    stub.ReportOrderOutcome(
        risk_pb2.ReportOrderOutcomeRequest(
            reservation_id=first.reservation_id, outcome=risk_pb2.OUTCOME_NOT_SENT
        ),
        metadata=as_execution,
        timeout=5,
    )
    released = btc_exposure(stub, as_execution)

    retry = stub.CheckOrder(request, metadata=as_execution, timeout=5)
    filled = stub.ReportOrderOutcome(
        risk_pb2.ReportOrderOutcomeRequest(
            reservation_id=retry.reservation_id,
            outcome=risk_pb2.OUTCOME_FILLED,
            filled_volume="1",
            average_price="30000",
        ),
        metadata=as_execution,
        timeout=5,
    )
    after = btc_exposure(stub, as_execution)

    assert released.reserved_buy == "0"
    assert retry.approved
    assert retry.reservation_id == first.reservation_id
    assert filled.applied
    assert (after.position, after.reserved_buy) == ("1", "0")


def not_sent(
    stub: risk_pb2_grpc.RiskServiceStub, metadata: Metadata, reservation_id: str, grant: int
) -> risk_pb2.ReportOrderOutcomeResponse:
    reply: risk_pb2.ReportOrderOutcomeResponse = stub.ReportOrderOutcome(
        risk_pb2.ReportOrderOutcomeRequest(
            reservation_id=reservation_id,
            outcome=risk_pb2.OUTCOME_NOT_SENT,
            reservation_grant=grant,
        ),
        metadata=metadata,
        timeout=5,
    )
    return reply


def test_a_late_not_sent_report_leaves_a_reservation_granted_again(
    redis_url: str, stub: risk_pb2_grpc.RiskServiceStub, as_execution: Metadata
) -> None:
    # The first call's NOT_SENT report arrives only after a retry of the same order was approved
    # on the same reservation: the retry's order may be on its way, so its exposure must stay.
    request = order("1")
    first = stub.CheckOrder(request, metadata=as_execution, timeout=5)
    retry = stub.CheckOrder(request, metadata=as_execution, timeout=5)

    late = not_sent(stub, as_execution, first.reservation_id, first.reservation_grant)
    kept = btc_exposure(stub, as_execution)
    own = not_sent(stub, as_execution, retry.reservation_id, retry.reservation_grant)
    released = btc_exposure(stub, as_execution)

    assert (first.reservation_grant, retry.reservation_grant) == (1, 2)
    assert retry.reservation_id == first.reservation_id
    assert not late.applied
    assert kept.reserved_buy == "1"
    assert own.applied
    assert released.reserved_buy == "0"


def test_grants_count_on_when_a_reservation_is_decided_afresh(
    redis_url: str, stub: risk_pb2_grpc.RiskServiceStub, as_execution: Metadata
) -> None:
    # NOT_SENT frees the id; the retry reserves afresh. A repeat of the first report (a retried
    # call that reached risk twice) must not free the fresh reservation.
    request = order("1")
    first = stub.CheckOrder(request, metadata=as_execution, timeout=5)
    given_back = not_sent(stub, as_execution, first.reservation_id, first.reservation_grant)
    retry = stub.CheckOrder(request, metadata=as_execution, timeout=5)
    repeated = not_sent(stub, as_execution, first.reservation_id, first.reservation_grant)
    exposure = btc_exposure(stub, as_execution)

    assert given_back.applied
    assert retry.approved
    assert retry.reservation_grant == 2
    assert not repeated.applied
    assert exposure.reserved_buy == "1"


def test_a_not_sent_report_without_a_grant_applies_as_before(
    redis_url: str, stub: risk_pb2_grpc.RiskServiceStub, as_execution: Metadata
) -> None:
    request = order("1")
    first = stub.CheckOrder(request, metadata=as_execution, timeout=5)
    stub.CheckOrder(request, metadata=as_execution, timeout=5)

    report = not_sent(stub, as_execution, first.reservation_id, 0)

    assert report.applied
    assert btc_exposure(stub, as_execution).reserved_buy == "0"


def test_a_negative_grant_is_refused_naming_the_field(
    redis_url: str, stub: risk_pb2_grpc.RiskServiceStub, as_execution: Metadata
) -> None:
    first = stub.CheckOrder(order("1"), metadata=as_execution, timeout=5)

    with pytest.raises(grpc.RpcError) as refused:
        not_sent(stub, as_execution, first.reservation_id, -1)

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "reservation_grant" in (refused.value.details() or "")


def test_every_failed_rule_is_listed(
    redis_url: str, stub: risk_pb2_grpc.RiskServiceStub, as_execution: Metadata
) -> None:
    request = order("60", team="nobody-team", pair="ETH/USD", reference_price="2000")
    request.order.order_type = common_pb2.ORDER_TYPE_LIMIT
    request.order.limit_price = "3000"

    reply = stub.CheckOrder(request, metadata=as_execution, timeout=5)

    assert not reply.approved
    codes = {v.code for v in reply.violations}
    assert codes == {"MAX_ORDER_VOLUME", "PRICE_COLLAR", "TEAM_DAILY_NOTIONAL"}
    assert all(v.message for v in reply.violations)
    assert reply.reservation_id == ""


def test_missing_reference_price_fails_closed(
    redis_url: str, stub: risk_pb2_grpc.RiskServiceStub, as_execution: Metadata
) -> None:
    reply = stub.CheckOrder(order(reference_price=""), metadata=as_execution, timeout=5)

    assert not reply.approved
    assert [v.code for v in reply.violations] == ["REFERENCE_PRICE_MISSING"]


def test_dry_run_decides_but_reserves_nothing(
    redis_url: str, stub: risk_pb2_grpc.RiskServiceStub, as_execution: Metadata
) -> None:
    reply = stub.CheckOrder(order("1", dry_run=True), metadata=as_execution, timeout=5)

    assert reply.approved
    assert reply.reservation_id == ""
    exposure = stub.GetExposure(risk_pb2.GetExposureRequest(), metadata=as_execution, timeout=5)
    assert list(exposure.assets) == []


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("volume", "1e-3", "order.volume"),
        ("volume", "-1", "order.volume"),
        ("client_order_id", "not-a-uuid", "order.client_order_id"),
        ("pair", "XBTUSD", "order.pair"),
        ("team", "", "order.team"),
        ("reference_price", "abc", "order.reference_price"),
    ],
)
def test_bad_input_is_invalid_argument_naming_the_field(
    redis_url: str,
    stub: risk_pb2_grpc.RiskServiceStub,
    as_execution: Metadata,
    field: str,
    value: str,
    named: str,
) -> None:
    request = order()
    setattr(request.order, field, value)
    with pytest.raises(grpc.RpcError) as failed:
        stub.CheckOrder(request, metadata=as_execution, timeout=5)
    assert failed.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert (failed.value.details() or "").startswith(named)


def test_a_trader_may_not_check_orders(
    stub: risk_pb2_grpc.RiskServiceStub, as_trader: Metadata
) -> None:
    with pytest.raises(grpc.RpcError) as failed:
        stub.CheckOrder(order(), metadata=as_trader, timeout=5)
    assert failed.value.code() is grpc.StatusCode.PERMISSION_DENIED
