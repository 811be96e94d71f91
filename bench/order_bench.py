"""PlaceOrder latency and throughput through the whole order path, beside its floor.

For 1 and then 3 execution replicas it starts, as the integration tests do, a private
redis-server (shared by risk and execution, as in production), the paper exchange (``pro`` tier),
one risk process and the execution replicas, then measures in the same run:

1. the floor: a bare gRPC round trip (health Check on an execution replica) plus a bare signed
   httpx POST to the paper exchange: AddOrder of the same kind of order the order path places
   (a resting limit buy, on BTC/EUR so that it spends none of the measured pairs' trading
   budget), so the exchange's own work on an order is in the floor, not charged to the platform.
   The floor is the sum of the two p50s. Beside it: the same floor with the POST sent by
   aiohttp, the HTTP client execution's Spot client uses (the issue's floor names httpx, whose
   own CPU per request is about three times aiohttp's here), and the ratio against it; and, for
   reference, the cheapest signed POST (CancelOrder of an unknown txid: signature and nonce
   checked, answered ``EOrder:Invalid order``);
2. PlaceOrder with 1 client (one call in flight) and with 16 concurrent clients: client-side
   p50 / p99 and orders per second; calls go round-robin over the replicas.

After the one-replica platform, unless ``--no-bare``, it does the same with the bare order chain
on a fresh Redis and paper exchange: bench/bare_chain.py's execution and risk roles, which do
only the steps DESIGN.md's order path makes mandatory (claim the client_order_id, ask risk over
gRPC, which reserves in one Lua script, take a nonce, sign, POST, record the outcome), each the
cheapest way, with no identity tokens, validation, logs or metrics. Its p50 against its own floor
is the least the design's order path can cost over the floor on this machine; the platform's
p50 over the bare chain's is what the platform's own code adds.

Orders are resting limit buys spread over BTC/USD, ETH/USD and SOL/USD. Kraken's trading counter
(``pro``: 180 per pair, decaying 3.75/s) caps how many orders fit a run: about 530 across the
three pairs, less the budget's headroom, so each replica setting gets a fresh exchange and
the order counts stay below that. An order refused for budget (RESOURCE_EXHAUSTED) is counted
as refused, not as placed.

Usage: ``PYTHONPATH=.:gen .venv/bin/python -m bench.order_bench [--log-level INFO]``
Targets (issue #3): p50 <= 2x the floor; >= 300 orders/s with 16 clients on one replica.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import aiohttp
import grpc
import grpc.aio
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench.bare_roles import start_order_roles
from bench.cpu import CpuMeter, per_operation
from services.common.calls import CallerCredentials
from tests.support.paper_exchange import PaperExchange
from tests.support.platform import PlatformKeys, execution_env, risk_env
from tests.support.redis_server import RedisServer
from tests.support.services import RunningService, running_service
from trading.common.v1 import common_pb2
from trading.execution.v1 import execution_pb2, execution_pb2_grpc

LIMITS = """\
notional_currency: USD
allowed_pairs: [BTC/USD, ETH/USD, SOL/USD]
allowed_order_types: [market, limit]
default_price_collar_pct: "10"
max_position: {BTC: "1000", ETH: "100000", SOL: "1000000"}
default_team_daily_notional: "20000000"
max_open_orders: 0
"""
BALANCES = "ZUSD=100000000,ZEUR=50000,XXBT=2,XETH=20,SOL=200"
VOLUMES = {"BTC/USD": "0.001", "ETH/USD": "0.01", "SOL/USD": "0.1"}
FLOOR_CALLS = 300
# BTC/EUR's trading counter (pro: 180) must hold the warm-up and the measured AddOrders of
# both floor clients (httpx, aiohttp).
ADD_FLOOR_WARMUP = 10
ADD_FLOOR_CALLS = 75


@dataclass
class Run:
    """One measured batch of calls."""

    samples: list[float]
    elapsed: float
    refused: int = 0

    def quantile(self, q: int) -> float:
        return statistics.quantiles(self.samples, n=100)[q - 1] if len(self.samples) > 1 else 0.0

    @property
    def rate(self) -> float:
        return len(self.samples) / self.elapsed


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


class Desk:
    """Calls PlaceOrder round-robin over the replicas, with resting limit buys."""

    def __init__(
        self, targets: list[str], creds: CallerCredentials, prices: dict[str, str]
    ) -> None:
        self._channels = [grpc.aio.insecure_channel(t) for t in targets]
        self._stubs = [execution_pb2_grpc.ExecutionServiceStub(c) for c in self._channels]
        self._next = itertools.cycle(range(len(targets)))
        self._pairs = itertools.cycle(VOLUMES)
        self._creds = creds
        self._prices = prices

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close(None)

    async def place(self) -> bool:
        """One order; False when it was refused for rate budget."""
        pair = next(self._pairs)
        request = execution_pb2.PlaceOrderRequest(
            client_order_id=str(uuid.uuid4()),
            pair=pair,
            side=common_pb2.SIDE_BUY,
            order_type=common_pb2.ORDER_TYPE_LIMIT,
            volume=VOLUMES[pair],
            limit_price=self._prices[pair],
        )
        stub = self._stubs[next(self._next)]
        try:
            reply = await stub.PlaceOrder(request, metadata=self._creds.metadata(), timeout=30)
        except grpc.aio.AioRpcError as exc:
            if exc.code() is grpc.StatusCode.RESOURCE_EXHAUSTED:
                return False
            raise
        if reply.order.status != common_pb2.ORDER_STATUS_OPEN:
            raise RuntimeError(f"order not placed: {reply.order.status_reason}")
        return True


async def timed(call: Callable[[], Awaitable[object]], count: int, concurrency: int) -> Run:
    """``count`` calls, ``concurrency`` in flight; the latency of each that succeeded."""
    samples: list[float] = []
    refused = 0
    left = itertools.count()

    async def worker() -> None:
        nonlocal refused
        while next(left) < count:
            began = time.perf_counter()
            ok = await call()
            if ok is False:
                refused += 1
            else:
                samples.append(time.perf_counter() - began)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Run(samples, time.perf_counter() - started, refused)


async def grpc_floor(target: str) -> Run:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest()

        async def check() -> object:
            return await stub.Check(request, timeout=5)

        await timed(check, 50, 1)
        return await timed(check, FLOOR_CALLS, 1)


async def post_floor(paper: PaperExchange) -> Run:
    async with httpx.AsyncClient(base_url=paper.url) as client:

        async def cancel_unknown() -> object:
            path, body, headers = paper.signed_request(
                "CancelOrder", {"txid": "OUNKNW-00000-000000"}
            )
            reply = await client.post(path, content=body, headers=headers)
            if reply.json()["error"] != ["EOrder:Invalid order"]:
                raise RuntimeError(f"unexpected floor answer: {reply.text}")
            return reply

        await timed(cancel_unknown, 50, 1)
        return await timed(cancel_unknown, FLOOR_CALLS, 1)


async def add_order_floor(paper: PaperExchange, *, client: str = "httpx") -> Run:
    """Bare signed AddOrders, each a new resting BTC/EUR limit buy, straight to the exchange,
    sent with ``client``: httpx (the issue's floor) or aiohttp (what execution's Spot client
    uses)."""
    price = rest_price(paper, "BTC/EUR")

    def signed() -> tuple[str, bytes, dict[str, str]]:
        return paper.signed_request(
            "AddOrder",
            {
                "pair": "XBTEUR",
                "type": "buy",
                "ordertype": "limit",
                "volume": "0.001",
                "price": price,
                "cl_ord_id": str(uuid.uuid4()),
            },
        )

    async with AsyncExitStack() as stack:
        if client == "aiohttp":
            session = await stack.enter_async_context(aiohttp.ClientSession(paper.url))

            async def post(path: str, body: bytes, headers: dict[str, str]) -> bytes:
                async with session.post(path, data=body, headers=headers) as reply:
                    return await reply.read()

        else:
            http = await stack.enter_async_context(httpx.AsyncClient(base_url=paper.url))

            async def post(path: str, body: bytes, headers: dict[str, str]) -> bytes:
                return (await http.post(path, content=body, headers=headers)).content

        async def add_resting() -> object:
            answer = await post(*signed())
            if json.loads(answer)["error"]:
                raise RuntimeError(f"unexpected floor answer: {answer!r}")
            return answer

        await timed(add_resting, ADD_FLOOR_WARMUP, 1)
        return await timed(add_resting, ADD_FLOOR_CALLS, 1)


def rest_price(paper: PaperExchange, pair: str) -> str:
    """A buy price 3 % under the last trade, on the pair's tick: it rests, inside the collar."""
    ticker = paper.public("Ticker", pair=pair)["result"]
    last = Decimal(next(iter(ticker.values()))["c"][0])
    tick = Decimal(paper.public("AssetPairs", pair=pair)["result"].popitem()[1]["tick_size"])
    return str((last * Decimal("0.97")).quantize(tick))


