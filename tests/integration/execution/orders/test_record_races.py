"""Placement and reconciliation writing the same order: compare-and-set keeps the newer state.

Real Redis and a scripted Kraken on a real socket, whose answers a test holds back (``gate``)
to force the interleavings that used to lose an update. Risk is a stub that approves: what is
under test is how the desk, the reconciler and the store share one record.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

import pytest
from redis.asyncio import Redis

from services.common.identity import Identity
from services.execution.kraken.budget import RestBudget, TradingBudget
from services.execution.kraken.client import KrakenSpotClient
from services.execution.kraken.config import KrakenSettings, KrakenTier
from services.execution.kraken.credentials import KrakenCredentials
from services.execution.kraken.errors import KrakenError
from services.execution.kraken.nonce import NonceKeeper
from services.execution.orders.desk import OrderDesk
from services.execution.orders.journal import JOURNAL_STREAM, OrderJournal
from services.execution.orders.model import OrderRecord, Violation
from services.execution.orders.pairs import PairCatalog
from services.execution.orders.reconciler import Reconciler
from services.execution.orders.risk_gate import RiskDecision, RiskGate
from services.execution.orders.store import OrderStore, StaleRecord
from services.execution.orders.validation import ValidatedOrder
from tests.integration.execution.kraken.fake_kraken import API_KEY, API_SECRET, Answer, FakeKraken
from tests.integration.execution.orders.conftest import order_record
from trading.common.v1 import common_pb2
from trading.execution.v1 import execution_pb2

pytestmark = pytest.mark.integration

TXID = "OQCLML-BW3P3-BUCMWZ"
ASSET_PAIRS = {
    "XXBTZUSD": {
        "altname": "XBTUSD",
        "wsname": "XBT/USD",
        "base": "XXBT",
        "quote": "ZUSD",
        "pair_decimals": 1,
        "lot_decimals": 8,
        "cost_decimals": 5,
        "ordermin": "0.0001",
        "costmin": "0.5",
        "tick_size": "0.1",
        "status": "online",
    }
}
DESK = Identity(issuer="local", subject="desk-a", groups=frozenset({"traders"}), request_id=None)


def kraken_order(order_id: str, status: str, vol_exec: str) -> dict[str, Any]:
    """An order as QueryOrders / OpenOrders / ClosedOrders show it."""
    return {
        "status": status,
        "cl_ord_id": order_id,
        "vol": "0.01000000",
        "vol_exec": vol_exec,
        "cost": str(Decimal(vol_exec) * 64000),
        "fee": "0",
        "price": "64000.0" if Decimal(vol_exec) else "0",
        "descr": {"pair": "XBTUSD", "order": "buy 0.01000000 XBTUSD @ limit 64000.0"},
    }


class ApprovingRisk(RiskGate):
    """Risk that approves every order (as its ``GRANT``-th approval of the reservation) and
    acknowledges every outcome."""

    GRANT = 3

    def __init__(self) -> None:
        self.reports: list[tuple[str, int]] = []
        self.not_sent: list[tuple[str, int]] = []

    async def check(
        self, order: ValidatedOrder, *, requested_by: str, reference_price: Decimal | None
    ) -> RiskDecision:
        return RiskDecision(True, f"order:{order.client_order_id}", [], grant=self.GRANT)

    async def report(
        self, record: OrderRecord, outcome: int, *, not_sent: bool = False, grant: int = 0
    ) -> bool:
        self.reports.append((record.client_order_id, outcome))
        if not_sent:
            self.not_sent.append((record.client_order_id, grant))
        return True

    async def close(self) -> None:
        return None


@dataclass
class OrderPath:
    kraken: FakeKraken
    redis: Redis
    store: OrderStore
    desk: OrderDesk
    reconciler: Reconciler
    risk: ApprovingRisk

    async def events(self, order_id: str) -> list[str]:
        # The client decodes responses, which redis-py's types cannot express.
        entries = cast("list[tuple[str, dict[str, str]]]", await self.redis.xrange(JOURNAL_STREAM))
        return [
            str(fields["type"]).removeprefix("ORDER_EVENT_TYPE_")
            for _, fields in entries
            if fields["client_order_id"] == order_id
        ]


@pytest.fixture
async def path(redis_url: str) -> AsyncIterator[OrderPath]:
    kraken = FakeKraken()
    await kraken.start()
    kraken.answer("AssetPairs", Answer(result=ASSET_PAIRS))
    redis = Redis.from_url(redis_url, decode_responses=True)
    credentials = KrakenCredentials.of(API_KEY, API_SECRET)
    client = KrakenSpotClient(
        KrakenSettings(api_url=kraken.url, http_timeout=5.0),
        credentials=credentials,
        nonces=NonceKeeper(redis),
        rest_budget=RestBudget(redis, KrakenTier.PRO),
        trading_budget=TradingBudget(redis, KrakenTier.PRO, account_id=credentials.key_id),
    )
    store = OrderStore(redis)
    journal = OrderJournal(redis)
    risk = ApprovingRisk()
    reconciler = Reconciler(client, store, risk, interval=3600, grace=30)
    desk = OrderDesk(client, PairCatalog(client, 3600), store, journal, risk, reconciler)
    yield OrderPath(kraken, redis, store, desk, reconciler, risk)
    await client.aclose()
    await redis.aclose()
    await kraken.stop()


def limit_order(order_id: str) -> execution_pb2.PlaceOrderRequest:
    return execution_pb2.PlaceOrderRequest(
        client_order_id=order_id,
        pair="BTC/USD",
        side=common_pb2.SIDE_BUY,
        order_type=common_pb2.ORDER_TYPE_LIMIT,
        volume="0.01",
        limit_price="64000",
    )


async def until(condition: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def test_add_order_answer_arriving_after_a_reconciled_fill_keeps_the_fill(
    path: OrderPath,
) -> None:
    order_id = str(uuid.uuid4())
    answer_add = asyncio.Event()
    path.kraken.answer(
        "AddOrder",
        Answer(
            result={"descr": {"order": "buy 0.01 XBTUSD @ limit 64000.0"}, "txid": [TXID]},
            gate=answer_add,
        ),
    )
    path.kraken.answer("OpenOrders", Answer(result={"open": {}}))
    path.kraken.answer(
        "ClosedOrders", Answer(result={"closed": {TXID: kraken_order(order_id, "closed", "0.01")}})
    )

    placing = asyncio.create_task(path.desk.place(limit_order(order_id), DESK))
    await until(lambda: path.kraken.count("AddOrder") == 1)
    reconciled, changed = await path.reconciler.reconcile(order_id, force=True)
    answer_add.set()
    placed, replayed = await placing
    stored = await path.store.get(order_id)

    assert reconciled is not None
    assert changed
    assert reconciled.status == common_pb2.ORDER_STATUS_FILLED
    assert not replayed
    assert placed.status == common_pb2.ORDER_STATUS_FILLED
    assert stored is not None
    assert stored.status == common_pb2.ORDER_STATUS_FILLED
    assert stored.txid == TXID
    assert stored.filled_volume == "0.01"
    assert await path.events(order_id) == ["CREATED", "FILLED"]


async def test_an_order_not_sent_gives_back_the_approval_it_got_and_frees_its_id(
    path: OrderPath,
) -> None:
    # Kraken unavailable: certainly not executed. The NOT_SENT report names the approval this
    # call got, so risk can tell it from a later approval of a retry of the same order.
    order_id = str(uuid.uuid4())
    attempts = KrakenSettings(api_url=path.kraken.url).max_attempts
    path.kraken.answer("AddOrder", *[Answer(errors=["EService:Unavailable"])] * attempts)

    with pytest.raises(KrakenError):
        await path.desk.place(limit_order(order_id), DESK)

    assert path.risk.not_sent == [(order_id, ApprovingRisk.GRANT)]
    assert await path.store.get(order_id) is None
    assert await path.events(order_id) == ["CREATED", "RELEASED"]


async def test_reconciliation_that_read_before_the_add_order_answer_starts_over(
    path: OrderPath,
) -> None:
    order_id = str(uuid.uuid4())
    answer_add, answer_open = asyncio.Event(), asyncio.Event()
    path.kraken.answer(
        "AddOrder",
        Answer(
            result={"descr": {"order": "buy 0.01 XBTUSD @ limit 64000.0"}, "txid": [TXID]},
            gate=answer_add,
        ),
    )
    path.kraken.answer(
        "OpenOrders",
        Answer(result={"open": {TXID: kraken_order(order_id, "open", "0")}}, gate=answer_open),
    )
    # By the time reconciliation looks again, the order has filled.
    path.kraken.answer(
        "QueryOrders", Answer(result={TXID: kraken_order(order_id, "closed", "0.01")})
    )

    placing = asyncio.create_task(path.desk.place(limit_order(order_id), DESK))
    await until(lambda: path.kraken.count("AddOrder") == 1)
    reconciling = asyncio.create_task(path.reconciler.reconcile(order_id, force=True))
    await until(lambda: path.kraken.count("OpenOrders") == 1)
    answer_add.set()
    placed, _ = await placing
    answer_open.set()
    reconciled, changed = await reconciling
    stored = await path.store.get(order_id)

    assert placed.status == common_pb2.ORDER_STATUS_OPEN
    assert reconciled is not None
    assert changed
    assert reconciled.status == common_pb2.ORDER_STATUS_FILLED
    assert stored is not None
    assert stored.status == common_pb2.ORDER_STATUS_FILLED
    assert path.kraken.count("QueryOrders") == 1
    assert await path.events(order_id) == ["CREATED", "OPENED", "FILLED"]


async def stored_order(store: OrderStore) -> OrderRecord:
    record = order_record()
    assert await store.claim(record) is None
    return record


async def test_a_stale_copy_is_refused_and_the_stored_order_kept(path: OrderPath) -> None:
    first = await stored_order(path.store)
    second = await path.store.get(first.client_order_id)
    assert second is not None
    first.set_status(common_pb2.ORDER_STATUS_OPEN)
    await path.store.save(first, attention=True)

    second.set_status(common_pb2.ORDER_STATUS_REJECTED, "stale view")
    with pytest.raises(StaleRecord) as stale:
        await path.store.save(second, attention=False)
    with pytest.raises(StaleRecord):
        await path.store.release(second)
    stored = await path.store.get(first.client_order_id)

    assert not stale.value.missing
    assert stored is not None
    assert stored.status == common_pb2.ORDER_STATUS_OPEN
    assert stored.version == 2
    assert first.client_order_id in await path.store.attention()


async def test_concurrent_modifications_all_survive(path: OrderPath) -> None:
    record = await stored_order(path.store)
    writers = 25

    def adding(code: str) -> Callable[[OrderRecord], bool]:
        def apply(current: OrderRecord) -> bool:
            current.violations.append(Violation(code, "concurrent writer"))
            return True

        return apply

    async def writer(index: int) -> OrderRecord:
        copy = await path.store.get(record.client_order_id)
        assert copy is not None
        return await path.store.modify(copy, adding(f"W{index}"), attention=lambda _: True)

    jobs: list[Awaitable[OrderRecord]] = [writer(i) for i in range(writers)]
    await asyncio.gather(*jobs)
    stored = await path.store.get(record.client_order_id)

    assert stored is not None
    assert sorted(v.code for v in stored.violations) == sorted(f"W{i}" for i in range(writers))
    assert stored.version == 1 + writers
    raw = await path.redis.get(f"execution:order:{{{record.client_order_id}}}")
    assert raw is not None
    assert json.loads(raw)["version"] == 1 + writers


async def test_a_pass_reads_its_orders_in_one_mget_not_one_get_each(
    path: OrderPath, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [str(uuid.uuid4()) for _ in range(12)]
    txids = [f"OTX{i:03d}-AAAAA-BBBBBB" for i in range(12)]
    for order_id, txid in zip(ids, txids, strict=True):
        path.kraken.answer("AddOrder", Answer(result={"descr": {"order": "buy"}, "txid": [txid]}))
        await path.desk.place(limit_order(order_id), DESK)
    # Kraken shows every order open, half of each filled.
    path.kraken.answer(
        "OpenOrders",
        Answer(
            result={
                "open": {
                    txid: kraken_order(order_id, "open", "0.005")
                    for order_id, txid in zip(ids, txids, strict=True)
                }
            }
        ),
    )
    single_reads: list[str] = []
    read_one = path.store.get

    async def counting_get(client_order_id: str) -> OrderRecord | None:
        single_reads.append(client_order_id)
        return await read_one(client_order_id)

    monkeypatch.setattr(path.store, "get", counting_get)

    await path.reconciler.run_once()

    assert single_reads == []
    assert path.kraken.count("OpenOrders") == 1
    for order_id in ids:
        stored = await read_one(order_id)
        assert stored is not None
        assert stored.filled_volume == "0.005"


async def test_a_pass_whose_copy_aged_during_its_kraken_call_starts_over(path: OrderPath) -> None:
    order_id = str(uuid.uuid4())
    path.kraken.answer("AddOrder", Answer(result={"descr": {"order": "buy"}, "txid": [TXID]}))
    await path.desk.place(limit_order(order_id), DESK)
    answer_open = asyncio.Event()
    path.kraken.answer(
        "OpenOrders",
        Answer(result={"open": {TXID: kraken_order(order_id, "open", "0.004")}}, gate=answer_open),
    )
    path.kraken.answer(
        "QueryOrders", Answer(result={TXID: kraken_order(order_id, "open", "0.004")})
    )

    passing = asyncio.create_task(path.reconciler.run_once())
    await until(lambda: path.kraken.count("OpenOrders") == 1)
    # Meanwhile another writer (a replica's reconciler, the kill switch) moves the order on.
    stored = await path.store.get(order_id)
    assert stored is not None
    stored.status_reason = "written by another replica"
    await path.store.save(stored, attention=True)
    answer_open.set()
    await passing
    final = await path.store.get(order_id)

    assert final is not None
    assert final.filled_volume == "0.004"
    assert final.status_reason == "written by another replica"
    assert final.version > stored.version
    assert path.kraken.count("QueryOrders") == 1  # the retry asked Kraken again
