"""Tick-to-trade: from a ticker leaving the paper exchange's WebSocket to the AddOrder it causes
arriving back at the paper exchange, through signal, execution and risk.

Starts, as tests/integration/signal/test_end_to_end.py does, a private redis-server, the paper
exchange (``pro`` tier, its background price path effectively off: one step an hour), one risk
process, one execution process and ONE signal replica, so exactly one WebSocket consumer exists
(checked through ``GET /_paper/stats``). On BTC/USD it creates two price-cross rules at a
threshold T, ABOVE → BUY and BELOW → SELL, each bound to a market order of a fixed 0.0001 BTC
with no cooldown, then moves the price (``POST /_paper/price``) alternately to T + step and
T - step. Each move sends one ticker, which crosses one rule, which places one order; buys and
sells alternate, so the position stays flat.

Then, unless ``--no-floor``, it stops those services and does the same with the bare chain
(bench/bare_chain.py: three processes doing only the steps DESIGN.md puts between a ticker and
its AddOrder) on the same exchange and Redis, and prints the platform's p50 beside the chain's:
what the design itself costs on this machine, measured in the same run.

Both ends are stamped by the paper exchange on its one monotonic clock
(``GET /_paper/timeline``, services/paper/timeline.py): latency = the AddOrder's arrival
(``add_order_received``) - the last ``ticker`` sent for BTC/USD before it (``ws_ticker_sent``),
among the events after the price move. The bench process's own clock is never used, so its
polling adds no error, only a little CPU on the shared cores (it polls every ``--poll`` s).

Kraken's trading counter (``pro``: 180 per pair, decaying 3.75/s; a market order costs 1) is
respected by pausing ``--pause`` s between moves: about 4 orders/s, under the decay, so no order
is refused for budget. A pause also lets each order's aftermath (fill, outcome report to risk)
finish before the next tick, so what is measured is one tick on a quiet platform. Execution
uses the reference price it gives risk as it is for 1 s, then (up to 10 s) while one background
REST Ticker call refreshes it (services/execution/orders/reference.py): at this pace about one
move in four has that call beside it, competing for the same cores, and the report splits the
moves by it (counted from ``GET /_paper/stats``).

Usage: ``PYTHONPATH=.:gen .venv/bin/python -m bench.tick_bench [--count 200] [--log-level INFO]``
Target (issue #5): p50 <= 5 ms and p99 <= 15 ms on this machine. A benchmark, not a test: it
prints the figures and the verdict, and exits 0 either way.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc

from bench.bare_roles import start_order_roles, start_role
from services.common.identity import write_key_pair
from tests.support.paper_exchange import PaperExchange
from tests.support.platform import PlatformKeys, execution_env, risk_env
from tests.support.redis_server import RedisServer
from tests.support.services import Keys, running_service
from trading.common.v1 import common_pb2
from trading.signal.v1 import signal_pb2, signal_pb2_grpc

PAIR = "BTC/USD"
PAPER_PAIR = "XBTUSD"
VOLUME = "0.0001"  # Kraken's minimum for BTC/USD
STEP = Decimal("10.0")  # how far each move lands from the threshold: 100 ticks of 0.1
TEAM = "bench-desk"
TARGET_P50_MS = 5.0
TARGET_P99_MS = 15.0
LIMITS = """\
notional_currency: USD
allowed_pairs: [BTC/USD]
allowed_order_types: [market, limit]
default_price_collar_pct: "10"
max_position: {BTC: "1000"}
default_team_daily_notional: "20000000"
max_open_orders: 0
"""


def quantile(samples: list[float], q: int) -> float:
    if len(samples) < 2:
        return samples[0] if samples else float("nan")
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


@dataclass(frozen=True)
class Move:
    """One price move that led to an AddOrder."""

    latency_ms: float
    tickers_sent: int  # more than one: more than one WebSocket consumer
    ticker_calls: int  # REST Ticker calls meanwhile: execution refreshing its reference price


@dataclass
class Results:
    """The measured moves, and how many got no AddOrder within the timeout."""

    moves: list[Move] = field(default_factory=list)
    missed: int = 0

    def latencies(self, *, fetched: bool | None = None) -> list[float]:
        """All latencies in ms; or of the moves with (``fetched``) or without a Ticker call."""
        return [
            m.latency_ms for m in self.moves if fetched is None or (m.ticker_calls > 0) == fetched
        ]


@dataclass(frozen=True)
class Exchange:
    """The private Redis and paper exchange both chains run against."""

    paper: PaperExchange
    redis_url: str


@dataclass(frozen=True)
class Stack:
    """One chain from the exchange's WebSocket back to it, ready to be armed."""

    paper: PaperExchange
    arm: Callable[[], Decimal]  # sets up the crossing at a threshold; returns it
    name: str


