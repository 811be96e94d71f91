"""The order path as real processes: paper exchange, two private Redis servers, risk, execution.

Execution gets its own Redis so that a test can stop it without touching risk's.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path

import grpc
import pytest

from services.execution.orders.model import OrderRecord
from tests.support.paper_exchange import PaperExchange
from tests.support.platform import PlatformKeys, execution_env
from tests.support.redis_server import RedisServer
from tests.support.services import RunningService, running_service
from trading.common.v1 import common_pb2
from trading.execution.v1 import execution_pb2, execution_pb2_grpc


@pytest.fixture(scope="module")
def paper() -> Iterator[PaperExchange]:
    with PaperExchange(nonce_window=1000) as exchange:
        yield exchange


@pytest.fixture(scope="module")
def execution_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.close()


def execution_fixture(
    extra: Mapping[str, str] | None = None,
) -> Callable[..., Iterator[RunningService]]:
    """A module's `execution` process fixture, with ``extra`` environment for its settings."""

    @pytest.fixture(scope="module")
    def execution(
        platform_keys: PlatformKeys,
        log_dir: Path,
        paper: PaperExchange,
        execution_redis: RedisServer,
        risk: RunningService,
    ) -> Iterator[RunningService]:
        env = execution_env(platform_keys, paper, execution_redis.url, risk.target, extra)
        with running_service("services.execution", platform_keys.keys, log_dir, env) as service:
            yield service

    return execution


execution = execution_fixture()


class Trader:
    """A team calling execution with a locally minted token."""

    def __init__(
        self,
        keys: PlatformKeys,
        target: str,
        team: str = "desk-a",
        groups: tuple[str, ...] = ("traders",),
    ) -> None:
        self._issuer = keys.keys.issuer()
        self.team = team
        self.groups = list(groups)
        self.channel = grpc.insecure_channel(target)
        self.stub = execution_pb2_grpc.ExecutionServiceStub(self.channel)

    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self._issuer.mint(self.team, self.groups)}"),)

    def place(self, **fields: object) -> execution_pb2.PlaceOrderResponse:
        request = limit_order(**fields)
        reply: execution_pb2.PlaceOrderResponse = self.stub.PlaceOrder(
            request, metadata=self.metadata(), timeout=15
        )
        return reply

    def get(self, client_order_id: str) -> common_pb2.Order:
        reply = self.stub.GetOrder(
            execution_pb2.GetOrderRequest(client_order_id=client_order_id),
            metadata=self.metadata(),
            timeout=10,
        )
        order: common_pb2.Order = reply.order
        return order


def limit_order(**fields: object) -> execution_pb2.PlaceOrderRequest:
    values: dict[str, object] = {
        "client_order_id": str(uuid.uuid4()),
        "pair": "BTC/USD",
        "side": common_pb2.SIDE_BUY,
        "order_type": common_pb2.ORDER_TYPE_LIMIT,
        "volume": "0.01",
        "limit_price": "64000.0",
    }
    values.update(fields)
    return execution_pb2.PlaceOrderRequest(**values)  # type: ignore[arg-type]


@pytest.fixture
def trader(platform_keys: PlatformKeys, execution: RunningService) -> Iterator[Trader]:
    client = Trader(platform_keys, execution.target)
    yield client
    client.channel.close()


def wait_until(condition: Callable[[], bool], within: float = 20.0, what: str = "") -> float:
    """Poll ``condition`` until it holds; the seconds it took. AssertionError past ``within``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > within:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.05)
    return time.monotonic() - started


def price_near(paper: PaperExchange, pair: str, factor: str) -> str:
    """A limit price ``factor`` times the pair's last trade at the paper exchange, on its tick
    (0.97 rests below the market for a buy, 1.03 above it for a sell; both inside the collar)."""
    ticker = paper.public("Ticker", pair=pair)["result"]
    last = Decimal(next(iter(ticker.values()))["c"][0])
    tick = Decimal(paper.public("AssetPairs", pair=pair)["result"].popitem()[1]["tick_size"])
    return str((last * Decimal(factor)).quantize(tick))


def order_record(**fields: object) -> OrderRecord:
    """An order as execution stores it: a BTC/USD limit buy of desk-a, with ``fields`` set."""
    values: dict[str, object] = {
        "client_order_id": str(uuid.uuid4()),
        "pair": "BTC/USD",
        "kraken_pair": "XXBTZUSD",
        "side": common_pb2.SIDE_BUY,
        "order_type": common_pb2.ORDER_TYPE_LIMIT,
        "volume": "0.01",
        "fingerprint": "f",
        "team": "desk-a",
        "placed_by": "desk-a",
        "request_id": "r",
    }
    values.update(fields)
    return OrderRecord(**values)  # type: ignore[arg-type]
