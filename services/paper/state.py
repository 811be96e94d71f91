"""Everything one running paper exchange holds, built once from its settings."""

from __future__ import annotations

from dataclasses import dataclass

from services.paper.auth import Authenticator
from services.paper.config import PaperSettings
from services.paper.dead_mans_switch import DeadMansSwitch
from services.paper.faults import FaultBook
from services.paper.ledger import Ledger
from services.paper.market import Market
from services.paper.matching import MatchingEngine
from services.paper.nonces import NonceBook
from services.paper.rate_limits import REST_LIMITS, TRADING_LIMITS, LeakyCounters
from services.paper.stats import Stats
from services.paper.timeline import Timeline
from services.paper.ws_feed import Feed


@dataclass
class Exchange:
    """The paper exchange's parts, shared by the REST, WebSocket and admin handlers."""

    settings: PaperSettings
    market: Market
    ledger: Ledger
    engine: MatchingEngine
    auth: Authenticator
    rest_counter: LeakyCounters
    trading_counter: LeakyCounters
    faults: FaultBook
    stats: Stats
    dead_mans_switch: DeadMansSwitch
    feed: Feed
    timeline: Timeline

    @classmethod
    def build(cls, settings: PaperSettings) -> Exchange:
        market = Market(settings.paper_seed)
        ledger = Ledger(settings.paper_starting_balances)
        engine = MatchingEngine(market, ledger)
        timeline = Timeline()
        return cls(
            settings=settings,
            market=market,
            ledger=ledger,
            engine=engine,
            auth=Authenticator(
                settings.kraken_api_key,
                settings.kraken_api_secret.get_secret_value(),
                NonceBook(settings.paper_nonce_window),
            ),
            rest_counter=LeakyCounters(REST_LIMITS[settings.paper_tier]),
            trading_counter=LeakyCounters(TRADING_LIMITS[settings.paper_tier]),
            faults=FaultBook(),
            stats=Stats(),
            dead_mans_switch=DeadMansSwitch(engine.cancel_all),
            feed=Feed(market, timeline),
            timeline=timeline,
        )
