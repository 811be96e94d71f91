"""Market data of the signal service: Kraken's public WebSocket v2 and REST, shared through
Redis so that every replica serves it while each pair is fed by exactly one.

Start with :class:`MarketData`; the values are in :mod:`.model`, the Redis keys in :mod:`.keys`.
"""

from services.signal.market.market_data import MarketData
from services.signal.market.model import BookView, Candle, PairInfo, Ticker, TickerUpdate, Trade
from services.signal.market.settings import MarketSettings

__all__ = [
    "BookView",
    "Candle",
    "MarketData",
    "MarketSettings",
    "PairInfo",
    "Ticker",
    "TickerUpdate",
    "Trade",
]
