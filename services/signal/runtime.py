"""What the signal service builds on start and closes on stop: Redis, the rule, signal and
binding stores, the execution client with signal's own service token, the consumer that
trades signals through bindings, and the rule engine, whose signals go to that consumer's
trader at once when the consumer group lets this replica take them (bindings/handoff.py)."""

from __future__ import annotations

import logging

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.common.calls import CallerCredentials
from services.common.identity import TokenIssuer
from services.common.redis_client import open_redis
from services.signal.bindings.consumer import SignalConsumer
from services.signal.bindings.execution import ExecutionClient
from services.signal.bindings.handoff import LocalTrading
from services.signal.bindings.store import BindingStore
from services.signal.bindings.trader import AutoTrader
from services.signal.config import SignalSettings
from services.signal.market.market_data import MarketData
from services.signal.rule_feed import MarketHistory, MarketPrices, RuleFeed
from services.signal.rules.engine import RuleEngine
from services.signal.rules.store import RuleStore
from services.signal.signals.store import SignalStore
from services.signal.trading_first import TradingFirst

log = logging.getLogger(__name__)

SERVICE_NAME = "signal"


class SignalRuntime:
    def __init__(self, settings: SignalSettings, signing_key: Ed25519PrivateKey) -> None:
        timeout = settings.signal_redis_timeout
        self.settings = settings
        self.redis = open_redis(settings.redis_url, timeout=timeout)
        # A blocking read must end well inside the client's socket timeout.
        block_ms = max(50, int(timeout * 500))
        self.rules = RuleStore(self.redis)
        self.signals = SignalStore(
            self.redis,
            maxlen=settings.signal_stream_maxlen,
            dedupe_ttl=settings.signal_dedupe_ttl,
            block_ms=block_ms,
        )
        self.bindings = BindingStore(self.redis)
        self._block_ms = block_ms
        self._issuer = TokenIssuer(SERVICE_NAME, signing_key, audience=settings.identity_audience)
        self._execution: ExecutionClient | None = None
        self._consumer: SignalConsumer | None = None
        # A tick's trading goes before the market-data work queued behind it.
        self.trading_first = TradingFirst(settings.signal_trading_first_ms / 1000)
        self.market = MarketData(
            settings.market(),
            settings.redis_url,
            redis_timeout=timeout,
            yield_to=self.trading_first.turn,
        )
        self._engine: RuleEngine | None = None
        self._feed: RuleFeed | None = None

    async def start(self) -> None:
        """Open the channel to execution (inside the event loop) and start consuming signals."""
        settings = self.settings
        credentials = CallerCredentials(self._issuer, f"service:{SERVICE_NAME}", ["services"])
        self._execution = ExecutionClient(
            settings.execution_target, credentials, settings.signal_execution_timeout
        )
        trader = AutoTrader(
            self.bindings,
            self._execution,
            MarketPrices(self.market),
            max_failures=settings.signal_binding_max_failures,
            max_delay_ms=int(settings.signal_max_delay * 1000),
        )
        self._consumer = SignalConsumer(
            self.redis,
            trader.handle,
            group=settings.signal_consumer_group,
            claim_idle_ms=settings.signal_claim_idle_ms,
            block_ms=self._block_ms,
            trading_first=self.trading_first,
        )
        await self._consumer.start()
        self._engine = RuleEngine(
            self.rules,
            LocalTrading(self.signals, self._consumer),
            MarketHistory(self.market),
            refresh_interval=settings.signal_rules_refresh,
        )
        market = settings.market()
        self._feed = RuleFeed(
            self.market,
            self._engine,
            market.pairs,
            market.ohlc_intervals,
            trading_first=self.trading_first,
        )
        await self.market.start()
        await self._engine.start()
        self._feed.start()
        log.info(
            "signal ready",
            extra={"execution_target": settings.execution_target, "consumer": self._consumer.name},
        )

    async def stop(self) -> None:
        if self._feed is not None:
            await self._feed.stop()
        if self._engine is not None:
            await self._engine.stop()
        await self.market.stop()
        if self._consumer is not None:
            await self._consumer.stop(self.settings.grpc_shutdown_grace)
        if self._execution is not None:
            await self._execution.close()
        await self.redis.aclose()