@contextmanager
def exchange() -> Iterator[Exchange]:
    with ExitStack() as stack:
        redis = RedisServer()
        redis.start()
        stack.callback(redis.close)
        paper = stack.enter_context(
            PaperExchange(nonce_window=10_000_000_000, tier="pro", tick_interval=3600.0)
        )
        yield Exchange(paper, redis.url)


@contextmanager
def platform(root: Path, market: Exchange, log_level: str) -> Iterator[Stack]:
    """Risk, execution and one signal replica, wired together on ``market``."""
    paper = market.paper
    keys = PlatformKeys.create(root / "keys")
    signal_key = keys.keys.folder / "signal.pem"
    write_key_pair(signal_key, keys.keys.folder / "signal.pub.pem")
    trusted = f"{keys.trusted},signal={keys.keys.folder / 'signal.pub.pem'}"
    limits = root / "limits.yaml"
    limits.write_text(LIMITS)
    with ExitStack() as stack:
        risk = stack.enter_context(
            running_service(
                "services.risk",
                keys.keys,
                root,
                {
                    **risk_env(keys, market.redis_url),
                    "RISK_LIMITS_FILE": str(limits),
                    "LOG_LEVEL": log_level,
                },
            )
        )
        execution = stack.enter_context(
            running_service(
                "services.execution",
                keys.keys,
                root,
                execution_env(
                    keys,
                    paper,
                    market.redis_url,
                    risk.target,
                    {
                        "IDENTITY_TRUSTED_KEYS": trusted,
                        "KRAKEN_TIER": "pro",
                        "EXECUTION_RECONCILE_INTERVAL": "2",
                        "EXECUTION_RECONCILE_GRACE": "30",
                        "LOG_LEVEL": log_level,
                    },
                ),
            )
        )
        signal = stack.enter_context(
            running_service(
                "services.signal",
                keys.keys,
                root,
                {
                    "REDIS_URL": market.redis_url,
                    "EXECUTION_TARGET": execution.target,
                    "IDENTITY_SIGNING_KEY_FILE": str(signal_key),
                    "KRAKEN_WS_URL": paper.ws_url,
                    "KRAKEN_API_URL": paper.url,
                    "SIGNAL_PAIRS": PAIR,
                    "SIGNAL_OHLC_INTERVALS": "1",
                    "SIGNAL_BACKFILL_CANDLES": "5",
                    "SIGNAL_RULES_REFRESH": "0.2",
                    "LOG_LEVEL": log_level,
                },
            )
        )
        yield Stack(paper, lambda: arm_rules(signal.target, keys), "the platform")


@contextmanager
def bare_chain(root: Path, market: Exchange) -> Iterator[Stack]:
    """bench/bare_chain.py's three processes on ``market``, crossing at the price of now."""
    paper = market.paper
    ticker = paper.public("Ticker", pair=PAPER_PAIR)["result"]
    threshold = Decimal(next(iter(ticker.values()))["c"][0]).quantize(Decimal(1))
    keys = Keys.create(root / "bare-keys")
    with ExitStack() as stack:
        _, execution = start_order_roles(stack, keys, root, market.redis_url, paper)
        start_role(
            stack,
            keys,
            root,
            "signal",
            {
                "REDIS_URL": market.redis_url,
                "EXECUTION_TARGET": execution.target,
                "KRAKEN_WS_URL": paper.ws_url,
                "BARE_PAIR": PAIR,
                "BARE_THRESHOLD": format(threshold, "f"),
            },
        )
        yield Stack(paper, lambda: threshold, "the bare chain (bench/bare_chain.py)")


