"""SetLimits: risk officers only, validated as a whole, versioned and audited."""

from __future__ import annotations

import grpc
import pytest

from tests.integration.risk.conftest import Metadata, order
from trading.risk.v1 import risk_pb2, risk_pb2_grpc

pytestmark = pytest.mark.integration


def current(stub: risk_pb2_grpc.RiskServiceStub, metadata: Metadata) -> risk_pb2.Limits:
    return stub.GetLimits(risk_pb2.GetLimitsRequest(), metadata=metadata, timeout=5).limits


def test_a_trader_may_read_but_not_change_limits(
    redis_url: str, stub: risk_pb2_grpc.RiskServiceStub, as_trader: Metadata
) -> None:
    limits = current(stub, as_trader)
    with pytest.raises(grpc.RpcError) as failed:
        stub.SetLimits(
            risk_pb2.SetLimitsRequest(limits=limits, reason="more"), metadata=as_trader, timeout=5
        )
    assert failed.value.code() is grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize(
    ("mutate", "named"),
    [
        (lambda doc: doc.max_position.__setitem__("BTC", "ten"), "limits.max_position.BTC"),
        (
            lambda doc: doc.pair_limits["BTC/USD"].__setattr__("price_collar_pct", "0"),
            "limits.pair_limits.BTC/USD.price_collar_pct",
        ),
        (lambda doc: doc.allowed_pairs.append("btcusd"), "limits.allowed_pairs.2"),
        (lambda doc: doc.__setattr__("notional_currency", ""), "limits.notional_currency"),
        (lambda doc: doc.__setattr__("max_open_orders", -1), "limits.max_open_orders"),
    ],
)
def test_bad_limits_are_invalid_argument_and_change_nothing(
    redis_url: str,
    stub: risk_pb2_grpc.RiskServiceStub,
    as_officer: Metadata,
    mutate: object,
    named: str,
) -> None:
    before = current(stub, as_officer)
    bad = risk_pb2.Limits()
    bad.CopyFrom(before)
    mutate(bad)  # type: ignore[operator]

    with pytest.raises(grpc.RpcError) as failed:
        stub.SetLimits(
            risk_pb2.SetLimitsRequest(limits=bad, reason="typo"), metadata=as_officer, timeout=5
        )

    assert failed.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert (failed.value.details() or "").startswith(named)
    assert current(stub, as_officer) == before
    trail = stub.ListLimitChanges(risk_pb2.ListLimitChangesRequest(), metadata=as_officer)
    assert [c.reason for c in trail.changes] == [trail.changes[0].reason]  # only the seed


def test_set_limits_bumps_the_version_takes_effect_and_is_audited(
    redis_url: str,
    stub: risk_pb2_grpc.RiskServiceStub,
    as_officer: Metadata,
    as_execution: Metadata,
) -> None:
    before = current(stub, as_officer)
    new = risk_pb2.Limits()
    new.CopyFrom(before)
    new.max_position["BTC"] = "0.05"

    reply = stub.SetLimits(
        risk_pb2.SetLimitsRequest(limits=new, reason="cut BTC", expected_version=before.version),
        metadata=(*as_officer, ("x-request-id", "rid-limits-1")),
        timeout=5,
    )
    check = stub.CheckOrder(order("0.1"), metadata=as_execution, timeout=5)
    trail = stub.ListLimitChanges(
        risk_pb2.ListLimitChangesRequest(kind=risk_pb2.LIMIT_CHANGE_KIND_LIMITS),
        metadata=as_officer,
        timeout=5,
    )

    assert reply.limits.version == before.version + 1
    assert reply.limits.updated_by == "officer-1"
    assert [v.code for v in check.violations] == ["MAX_POSITION"]
    assert check.limits_version == reply.limits.version
    latest = trail.changes[0]
    assert latest.change_id == reply.change_id
    assert (latest.changed_by, latest.reason, latest.request_id) == (
        "officer-1",
        "cut BTC",
        "rid-limits-1",
    )
    assert latest.old_limits.max_position["BTC"] == "7.3"
    assert latest.new_limits.max_position["BTC"] == "0.05"
    assert latest.new_limits.version == reply.limits.version


def test_stale_expected_version_is_aborted(
    redis_url: str, stub: risk_pb2_grpc.RiskServiceStub, as_officer: Metadata
) -> None:
    limits = current(stub, as_officer)
    with pytest.raises(grpc.RpcError) as failed:
        stub.SetLimits(
            risk_pb2.SetLimitsRequest(limits=limits, reason="x", expected_version=99),
            metadata=as_officer,
            timeout=5,
        )
    assert failed.value.code() is grpc.StatusCode.ABORTED
    assert current(stub, as_officer).version == limits.version
