"""Prices the Embed desk reads from the paper exchange's Spot market.

A quote is priced at its pair's last trade price: the price ``POST /_paper/price`` sets and the
tick loop moves, so a test knows the exact figure. Showing a quote in another currency
(``quote_currency``) may go through one intermediate pair (USD in EUR is USD→BTC→EUR).
"""

from __future__ import annotations

from decimal import Decimal

from services.paper.catalog import PAIRS
from services.paper.embed.assets import EmbedAsset, find_embed_asset, market_between
from services.paper.embed.errors import ASSET_DISABLED, invalid_argument
from services.paper.embed.pricing import UnitPrice, unit_price
from services.paper.embed.quote_request import QuoteRequest
from services.paper.market import Market


class MarketRates:
    """The Spot market seen as Embed prices."""

    def __init__(self, market: Market) -> None:
        self._market = market

    def quote_price(self, request: QuoteRequest) -> UnitPrice:
        """The unit price of ``request``'s pair, with its spread against the user."""
        pair = market_between(request.spend_asset, request.receive_asset)
        if pair is None:
            raise invalid_argument(ASSET_DISABLED)
        base = request.receive_asset
        denomination = request.spend_asset
        user_buys_base = pair.base.v2 == base.name
        if not user_buys_base:
            base, denomination = denomination, base
        return unit_price(
            self._market.pairs[pair.id].last,
            base,
            denomination,
            user_buys_base=user_buys_base,
            spread_bps=request.spread_bps,
        )

    def rate(self, source: EmbedAsset, target: EmbedAsset, hops: int = 2) -> Decimal | None:
        """One ``source`` in ``target`` at last prices, through at most ``hops`` pairs."""
        if source == target:
            return Decimal(1)
        if hops == 0:
            return None
        for pair in PAIRS:
            last = self._market.pairs[pair.id].last
            if pair.base.v2 == source.name:
                step, onward_name = last, pair.quote.v2
            elif pair.quote.v2 == source.name:
                step, onward_name = 1 / last, pair.base.v2
            else:
                continue
            onward = find_embed_asset(onward_name)
            rest = None if onward is None else self.rate(onward, target, hops - 1)
            if rest is not None:
                return step * rest
        return None