def exchange(stack: ExitStack) -> tuple[RedisServer, PaperExchange]:
    """A private redis-server and a fresh paper exchange (pro tier), closed with ``stack``."""
    redis = RedisServer()
    redis.start()
    stack.callback(redis.close)
    paper = stack.enter_context(
        PaperExchange(
            nonce_window=10_000_000_000,
            tier="pro",
            extra_env={"PAPER_STARTING_BALANCES": BALANCES},
        )
    )
    return redis, paper


def process_ids(
    executions: list[int], risk: RunningService, paper: PaperExchange, redis: RedisServer
) -> dict[str, list[int]]:
    """Each part's process ids, for the CPU meter (this process is the clients)."""
    return {
        "execution": executions,
        "risk": [risk.process.pid],
        "paper": [paper.pid],
        "redis": [redis.pid],
        "clients": [os.getpid()],
    }


@contextmanager
def platform(
    replicas: int, root: Path, log_level: str
) -> Iterator[tuple[PaperExchange, list[str], PlatformKeys, dict[str, list[int]]]]:
    """Redis, paper exchange, risk and ``replicas`` execution processes; their targets, and the
    process ids of each part (this process is the clients)."""
    keys = PlatformKeys.create(root / f"keys-{replicas}")
    limits = root / "limits.yaml"
    limits.write_text(LIMITS)
    with ExitStack() as stack:
        redis, paper = exchange(stack)
        risk = stack.enter_context(
            running_service(
                "services.risk",
                keys.keys,
                root,
                {
                    **risk_env(keys, redis.url),
                    "RISK_LIMITS_FILE": str(limits),
                    "LOG_LEVEL": log_level,
                },
            )
        )
        env = execution_env(
            keys,
            paper,
            redis.url,
            risk.target,
            {
                "KRAKEN_TIER": "pro",
                "KRAKEN_MAX_ATTEMPTS": "3",
                "KRAKEN_HTTP_TIMEOUT": "10",
                "EXECUTION_RECONCILE_INTERVAL": "2",
                "EXECUTION_RECONCILE_GRACE": "30",
                "LOG_LEVEL": log_level,
            },
        )
        executions = [
            stack.enter_context(running_service("services.execution", keys.keys, root, env))
            for _ in range(replicas)
        ]
        pids = process_ids([e.process.pid for e in executions], risk, paper, redis)
        yield paper, [e.target for e in executions], keys, pids


