"""Public market data through the real process, in Kraken's shapes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support.paper_exchange import PaperExchange


def test_time_and_status(paper: PaperExchange) -> None:
    time_result = paper.public("Time")["result"]
    status = paper.public("SystemStatus")["result"]

    assert isinstance(time_result["unixtime"], int)
    assert time_result["rfc1123"].endswith("+0000")
    assert status["status"] == "online"


def test_asset_pairs_carry_krakens_metadata(paper: PaperExchange) -> None:
    pairs = paper.public("AssetPairs")["result"]

    assert set(pairs) >= {"XXBTZUSD", "XETHZUSD", "SOLUSD", "XXBTZEUR"}
    xbt = pairs["XXBTZUSD"]
    assert (xbt["altname"], xbt["wsname"], xbt["base"], xbt["quote"]) == (
        "XBTUSD",
        "XBT/USD",
        "XXBT",
        "ZUSD",
    )
    assert (xbt["pair_decimals"], xbt["lot_decimals"], xbt["cost_decimals"]) == (1, 8, 5)
    assert (xbt["ordermin"], xbt["costmin"], xbt["tick_size"]) == ("0.0001", "0.5", "0.1")
    assert xbt["fees"][0] == [0, 0.26]
    assert xbt["fees_maker"][0] == [0, 0.16]


@pytest.mark.parametrize("name", ["XBTUSD", "XXBTZUSD", "XBT/USD", "BTC/USD"])
def test_responses_are_keyed_by_the_canonical_pair_id(paper: PaperExchange, name: str) -> None:
    assert list(paper.public("Ticker", pair=name)["result"]) == ["XXBTZUSD"]


def test_assets_use_legacy_ids(paper: PaperExchange) -> None:
    result = paper.public("Assets", asset="XBT,USD")["result"]

    assert result["XXBT"]["altname"] == "XBT"
    assert result["XXBT"]["decimals"] == 10
    assert result["ZUSD"]["decimals"] == 4


def test_ticker_depth_and_trades_agree_with_a_set_price(paper: PaperExchange) -> None:
    book = paper.set_price("XBTUSD", "61234.5")

    ticker = paper.public("Ticker", pair="XBTUSD")["result"]["XXBTZUSD"]
    depth = paper.public("Depth", pair="XBTUSD", count=5)["result"]["XXBTZUSD"]
    trades = paper.public("Trades", pair="XBTUSD", count=1)["result"]

    assert ticker["c"][0] == "61234.5"
    assert Decimal(ticker["b"][0]) < Decimal("61234.5") < Decimal(ticker["a"][0])
    assert depth["asks"][0][0] == ticker["a"][0] == f"{Decimal(str(book['ask'])):.1f}"
    assert len(depth["bids"]) == 5
    assert [Decimal(level[0]) for level in depth["bids"]] == sorted(
        (Decimal(level[0]) for level in depth["bids"]), reverse=True
    )
    (last_trade,) = trades["XXBTZUSD"]
    assert last_trade[0] == "61234.5"
    assert int(trades["last"]) > 10**18


def test_ohlc_rows_have_krakens_shape(paper: PaperExchange) -> None:
    result = paper.public("OHLC", pair="ETHUSD", interval=60)["result"]

    rows = result["XETHZUSD"]
    assert len(rows) >= 12
    time_, open_, high, low, close, vwap, volume, count = rows[-2]
    assert isinstance(time_, int)
    assert time_ % 3600 == 0
    assert Decimal(low) <= min(Decimal(open_), Decimal(close))
    assert Decimal(high) >= max(Decimal(open_), Decimal(close))
    assert Decimal(low) <= Decimal(vwap) <= Decimal(high)
    assert Decimal(volume) > 0
    assert count > 0
    assert result["last"] == time_


def test_public_call_by_post_form_as_krakenex_sends_it(paper: PaperExchange) -> None:
    response = paper.http.post("/0/public/Depth", data={"pair": "SOLUSD", "count": "2"})

    assert list(response.json()["result"]) == ["SOLUSD"]


def test_unknown_pair_is_krakens_error(paper: PaperExchange) -> None:
    assert paper.public("Ticker", pair="DOGEUSD") == {
        "error": ["EQuery:Unknown asset pair"],
        "result": {},
    }
