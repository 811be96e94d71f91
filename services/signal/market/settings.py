"""Settings of the market-data layer, one frozen object the signal service embeds in its own."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.signal.market.model import OHLC_INTERVALS

_SYMBOL = re.compile(r"^[A-Z0-9]{1,16}/[A-Z0-9]{1,16}$")


def _comma_list(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class MarketSettings(BaseModel):
    """Where Kraken's public data comes from, what to subscribe, and how replicas share feeds.

    Times are in seconds. ``pairs`` and ``ohlc_intervals`` also accept a comma-separated string.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    ws_url: str = "ws://127.0.0.1:8081/v2"
    rest_url: str = "http://127.0.0.1:8081"
    pairs: tuple[str, ...] = Field(default=("BTC/USD", "ETH/USD"), min_length=1)
    book_depth: Literal[10, 25, 100, 500, 1000] = 10
    ohlc_intervals: tuple[int, ...] = Field(default=(1,), min_length=1)
    backfill_count: int = Field(default=720, ge=0, le=720)
    rest_min_interval: float = Field(default=1.0, ge=0, le=60)
    rest_timeout: float = Field(default=10.0, gt=0, le=120)
    stale_seconds: float = Field(default=5.0, gt=0, le=300)
    backoff_base: float = Field(default=0.25, gt=0, le=60)
    backoff_cap: float = Field(default=10.0, gt=0, le=600)
    healthy_seconds: float = Field(default=30.0, gt=0, le=3600)
    lease_ttl: float = Field(default=10.0, ge=0.3, le=600)
    candle_close_grace: float = Field(default=2.0, ge=0, le=600)
    ticks_maxlen: int = Field(default=10_000, ge=100)
    candles_maxlen: int = Field(default=5_000, ge=100)
    trades_maxlen: int = Field(default=10_000, ge=100)

    @field_validator("pairs", "ohlc_intervals", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return _comma_list(value)

    @field_validator("pairs")
    @classmethod
    def _symbols(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for symbol in value:
            if not _SYMBOL.match(symbol):
                raise ValueError(f"{symbol!r} is not a pair like BTC/USD")
        if len(set(value)) != len(value):
            raise ValueError("a pair is listed twice")
        return value

    @field_validator("ohlc_intervals")
    @classmethod
    def _intervals(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        wrong = [minutes for minutes in value if minutes not in OHLC_INTERVALS]
        if wrong:
            raise ValueError(f"{wrong} not among Kraken's intervals {sorted(OHLC_INTERVALS)}")
        return tuple(sorted(set(value)))

    @field_validator("ws_url")
    @classmethod
    def _ws(cls, value: str) -> str:
        if not value.startswith(("ws://", "wss://")):
            raise ValueError("must start with ws:// or wss://")
        return value

    @field_validator("rest_url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _backoff_order(self) -> MarketSettings:
        if self.backoff_cap < self.backoff_base:
            raise ValueError("backoff_cap must not be below backoff_base")
        return self
