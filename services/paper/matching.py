"""The matching engine: fills paper orders against the seeded market and moves the ledger.

Taker orders walk the book and take its liquidity. A resting limit order fills in full at its
own price, as maker, once the market trades through it; stop-loss and take-profit orders fire
on the last trade price (Kraken's default ``trigger=last``).

Open orders are indexed by pair and by ``cl_ord_id``, so placing an order and settling a pair
after a move cost the same with ten or ten thousand orders on the book, as on Kraken; the
order-path benchmark otherwise measures the paper account's history, not the platform.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from services.paper import errors
from services.paper.catalog import MAKER_FEE_RATE, TAKER_FEE_RATE, Asset
from services.paper.errors import KrakenError
from services.paper.ledger import Ledger
from services.paper.market import Fill, Market
from services.paper.orders import Order, OrderRequest, Trade, kraken_id

log = logging.getLogger(__name__)

_NANOS = Decimal(1_000_000_000)
_SETTLE_ROUNDS = 10  # a fill moves the price, which may fire more triggers; this bounds the cascade


def _spent_asset(request: OrderRequest) -> Asset:
    return request.pair.quote if request.side == "buy" else request.pair.base


def _needed(request: OrderRequest, volume: Decimal, price: Decimal) -> Decimal:
    """What ``volume`` at ``price`` takes from the asset the order spends, fee included."""
    if request.side == "buy":
        cost = volume * price
        return cost if request.fee_in_base else cost * (1 + TAKER_FEE_RATE)
    return volume * (1 + TAKER_FEE_RATE) if request.fee_in_base else volume


class MatchingEngine:
    """The paper account's orders and trades, kept consistent with the market and the ledger."""

    def __init__(self, market: Market, ledger: Ledger) -> None:
        self.market = market
        self.ledger = ledger
        self.orders: dict[str, Order] = {}
        self.trades: dict[str, Trade] = {}
        # The open orders, in placement order: all of them, by pair id, and by cl_ord_id.
        self._open: dict[str, Order] = {}
        self._open_by_pair: dict[str, dict[str, Order]] = {}
        self._open_by_cl_ord_id: dict[str, Order] = {}
        self._by_cl_ord_id: dict[str, list[Order]] = {}

    def now(self) -> Decimal:
        """Kraken's order timestamps: unix seconds with a fraction."""
        return (Decimal(self.market.now_ns()) / _NANOS).quantize(Decimal("0.0001"))

    def open_orders(self) -> list[Order]:
        return list(self._open.values())

    def open_by_cl_ord_id(self, cl_ord_id: str) -> Order | None:
        return self._open_by_cl_ord_id.get(cl_ord_id)

    def with_cl_ord_id(self, cl_ord_id: str) -> list[Order]:
        """Every order placed with ``cl_ord_id``, open or closed, in placement order."""
        return list(self._by_cl_ord_id.get(cl_ord_id, ()))

    # -- placing ------------------------------------------------------------------------------

    def check(self, request: OrderRequest) -> None:
        """Everything AddOrder checks against the market and funds; raises the Kraken error."""
        self._plan(request)

    def _plan(self, request: OrderRequest) -> tuple[list[Fill], Decimal]:
        """The immediate taker fills and the volume left to rest; checks cost, post-only, funds."""
        if request.cl_ord_id is not None and self.open_by_cl_ord_id(request.cl_ord_id):
            raise errors.invalid_argument("cl_ord_id")
        pair = request.pair
        fills: list[Fill] = []
        if request.ordertype == "market":
            fills = self.market.walk_book(pair, request.side, request.volume, None)
        elif request.ordertype == "limit":
            fills = self.market.walk_book(pair, request.side, request.volume, request.price)
            if fills and "post" in request.oflags:
                raise KrakenError(errors.POST_ONLY)
        taken = sum((fill.volume for fill in fills), Decimal(0))
        rests = request.ordertype != "market" and request.timeinforce != "IOC"
        rest_volume = request.volume - taken if rests else Decimal(0)
        last = self.market.pairs[pair.id].last
        reference = fills[0].price if fills else request.hold_price or last
        if request.volume * reference < pair.costmin:
            raise KrakenError(errors.COST_MINIMUM)
        needed = sum((_needed(request, f.volume, f.price) for f in fills), Decimal(0))
        if rest_volume > 0 and request.hold_price is not None:
            needed += _needed(request, rest_volume, request.hold_price)
        if needed > self.ledger.available(_spent_asset(request)):
            raise KrakenError(errors.INSUFFICIENT_FUNDS)
        return fills, rest_volume

    def place(self, request: OrderRequest) -> Order:
        """Accept an order: take what it can at once, rest the rest, and settle the market."""
        fills, rest_volume = self._plan(request)
        order = Order(txid=kraken_id("O"), request=request, opentm=self.now())
        self._track(order)
        self._take(order, fills)
        if order.remaining > 0 and rest_volume <= 0:
            self._close(
                order,
                "canceled",
                "Insufficient liquidity"
                if request.ordertype == "market"
                else "IOC order remainder",
            )
        elif order.remaining > 0:
            self._hold(order)
        log.info(
            "order placed",
            extra={
                "txid": order.txid,
                "pair": request.pair.altname,
                "side": request.side,
                "ordertype": request.ordertype,
                "status": order.status,
            },
        )
        self.settle(request.pair.id)
        return order

    # -- cancelling ---------------------------------------------------------------------------

    def cancel(self, order: Order, reason: str = "User requested") -> None:
        self._close(order, "canceled", reason)

    def cancel_all(self) -> int:
        orders = self.open_orders()
        for order in orders:
            self.cancel(order)
        return len(orders)

    # -- market moves -------------------------------------------------------------------------

    def settle(self, pair_id: str) -> None:
        """Fire triggers, fill crossed limits and expire GTD orders of one pair after a move."""
        for _ in range(_SETTLE_ROUNDS):
            if not self._settle_once(pair_id):
                return

    def _settle_once(self, pair_id: str) -> bool:
        state = self.market.pairs[pair_id]
        now = self.now()
        changed = False
        # The pair's open orders in placement order, which is opentm order (the clock never runs
        # back); the best prices read once, and again after any change (a trigger takes liquidity).
        best: tuple[Decimal, Decimal] | None = None
        for order in list(self._open_by_pair.get(pair_id, {}).values()):
            request = order.request
            if request.expiretm and request.expiretm <= now:
                self._close(order, "expired", None)
            elif order.waits_for_trigger and self._fires(request, state.last):
                self._trigger(order)
            elif (limit := order.limit_price) is not None:
                if best is None:
                    best = (state.best_ask(), state.best_bid())
                if not self._crossed(request.side, limit, *best):
                    continue
                self._fill(order, limit, order.remaining, maker=True)
            else:
                continue
            changed = True
            best = None
        return changed

    @staticmethod
    def _fires(request: OrderRequest, last: Decimal) -> bool:
        if request.price is None:
            return False
        stop = request.ordertype.startswith("stop-loss")
        rising = (request.side == "buy") == stop
        return last >= request.price if rising else last <= request.price

    @staticmethod
    def _crossed(side: str, limit: Decimal, best_ask: Decimal, best_bid: Decimal) -> bool:
        return best_ask <= limit if side == "buy" else best_bid >= limit

    def _trigger(self, order: Order) -> None:
        order.triggered = True
        self._release(order)
        request = order.request
        limit = order.limit_price
        fills = self.market.walk_book(request.pair, request.side, order.remaining, limit)
        needed = sum((_needed(request, f.volume, f.price) for f in fills), Decimal(0))
        if needed > self.ledger.available(_spent_asset(request)):
            self._close(order, "canceled", "Insufficient funds")
            return
        self._take(order, fills)
        if order.remaining > 0 and limit is None:
            self._close(order, "canceled", "Insufficient liquidity")
        elif order.remaining > 0:
            self._hold(order)
        log.info("order triggered", extra={"txid": order.txid, "status": order.status})

    # -- fills and funds ----------------------------------------------------------------------

    def _take(self, order: Order, fills: list[Fill]) -> None:
        self.market.take(order.request.pair, order.request.side, fills)
        for fill in fills:
            self._fill(order, fill.price, fill.volume, maker=False)

    def _fill(self, order: Order, price: Decimal, volume: Decimal, *, maker: bool) -> None:
        request = order.request
        pair = request.pair
        rate = MAKER_FEE_RATE if maker else TAKER_FEE_RATE
        cost = volume * price
        fee_quote = cost * rate
        base_fee = volume * rate if request.fee_in_base else Decimal(0)
        quote_fee = Decimal(0) if request.fee_in_base else fee_quote
        self._release(order)
        if request.side == "buy":
            self.ledger.move(pair.quote, -(cost + quote_fee))
            self.ledger.move(pair.base, volume - base_fee)
        else:
            self.ledger.move(pair.base, -(volume + base_fee))
            self.ledger.move(pair.quote, cost - quote_fee)
        order.vol_exec += volume
        order.cost += cost
        order.fee += fee_quote
        trade = Trade(
            txid=kraken_id("T"),
            ordertxid=order.txid,
            postxid=kraken_id("T"),
            pair=pair,
            time=self.now(),
            side=request.side,
            ordertype=request.ordertype,
            price=price,
            cost=cost,
            fee=fee_quote,
            volume=volume,
            maker=maker,
            trade_id=len(self.trades) + 1,
        )
        self.trades[trade.txid] = trade
        order.trades.append(trade)
        if order.remaining <= 0:
            self._close(order, "closed", None)
        elif order.limit_price is not None or order.waits_for_trigger:
            self._hold(order)

    def _hold(self, order: Order) -> None:
        price = order.limit_price or order.request.hold_price
        self._release(order)
        if price is None or order.remaining <= 0:
            return
        order.held = _needed(order.request, order.remaining, price)
        self.ledger.hold(_spent_asset(order.request), order.held)

    def _release(self, order: Order) -> None:
        if order.held:
            self.ledger.release(_spent_asset(order.request), order.held)
            order.held = Decimal(0)

    def _track(self, order: Order) -> None:
        request = order.request
        self.orders[order.txid] = order
        self._open[order.txid] = order
        self._open_by_pair.setdefault(request.pair.id, {})[order.txid] = order
        if request.cl_ord_id is not None:
            self._open_by_cl_ord_id[request.cl_ord_id] = order
            self._by_cl_ord_id.setdefault(request.cl_ord_id, []).append(order)

    def _close(self, order: Order, status: str, reason: str | None) -> None:
        self._open.pop(order.txid, None)
        self._open_by_pair.get(order.request.pair.id, {}).pop(order.txid, None)
        cl_ord_id = order.request.cl_ord_id
        if cl_ord_id is not None and self._open_by_cl_ord_id.get(cl_ord_id) is order:
            del self._open_by_cl_ord_id[cl_ord_id]
        self._release(order)
        order.status = status
        order.reason = reason
        order.closetm = self.now()
