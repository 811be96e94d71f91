"""The matching engine: fills paper orders against the seeded market and moves the ledger.

Taker orders walk the book and take its liquidity. A resting limit order fills in full at its
own price, as maker, once the market trades through it; stop-loss and take-profit orders fire
on the last trade price (Kraken's default ``trigger=last``).
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

    def now(self) -> Decimal:
        """Kraken's order timestamps: unix seconds with a fraction."""
        return (Decimal(self.market.now_ns()) / _NANOS).quantize(Decimal("0.0001"))

    def open_orders(self) -> list[Order]:
        return [order for order in self.orders.values() if order.is_open]

    def open_by_cl_ord_id(self, cl_ord_id: str) -> Order | None:
        return next((o for o in self.open_orders() if o.request.cl_ord_id == cl_ord_id), None)

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
        self.orders[order.txid] = order
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
        for order in sorted(self.open_orders(), key=lambda o: o.opentm):
            request = order.request
            if request.pair.id != pair_id:
                continue
            if request.expiretm and request.expiretm <= now:
                self._close(order, "expired", None)
                changed = True
            elif order.waits_for_trigger and self._fires(request, state.last):
                self._trigger(order)
                changed = True
            elif (limit := order.limit_price) is not None and self._crossed(
                request.side, limit, state.best_ask(), state.best_bid()
            ):
                self._fill(order, limit, order.remaining, maker=True)
                changed = True
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

    def _close(self, order: Order, status: str, reason: str | None) -> None:
        self._release(order)
        order.status = status
        order.reason = reason
        order.closetm = self.now()
