"""The Embed settings of the paper exchange: defaults, pairs that go together, users, secrets."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.paper.config import ConfigError, load_settings
from services.paper.embed.users import parse_users

SECRET = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
EMBED_SECRET = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "PAPER_EMBED_PORT",
        "KRAKEN_EMBED_API_KEY",
        "KRAKEN_EMBED_API_SECRET",
        "PAPER_EMBED_QUOTE_TTL",
        "PAPER_EMBED_SETTLE_DELAY",
        "PAPER_EMBED_WEBHOOK_URL",
        "KRAKEN_EMBED_WEBHOOK_SECRET",
        "PAPER_EMBED_WEBHOOK_DUPLICATE_RATE",
        "PAPER_EMBED_USERS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KRAKEN_API_KEY", "key")
    monkeypatch.setenv("KRAKEN_API_SECRET", SECRET)


def test_embed_is_off_without_its_key_pair() -> None:
    settings = load_settings()

    assert not settings.embed_enabled
    assert settings.paper_embed_port == 8082
    assert settings.paper_embed_quote_ttl == 30
    assert settings.paper_embed_settle_delay == 1.0
    assert settings.paper_embed_webhook_duplicate_rate == 0.05
    assert settings.paper_embed_users == {
        "AA00 PAPE RUSE R001": {
            "USD": Decimal("10000"),
            "EUR": Decimal("10000"),
            "BTC": Decimal("1"),
        }
    }


def test_embed_key_pair_turns_it_on_and_secrets_stay_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    webhook_secret = "dGVzdC1zZWNyZXQtcGxlYXNlLWlnbm9yZQ=="
    monkeypatch.setenv("KRAKEN_EMBED_API_KEY", "embed-key")
    monkeypatch.setenv("KRAKEN_EMBED_API_SECRET", EMBED_SECRET)
    monkeypatch.setenv("PAPER_EMBED_WEBHOOK_URL", "http://127.0.0.1:9/hooks")
    monkeypatch.setenv("KRAKEN_EMBED_WEBHOOK_SECRET", webhook_secret)

    settings = load_settings()

    assert settings.embed_enabled
    assert settings.paper_embed_webhook_url == "http://127.0.0.1:9/hooks"
    assert EMBED_SECRET not in repr(settings)
    assert webhook_secret not in repr(settings)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"KRAKEN_EMBED_API_KEY": "embed-key"}, "KRAKEN_EMBED_API_SECRET"),
        ({"KRAKEN_EMBED_API_SECRET": EMBED_SECRET}, "KRAKEN_EMBED_API_KEY"),
        (
            {"KRAKEN_EMBED_API_KEY": "k", "KRAKEN_EMBED_API_SECRET": "not base64!"},
            "KRAKEN_EMBED_API_SECRET",
        ),
        ({"PAPER_EMBED_WEBHOOK_URL": "http://127.0.0.1:9/"}, "KRAKEN_EMBED_WEBHOOK_SECRET"),
        ({"PAPER_EMBED_WEBHOOK_URL": "ftp://example"}, "PAPER_EMBED_WEBHOOK_URL"),
        ({"KRAKEN_EMBED_WEBHOOK_SECRET": "%%%"}, "KRAKEN_EMBED_WEBHOOK_SECRET"),
        ({"PAPER_EMBED_WEBHOOK_DUPLICATE_RATE": "1.5"}, "PAPER_EMBED_WEBHOOK_DUPLICATE_RATE"),
        ({"PAPER_EMBED_QUOTE_TTL": "0"}, "PAPER_EMBED_QUOTE_TTL"),
        ({"PAPER_EMBED_SETTLE_DELAY": "-1"}, "PAPER_EMBED_SETTLE_DELAY"),
        ({"PAPER_EMBED_USERS": "AA00 SHORT=USD:1"}, "PAPER_EMBED_USERS"),
        ({"PAPER_EMBED_USERS": "AA00 PAPE RUSE R001=XRP:1"}, "PAPER_EMBED_USERS"),
        ({"PAPER_EMBED_USERS": "AA00 PAPE RUSE R001=USD:lots"}, "PAPER_EMBED_USERS"),
    ],
)
def test_a_bad_embed_setting_is_named(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(ConfigError, match=named):
        load_settings()


def test_users_format_takes_several_users_and_rounds_to_places() -> None:
    users = parse_users("AA00 PAPE RUSE R001=USD:10.005/BTC:0.5; AA11 PAPE RUSE R002=EUR:7")

    assert users == {
        "AA00 PAPE RUSE R001": {"USD": Decimal("10.00"), "BTC": Decimal("0.50000000")},
        "AA11 PAPE RUSE R002": {"EUR": Decimal("7.00")},
    }
