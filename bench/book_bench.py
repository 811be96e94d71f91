"""Book ingest rate of the signal service's market feed, beside the raw JSON parse rate.

Generates a stream of Kraken WebSocket v2 ``book`` messages for BTC/USD at depth 10 (one
snapshot, then updates of one to three levels: quantity changes, and levels removed while new
ones appear past the worst level, as a busy pair sends them), each with its real checksum.
Then, on the same messages, in one process on one core:

1. ``json.loads`` alone (floats): the floor any Python client pays;
2. ``json.loads`` with ``parse_float=Decimal``: what exact prices cost;
3. the production path: decode, route, apply, truncate, verify the CRC32 (``MarketFeed``).

Usage: ``PYTHONPATH=.:gen .venv/bin/python -m bench.book_bench [--messages 100000]``
Target (issue #5): >= 20,000 book messages/s including checksum verification.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from decimal import Decimal

from prometheus_client import CollectorRegistry

from services.common.book_checksum import book_checksum
from services.signal.market.book import OrderBook
from services.signal.market.feed import MarketFeed
from services.signal.market.metrics import MarketMetrics
from services.signal.market.model import Candle, PairInfo, Ticker, Trade
from services.signal.market.wire import decode

TARGET = 20_000
DEPTH = 10
PAIR = PairInfo("BTC/USD", price_decimals=1, qty_decimals=8)
TICK = Decimal("0.1")
MID = Decimal("65000.0")


class _NullSink:
    """Takes the feed's events and drops them: the bench measures ingest, not Redis."""

    def ticker(self, ticker: Ticker) -> None: ...

    def trades(self, trades: list[Trade]) -> None: ...

    def candles(self, candles: list[Candle]) -> None: ...

    def book_changed(self, book: OrderBook) -> None: ...


def _qty(rng: random.Random) -> Decimal:
    return Decimal(rng.randint(1, 500_000_000)).scaleb(-8)


def _level(price: Decimal, qty: Decimal) -> str:
    return f'{{"price":{price:.1f},"qty":{qty:.8f}}}'


def _message(
    kind: str,
    bids: dict[Decimal, Decimal],
    asks: dict[Decimal, Decimal],
    book: tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]],
) -> str:
    full_bids, full_asks = book
    checksum = book_checksum(full_asks.items(), full_bids.items(), 1, 8)
    bid_text = ",".join(_level(p, q) for p, q in sorted(bids.items(), reverse=True))
    ask_text = ",".join(_level(p, q) for p, q in sorted(asks.items()))
    return (
        f'{{"channel":"book","type":"{kind}","data":[{{"symbol":"BTC/USD",'
        f'"bids":[{bid_text}],"asks":[{ask_text}],"checksum":{checksum},'
        f'"timestamp":"2026-01-05T12:00:00.000000Z"}}]}}'
    )


def generate(count: int, seed: int = 7) -> list[str]:
    """A snapshot and ``count - 1`` updates, each level change applied to a reference book."""
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    bids = {MID - TICK * i: _qty(rng) for i in range(1, DEPTH + 1)}
    asks = {MID + TICK * i: _qty(rng) for i in range(DEPTH)}
    messages = [_message("snapshot", bids, asks, (bids, asks))]
    while len(messages) < count:
        side, changes = (bids, {}) if rng.random() < 0.5 else (asks, {})
        for _ in range(rng.randint(1, 3)):
            price = rng.choice(sorted(side))
            roll = rng.random()
            if roll < 0.6:
                changes[price] = side[price] = _qty(rng)
            else:
                del side[price]
                changes[price] = Decimal(0)
                # The book refills: a new level appears past the worst one.
                inner = sorted(side, reverse=side is bids)
                fresh = inner[-1] + (-TICK if side is bids else TICK)
                while fresh in side:
                    fresh += -TICK if side is bids else TICK
                changes[fresh] = side[fresh] = _qty(rng)
        update_bids = changes if side is bids else {}
        update_asks = changes if side is asks else {}
        messages.append(_message("update", update_bids, update_asks, (bids, asks)))
    return messages


def _rate(run: Callable[[], None], count: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return count / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    messages = generate(args.messages)
    size = sum(len(text) for text in messages) / len(messages)

    def parse_floats() -> None:
        for text in messages:
            json.loads(text)

    def parse_decimals() -> None:
        for text in messages:
            decode(text)

    registry = CollectorRegistry()
    metrics = MarketMetrics(registry)
    mismatches: list[str] = []

    def ingest() -> None:
        feed = MarketFeed(
            _NullSink(),
            lambda pair, _delay: mismatches.append(pair),
            metrics,
            book_depth=DEPTH,
            candle_grace=0,
            resync_base=0.25,
            resync_cap=10,
        )
        feed.add_pair(PAIR, ())
        for text in messages:
            received_ns = time.time_ns()
            message = decode(text)
            feed.on_message(message["channel"], message, received_ns)

    float_rate = _rate(parse_floats, len(messages), args.repeat)
    decimal_rate = _rate(parse_decimals, len(messages), args.repeat)
    ingest_rate = _rate(ingest, len(messages), args.repeat)
    if mismatches or registry.get_sample_value("signal_market_ws_malformed_total"):
        raise SystemExit(
            f"the bench's own stream failed verification: {len(mismatches)} mismatches"
        )

    print(
        f"book ingest, BTC/USD depth {DEPTH}: {len(messages):,} messages "
        f"(1 snapshot, updates of 1-3 levels, {size:.0f} bytes on average), best of {args.repeat}"
    )
    for name, rate in (
        ("json.loads only (floats)", float_rate),
        ("json.loads, parse_float=Decimal", decimal_rate),
        ("ingest: decode + apply + CRC32 verify", ingest_rate),
    ):
        print(f"  {name:<40} {rate:>10,.0f} msg/s  {1e6 / rate:6.1f} us/msg")
    verdict = "met" if ingest_rate >= TARGET else "NOT met"
    print(f"  target >= {TARGET:,} msg/s with checksum verification: {verdict}")
    print(f"  every message verified: {len(messages):,} checksums matched, 0 resubscriptions")


if __name__ == "__main__":
    main()
