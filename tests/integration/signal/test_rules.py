"""Rules through the real signal service on a real Redis: create, list, delete, bad input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from services.common.identity import write_key_pair
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer
from tests.support.services import Keys, RunningService, running_service
from trading.common.v1 import common_pb2
from trading.signal.v1 import signal_pb2, signal_pb2_grpc

pytestmark = pytest.mark.integration

Metadata = tuple[tuple[str, str], ...]
H1 = signal_pb2.CANDLE_INTERVAL_1H


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    folder = tmp_path_factory.mktemp("keys")
    write_key_pair(folder / "signal.pem", folder / "signal.pub.pem")
    return Keys.create(folder)


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


def signal_env(keys: Keys, redis_url: str) -> dict[str, str]:
    return {
        "REDIS_URL": redis_url,
        "IDENTITY_SIGNING_KEY_FILE": str(keys.folder / "signal.pem"),
        "EXECUTION_TARGET": f"127.0.0.1:{free_port()}",
        "LOG_LEVEL": "WARNING",
    }


@pytest.fixture(scope="module")
def signal(keys: Keys, log_dir: Path, redis_server: RedisServer) -> Iterator[RunningService]:
    """One signal replica; each test empties Redis through the `redis_url` fixture."""
    with running_service(
        "services.signal", keys, log_dir, signal_env(keys, redis_server.url)
    ) as service:
        yield service


@pytest.fixture
def stub(signal: RunningService, redis_url: str) -> Iterator[signal_pb2_grpc.SignalServiceStub]:
    with grpc.insecure_channel(signal.target) as channel:
        yield signal_pb2_grpc.SignalServiceStub(channel)


def as_team(keys: Keys, subject: str, *groups: str) -> Metadata:
    return (("authorization", f"Bearer {keys.issuer().mint(subject, list(groups))}"),)


def ma_rule(fast: int = 12, slow: int = 26, pair: str = "BTC/USD") -> signal_pb2.CreateRuleRequest:
    return signal_pb2.CreateRuleRequest(
        name="ema 12/26",
        pair=pair,
        moving_average_cross=signal_pb2.MovingAverageCrossRule(
            type=signal_pb2.MOVING_AVERAGE_TYPE_EMA,
            fast_period=fast,
            slow_period=slow,
            interval=H1,
        ),
    )


def rpc_error(call: object, request: object, metadata: Metadata) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as failed:
        call(request, metadata=metadata, timeout=5)  # type: ignore[operator]
    return failed.value


def test_create_list_and_delete_a_rule(stub: signal_pb2_grpc.SignalServiceStub, keys: Keys) -> None:
    desk = as_team(keys, "desk-a", "traders")
    rsi = signal_pb2.CreateRuleRequest(
        name="rsi",
        pair="eth/usd",
        rsi=signal_pb2.RsiRule(interval=H1, lower="30", upper="70"),
    )
    rsi.cooldown.FromSeconds(600)

    created = stub.CreateRule(ma_rule(), metadata=desk, timeout=5).rule
    second = stub.CreateRule(rsi, metadata=desk, timeout=5).rule
    listed = stub.ListRules(signal_pb2.ListRulesRequest(), metadata=desk, timeout=5).rules
    eth = stub.ListRules(signal_pb2.ListRulesRequest(pair="ETH/USD"), metadata=desk, timeout=5)
    stub.DeleteRule(signal_pb2.DeleteRuleRequest(rule_id=created.id), metadata=desk, timeout=5)
    after = stub.ListRules(signal_pb2.ListRulesRequest(), metadata=desk, timeout=5).rules

    assert created.id
    assert (created.team, created.created_by, created.pair) == ("desk-a", "desk-a", "BTC/USD")
    assert created.moving_average_cross.fast_period == 12
    assert second.rsi.period == 14
    assert second.cooldown.seconds == 600
    assert [r.id for r in listed] == [created.id, second.id]
    assert [r.id for r in eth.rules] == [second.id]
    assert [r.id for r in after] == [second.id]


def test_bad_rule_is_invalid_argument_naming_the_field(
    stub: signal_pb2_grpc.SignalServiceStub, keys: Keys
) -> None:
    desk = as_team(keys, "desk-a", "researchers")

    error = rpc_error(stub.CreateRule, ma_rule(fast=26, slow=12), desk)

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "moving_average_cross.fast_period: must be < slow_period (12)"
    assert not stub.ListRules(signal_pb2.ListRulesRequest(), metadata=desk, timeout=5).rules


def test_a_rule_on_market_data_not_followed_is_refused(
    stub: signal_pb2_grpc.SignalServiceStub, keys: Keys
) -> None:
    """It would never fire: the service follows SIGNAL_PAIRS and SIGNAL_OHLC_INTERVALS only."""
    desk = as_team(keys, "desk-a", "traders")
    four_hour_rsi = signal_pb2.CreateRuleRequest(
        name="rsi 4h",
        pair="BTC/USD",
        rsi=signal_pb2.RsiRule(interval=signal_pb2.CANDLE_INTERVAL_4H, lower="30", upper="70"),
    )

    pair = rpc_error(stub.CreateRule, ma_rule(pair="SOL/USD"), desk)
    interval = rpc_error(stub.CreateRule, four_hour_rsi, desk)

    assert pair.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert pair.details() == "pair: SOL/USD is not followed here; SIGNAL_PAIRS is BTC/USD, ETH/USD"
    assert interval.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert interval.details() == (
        "rsi.interval: 240-minute candles are not followed; SIGNAL_OHLC_INTERVALS is 1, 5, 15, 60"
    )
    assert not stub.ListRules(signal_pb2.ListRulesRequest(), metadata=desk, timeout=5).rules


def test_rules_list_in_pages(stub: signal_pb2_grpc.SignalServiceStub, keys: Keys) -> None:
    desk = as_team(keys, "desk-a", "traders")
    ids = [stub.CreateRule(ma_rule(), metadata=desk, timeout=5).rule.id for _ in range(3)]
    request = signal_pb2.ListRulesRequest(page=common_pb2.PageRequest(page_size=2))

    first = stub.ListRules(request, metadata=desk, timeout=5)
    request.page.page_token = first.page.next_page_token
    second = stub.ListRules(request, metadata=desk, timeout=5)

    assert [r.id for r in first.rules] + [r.id for r in second.rules] == ids
    assert second.page.next_page_token == ""


def test_only_the_owning_team_or_an_admin_deletes_a_rule(
    stub: signal_pb2_grpc.SignalServiceStub, keys: Keys
) -> None:
    rule = stub.CreateRule(ma_rule(), metadata=as_team(keys, "desk-a", "traders"), timeout=5).rule
    delete = signal_pb2.DeleteRuleRequest(rule_id=rule.id)

    refused = rpc_error(stub.DeleteRule, delete, as_team(keys, "desk-b", "traders"))
    stub.DeleteRule(delete, metadata=as_team(keys, "root", "admins"), timeout=5)
    gone = rpc_error(stub.DeleteRule, delete, as_team(keys, "desk-a", "traders"))

    assert refused.code() is grpc.StatusCode.PERMISSION_DENIED
    assert gone.code() is grpc.StatusCode.NOT_FOUND


def test_a_rule_a_binding_uses_cannot_be_deleted(
    stub: signal_pb2_grpc.SignalServiceStub, keys: Keys
) -> None:
    desk = as_team(keys, "desk-a", "traders")
    rule = stub.CreateRule(ma_rule(), metadata=desk, timeout=5).rule
    binding = stub.CreateBinding(
        signal_pb2.CreateBindingRequest(
            name="follow",
            rule_id=rule.id,
            pair="BTC/USD",
            sizing=signal_pb2.SizingPolicy(fixed_volume=signal_pb2.FixedVolume(volume="0.01")),
            order_type=common_pb2.ORDER_TYPE_MARKET,
        ),
        metadata=desk,
        timeout=5,
    ).binding
    delete = signal_pb2.DeleteRuleRequest(rule_id=rule.id)

    in_use = rpc_error(stub.DeleteRule, delete, desk)
    stub.DeleteBinding(
        signal_pb2.DeleteBindingRequest(binding_id=binding.id), metadata=desk, timeout=5
    )
    stub.DeleteRule(delete, metadata=desk, timeout=5)

    assert in_use.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "used by 1 binding" in (in_use.details() or "")


def test_a_binding_must_trade_its_rule_pair(
    stub: signal_pb2_grpc.SignalServiceStub, keys: Keys
) -> None:
    desk = as_team(keys, "desk-a", "traders")
    rule = stub.CreateRule(ma_rule(pair="ETH/USD"), metadata=desk, timeout=5).rule
    request = signal_pb2.CreateBindingRequest(
        name="follow",
        rule_id=rule.id,
        pair="BTC/USD",
        sizing=signal_pb2.SizingPolicy(fixed_volume=signal_pb2.FixedVolume(volume="0.01")),
        order_type=common_pb2.ORDER_TYPE_MARKET,
    )

    wrong_pair = rpc_error(stub.CreateBinding, request, desk)
    request.rule_id = "no-such-rule"
    no_rule = rpc_error(stub.CreateBinding, request, desk)

    assert wrong_pair.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert wrong_pair.details() == "pair: must be the rule's pair ETH/USD"
    assert no_rule.details() == "rule_id: no rule no-such-rule"


def test_researchers_create_rules_but_not_bindings(
    stub: signal_pb2_grpc.SignalServiceStub, keys: Keys
) -> None:
    researcher = as_team(keys, "quant-1", "researchers")
    stub.CreateRule(ma_rule(), metadata=researcher, timeout=5)

    denied = rpc_error(stub.CreateBinding, signal_pb2.CreateBindingRequest(), researcher)

    assert denied.code() is grpc.StatusCode.PERMISSION_DENIED


def test_redis_down_is_unavailable(keys: Keys, log_dir: Path) -> None:
    redis = RedisServer()
    redis.start()
    try:
        with (
            running_service(
                "services.signal", keys, log_dir, signal_env(keys, redis.url)
            ) as service,
            grpc.insecure_channel(service.target) as channel,
        ):
            stub = signal_pb2_grpc.SignalServiceStub(channel)
            redis.stop()
            error = rpc_error(stub.CreateRule, ma_rule(), as_team(keys, "desk-a", "traders"))
    finally:
        redis.close()

    assert error.code() is grpc.StatusCode.UNAVAILABLE
    assert "signal store unavailable" in (error.details() or "")
