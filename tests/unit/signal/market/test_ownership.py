"""Feed ownership rounds on in-memory leases and a hand-driven clock: the share, and a replica
whose feed is down stepping aside for the others (the Redis scripts are exercised in the
integration tests)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry

from services.signal.market.metrics import MarketMetrics
from services.signal.market.ownership import FeedOwnership

PAIRS = ("BTC/USD", "ETH/USD")
TTL = 1.0


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Hall:
    """What Redis would hold: the lease owners and the presences, each with its expiry."""

    clock: Clock
    owners: dict[str, tuple[str, float]] = field(default_factory=dict)
    presence: dict[str, float] = field(default_factory=dict)

    def live_presence(self) -> set[str]:
        return {owner for owner, until in self.presence.items() if until > self.clock.now}

    def owner(self, pair: str) -> str | None:
        held = self.owners.get(pair)
        return held[0] if held is not None and held[1] > self.clock.now else None


class FakeLeases:
    def __init__(self, hall: Hall, owner_id: str) -> None:
        self._hall = hall
        self.owner_id = owner_id
        self.ttl_ms = round(TTL * 1000)

    async def present(self) -> int:
        self._hall.presence[self.owner_id] = self._hall.clock.now + TTL
        return len(self._hall.live_presence())

    async def others_present(self) -> bool:
        return bool(self._hall.live_presence() - {self.owner_id})

    async def leave(self) -> None:
        self._hall.presence.pop(self.owner_id, None)

    async def acquire(self, pair: str) -> bool:
        if self._hall.owner(pair) is not None:
            return False
        self._hall.owners[pair] = (self.owner_id, self._hall.clock.now + TTL)
        return True

    async def renew(self, pair: str) -> bool:
        if self._hall.owner(pair) != self.owner_id:
            return False
        self._hall.owners[pair] = (self.owner_id, self._hall.clock.now + TTL)
        return True

    async def release(self, pair: str) -> bool:
        if self._hall.owner(pair) != self.owner_id:
            return False
        del self._hall.owners[pair]
        return True


class Replica:
    """One replica's ownership, with a feed the test can break: a broken feed is down from the
    moment the replica takes a pair (its connection fails at once) until it holds none."""

    def __init__(self, hall: Hall, name: str) -> None:
        self._clock = hall.clock
        self.broken = False
        self._down_since: float | None = None
        self.lost: list[str] = []
        self.ownership = FeedOwnership(
            FakeLeases(hall, name),  # type: ignore[arg-type]
            PAIRS,
            MarketMetrics(CollectorRegistry()),
            on_acquired=self._acquired,
            on_lost=self._lost,
            feed_down_for=self._feed_down_for,
            clock=hall.clock,
        )

    def break_feed(self) -> None:
        self.broken = True
        if self.ownership.owned:
            self._down_since = self._clock.now

    def _acquired(self, pair: str) -> None:
        if self.broken and self._down_since is None:
            self._down_since = self._clock.now

    def _lost(self, pair: str) -> None:
        self.lost.append(pair)
        if not self.ownership.owned:
            self._down_since = None

    def _feed_down_for(self) -> float:
        return 0.0 if self._down_since is None else self._clock.now - self._down_since

    @property
    def owned(self) -> frozenset[str]:
        return self.ownership.owned

    async def round(self) -> None:
        await self.ownership.round()


def _hall() -> Hall:
    return Hall(Clock())


async def _two_sharing(hall: Hall) -> tuple[Replica, Replica]:
    first, second = Replica(hall, "a"), Replica(hall, "b")
    await first.round()
    await second.round()
    await first.round()  # hands its excess over
    await second.round()  # takes it
    assert len(first.owned) == len(second.owned) == 1
    return first, second


async def _rounds(hall: Hall, ttls: float, *replicas: Replica) -> None:
    """Let ``ttls`` lease TTLs pass, each replica doing a round every quarter TTL."""
    for _ in range(round(ttls * 4)):
        hall.clock.now += TTL / 4
        for replica in replicas:
            await replica.round()


async def test_a_replica_whose_feed_is_down_hands_its_pairs_to_a_present_one() -> None:
    hall = _hall()
    first, second = await _two_sharing(hall)
    fed_by_first = sorted(first.owned)
    first.lost.clear()
    first.break_feed()

    await _rounds(hall, 0.75, second, first)
    assert first.owned  # down for less than a TTL: kept
    await _rounds(hall, 0.25, first)
    await second.round()

    assert first.owned == frozenset()
    assert first.lost == fed_by_first
    assert second.owned == frozenset(PAIRS)
    assert hall.live_presence() == {"b"}


async def test_a_replica_alone_keeps_its_pairs_while_its_feed_is_down() -> None:
    hall = _hall()
    alone = Replica(hall, "a")
    await alone.round()
    alone.break_feed()

    await _rounds(hall, 10, alone)

    assert alone.owned == frozenset(PAIRS)


async def _step_aside(hall: Hall, first: Replica, second: Replica) -> None:
    """``first``'s feed breaks; it steps aside once its feed has been down for a TTL."""
    first.break_feed()
    await _rounds(hall, 1, second, first)
    assert first.owned == frozenset()


async def _aside_with_its_feed_mended() -> tuple[Hall, Replica, Replica]:
    """Two replicas sharing the pairs; the first has stepped aside, and its feed works again."""
    hall = _hall()
    first, second = await _two_sharing(hall)
    await _step_aside(hall, first, second)
    first.broken = False
    return hall, first, second


async def test_the_replica_stays_aside_then_comes_back_for_its_share() -> None:
    hall, first, second = await _aside_with_its_feed_mended()  # for three TTLs

    await _rounds(hall, 2.75, second, first)
    assert first.owned == frozenset()
    assert second.owned == frozenset(PAIRS)
    await _rounds(hall, 0.5, second, first)  # back; the other hands the excess over

    assert len(first.owned) == len(second.owned) == 1


async def test_stepping_aside_again_in_a_row_keeps_the_replica_away_twice_as_long() -> None:
    hall = _hall()
    first, second = await _two_sharing(hall)
    await _step_aside(hall, first, second)  # for three TTLs; the feed stays broken
    await _rounds(hall, 3.25, second, first)  # back, given its share by the other
    assert len(first.owned) == 1  # and down again from the start

    await _rounds(hall, 1, second, first)  # away for six TTLs this time
    assert first.owned == frozenset()
    first.broken = False
    await _rounds(hall, 5, second, first)
    assert first.owned == frozenset()
    await _rounds(hall, 1.25, second, first)
    assert len(first.owned) == 1


async def test_a_replica_that_fed_its_pairs_again_steps_aside_for_three_ttls_next_time() -> None:
    hall, first, second = await _aside_with_its_feed_mended()
    await _rounds(hall, 4, second, first)  # back, and its feed works
    assert len(first.owned) == 1

    await _step_aside(hall, first, second)
    first.broken = False
    await _rounds(hall, 3.25, second, first)  # three TTLs away again, not six

    assert len(first.owned) == 1


async def test_a_replica_aside_comes_back_at_once_when_no_other_is_present() -> None:
    _, first, second = await _aside_with_its_feed_mended()
    await second.ownership.release_all()  # the other replica stops

    await first.round()

    assert first.owned == frozenset(PAIRS)
