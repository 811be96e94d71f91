"""AddOrder parameters against the pair's rules, and Kraken's ``descr.order`` text."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.paper.catalog import find_pair
from services.paper.errors import KrakenError
from services.paper.order_entry import describe, parse_order
from services.paper.params import Params

NOW = Decimal(1_700_000_000)


def parse(pair: str = "XBTUSD", **fields: str) -> str:
    values = {"type": "buy", "ordertype": "limit", "volume": "1.25", "price": "30010.0", **fields}
    return describe(parse_order(Params(values), find_pair(pair), NOW))


def test_descriptions_match_krakens_wording() -> None:
    assert parse() == "buy 1.25000000 XBTUSD @ limit 30010.0"
    assert parse(ordertype="market") == "buy 1.25000000 XBTUSD @ market"
    assert parse(ordertype="stop-loss-limit", price="22000", price2="21000") == (
        "buy 1.25000000 XBTUSD @ stop loss 22000.0 -> limit 21000.0"
    )
    assert parse("ETHUSD", type="sell", ordertype="take-profit", volume="2", price="4000") == (
        "sell 2.00000000 ETHUSD @ take profit 4000.00"
    )


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"volume": "0.00009"}, "EOrder:Order minimum not met"),
        ({"volume": "0.123456789"}, "EGeneral:Invalid arguments:volume"),
        ({"price": "30010.05"}, "EOrder:Tick size check failed"),
        ({"price": "+5"}, "EGeneral:Invalid arguments:price"),
        ({"type": "hold"}, "EGeneral:Invalid arguments:type"),
        ({"oflags": "fcib,fciq"}, "EGeneral:Invalid arguments:oflags"),
        ({"ordertype": "market", "oflags": "post"}, "EGeneral:Invalid arguments:oflags"),
        ({"timeinforce": "GTD"}, "EGeneral:Invalid arguments:timeinforce"),
        ({"userref": "1", "cl_ord_id": "abc"}, "EGeneral:Invalid arguments:cl_ord_id"),
        ({"cl_ord_id": "x" * 19}, "EGeneral:Invalid arguments:cl_ord_id"),
        ({"deadline": "2020-01-01T00:00:00Z"}, "EService:Deadline elapsed"),
    ],
)
def test_bad_parameters_get_krakens_error(fields: dict[str, str], error: str) -> None:
    with pytest.raises(KrakenError) as caught:
        parse(**fields)
    assert caught.value.text == error


def test_gtd_with_relative_expiry() -> None:
    request = parse_order(
        Params(
            {
                "type": "buy",
                "ordertype": "limit",
                "volume": "1",
                "price": "30000",
                "timeinforce": "GTD",
                "expiretm": "+60",
            }
        ),
        find_pair("XBTUSD"),
        NOW,
    )

    assert request.expiretm == NOW + 60


def test_uuid_cl_ord_id_is_accepted() -> None:
    assert parse(cl_ord_id="6d1b345e-2821-40e2-ad83-4ecb18a06876")