@contextmanager
def bare_order_chain(
    root: Path,
) -> Iterator[tuple[PaperExchange, list[str], PlatformKeys, dict[str, list[int]]]]:
    """Redis, paper exchange and bench/bare_chain.py's risk and execution roles, shaped like
    ``platform`` (the keys only sign the bench's PlaceOrder metadata, which the chain ignores)."""
    keys = PlatformKeys.create(root / "keys-bare")
    with ExitStack() as stack:
        redis, paper = exchange(stack)
        risk, execution = start_order_roles(stack, keys.keys, root, redis.url, paper)
        pids = process_ids([execution.process.pid], risk, paper, redis)
        yield paper, [execution.target], keys, pids


async def measure(
    paper: PaperExchange,
    targets: list[str],
    keys: PlatformKeys,
    pids: dict[str, list[int]],
    args: argparse.Namespace,
) -> tuple[dict[str, Run], dict[str, float]]:
    runs = {
        "grpc": await grpc_floor(targets[0]),
        "post": await add_order_floor(paper),
        "aiohttp post": await add_order_floor(paper, client="aiohttp"),
        "cheapest post": await post_floor(paper),
    }
    prices = {pair: rest_price(paper, pair) for pair in VOLUMES}
    creds = CallerCredentials(keys.keys.issuer(), "bench-desk", ["traders"])
    desk = Desk(targets, creds, prices)
    try:
        await timed(desk.place, args.warmup, 1)
        runs["1 client"] = await timed(desk.place, args.orders_1, 1)
        meter = CpuMeter(pids)
        meter.start()
        runs["16 clients"] = await timed(desk.place, args.orders_16, 16)
        cpu = meter.stop()
    finally:
        await desk.close()
    return runs, cpu


