"""Three execution replicas on one API key: nonces and rate budgets hold across them.

- strict nonce mode against an exchange with nonce window 0: not one ``EAPI:Invalid nonce``;
- a burst on one pair beyond the trading counter: the exchange never answers a rate-limit
  error; callers past the budget get RESOURCE_EXHAUSTED with the time to retry.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import grpc
import pytest

from tests.integration.execution.orders.conftest import Trader, price_near
from tests.support.paper_exchange import PaperExchange
from tests.support.platform import PlatformKeys, execution_env
from tests.support.redis_server import RedisServer
from tests.support.services import RunningService, running_service
from trading.common.v1 import common_pb2
from trading.execution.v1 import execution_pb2

pytestmark = pytest.mark.integration

REPLICAS = 3
VOLUMES = {"BTC/USD": "0.001", "ETH/USD": "0.01", "SOL/USD": "0.1"}


@contextmanager
def replicas(
    keys: PlatformKeys,
    log_dir: Path,
    paper: PaperExchange,
    redis: RedisServer,
    risk: RunningService,
    extra: Mapping[str, str],
) -> Iterator[list[Trader]]:
    """Three execution processes on one key, and a desk-a trader on each."""
    env = execution_env(keys, paper, redis.url, risk.target, extra)
    with ExitStack() as stack:
        services = [
            stack.enter_context(running_service("services.execution", keys.keys, log_dir, env))
            for _ in range(REPLICAS)
        ]
        traders = [Trader(keys, service.target) for service in services]
        yield traders
        for trader in traders:
            trader.channel.close()


def order(
    paper: PaperExchange, pair: str, prices: dict[str, str]
) -> execution_pb2.PlaceOrderRequest:
    return execution_pb2.PlaceOrderRequest(
        client_order_id=str(uuid.uuid4()),
        pair=pair,
        side=common_pb2.SIDE_BUY,
        order_type=common_pb2.ORDER_TYPE_LIMIT,
        volume=VOLUMES[pair],
        limit_price=prices[pair],
    )


def test_strict_nonces_across_three_replicas_never_get_invalid_nonce(
    platform_keys: PlatformKeys,
    log_dir: Path,
    execution_redis: RedisServer,
    risk: RunningService,
) -> None:
    with (
        PaperExchange(nonce_window=0, tier="pro") as paper,
        replicas(
            platform_keys,
            log_dir,
            paper,
            execution_redis,
            risk,
            {"KRAKEN_NONCE_MODE": "strict", "KRAKEN_TIER": "pro"},
        ) as traders,
    ):
        prices = {pair: price_near(paper, pair, "0.97") for pair in VOLUMES}
        jobs = [
            (traders[n % REPLICAS], order(paper, list(VOLUMES)[n % 3], prices)) for n in range(90)
        ]
        with ThreadPoolExecutor(12) as pool:
            answers = list(
                pool.map(
                    lambda job: job[0].stub.PlaceOrder(
                        job[1], metadata=job[0].metadata(), timeout=30
                    ),
                    jobs,
                )
            )
        balances = [
            trader.stub.GetBalances(
                execution_pb2.GetBalancesRequest(), metadata=trader.metadata(), timeout=10
            )
            for trader in traders
        ]
        stats = paper.stats()
        at_exchange = paper.orders()["count"]

    assert {a.order.status for a in answers} == {common_pb2.ORDER_STATUS_OPEN}
    assert all(b.balances for b in balances)
    assert at_exchange == 90
    assert stats["summary"]["nonce_rejections"] == 0
    assert stats["calls"]["AddOrder"] == 90


def test_burst_on_one_pair_is_held_to_the_budget_and_the_exchange_never_rate_limits(
    platform_keys: PlatformKeys,
    log_dir: Path,
    execution_redis: RedisServer,
    risk: RunningService,
) -> None:
    with (
        PaperExchange(nonce_window=10_000_000_000, tier="starter") as paper,
        replicas(
            platform_keys,
            log_dir,
            paper,
            execution_redis,
            risk,
            {"KRAKEN_TIER": "starter", "KRAKEN_BUDGET_MAX_WAIT": "0.5"},
        ) as traders,
    ):
        prices = {"BTC/USD": price_near(paper, "BTC/USD", "0.97")}
        jobs = [(traders[n % REPLICAS], order(paper, "BTC/USD", prices)) for n in range(120)]

        def place(job: tuple[Trader, execution_pb2.PlaceOrderRequest]) -> str | grpc.RpcError:
            trader, request = job
            try:
                reply = trader.stub.PlaceOrder(request, metadata=trader.metadata(), timeout=30)
            except grpc.RpcError as exc:
                return exc
            return common_pb2.OrderStatus.Name(reply.order.status)

        with ThreadPoolExecutor(24) as pool:
            outcomes = list(pool.map(place, jobs))
        stats = paper.stats()
        at_exchange = paper.orders()["count"]

    placed = [o for o in outcomes if o == "ORDER_STATUS_OPEN"]
    refused = [o for o in outcomes if isinstance(o, grpc.RpcError)]
    # The starter trading counter holds 60, less the headroom of 1; a few more fit while callers
    # wait their 0.5 s.
    assert 59 <= len(placed) <= 70
    assert len(placed) + len(refused) == len(jobs)
    assert {e.code() for e in refused} == {grpc.StatusCode.RESOURCE_EXHAUSTED}
    for error in refused:
        retry = re.search(r"retry after (\d+\.\d+)s", error.details() or "")
        assert retry is not None, error.details()
        assert 0 < float(retry.group(1)) <= 60
    assert at_exchange == len(placed)
    assert stats["summary"]["trading_rate_limited"] == 0
    assert stats["summary"]["rest_rate_limited"] == 0
    assert stats["calls"]["AddOrder"] == len(placed)