def timeline(paper: PaperExchange, after_ns: int | None = None) -> dict[str, Any]:
    """The paper exchange's BTC/USD events stamped after ``after_ns``, and its clock now."""
    query = {"pair": PAIR} if after_ns is None else {"pair": PAIR, "after_ns": str(after_ns)}
    response = paper.http.get("/_paper/timeline", params=query)
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


def arm_rules(signal_target: str, keys: PlatformKeys) -> Decimal:
    """Create the two rules and their bindings around the current price; the threshold."""
    metadata = (("authorization", f"Bearer {keys.keys.issuer().mint(TEAM, ['traders'])}"),)
    stub = signal_pb2_grpc.SignalServiceStub(grpc.insecure_channel(signal_target))
    deadline = time.monotonic() + 30
    while True:  # the feed is up and publishing
        try:
            last = stub.GetTicker(
                signal_pb2.GetTickerRequest(pair=PAIR), metadata=metadata, timeout=2
            ).ticker.last
            break
        except grpc.RpcError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    threshold = Decimal(last).quantize(Decimal(1))
    sides = (
        (signal_pb2.CROSS_DIRECTION_ABOVE, "above", "buy"),
        (signal_pb2.CROSS_DIRECTION_BELOW, "below", "sell"),
    )
    for direction, word, side in sides:
        rule = stub.CreateRule(
            signal_pb2.CreateRuleRequest(
                name=f"tick bench {word}",
                pair=PAIR,
                price_cross=signal_pb2.PriceCrossRule(
                    threshold=format(threshold, "f"), direction=direction
                ),
            ),
            metadata=metadata,
            timeout=5,
        ).rule
        stub.CreateBinding(
            signal_pb2.CreateBindingRequest(
                name=f"tick bench {side}",
                rule_id=rule.id,
                pair=PAIR,
                sizing=signal_pb2.SizingPolicy(fixed_volume=signal_pb2.FixedVolume(volume=VOLUME)),
                order_type=common_pb2.ORDER_TYPE_MARKET,
            ),
            metadata=metadata,
            timeout=5,
        )
    return threshold


def ticker_calls(paper: PaperExchange) -> int:
    """REST Ticker calls the paper exchange has answered: execution's reference price fetches."""
    calls: int = paper.stats()["calls"].get("Ticker", 0)
    return calls


def move(stack: Stack, price: Decimal, timeout: float, poll: float) -> Move | None:
    """Set the price and time the AddOrder it causes; None when none arrived within ``timeout``."""
    paper = stack.paper
    calls_before = ticker_calls(paper)
    cursor = timeline(paper)["now_ns"]
    paper.set_price(PAPER_PAIR, format(price, "f"))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(poll)
        events = timeline(paper, cursor)["events"]
        orders = [e["t_ns"] for e in events if e["kind"] == "add_order_received"]
        if not orders:
            continue
        arrived = min(orders)
        sent = [e["t_ns"] for e in events if e["kind"] == "ws_ticker_sent" and e["t_ns"] < arrived]
        if not sent:
            raise RuntimeError("an AddOrder arrived before any ticker was sent: another client?")
        return Move((arrived - max(sent)) / 1e6, len(sent), ticker_calls(paper) - calls_before)
    return None


def one_consumer(paper: PaperExchange) -> None:
    """Wait until exactly one WebSocket is connected: the chain's, the previous one's gone."""
    deadline = time.monotonic() + 10
    while (connections := paper.stats()["websocket"]["connections"]) != 1:
        if time.monotonic() > deadline:
            raise RuntimeError(f"expected exactly one WebSocket consumer, found {connections}")
        time.sleep(0.05)


