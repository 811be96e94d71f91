"""The seeded market: a price path per pair and what it drives (book, tape, candles, ticker).

Every random draw is an integer from one ``random.Random(seed)``, so prices and quantities are
exact decimals and a seed replays the same path. Book levels sit on a fixed price grid per pair,
so a small move changes a few levels, as a real book does.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from services.paper.catalog import PAIRS, Pair

BOOK_LEVELS = 100
DAY_NS = 86400 * 1_000_000_000
TRADES_KEPT = 20_000
_HISTORY_SECONDS = 12 * 3600
_HISTORY_STEP_SECONDS = 15
_STEP_BPS = 5  # the largest move of one step, in basis points of the price
_GRID_BPS = Decimal("0.5")  # book level spacing, in basis points of the start price
_REFRESH_ONE_IN = 5  # each step renews the quantity of about one level in this many

WallClock = Callable[[], int]
"""Wall-clock nanoseconds since the epoch; tests pass their own."""


@dataclass(frozen=True)
class PublicTrade:
    """One print on the tape: ``side`` is the taker's (``b``/``s``), ``kind`` is ``m`` or ``l``."""

    price: Decimal
    volume: Decimal
    time_ns: int
    side: str
    kind: str
    trade_id: int


@dataclass
class PairMarket:
    """The live state of one pair."""

    pair: Pair
    last: Decimal
    grid: Decimal
    asks: dict[Decimal, Decimal] = field(default_factory=dict)
    bids: dict[Decimal, Decimal] = field(default_factory=dict)
    trades: deque[PublicTrade] = field(default_factory=lambda: deque(maxlen=TRADES_KEPT))
    next_trade_id: int = 1

    def best_ask(self) -> Decimal:
        return min(self.asks) if self.asks else self.last

    def best_bid(self) -> Decimal:
        return max(self.bids) if self.bids else self.last

    def sorted_asks(self) -> list[tuple[Decimal, Decimal]]:
        return sorted(self.asks.items())

    def sorted_bids(self) -> list[tuple[Decimal, Decimal]]:
        return sorted(self.bids.items(), reverse=True)

    def ticker(self, now_ns: int) -> dict[str, Decimal]:
        """The rolling 24-hour ticker numbers, as the WebSocket ``ticker`` channel carries them."""
        day = [trade for trade in self.trades if trade.time_ns > now_ns - DAY_NS]
        volume, vwap, _, low, high = trade_stats(day)
        first = day[0].price if day else self.last
        return {
            "bid": self.best_bid(),
            "bid_qty": self.bids.get(self.best_bid(), Decimal(0)),
            "ask": self.best_ask(),
            "ask_qty": self.asks.get(self.best_ask(), Decimal(0)),
            "last": self.last,
            "volume": volume,
            "vwap": vwap,
            "low": low or self.last,
            "high": high or self.last,
            "change": self.last - first,
            "change_pct": ((self.last - first) / first * 100).quantize(Decimal("0.01")),
        }


def trade_stats(trades: Iterable[PublicTrade]) -> tuple[Decimal, Decimal, int, Decimal, Decimal]:
    """Volume, VWAP, count, low and high of some prints (zeros when there are none)."""
    volume = Decimal(0)
    notional = Decimal(0)
    count = 0
    low: Decimal | None = None
    high: Decimal | None = None
    for trade in trades:
        volume += trade.volume
        notional += trade.volume * trade.price
        count += 1
        low = trade.price if low is None else min(low, trade.price)
        high = trade.price if high is None else max(high, trade.price)
    vwap = notional / volume if volume else Decimal(0)
    return volume, vwap, count, low or Decimal(0), high or Decimal(0)


@dataclass(frozen=True)
class Fill:
    """A slice of a taker order matched against one book level."""

    price: Decimal
    volume: Decimal


