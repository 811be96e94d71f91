"""The paper exchange's configuration: one frozen object read from the environment once at start."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from services.common.event_loop import EventLoop
from services.paper.catalog import find_asset
from services.paper.embed.users import DEFAULT_USERS, parse_users

DEFAULT_BALANCES = "ZUSD=100000,ZEUR=50000,XXBT=2,XETH=20,SOL=200"


class Tier(StrEnum):
    """The account's verification tier, which sets both rate limits (kraken.md §3.1, §3.3)."""

    STARTER = "starter"
    INTERMEDIATE = "intermediate"
    PRO = "pro"


class ConfigError(Exception):
    """The environment is missing a variable or holds a malformed one; the message names it."""


class PaperSettings(BaseSettings):
    """Every setting of the paper exchange; a field's name upper-cased is its variable."""

    model_config = SettingsConfigDict(frozen=True, case_sensitive=False, extra="ignore")

    paper_host: str = "127.0.0.1"
    paper_port: int = Field(default=8081, ge=0, le=65535)
    kraken_api_key: str = Field(min_length=1)
    kraken_api_secret: SecretStr
    paper_nonce_window: int = Field(default=0, ge=0)
    paper_tier: Tier = Tier.INTERMEDIATE
    paper_seed: int = 42
    paper_tick_interval: float = Field(default=1.0, gt=0)
    paper_starting_balances: Annotated[Mapping[str, Decimal], NoDecode] = Field(
        default=DEFAULT_BALANCES, validate_default=True
    )
    paper_faults_enabled: bool = True
    event_loop: EventLoop = EventLoop.UVLOOP
    # Embed (services/paper/embed/README.md): served only when the Embed key pair is set.
    paper_embed_port: int = Field(default=8082, ge=0, le=65535)
    kraken_embed_api_key: str | None = None
    kraken_embed_api_secret: SecretStr | None = None
    paper_embed_quote_ttl: int = Field(default=30, ge=1)
    paper_embed_settle_delay: float = Field(default=1.0, ge=0)
    paper_embed_webhook_url: str | None = None
    kraken_embed_webhook_secret: SecretStr | None = None
    paper_embed_webhook_duplicate_rate: float = Field(default=0.05, ge=0, le=1)
    paper_embed_users: Annotated[Mapping[str, Mapping[str, Decimal]], NoDecode] = Field(
        default=DEFAULT_USERS, validate_default=True
    )

    @field_validator("kraken_api_secret", "kraken_embed_api_secret", "kraken_embed_webhook_secret")
    @classmethod
    def _secret_is_base64(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        try:
            base64.b64decode(value.get_secret_value(), validate=True)
        except binascii.Error as exc:
            raise ValueError("must be base64, as Kraken shows the private key") from exc
        return value

    @field_validator(
        "kraken_embed_api_key",
        "kraken_embed_api_secret",
        "paper_embed_webhook_url",
        "kraken_embed_webhook_secret",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("paper_embed_webhook_url")
    @classmethod
    def _webhook_url_is_http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("paper_embed_users", mode="before")
    @classmethod
    def _parse_embed_users(cls, value: Any) -> Mapping[str, Mapping[str, Decimal]]:
        return parse_users(value) if isinstance(value, str) else dict(value)

    @model_validator(mode="after")
    def _embed_pairs_are_whole(self) -> PaperSettings:
        if (self.kraken_embed_api_key is None) != (self.kraken_embed_api_secret is None):
            raise ValueError(
                "KRAKEN_EMBED_API_KEY and KRAKEN_EMBED_API_SECRET must be set together"
            )
        if self.paper_embed_webhook_url is not None and self.kraken_embed_webhook_secret is None:
            raise ValueError("KRAKEN_EMBED_WEBHOOK_SECRET is required with PAPER_EMBED_WEBHOOK_URL")
        return self

    @property
    def embed_enabled(self) -> bool:
        """Whether the Embed server runs: only with its key pair configured."""
        return self.kraken_embed_api_key is not None

    @field_validator("paper_starting_balances", mode="before")
    @classmethod
    def _parse_balances(cls, value: Any) -> Mapping[str, Decimal]:
        if not isinstance(value, str):
            return dict(value)
        balances: dict[str, Decimal] = {}
        for item in filter(None, (part.strip() for part in value.split(","))):
            name, sep, amount = item.partition("=")
            asset = find_asset(name)
            if not sep or asset is None:
                raise ValueError(f"{item!r} is not ASSET=AMOUNT with a listed asset")
            try:
                balances[asset.id] = Decimal(amount.strip())
            except InvalidOperation as exc:
                raise ValueError(f"{amount!r} is not a decimal amount") from exc
        return balances


def load_settings() -> PaperSettings:
    """Read the environment once; a bad or missing variable raises :class:`ConfigError`."""
    try:
        return PaperSettings()
    except ValidationError as exc:
        # A check across fields (the Embed pairs) has no location; its message names them.
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
            if error["loc"]
            else error["msg"]
            for error in exc.errors()
        )
        raise ConfigError(f"paper exchange configuration: {problems}") from exc
