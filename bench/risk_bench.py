"""CheckOrder latency and throughput of one risk replica over loopback.

Starts a private redis-server and one risk process (as the integration tests do), then:
1. latency: sequential CheckOrder calls (one in flight), client-side p50/p99, and the server's
   own view from its Prometheus histogram (grpc_server_handling_seconds, CheckOrder);
2. throughput: `--concurrency` calls in flight for `--seconds`, checks per second, and the CPU
   time (user + system, all threads) the risk process and this client spent per check. Other
   work on the machine moves checks/s; it barely moves CPU per check, the figure to compare.

Usage: ``PYTHONPATH=.:gen .venv/bin/python -m bench.risk_bench [--concurrency 32]``
Targets (issue #4): p50 <= 1 ms at the service, >= 2,000 checks/s per replica.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import grpc.aio

from bench.cpu import cpu_seconds
from services.common.calls import CallerCredentials, Metadata
from services.common.context import REQUEST_ID_HEADER
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer
from tests.support.services import Keys, running_service
from trading.common.v1 import common_pb2
from trading.risk.v1 import risk_pb2, risk_pb2_grpc

LIMITS = """\
notional_currency: USD
allowed_pairs: [BTC/USD]
allowed_order_types: [market, limit]
default_price_collar_pct: "10"
max_position: {BTC: "1000000"}
default_team_daily_notional: "20000000"
max_open_orders: 0
"""
METHOD = 'grpc_method="CheckOrder"'


class CheckCalls:
    """Each call's request and metadata, made cheaply: the client shares the cores with the server.

    Every call still has its own client_order_id (a valid UUID: a random prefix and a counter)
    and request id, and carries the real bearer token (re-minted before it expires).
    """

    def __init__(self, creds: CallerCredentials) -> None:
        self._creds = creds
        self._prefix = str(uuid.uuid4())[:24]
        self._count = itertools.count()
        self._token = ""
        self._authorization = ("authorization", "")

    def next(self) -> tuple[risk_pb2.CheckOrderRequest, Metadata]:
        n = next(self._count)
        request = risk_pb2.CheckOrderRequest(
            order=risk_pb2.OrderIntent(
                client_order_id=f"{self._prefix}{n:012x}",
                team="bench",
                pair="BTC/USD",
                side=common_pb2.SIDE_BUY,
                order_type=common_pb2.ORDER_TYPE_LIMIT,
                volume="0.001",
                limit_price="30000",
                reference_price="30000",
            )
        )
        token = self._creds.token()
        if token != self._token:
            self._token = token
            self._authorization = ("authorization", f"Bearer {token}")
        return request, (self._authorization, (REQUEST_ID_HEADER, f"bench-{self._prefix}{n}"))


def server_histogram(metrics_port: int) -> dict[float, float]:
    """Cumulative CheckOrder counts per bucket upper bound, from the service's /metrics."""
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as reply:
        text = reply.read().decode()
    buckets: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith("grpc_server_handling_seconds_bucket") and METHOD in line:
            bound = line.split('le="')[1].split('"')[0]
            buckets[float("inf") if bound == "+Inf" else float(bound)] = float(line.split()[-1])
    return buckets


def bucket_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """Upper bound (s) of the bucket holding the q-quantile of the calls between two scrapes."""
    counts = {bound: after[bound] - before.get(bound, 0.0) for bound in after}
    total = counts[float("inf")]
    return next(bound for bound in sorted(counts) if counts[bound] >= q * total)


async def latency(
    stub: risk_pb2_grpc.RiskServiceAsyncStub, checks: CheckCalls, calls: int
) -> list[float]:
    samples = []
    for _ in range(calls):
        request, metadata = checks.next()
        started = time.perf_counter()
        reply = await stub.CheckOrder(request, metadata=metadata, timeout=5)
        samples.append(time.perf_counter() - started)
        assert reply.approved, reply.violations
    return samples


async def throughput(
    stub: risk_pb2_grpc.RiskServiceAsyncStub,
    checks: CheckCalls,
    seconds: float,
    concurrency: int,
) -> int:
    deadline = time.perf_counter() + seconds
    done = 0

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            request, metadata = checks.next()
            await stub.CheckOrder(request, metadata=metadata, timeout=5)
            done += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done


async def measure(
    target: str, pid: int, keys: Keys, metrics_port: int, args: argparse.Namespace
) -> None:
    checks = CheckCalls(CallerCredentials(keys.issuer(), "service:execution", ["services"]))
    async with grpc.aio.insecure_channel(target) as channel:
        stub = risk_pb2_grpc.RiskServiceStub(channel)
        await latency(stub, checks, 300)  # warm-up: connections, script cache, JIT-free paths
        before = server_histogram(metrics_port)
        samples = await latency(stub, checks, args.calls)
        after = server_histogram(metrics_port)
        server_cpu = cpu_seconds(pid)
        client_cpu = cpu_seconds(os.getpid())
        started = time.perf_counter()
        done = await throughput(stub, checks, args.seconds, args.concurrency)
        elapsed = time.perf_counter() - started
        server_cpu = cpu_seconds(pid) - server_cpu
        client_cpu = cpu_seconds(os.getpid()) - client_cpu
    cuts = statistics.quantiles(samples, n=100)
    rows = [
        ("client p50 (1 in flight)", f"{cuts[49] * 1000:.3f} ms"),
        ("client p99 (1 in flight)", f"{cuts[98] * 1000:.3f} ms"),
        ("server p50 (histogram bucket)", f"<= {bucket_quantile(before, after, 0.5) * 1000:g} ms"),
        ("server p99 (histogram bucket)", f"<= {bucket_quantile(before, after, 0.99) * 1000:g} ms"),
        (f"throughput ({args.concurrency} in flight)", f"{done / elapsed:,.0f} checks/s"),
        ("server CPU per check", f"{server_cpu / done * 1e6:,.0f} us"),
        ("client CPU per check", f"{client_cpu / done * 1e6:,.0f} us"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"risk CheckOrder, one replica, log level {args.log_level}")
    for name, value in rows:
        print(f"  {name.ljust(width)}  {value}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=2000, help="sequential calls for latency")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of the throughput run")
    parser.add_argument("--concurrency", type=int, default=32, help="calls in flight")
    parser.add_argument("--log-level", default="INFO", help="the service's LOG_LEVEL")
    args = parser.parse_args()
    redis = RedisServer()
    redis.start()
    try:
        with tempfile.TemporaryDirectory(prefix="risk-bench-") as folder:
            root = Path(folder)
            keys = Keys.create(root)
            (root / "limits.yaml").write_text(LIMITS)
            metrics_port = free_port()
            env = {
                "REDIS_URL": redis.url,
                "RISK_LIMITS_FILE": str(root / "limits.yaml"),
                "METRICS_PORT": str(metrics_port),
                "LOG_LEVEL": args.log_level,
            }
            with running_service("services.risk", keys, root, env) as risk:
                asyncio.run(measure(risk.target, risk.process.pid, keys, metrics_port, args))
    finally:
        redis.close()


if __name__ == "__main__":
    main()
