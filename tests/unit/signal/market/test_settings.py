"""MarketSettings: defaults, comma lists from the environment, and refusals that say why."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.signal.market.settings import MarketSettings


def test_defaults_point_at_the_local_paper_exchange() -> None:
    settings = MarketSettings()

    assert settings.ws_url == "ws://127.0.0.1:8081/v2"
    assert settings.rest_url == "http://127.0.0.1:8081"
    assert settings.pairs == ("BTC/USD", "ETH/USD")
    assert settings.book_depth == 10
    assert settings.ohlc_intervals == (1,)


def test_comma_separated_strings_are_lists() -> None:
    settings = MarketSettings.model_validate(
        {"pairs": "BTC/USD, SOL/USD", "ohlc_intervals": "60,1,5"}
    )

    assert settings.pairs == ("BTC/USD", "SOL/USD")
    assert settings.ohlc_intervals == (1, 5, 60)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("pairs", "XBTUSD", "not a pair like BTC/USD"),
        ("pairs", "BTC/USD,BTC/USD", "listed twice"),
        ("ohlc_intervals", "2", "not among Kraken's intervals"),
        ("book_depth", 20, "Input should be 10, 25, 100, 500 or 1000"),
        ("ws_url", "http://x/v2", "ws://"),
    ],
)
def test_malformed_values_are_refused(field: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        MarketSettings.model_validate({field: value})


def test_settings_are_frozen() -> None:
    settings = MarketSettings()

    with pytest.raises(ValidationError):
        settings.book_depth = 25  # type: ignore[misc]
