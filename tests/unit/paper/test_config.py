"""Configuration from the environment: defaults, fail-fast messages, a masked secret."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.paper.config import ConfigError, Tier, load_settings

SECRET = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "KRAKEN_API_KEY",
        "KRAKEN_API_SECRET",
        "PAPER_PORT",
        "PAPER_TIER",
        "PAPER_NONCE_WINDOW",
        "PAPER_STARTING_BALANCES",
    ):
        monkeypatch.delenv(name, raising=False)


def test_defaults_and_masked_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRAKEN_API_KEY", "key")
    monkeypatch.setenv("KRAKEN_API_SECRET", SECRET)

    settings = load_settings()

    assert settings.paper_port == 8081
    assert settings.paper_tier is Tier.INTERMEDIATE
    assert settings.paper_nonce_window == 0
    assert settings.paper_starting_balances["ZUSD"] == Decimal(100000)
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings)


def test_missing_secret_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRAKEN_API_KEY", "key")

    with pytest.raises(ConfigError, match="KRAKEN_API_SECRET"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KRAKEN_API_SECRET", "not base64!"),
        ("PAPER_TIER", "platinum"),
        ("PAPER_STARTING_BALANCES", "DOGE=5"),
        ("PAPER_NONCE_WINDOW", "-1"),
        ("EVENT_LOOP", "trio"),
    ],
)
def test_malformed_variables_are_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv("KRAKEN_API_KEY", "key")
    monkeypatch.setenv("KRAKEN_API_SECRET", SECRET)
    monkeypatch.setenv(name, value)

    with pytest.raises(ConfigError, match=name):
        load_settings()


def test_balances_accept_altnames(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRAKEN_API_KEY", "key")
    monkeypatch.setenv("KRAKEN_API_SECRET", SECRET)
    monkeypatch.setenv("PAPER_STARTING_BALANCES", "USD=5,XBT=0.5")

    assert load_settings().paper_starting_balances == {"ZUSD": Decimal(5), "XXBT": Decimal("0.5")}
