"""The dead man's switch: execution keeps CancelAllOrdersAfter armed; if it dies, Kraken (here
the paper exchange) cancels the open orders once the timeout passes; a clean stop disarms it.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.integration.execution.orders.conftest import Trader, wait_until
from tests.support.paper_exchange import PaperExchange
from tests.support.platform import PlatformKeys, execution_env
from tests.support.redis_server import RedisServer
from tests.support.services import RunningService, running_service
from trading.common.v1 import common_pb2

pytestmark = pytest.mark.integration

TIMEOUT = 3


def arm_calls(paper: PaperExchange) -> int:
    return int(paper.stats()["calls"].get("CancelAllOrdersAfter", 0))


def statuses(paper: PaperExchange, order_ids: list[str]) -> list[str]:
    return [paper.orders(cl_ord_id=i)["orders"][0]["status"] for i in order_ids]


def place_resting(trader: Trader, count: int) -> list[str]:
    replies = [trader.place(limit_price="64000.0") for _ in range(count)]
    assert {r.order.status for r in replies} == {common_pb2.ORDER_STATUS_OPEN}
    return [r.order.client_order_id for r in replies]


def stop_gracefully(service: RunningService) -> None:
    service.process.terminate()
    assert service.process.wait(timeout=30) == 0


@pytest.fixture
def env(
    platform_keys: PlatformKeys,
    paper: PaperExchange,
    execution_redis: RedisServer,
    risk: RunningService,
) -> dict[str, str]:
    return execution_env(
        platform_keys,
        paper,
        execution_redis.url,
        risk.target,
        {"EXECUTION_DEAD_MANS_SWITCH_SECONDS": str(TIMEOUT)},
    )


def test_killed_execution_leaves_its_open_orders_to_be_cancelled_after_the_timeout(
    platform_keys: PlatformKeys, log_dir: Path, paper: PaperExchange, env: dict[str, str]
) -> None:
    with running_service("services.execution", platform_keys.keys, log_dir, env) as execution:
        trader = Trader(platform_keys, execution.target)
        order_ids = place_resting(trader, 2)
        trader.channel.close()
        # Re-armed every TIMEOUT / 3 s: after 4 more calls a whole timeout has passed.
        calls = arm_calls(paper)
        wait_until(lambda: arm_calls(paper) >= calls + 4, within=4 * TIMEOUT, what="re-arms")
        alive_after_a_timeout = statuses(paper, order_ids)
        execution.process.kill()
        execution.process.wait()
        killed = time.monotonic()

    took = wait_until(
        lambda: statuses(paper, order_ids) == ["canceled", "canceled"],
        within=TIMEOUT + 5,
        what="the paper exchange to cancel the orders",
    )

    assert alive_after_a_timeout == ["open", "open"]
    assert took <= TIMEOUT + 5
    assert time.monotonic() - killed >= 1


def test_clean_stop_of_the_last_replica_disarms_and_of_another_does_not(
    platform_keys: PlatformKeys, log_dir: Path, paper: PaperExchange, env: dict[str, str]
) -> None:
    with (
        running_service("services.execution", platform_keys.keys, log_dir, env) as first,
        running_service("services.execution", platform_keys.keys, log_dir, env) as second,
    ):
        trader = Trader(platform_keys, first.target)
        kept = place_resting(trader, 1)
        trader.channel.close()
        stop_gracefully(first)
        # The other replica still re-arms: killing it now still gets the orders cancelled.
        second.process.kill()
        second.process.wait()
        wait_until(
            lambda: statuses(paper, kept) == ["canceled"],
            within=TIMEOUT + 5,
            what="the orders to be cancelled after the last replica died",
        )

    with running_service("services.execution", platform_keys.keys, log_dir, env) as last:
        trader = Trader(platform_keys, last.target)
        order_ids = place_resting(trader, 2)
        trader.channel.close()
        stop_gracefully(last)
        log = last.log()
    # Nothing to poll for: the orders must still be open once a whole timeout has passed.
    time.sleep(TIMEOUT + 1.5)

    assert statuses(paper, order_ids) == ["open", "open"]
    assert "dead man's switch disarmed" in log
