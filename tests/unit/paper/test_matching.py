"""The matching engine against a seeded market: fills, resting orders, triggers and the ledger."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.paper.catalog import find_pair
from services.paper.errors import KrakenError
from services.paper.ledger import Ledger
from services.paper.market import Market
from services.paper.matching import MatchingEngine
from services.paper.order_entry import parse_order
from services.paper.orders import OrderRequest
from services.paper.params import Params

NOW_NS = 1_700_000_000 * 1_000_000_000
XBTUSD = find_pair("XBTUSD")


@pytest.fixture
def engine() -> MatchingEngine:
    market = Market(seed=7, wall_clock=lambda: NOW_NS)
    market.set_price(XBTUSD, Decimal("60000.0"))
    ledger = Ledger({"ZUSD": Decimal(100000), "XXBT": Decimal(2)})
    return MatchingEngine(market, ledger)


def order(**fields: str) -> OrderRequest:
    values = {"type": "buy", "ordertype": "limit", "volume": "0.1", "price": "59000.0", **fields}
    return parse_order(Params(values), XBTUSD, Decimal(NOW_NS // 1_000_000_000))


def test_market_buy_walks_the_asks_and_pays_the_taker_fee(engine: MatchingEngine) -> None:
    asks = engine.market.pairs[XBTUSD.id].sorted_asks()

    placed = engine.place(order(ordertype="market", volume="1"))

    expected_cost = Decimal(0)
    left = Decimal(1)
    for price, qty in asks:
        take = min(qty, left)
        expected_cost += price * take
        left -= take
        if not left:
            break
    assert placed.status == "closed"
    assert placed.cost == expected_cost
    assert placed.fee == expected_cost * Decimal("0.0026")
    assert engine.ledger.balances["XXBT"] == Decimal(3)
    assert engine.ledger.balances["ZUSD"] == (
        Decimal(100000) - expected_cost * Decimal("1.0026")
    ).quantize(Decimal("0.0001"))
    assert engine.market.pairs[XBTUSD.id].sorted_asks()[0] != asks[0]


def test_sell_pays_its_fee_in_base_by_default(engine: MatchingEngine) -> None:
    placed = engine.place(order(type="sell", ordertype="market", volume="1"))

    assert engine.ledger.balances["XXBT"] == Decimal("0.9974")
    assert engine.ledger.balances["ZUSD"] == (Decimal(100000) + placed.cost).quantize(
        Decimal("0.0001")
    )


def test_limit_rests_holds_funds_and_fills_as_maker_when_crossed(engine: MatchingEngine) -> None:
    placed = engine.place(order())

    assert placed.status == "open"
    assert engine.ledger.holds["ZUSD"] == Decimal("5900") * Decimal("1.0026")

    engine.market.set_price(XBTUSD, Decimal("58900.0"))
    engine.settle(XBTUSD.id)

    assert placed.status == "closed"
    assert placed.cost == Decimal("5900")
    assert placed.fee == Decimal("5900") * Decimal("0.0016")
    assert placed.trades[0].maker is True
    assert engine.ledger.holds["ZUSD"] == 0
    assert engine.ledger.balances["XXBT"] == Decimal("2.1")


def test_marketable_limit_takes_only_up_to_its_price(engine: MatchingEngine) -> None:
    best_ask = engine.market.pairs[XBTUSD.id].best_ask()

    placed = engine.place(order(volume="5", price=str(best_ask), timeinforce="IOC"))

    assert all(trade.price == best_ask for trade in placed.trades)
    assert placed.vol_exec < Decimal(5)
    assert placed.status == "canceled"


def test_post_only_that_would_take_is_refused(engine: MatchingEngine) -> None:
    with pytest.raises(KrakenError, match="EOrder:Post only order"):
        engine.place(order(price="61000.0", oflags="post"))
    assert engine.orders == {}


def test_stop_loss_sell_fires_when_the_last_price_falls_to_it(engine: MatchingEngine) -> None:
    placed = engine.place(order(type="sell", ordertype="stop-loss", price="59000.0"))
    engine.market.set_price(XBTUSD, Decimal("59500.0"))
    engine.settle(XBTUSD.id)
    assert placed.status == "open"

    engine.market.set_price(XBTUSD, Decimal("58999.0"))
    engine.settle(XBTUSD.id)

    assert placed.status == "closed"
    assert placed.triggered


def test_take_profit_buy_fires_when_the_price_falls(engine: MatchingEngine) -> None:
    placed = engine.place(order(ordertype="take-profit", price="58000.0"))

    engine.market.set_price(XBTUSD, Decimal("57900.0"))
    engine.settle(XBTUSD.id)

    assert placed.status == "closed"


def test_insufficient_funds_leaves_nothing_behind(engine: MatchingEngine) -> None:
    with pytest.raises(KrakenError, match="EOrder:Insufficient funds"):
        engine.place(order(volume="2"))
    assert engine.orders == {}
    assert engine.ledger.holds["ZUSD"] == 0


def test_cancel_releases_the_hold(engine: MatchingEngine) -> None:
    placed = engine.place(order())

    engine.cancel(placed)

    assert placed.status == "canceled"
    assert placed.reason == "User requested"
    assert engine.ledger.holds["ZUSD"] == 0


def test_open_cl_ord_id_must_be_unique(engine: MatchingEngine) -> None:
    engine.place(order(cl_ord_id="my-order-1"))

    with pytest.raises(KrakenError, match="EGeneral:Invalid arguments:cl_ord_id"):
        engine.place(order(cl_ord_id="my-order-1"))


def test_the_same_seed_replays_the_same_market() -> None:
    first = Market(seed=3, wall_clock=lambda: NOW_NS)
    second = Market(seed=3, wall_clock=lambda: NOW_NS)
    first.step()
    second.step()

    assert first.pairs[XBTUSD.id].sorted_asks() == second.pairs[XBTUSD.id].sorted_asks()
    assert first.pairs[XBTUSD.id].last == second.pairs[XBTUSD.id].last


def test_a_closed_orders_cl_ord_id_may_be_used_again(engine: MatchingEngine) -> None:
    first = engine.place(order(cl_ord_id="my-order-2"))
    engine.cancel(first)

    second = engine.place(order(cl_ord_id="my-order-2"))

    assert engine.open_by_cl_ord_id("my-order-2") is second
    assert engine.with_cl_ord_id("my-order-2") == [first, second]
    assert engine.open_orders() == [second]


def test_a_filled_order_leaves_the_open_orders(engine: MatchingEngine) -> None:
    resting = engine.place(order(cl_ord_id="my-order-3"))
    engine.market.set_price(XBTUSD, Decimal("58900.0"))

    engine.settle(XBTUSD.id)

    assert resting.status == "closed"
    assert engine.open_orders() == []
    assert engine.open_by_cl_ord_id("my-order-3") is None
    assert engine.with_cl_ord_id("my-order-3") == [resting]


def test_settling_a_pair_fills_its_crossed_limits_oldest_first_and_no_other_pairs(
    engine: MatchingEngine,
) -> None:
    ethusd = find_pair("ETHUSD")
    engine.market.set_price(ethusd, Decimal("3000.0"))
    older = engine.place(order(price="59000.0"))
    newer = engine.place(order(price="59500.0"))
    other = engine.place(
        parse_order(
            Params({"type": "buy", "ordertype": "limit", "volume": "1", "price": "2900.0"}),
            ethusd,
            Decimal(NOW_NS // 1_000_000_000),
        )
    )
    engine.market.set_price(XBTUSD, Decimal("58900.0"))
    engine.market.set_price(ethusd, Decimal("2800.0"))

    engine.settle(XBTUSD.id)

    assert older.status == newer.status == "closed"
    assert older.trades[0].trade_id < newer.trades[0].trade_id
    assert other.status == "open"
    assert engine.open_orders() == [other]


def test_settling_reads_the_best_prices_once_a_pass_however_many_orders_rest(
    engine: MatchingEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(20):
        engine.place(order(volume="0.01", price="50000.0"))
    state = engine.market.pairs[XBTUSD.id]
    reads = 0
    best_ask = state.best_ask

    def counted() -> Decimal:
        nonlocal reads
        reads += 1
        return best_ask()

    monkeypatch.setattr(state, "best_ask", counted)

    engine.settle(XBTUSD.id)

    assert reads == 1
    assert len(engine.open_orders()) == 20
