"""Signal service configuration, read once from the environment."""

from __future__ import annotations

from pydantic import Field, ValidationError, ValidationInfo, field_validator

from services.common.addresses import parse_host_port
from services.common.config import ServiceSettings
from services.signal.market.settings import MarketSettings


class SignalSettings(ServiceSettings):
    grpc_listen_addr: str = "127.0.0.1:50053"
    metrics_port: int = 9103
    execution_target: str = "127.0.0.1:50051"
    signal_execution_timeout: float = Field(
        default=10.0,
        gt=0,
        le=60,
        description="deadline of each call to execution (PlaceOrder, ListPairs, GetBalances), s",
    )
    signal_redis_timeout: float = Field(
        default=1.0, gt=0, le=30, description="seconds signal waits for Redis before UNAVAILABLE"
    )
    signal_consumer_group: str = Field(
        default="signal-bindings",
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="Redis consumer group the replicas share to act on each signal once",
    )
    signal_claim_idle_ms: int = Field(
        default=30_000,
        ge=100,
        le=3_600_000,
        description="ms a signal stays pending (unfinished) before another replica claims it",
    )
    signal_max_delay: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="seconds after which a signal not yet traded by a binding is given up",
    )
    signal_binding_max_failures: int = Field(
        default=5,
        ge=0,
        le=1000,
        description="failed signals in a row after which a binding pauses itself; 0: never",
    )
    signal_stream_maxlen: int = Field(
        default=100_000,
        ge=1000,
        description="about how many signals the stream retains (StreamSignals can resume within)",
    )
    signal_dedupe_ttl: int = Field(
        default=7 * 86400,
        ge=60,
        description="seconds a (source, external_id) is remembered for deduplication",
    )

    signal_rules_refresh: float = Field(
        default=1.0, gt=0, le=600, description="seconds between reloads of changed rules"
    )
    signal_trading_first_ms: int = Field(
        default=20,
        ge=0,
        le=1000,
        description=(
            "ms at most that market-data work waits while a tick's signal is recorded and "
            "traded on this replica; 0: it never waits"
        ),
    )
    # Market data (services/signal/market/settings.py holds the rules of each field).
    kraken_ws_url: str = Field(default="ws://127.0.0.1:8081/v2", description="WebSocket v2 URL")
    kraken_api_url: str = Field(default="http://127.0.0.1:8081", description="public REST URL")
    signal_pairs: str = Field(default="BTC/USD,ETH/USD", description="pairs to follow")
    signal_book_depth: int = 10
    signal_ohlc_intervals: str = Field(
        default="1,5,15,60", description="candle intervals (minutes) followed for rules"
    )
    signal_backfill_candles: int = Field(default=720, ge=0, le=720)
    signal_public_rest_interval: float = Field(default=1.0, ge=0, le=60)
    signal_feed_stale_seconds: float = Field(default=5.0, gt=0, le=300)
    signal_feed_lease_ttl: float = Field(default=10.0, ge=0.3, le=600)

    @field_validator("execution_target")
    @classmethod
    def _valid_target(cls, value: str) -> str:
        parse_host_port(value)
        return value

    @field_validator(
        "kraken_ws_url",
        "kraken_api_url",
        "signal_pairs",
        "signal_book_depth",
        "signal_ohlc_intervals",
    )
    @classmethod
    def _valid_market_field(cls, value: object, info: ValidationInfo) -> object:
        field = {
            "kraken_ws_url": "ws_url",
            "kraken_api_url": "rest_url",
            "signal_pairs": "pairs",
            "signal_book_depth": "book_depth",
            "signal_ohlc_intervals": "ohlc_intervals",
        }[info.field_name or ""]
        try:
            MarketSettings.model_validate({field: value})
        except ValidationError as exc:
            raise ValueError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None
        return value

    def market(self) -> MarketSettings:
        """The market-data layer's settings, from the variables above."""
        return MarketSettings.model_validate(
            {
                "ws_url": self.kraken_ws_url,
                "rest_url": self.kraken_api_url,
                "pairs": self.signal_pairs,
                "book_depth": self.signal_book_depth,
                "ohlc_intervals": self.signal_ohlc_intervals,
                "backfill_count": self.signal_backfill_candles,
                "rest_min_interval": self.signal_public_rest_interval,
                "stale_seconds": self.signal_feed_stale_seconds,
                "lease_ttl": self.signal_feed_lease_ttl,
            }
        )
