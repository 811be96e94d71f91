"""Property: whatever mix of concurrent orders, fills and cancels arrives, the book against a
real Redis never holds more than a limit allows, and once every outcome is in, nothing stays
reserved and positions equal the fills."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import redis
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.risk.amounts import from_units
from services.risk.book import ReservationBook
from services.risk.checks import PreTradeCheck
from services.risk.intents import OrderIntent
from services.risk.limits_file import parse_limits_text
from services.risk.limits_store import LimitsStore
from services.risk.outcomes import CANCELED, FILLED, PARTIALLY_FILLED, REJECTED, OutcomeReport
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.integration

LIMITS = parse_limits_text(
    """
notional_currency: USD
allowed_pairs: [BTC/USD]
allowed_order_types: [limit]
default_price_collar_pct: "10"
max_position: {BTC: "5"}
team_daily_notional: {desk-a: "300000", desk-b: "150000"}
max_open_orders: 6
""",
    "property-limits",
)
MAX_BTC = Decimal(5)
TEAM_LIMITS = {"desk-a": Decimal(300000), "desk-b": Decimal(150000)}
PRICE = Decimal(30000)


@dataclass(frozen=True)
class NewOrder:
    side: str
    volume: Decimal
    team: str
    reduce_only: bool


@dataclass(frozen=True)
class Outcome:
    outcome: str
    pick: int
    filled_tenths: int


@dataclass
class Working:
    reservation_id: str
    side: str
    volume: Decimal
    filled: Decimal = Decimal(0)


new_orders = st.builds(
    NewOrder,
    side=st.sampled_from(["buy", "sell"]),
    volume=st.integers(1, 30).map(lambda tenths: Decimal(tenths) / 10),
    team=st.sampled_from(list(TEAM_LIMITS)),
    reduce_only=st.booleans(),
)
reports = st.builds(
    Outcome,
    outcome=st.sampled_from([PARTIALLY_FILLED, FILLED, CANCELED, REJECTED]),
    pick=st.integers(0, 50),
    filled_tenths=st.integers(0, 10),
)
# Each batch's new orders are checked concurrently, then its outcomes arrive in turn.
batches = st.lists(st.lists(st.one_of(new_orders, reports), min_size=1, max_size=8), max_size=8)


def intent(step: NewOrder) -> OrderIntent:
    return OrderIntent(
        client_order_id=str(uuid.uuid4()),
        team=step.team,
        requested_by="property",
        request_id="",
        pair="BTC/USD",
        side=step.side,
        order_type="limit",
        volume=step.volume,
        limit_price=PRICE,
        stop_price=None,
        reference_price=PRICE,
        reduce_only=step.reduce_only,
        dry_run=False,
    )


async def assert_within_limits(book: ReservationBook, day: str) -> None:
    for row in await book.assets(["BTC"]):
        held, bought, sold = (
            from_units(v) for v in (row.position, row.reserved_buy, row.reserved_sell)
        )
        assert held + bought <= MAX_BTC
        assert sold - held <= MAX_BTC
    for team in await book.teams(day):
        assert from_units(team.used) + from_units(team.reserved) <= TEAM_LIMITS[team.team]
        assert 0 <= team.open_orders <= LIMITS.max_open_orders


def next_report(order: Working, step: Outcome) -> tuple[str, Decimal]:
    """The outcome an exchange could really send next for this order, cumulative fill included."""
    if step.outcome == FILLED:
        return FILLED, order.volume
    if step.outcome == REJECTED and not order.filled:
        return REJECTED, Decimal(0)
    outcome = CANCELED if step.outcome == REJECTED else step.outcome
    return outcome, max(order.filled, order.volume * step.filled_tenths / 10)


async def run(url: str, plan: list[list[NewOrder | Outcome]]) -> None:
    client = aioredis.Redis.from_url(url, decode_responses=True)
    day = datetime.now(UTC).date().isoformat()
    try:
        book = ReservationBook(client, 3600)
        checks = PreTradeCheck(LimitsStore(client, LIMITS, "test"), book, 3600)
        working: list[Working] = []
        net_fills = fill_notional = Decimal(0)
        for batch in plan:
            new = [step for step in batch if isinstance(step, NewOrder)]
            decisions = await asyncio.gather(*(checks.check_order(intent(s)) for s in new))
            working += [
                Working(decision.reservation_id, step.side, step.volume)
                for step, decision in zip(new, decisions, strict=True)
                if decision.approved
            ]
            for step in (s for s in batch if isinstance(s, Outcome)):
                if not working:
                    continue
                order = working[step.pick % len(working)]
                outcome, filled = next_report(order, step)
                result = await checks.report(
                    order.reservation_id, OutcomeReport(outcome, filled, PRICE)
                )
                assert result.applied or (outcome == PARTIALLY_FILLED and filled == order.filled)
                net_fills += (filled - order.filled) * (1 if order.side == "buy" else -1)
                fill_notional += (filled - order.filled) * PRICE
                order.filled = filled
                if outcome != PARTIALLY_FILLED:
                    working.remove(order)
            await assert_within_limits(book, day)
        for order in working:
            await checks.report(order.reservation_id, OutcomeReport(CANCELED, order.filled, PRICE))
        for row in await book.assets(["BTC"]):
            assert (row.reserved_buy, row.reserved_sell) == (0, 0)
            assert from_units(row.position) == net_fills
        teams = await book.teams(day)
        assert all(t.reserved == 0 and t.open_orders == 0 for t in teams)
        assert sum(from_units(t.used) for t in teams) == fill_notional
    finally:
        await client.aclose()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=batches)
def test_book_never_exceeds_a_limit_and_returns_to_zero(
    redis_server: RedisServer, plan: list[list[NewOrder | Outcome]]
) -> None:
    flush = redis.Redis.from_url(redis_server.url)
    flush.flushall()
    flush.close()
    asyncio.run(run(redis_server.url, plan))
