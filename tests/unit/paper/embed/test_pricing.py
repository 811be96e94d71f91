"""Quote pricing figures, worked by hand (services/paper/embed/pricing.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.paper.embed.assets import EmbedAsset, find_embed_asset
from services.paper.embed.errors import EmbedError
from services.paper.embed.pricing import UnitPrice, in_currency, price_quote, unit_price
from services.paper.embed.quote_request import QuoteRequest, QuoteType


def _asset(name: str) -> EmbedAsset:
    asset = find_embed_asset(name)
    assert asset is not None
    return asset


USD, EUR, BTC = _asset("USD"), _asset("EUR"), _asset("BTC")


def _request(
    quote_type: QuoteType, amount: str, amount_asset: str, other: str, fee_bps: int = 100
) -> QuoteRequest:
    return QuoteRequest(
        type=quote_type,
        amount=Decimal(amount),
        amount_asset=_asset(amount_asset),
        other_asset=_asset(other),
        fee_bps=fee_bps,
        spread_bps=50,
        quote_currency=None,
    )


BUY_PRICE = UnitPrice(BTC, Decimal("65325.00"), USD)  # 65000 plus 50 bps
SELL_PRICE = UnitPrice(BTC, Decimal("64675.00"), USD)  # 65000 less 50 bps


def test_spread_makes_the_price_worse_for_the_user_and_rounds_against_them() -> None:
    mid = Decimal("65000.3")

    buy = unit_price(mid, BTC, USD, user_buys_base=True, spread_bps=7)
    sell = unit_price(mid, BTC, USD, user_buys_base=False, spread_bps=7)

    # 65000.3 x 1.0007 = 65045.80021 (up); 65000.3 x 0.9993 = 64954.79979 (down).
    assert buy == UnitPrice(BTC, Decimal("65045.81"), USD)
    assert sell == UnitPrice(BTC, Decimal("64954.79"), USD)


def test_spend_usd_for_btc() -> None:
    priced = price_quote(_request(QuoteType.SPEND, "100", "USD", "BTC"), BUY_PRICE)

    # fee 1% of 100.00; 99.00 / 65325.00 = 0.0015154994… rounded down.
    assert (priced.spend.total, priced.spend.fee, priced.spend.subtotal) == (
        Decimal("100.00"),
        Decimal("1.00"),
        Decimal("99.00"),
    )
    assert priced.spend.asset == USD
    assert priced.receive.asset == BTC
    assert priced.receive.total == Decimal("0.00151549")
    assert priced.receive.fee == 0
    assert priced.receive.subtotal == priced.receive.total


def test_receive_btc_paying_usd() -> None:
    priced = price_quote(_request(QuoteType.RECEIVE, "0.01", "BTC", "USD"), BUY_PRICE)

    # 0.01 x 65325.00 = 653.25; fee 6.5325 rounded up to 6.54.
    assert priced.receive.total == Decimal("0.01")
    assert (priced.spend.subtotal, priced.spend.fee, priced.spend.total) == (
        Decimal("653.25"),
        Decimal("6.54"),
        Decimal("659.79"),
    )


def test_spend_btc_for_usd() -> None:
    priced = price_quote(_request(QuoteType.SPEND, "0.01", "BTC", "USD"), SELL_PRICE)

    # fee 0.0001 BTC; 0.0099 x 64675.00 = 640.2825 rounded down.
    assert (priced.spend.fee, priced.spend.subtotal) == (Decimal("0.0001"), Decimal("0.0099"))
    assert priced.receive.total == Decimal("640.28")


def test_receive_usd_paying_btc() -> None:
    priced = price_quote(_request(QuoteType.RECEIVE, "1000", "USD", "BTC"), SELL_PRICE)

    # 1000 / 64675.00 = 0.015461925… rounded up; fee 0.0001546193 rounded up.
    assert (priced.spend.subtotal, priced.spend.fee, priced.spend.total) == (
        Decimal("0.01546193"),
        Decimal("0.00015462"),
        Decimal("0.01561655"),
    )
    assert priced.receive.total == Decimal("1000")


def test_fee_is_rounded_up_to_the_spend_assets_places() -> None:
    priced = price_quote(_request(QuoteType.SPEND, "10.01", "USD", "BTC", fee_bps=25), BUY_PRICE)

    # 10.01 x 0.0025 = 0.025025, rounded up to 0.03.
    assert priced.spend.fee == Decimal("0.03")
    assert priced.spend.subtotal == Decimal("9.98")


def test_an_amount_too_small_to_buy_anything_is_refused() -> None:
    with pytest.raises(EmbedError, match=r"amount\.amount"):
        price_quote(
            _request(QuoteType.SPEND, "0.01", "USD", "BTC"), UnitPrice(BTC, Decimal("1E+7"), USD)
        )


def test_a_spread_that_leaves_no_price_is_refused() -> None:
    with pytest.raises(EmbedError, match="spread_bps"):
        unit_price(Decimal("0.01"), BTC, USD, user_buys_base=False, spread_bps=9999)


def test_quote_shown_in_another_currency() -> None:
    priced = price_quote(_request(QuoteType.SPEND, "100", "USD", "BTC"), BUY_PRICE)
    rates = {USD: Decimal("0.9"), BTC: Decimal("60000")}

    shown = in_currency(priced, EUR, rates.__getitem__)

    assert (shown.spend.asset, shown.spend.total, shown.spend.fee) == (
        EUR,
        Decimal("90.00"),
        Decimal("0.90"),
    )
    # 0.00151549 x 60000 = 90.9294; 65325.00 USD x 0.9 = 58792.50 EUR.
    assert shown.receive.total == Decimal("90.93")
    assert shown.unit_price == UnitPrice(BTC, Decimal("58792.50"), EUR)