def report(title: str, runs: dict[str, Run], cpu: dict[str, float]) -> None:
    floor = runs["grpc"].quantile(50) + runs["post"].quantile(50)
    cheapest = runs["grpc"].quantile(50) + runs["cheapest post"].quantile(50)
    floor_aiohttp = runs["grpc"].quantile(50) + runs["aiohttp post"].quantile(50)
    print(f"\nPlaceOrder, {title}")
    print(
        f"  floor: gRPC health p50 {ms(runs['grpc'].quantile(50))}"
        f" + signed AddOrder POST (httpx) p50 {ms(runs['post'].quantile(50))} = {ms(floor)}"
        f"  (cheapest signed POST, p50 {ms(runs['cheapest post'].quantile(50))}:"
        f" {ms(cheapest)})"
    )
    print(
        f"  floor with the POST sent by aiohttp, as execution sends it:"
        f" p50 {ms(runs['aiohttp post'].quantile(50))}, floor {ms(floor_aiohttp)}"
    )
    for name in ("1 client", "16 clients"):
        run = runs[name]
        p50 = run.quantile(50)
        print(
            f"  {name:<10}  p50 {ms(p50):>9}  p99 {ms(run.quantile(99)):>9}"
            f"  {run.rate:7.1f} orders/s  p50/floor {p50 / floor:4.1f}x"
            f" (/aiohttp floor {p50 / floor_aiohttp:4.1f}x)"
            f"  ({len(run.samples)} placed, {run.refused} refused for budget)"
        )
    placed = len(runs["16 clients"].samples) + runs["16 clients"].refused
    print(f"  CPU per order, 16 clients (ms): {per_operation(cpu, placed)}")
    cores = os.cpu_count() or 1
    print(f"    on {cores} cores: at most {cores * placed / sum(cpu.values()):,.0f} orders/s")


def report_bare(platform_runs: dict[str, Run], bare_runs: dict[str, Run]) -> None:
    """The platform's one-replica p50 beside the bare chain's, each over its own floor."""

    def ratio(runs: dict[str, Run]) -> float:
        floor = runs["grpc"].quantile(50) + runs["post"].quantile(50)
        return runs["1 client"].quantile(50) / floor

    platform_p50 = platform_runs["1 client"].quantile(50)
    bare_p50 = bare_runs["1 client"].quantile(50)
    print(
        f"\n  1 client, platform (1 replica) against the bare order chain:"
        f" p50 {ms(platform_p50)} ({ratio(platform_runs):.1f}x its floor)"
        f" against {ms(bare_p50)} ({ratio(bare_runs):.1f}x its floor);"
        f" the platform's own code adds {ms(platform_p50 - bare_p50)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--warmup", type=int, default=15, help="orders before measuring")
    parser.add_argument("--orders-1", type=int, default=90, help="orders with one client")
    parser.add_argument("--orders-16", type=int, default=390, help="orders with 16 clients")
    parser.add_argument("--log-level", default="INFO", help="the services' LOG_LEVEL")
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 3])
    parser.add_argument(
        "--no-bare",
        dest="bare",
        action="store_false",
        help="skip the bare order chain (bench/bare_chain.py) after one replica",
    )
    args = parser.parse_args()
    print(f"order path bench, services at log level {args.log_level}")
    for replicas in args.replicas:
        with tempfile.TemporaryDirectory(prefix="order-bench-") as folder:
            with platform(replicas, Path(folder), args.log_level) as (paper, targets, keys, pids):
                runs, cpu = asyncio.run(measure(paper, targets, keys, pids, args))
            report(f"{replicas} execution replica{'s' if replicas > 1 else ''}", runs, cpu)
        if replicas == 1 and args.bare:
            with tempfile.TemporaryDirectory(prefix="order-bench-bare-") as folder:
                with bare_order_chain(Path(folder)) as (paper, targets, keys, pids):
                    bare, bare_cpu = asyncio.run(measure(paper, targets, keys, pids, args))
            report("the bare order chain (bench/bare_chain.py)", bare, bare_cpu)
            report_bare(runs, bare)


if __name__ == "__main__":
    main()