class Market:
    """All pairs' markets, stepped by the exchange's ticker task or set by a test."""

    def __init__(self, seed: int, wall_clock: WallClock = time.time_ns) -> None:
        # A simulation, not cryptography: the seed must replay the same path.
        self._rng = random.Random(seed)  # noqa: S311
        self._clock = wall_clock
        self.pairs: dict[str, PairMarket] = {}
        for pair in PAIRS:
            grid_ticks = max(1, int(pair.start_price * _GRID_BPS / 10000 / pair.tick_size))
            state = PairMarket(pair, pair.start_price, pair.tick_size * grid_ticks)
            self.pairs[pair.id] = state
            self._backfill(state)
            self._rebuild_book(state)

    def now_ns(self) -> int:
        return self._clock()

    def _backfill(self, state: PairMarket) -> None:
        now = self._clock()
        steps = _HISTORY_SECONDS // _HISTORY_STEP_SECONDS
        for index in range(steps, 0, -1):
            self._walk(state)
            self._print(
                state,
                state.last,
                self._random_volume(state.pair),
                now - index * _HISTORY_STEP_SECONDS * 1_000_000_000,
            )

    def _walk(self, state: PairMarket) -> None:
        tick = state.pair.tick_size
        max_ticks = max(1, int(state.last * _STEP_BPS / 10000 / tick))
        moved = state.last + tick * self._rng.randint(-max_ticks, max_ticks)
        state.last = max(moved, state.grid * 10)

    def _random_volume(self, pair: Pair) -> Decimal:
        unit = Decimal(1).scaleb(-pair.lot_decimals)
        smallest = int(pair.ordermin / unit)
        return unit * self._rng.randint(smallest, smallest * 5000)

    def _print(
        self,
        state: PairMarket,
        price: Decimal,
        volume: Decimal,
        time_ns: int,
        taker_side: str = "",
    ) -> PublicTrade:
        trade = PublicTrade(
            price=price,
            volume=volume,
            time_ns=time_ns,
            side=taker_side or self._rng.choice("bs"),
            kind="m" if taker_side else self._rng.choice("ml"),
            trade_id=state.next_trade_id,
        )
        state.next_trade_id += 1
        state.trades.append(trade)
        return trade

    def _rebuild_book(self, state: PairMarket) -> None:
        grid = state.grid
        first_ask = (state.last / grid).to_integral_value(ROUND_DOWN) * grid + grid
        first_bid = first_ask - grid
        asks = [first_ask + grid * index for index in range(BOOK_LEVELS)]
        bids = [first_bid - grid * i for i in range(BOOK_LEVELS) if first_bid > grid * i]
        state.asks = {p: self._keep_or_renew(state.asks.get(p), state.pair) for p in asks}
        state.bids = {p: self._keep_or_renew(state.bids.get(p), state.pair) for p in bids}

    def _keep_or_renew(self, qty: Decimal | None, pair: Pair) -> Decimal:
        if qty is None or self._rng.randrange(_REFRESH_ONE_IN) == 0:
            return self._random_volume(pair)
        return qty

    def step(self) -> dict[str, list[PublicTrade]]:
        """One tick of the price path for every pair; returns the new prints per pair id."""
        prints: dict[str, list[PublicTrade]] = {}
        for pair_id, state in self.pairs.items():
            self._walk(state)
            now = self._clock()
            prints[pair_id] = [
                self._print(state, state.last, self._random_volume(state.pair), now)
                for _ in range(self._rng.randint(1, 3))
            ]
            self._rebuild_book(state)
        return prints

    def set_price(self, pair: Pair, price: Decimal) -> PublicTrade:
        """Move a pair's price for a test: one print at ``price`` and a book around it."""
        state = self.pairs[pair.id]
        state.last = price
        trade = self._print(state, price, pair.ordermin, self._clock())
        self._rebuild_book(state)
        return trade

    def walk_book(
        self, pair: Pair, side: str, volume: Decimal, limit: Decimal | None
    ) -> list[Fill]:
        """The fills a taker order of ``side`` would get, best price first, without taking them."""
        state = self.pairs[pair.id]
        levels = state.sorted_asks() if side == "buy" else state.sorted_bids()
        fills: list[Fill] = []
        remaining = volume
        for price, qty in levels:
            if remaining <= 0:
                break
            if limit is not None and (price > limit if side == "buy" else price < limit):
                break
            take = min(qty, remaining)
            fills.append(Fill(price, take))
            remaining -= take
        return fills

    def take(self, pair: Pair, side: str, fills: list[Fill]) -> list[PublicTrade]:
        """Remove ``fills`` from the book and print them on the tape as market trades."""
        state = self.pairs[pair.id]
        book = state.asks if side == "buy" else state.bids
        prints = []
        now = self._clock()
        for fill in fills:
            left = book[fill.price] - fill.volume
            if left > 0:
                book[fill.price] = left
            else:
                del book[fill.price]
            prints.append(self._print(state, fill.price, fill.volume, now, side[0]))
        if fills:
            state.last = fills[-1].price
        return prints
