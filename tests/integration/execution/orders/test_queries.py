"""ListOrders, WatchOrders, CancelAllOrders, GetBalances and ListPairs against real processes.

Each test trades as its own team, so the orders other tests in the module leave behind do not
change what it sees.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from decimal import Decimal

import grpc
import pytest

from tests.integration.execution.orders.conftest import Trader, price_near
from tests.support.paper_exchange import PaperExchange
from tests.support.platform import PlatformKeys
from tests.support.services import RunningService
from tradectl.main import main as tradectl_main
from trading.common.v1 import common_pb2
from trading.execution.v1 import execution_pb2

pytestmark = pytest.mark.integration


@pytest.fixture
def team(platform_keys: PlatformKeys, execution: RunningService) -> Iterator[Trader]:
    """A trader of a team no other test uses."""
    client = Trader(platform_keys, execution.target, team=f"team-{uuid.uuid4().hex[:8]}")
    yield client
    client.channel.close()


@pytest.fixture
def officer(platform_keys: PlatformKeys, execution: RunningService) -> Iterator[Trader]:
    client = Trader(platform_keys, execution.target, team="officer-1", groups=("risk-officers",))
    yield client
    client.channel.close()


def rest(trader: Trader, paper: PaperExchange, pair: str = "BTC/USD", **fields: object) -> str:
    """Place a buy that rests below the market; its client_order_id."""
    volume = {"BTC/USD": "0.001", "ETH/USD": "0.01", "SOL/USD": "0.1"}[pair]
    reply = trader.place(
        pair=pair, volume=volume, limit_price=price_near(paper, pair, "0.97"), **fields
    )
    assert reply.order.status == common_pb2.ORDER_STATUS_OPEN, reply.order.status_reason
    return str(reply.order.client_order_id)


def list_orders(trader: Trader, **fields: object) -> execution_pb2.ListOrdersResponse:
    reply: execution_pb2.ListOrdersResponse = trader.stub.ListOrders(
        execution_pb2.ListOrdersRequest(**fields),  # type: ignore[arg-type]
        metadata=trader.metadata(),
        timeout=10,
    )
    return reply


def cancel(trader: Trader, order_id: str) -> None:
    trader.stub.CancelOrder(
        execution_pb2.CancelOrderRequest(client_order_id=order_id),
        metadata=trader.metadata(),
        timeout=10,
    )


def test_list_orders_filters_by_state_and_pair_and_pages_newest_first(
    team: Trader, officer: Trader, paper: PaperExchange
) -> None:
    btc = [rest(team, paper) for _ in range(3)]
    eth = rest(team, paper, "ETH/USD")
    cancel(team, btc[0])

    everything = list_orders(team)
    open_btc = list_orders(team, state=execution_pb2.ORDER_STATE_FILTER_OPEN, pair="XBTUSD")
    closed = list_orders(team, state=execution_pb2.ORDER_STATE_FILTER_CLOSED)
    first = list_orders(team, page=common_pb2.PageRequest(page_size=2))
    rest_of = list_orders(
        team, page=common_pb2.PageRequest(page_size=2, page_token=first.page.next_page_token)
    )
    as_officer = list_orders(officer, team=team.team)
    with pytest.raises(grpc.RpcError) as denied:
        list_orders(team, team="desk-a")

    assert [o.client_order_id for o in everything.orders] == [eth, btc[2], btc[1], btc[0]]
    assert {o.team for o in everything.orders} == {team.team}
    assert [o.client_order_id for o in open_btc.orders] == [btc[2], btc[1]]
    assert [(o.client_order_id, o.status) for o in closed.orders] == [
        (btc[0], common_pb2.ORDER_STATUS_CANCELED)
    ]
    assert [o.client_order_id for o in first.orders] == [eth, btc[2]]
    assert first.page.next_page_token
    assert [o.client_order_id for o in rest_of.orders] == [btc[1], btc[0]]
    assert [o.client_order_id for o in as_officer.orders] == [eth, btc[2], btc[1], btc[0]]
    assert denied.value.code() is grpc.StatusCode.PERMISSION_DENIED


def watch(
    trader: Trader, until_order: str, **fields: object
) -> tuple[list[execution_pb2.OrderEvent], threading.Thread]:
    """Collect events in a thread until an event of ``until_order`` with status CANCELED."""
    events: list[execution_pb2.OrderEvent] = []
    call = trader.stub.WatchOrders(
        execution_pb2.WatchOrdersRequest(**fields),  # type: ignore[arg-type]
        metadata=trader.metadata(),
        timeout=30,
    )

    def read() -> None:
        for event in call:
            events.append(event)
            if (
                event.order.client_order_id == until_order
                and event.order.status == common_pb2.ORDER_STATUS_CANCELED
            ):
                # grpc-stubs leaves RpcContext.cancel unannotated.
                call.cancel()  # type: ignore[no-untyped-call]
                return

    reader = threading.Thread(target=read)
    reader.start()
    return events, reader


def test_watch_orders_streams_an_orders_life_and_resumes_after_an_event(
    team: Trader, paper: PaperExchange
) -> None:
    order_id = rest(team, paper)
    cancel(team, order_id)

    events, reader = watch(team, order_id, after_event_id="0", client_order_ids=[order_id])
    reader.join(timeout=30)
    resumed, again = watch(team, order_id, after_event_id=events[0].event_id)
    again.join(timeout=30)

    assert [e.type for e in events] == [
        execution_pb2.ORDER_EVENT_TYPE_CREATED,
        execution_pb2.ORDER_EVENT_TYPE_OPENED,
        execution_pb2.ORDER_EVENT_TYPE_CANCELED,
    ]
    assert events[1].order.txid
    assert [e.event_id for e in resumed] == [e.event_id for e in events[1:]]


def test_watch_orders_shows_only_the_callers_team(
    team: Trader, trader: Trader, paper: PaperExchange
) -> None:
    # Another team's order is in the journal before the watch starts; the watch replays it all.
    rest(trader, paper)
    marker = rest(team, paper)
    cancel(team, marker)

    events, reader = watch(team, marker, after_event_id="0")
    reader.join(timeout=30)

    assert events
    assert {e.order.team for e in events} == {team.team}


def test_cancel_all_orders_by_pair_then_the_rest_and_never_another_teams(
    team: Trader, trader: Trader, paper: PaperExchange
) -> None:
    btc = [rest(team, paper) for _ in range(3)]
    sol = rest(team, paper, "SOL/USD")
    theirs = rest(trader, paper)

    by_pair: execution_pb2.CancelAllOrdersResponse = team.stub.CancelAllOrders(
        execution_pb2.CancelAllOrdersRequest(pair="BTC/USD"), metadata=team.metadata(), timeout=30
    )
    after_pair = {i: paper.orders(cl_ord_id=i)["orders"][0]["status"] for i in [*btc, sol]}
    remaining: execution_pb2.CancelAllOrdersResponse = team.stub.CancelAllOrders(
        execution_pb2.CancelAllOrdersRequest(), metadata=team.metadata(), timeout=30
    )

    assert by_pair.count == 3
    assert sorted(by_pair.client_order_ids) == sorted(btc)
    assert not by_pair.failures
    assert after_pair == {**dict.fromkeys(btc, "canceled"), sol: "open"}
    assert (remaining.count, list(remaining.client_order_ids)) == (1, [sol])
    assert paper.orders(cl_ord_id=sol)["orders"][0]["status"] == "canceled"
    assert paper.orders(cl_ord_id=theirs)["orders"][0]["status"] == "open"
    assert trader.get(theirs).status == common_pb2.ORDER_STATUS_OPEN


def test_get_balances_match_the_exchange_and_show_what_open_orders_hold(
    team: Trader, paper: PaperExchange
) -> None:
    order_id = rest(team, paper)
    placed = team.get(order_id)

    reply: execution_pb2.GetBalancesResponse = team.stub.GetBalances(
        execution_pb2.GetBalancesRequest(assets=["USD", "XBT"]),
        metadata=team.metadata(),
        timeout=10,
    )
    exchange = paper.private("BalanceEx")["result"]

    balances = {b.asset: b for b in reply.balances}
    assert sorted(balances) == ["BTC", "USD"]
    usd, btc = balances["USD"], balances["BTC"]
    assert (usd.kraken_asset, btc.kraken_asset) == ("ZUSD", "XXBT")
    assert Decimal(usd.total) == Decimal(exchange["ZUSD"]["balance"])
    assert Decimal(usd.held) == Decimal(exchange["ZUSD"]["hold_trade"])
    # The resting buy holds at least its cost in USD.
    assert Decimal(usd.held) >= Decimal(placed.volume) * Decimal(placed.limit_price)
    assert Decimal(usd.available) == Decimal(usd.total) - Decimal(usd.held)
    assert Decimal(btc.total) == Decimal(exchange["XXBT"]["balance"])
    assert reply.HasField("as_of")


def test_list_pairs_gives_each_pairs_rules_and_names_a_bad_pair(
    team: Trader, platform_keys: PlatformKeys, execution: RunningService, paper: PaperExchange
) -> None:
    researcher = Trader(platform_keys, execution.target, team="quant-1", groups=("researchers",))
    everything: execution_pb2.ListPairsResponse = researcher.stub.ListPairs(
        execution_pb2.ListPairsRequest(), metadata=researcher.metadata(), timeout=10
    )
    chosen: execution_pb2.ListPairsResponse = team.stub.ListPairs(
        execution_pb2.ListPairsRequest(pairs=["XBTUSD", "eth/usd"]),
        metadata=team.metadata(),
        timeout=10,
    )
    with pytest.raises(grpc.RpcError) as unknown:
        team.stub.ListPairs(
            execution_pb2.ListPairsRequest(pairs=["BTC/USD", "DOGE/XYZ"]),
            metadata=team.metadata(),
            timeout=10,
        )
    researcher.channel.close()
    kraken = paper.public("AssetPairs", pair="XBTUSD")["result"]["XXBTZUSD"]

    assert [p.pair for p in everything.pairs] == ["BTC/EUR", "BTC/USD", "ETH/USD", "SOL/USD"]
    btc = chosen.pairs[0]
    assert [p.pair for p in chosen.pairs] == ["BTC/USD", "ETH/USD"]
    assert (btc.kraken_id, btc.altname, btc.base, btc.quote) == ("XXBTZUSD", "XBTUSD", "BTC", "USD")
    assert Decimal(btc.order_min) == Decimal(kraken["ordermin"])
    assert Decimal(btc.cost_min) == Decimal(kraken["costmin"])
    assert Decimal(btc.tick_size) == Decimal(kraken["tick_size"])
    assert (btc.price_decimals, btc.volume_decimals) == (
        kraken["pair_decimals"],
        kraken["lot_decimals"],
    )
    assert unknown.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert (unknown.value.details() or "").startswith("pairs[1]:")


def test_tradectl_watch_prints_an_orders_events_and_stops_after_count(
    team: Trader,
    paper: PaperExchange,
    platform_keys: PlatformKeys,
    execution: RunningService,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # SOL/USD: the module's earlier tests spend most of BTC/USD's trading budget.
    order_id = rest(team, paper, "SOL/USD")
    cancel(team, order_id)
    monkeypatch.setenv("TRADECTL_EXECUTION_TARGET", execution.target)
    base = ["--key-file", str(platform_keys.keys.folder / "local.pem"), "--user", team.team]
    watch = ["watch", "--after", "0", "--id", order_id, "--count", "3"]

    assert tradectl_main([*base, *watch]) == 0
    table = capsys.readouterr().out.splitlines()
    assert tradectl_main(["--json", *base, *watch]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    assert table[0].split()[:3] == ["EVENT_ID", "TIME", "EVENT"]
    assert [row.split()[2] for row in table[1:]] == ["CREATED", "OPENED", "CANCELED"]
    assert all(order_id in row for row in table[1:])
    assert [line["type"] for line in lines] == [
        "ORDER_EVENT_TYPE_CREATED",
        "ORDER_EVENT_TYPE_OPENED",
        "ORDER_EVENT_TYPE_CANCELED",
    ]
    assert {line["order"]["client_order_id"] for line in lines} == {order_id}