def run(stack: Stack, args: argparse.Namespace) -> Results:
    threshold = stack.arm()
    # Only now: the platform's replica connects its WebSocket after it has won the pair's lease
    # and read the pair's precision, and arming waited for a ticker it published.
    one_consumer(stack.paper)
    print(f"  {stack.name}: one WebSocket consumer at the paper exchange")
    time.sleep(1.0)  # the rule engine reloads every 0.2 s: both rules are live
    # A first move below the threshold, so each rule has a previous price to cross from.
    stack.paper.set_price(PAPER_PAIR, format(threshold - STEP, "f"))
    results = Results()
    for index in range(args.warmup + args.count):
        time.sleep(args.pause)
        price = threshold + STEP if index % 2 == 0 else threshold - STEP
        outcome = move(stack, price, args.timeout, args.poll)
        if index < args.warmup:
            continue
        if outcome is None:
            results.missed += 1
        else:
            results.moves.append(outcome)
    return results


def report(results: Results, log_level: str) -> float | None:
    """Print the platform's figures and verdict; its p50 in ms (None: nothing measured)."""
    samples = results.latencies()
    print(f"\ntick-to-trade, BTC/USD, the platform, services at log level {log_level}")
    if not samples:
        print("  no AddOrder arrived: nothing measured")
        return None
    p50, p99 = print_latencies(results)
    # Execution refreshes the pair's last price for risk's collar in the background once it is
    # 1 s old: the one piece of work whose presence depends on how far apart orders are.
    for fetched, what in ((False, "reference price cached"), (True, "reference price fetched")):
        part = results.latencies(fetched=fetched)
        if part:
            print(
                f"    {what} (REST Ticker {'during' if fetched else 'not during'} the move):"
                f" n = {len(part)}, p50 {quantile(part, 50):6.2f} ms,"
                f" max {max(part):6.2f} ms"
            )
    met = p50 <= TARGET_P50_MS and p99 <= TARGET_P99_MS and not results.missed
    print(
        f"  target p50 <= {TARGET_P50_MS:g} ms and p99 <= {TARGET_P99_MS:g} ms:"
        f" {'met' if met else 'NOT met'}"
    )
    return p50


def print_latencies(results: Results) -> tuple[float, float]:
    samples = results.latencies()
    p50, p99 = quantile(samples, 50), quantile(samples, 99)
    extra = sum(m.tickers_sent > 1 for m in results.moves)
    print(
        f"  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  max {max(samples):6.2f} ms"
        f"  mean {statistics.fmean(samples):6.2f} ms  min {min(samples):6.2f} ms"
        f"  (n = {len(samples)}; {results.missed} moves without an order"
        f", {extra} with more than one ticker sent)"
    )
    return p50, p99


def report_floor(results: Results, platform_p50: float | None) -> None:
    """The bare chain's figures, and the platform's p50 against them."""
    print("\ntick-to-trade, BTC/USD, the bare chain (the design's mandatory steps alone)")
    if not results.latencies():
        print("  no AddOrder arrived: nothing measured")
        return
    p50, _p99 = print_latencies(results)
    if platform_p50 is not None:
        print(
            f"  the platform's p50 over the bare chain's: {platform_p50:.2f} - {p50:.2f}"
            f" = {platform_p50 - p50:.2f} ms ({platform_p50 / p50:.1f}x)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=200, help="measured price moves")
    parser.add_argument("--warmup", type=int, default=10, help="price moves before measuring")
    parser.add_argument("--pause", type=float, default=0.25, help="seconds between moves")
    parser.add_argument("--poll", type=float, default=0.01, help="seconds between timeline reads")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds to wait per order")
    parser.add_argument("--log-level", default="INFO", help="the services' LOG_LEVEL")
    parser.add_argument(
        "--floor",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure the bare chain (bench/bare_chain.py) after the platform",
    )
    args = parser.parse_args()
    print(f"tick-to-trade bench: {args.warmup} warm-up and {args.count} measured price moves")
    with tempfile.TemporaryDirectory(prefix="tick-bench-") as folder, exchange() as market:
        with platform(Path(folder), market, args.log_level) as stack:
            results = run(stack, args)
        bare = None
        if args.floor:
            with bare_chain(Path(folder), market) as stack:
                bare = run(stack, args)
    platform_p50 = report(results, args.log_level)
    if bare is not None:
        report_floor(bare, platform_p50)


if __name__ == "__main__":
    main()
