"""Risk service processes on a shared private Redis, small test limits, and tokens per group."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from tests.support.redis_server import RedisServer
from tests.support.services import Keys, RunningService, running_service
from trading.common.v1 import common_pb2
from trading.risk.v1 import risk_pb2, risk_pb2_grpc

Metadata = tuple[tuple[str, str], ...]

TEST_LIMITS = """\
notional_currency: USD
allowed_pairs: [BTC/USD, ETH/USD]
allowed_order_types: [market, limit]
default_price_collar_pct: "10"
default_pair_limits:
  max_order_volume: "50"
pair_limits:
  BTC/USD:
    max_order_notional: "1000000"
max_position:
  BTC: "7.3"
  ETH: "100"
team_daily_notional:
  desk-a: "10000000"
  desk-b: "10000000"
default_team_daily_notional: "5000"
max_open_orders: 0
"""


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys.create(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="module")
def limits_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("limits") / "limits.yaml"
    path.write_text(TEST_LIMITS)
    return path


def risk_env(redis_url: str, limits_file: Path) -> dict[str, str]:
    return {"REDIS_URL": redis_url, "RISK_LIMITS_FILE": str(limits_file), "LOG_LEVEL": "WARNING"}


@pytest.fixture(scope="module")
def risk(
    keys: Keys, log_dir: Path, limits_file: Path, redis_server: RedisServer
) -> Iterator[RunningService]:
    """One risk replica; each test empties Redis through the `redis_url` fixture."""
    with running_service(
        "services.risk", keys, log_dir, risk_env(redis_server.url, limits_file)
    ) as service:
        yield service


def bearer(keys: Keys, subject: str, groups: list[str]) -> Metadata:
    return (("authorization", f"Bearer {keys.issuer().mint(subject, groups)}"),)


@pytest.fixture
def as_execution(keys: Keys) -> Metadata:
    return bearer(keys, "service:execution", ["services"])


@pytest.fixture
def as_officer(keys: Keys) -> Metadata:
    return bearer(keys, "officer-1", ["risk-officers"])


@pytest.fixture
def as_trader(keys: Keys) -> Metadata:
    return bearer(keys, "desk-a", ["traders"])


@pytest.fixture
def stub(risk: RunningService) -> Iterator[risk_pb2_grpc.RiskServiceStub]:
    with grpc.insecure_channel(risk.target) as channel:
        yield risk_pb2_grpc.RiskServiceStub(channel)


def order(
    volume: str = "0.1",
    side: common_pb2.Side.ValueType = common_pb2.SIDE_BUY,
    team: str = "desk-a",
    pair: str = "BTC/USD",
    reference_price: str = "30000",
    **fields: object,
) -> risk_pb2.CheckOrderRequest:
    intent = risk_pb2.OrderIntent(
        client_order_id=str(uuid.uuid4()),
        team=team,
        pair=pair,
        side=side,
        order_type=common_pb2.ORDER_TYPE_MARKET,
        volume=volume,
        reference_price=reference_price,
        **fields,  # type: ignore[arg-type]
    )
    return risk_pb2.CheckOrderRequest(order=intent)
