"""Bodies built once and signed as sent (kraken.md §1.3, §1.4 vectors); envelope parsing; orders."""

from __future__ import annotations

from decimal import Decimal

import grpc
import pytest

from services.execution.kraken.config import BodyEncoding
from services.execution.kraken.credentials import KrakenCredentials
from services.execution.kraken.errors import (
    HttpStatusError,
    OrderRejectedError,
    RetryClass,
    UnknownOutcomeError,
)
from services.execution.kraken.orders import OrderRequest, OrderType, Param, Side, TimeInForce
from services.execution.kraken.wire import encode_body, parse_result

SECRET = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
DOC_PARAMS: dict[str, Param] = {
    "ordertype": "limit",
    "pair": "XBTUSD",
    "price": Decimal("37500"),
    "type": "buy",
    "volume": Decimal("1.25"),
}


def test_form_body_and_signature_match_krakens_documented_example() -> None:
    body, content_type = encode_body(DOC_PARAMS, 1616492376594, BodyEncoding.FORM)
    headers = KrakenCredentials.of("key", SECRET).headers(
        "/0/private/AddOrder", 1616492376594, body
    )

    assert (
        body == b"nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
    )
    assert content_type == "application/x-www-form-urlencoded"
    assert headers["API-Sign"] == (
        "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="
    )


def test_json_body_and_signature_match_the_reference_vector() -> None:
    body, content_type = encode_body(DOC_PARAMS, 1616492376594, BodyEncoding.JSON)
    headers = KrakenCredentials.of("key", SECRET).headers(
        "/0/private/AddOrder", 1616492376594, body
    )

    assert body == (
        b'{"nonce":1616492376594,"ordertype":"limit","pair":"XBTUSD","price":"37500",'
        b'"type":"buy","volume":"1.25"}'
    )
    assert content_type == "application/json"
    assert headers["API-Sign"] == (
        "kMkTQfyYJH05IdnWQ9TIqL9Kq+dKqcD5O/TGPPLRwwy1is/YvqEYtMAHf7tXsqwfbLwp7pbzJzWHxzKPnL8rfA=="
    )


def test_decimals_are_never_in_exponent_form_and_plus_is_escaped() -> None:
    body, _ = encode_body(
        {"volume": Decimal("1E-8"), "price": Decimal("1E+2"), "expiretm": "+30"},
        1,
        BodyEncoding.FORM,
    )

    assert body == b"nonce=1&volume=0.00000001&price=100&expiretm=%2B30"


def test_conditional_close_nests_in_json() -> None:
    body, _ = encode_body(
        {"close[ordertype]": "limit", "close[price]": Decimal("1.5")}, 7, BodyEncoding.JSON
    )

    assert body == b'{"nonce":7,"close":{"ordertype":"limit","price":"1.5"}}'


def test_result_amounts_parse_as_decimal() -> None:
    result = parse_result(
        200, b'{"error":[],"result":{"x":1.1}}', endpoint="Balance", idempotent=True, now=0
    )

    assert result == {"x": Decimal("1.1")}
    assert isinstance(result["x"], Decimal)


def test_warnings_alone_are_not_failures() -> None:
    result = parse_result(
        200, b'{"error":["WGeneral:Deprecated"],"result":{}}', endpoint="X", idempotent=True, now=0
    )

    assert result == {}


def test_error_in_the_body_wins_over_the_http_status() -> None:
    with pytest.raises(OrderRejectedError):
        parse_result(
            500,
            b'{"error":["EOrder:Insufficient funds"]}',
            endpoint="AddOrder",
            idempotent=False,
            now=0,
        )


def test_unreadable_200_for_add_order_is_an_unknown_outcome() -> None:
    with pytest.raises(UnknownOutcomeError) as caught:
        parse_result(200, b"<html>", endpoint="AddOrder", idempotent=False, now=0)

    assert caught.value.retry_class is RetryClass.UNKNOWN_OUTCOME


def test_plain_4xx_is_a_typed_http_error() -> None:
    with pytest.raises(HttpStatusError) as caught:
        parse_result(404, b"not found", endpoint="Balance", idempotent=True, now=0)

    assert caught.value.status == 404
    assert caught.value.grpc_status is grpc.StatusCode.NOT_FOUND


def _order(**overrides: object) -> OrderRequest:
    fields: dict[str, object] = {
        "pair": "XBTUSD",
        "side": Side.BUY,
        "ordertype": OrderType.LIMIT,
        "volume": Decimal("1.25"),
        "price": Decimal("37500"),
    }
    fields.update(overrides)
    return OrderRequest(**fields)  # type: ignore[arg-type]


def test_order_params_in_kraken_names() -> None:
    order = _order(
        cl_ord_id="6d1b345e-2821-40e2-ad83-4ecb18a06876",
        oflags=("post", "fciq"),
        timeinforce=TimeInForce.IOC,
        validate=True,
    )

    assert order.params() == {
        "pair": "XBTUSD",
        "type": "buy",
        "ordertype": "limit",
        "volume": Decimal("1.25"),
        "price": Decimal("37500"),
        "oflags": "post,fciq",
        "timeinforce": "IOC",
        "cl_ord_id": "6d1b345e-2821-40e2-ad83-4ecb18a06876",
        "validate": True,
    }


def test_stop_loss_limit_with_take_profit_close() -> None:
    order = _order(
        ordertype=OrderType.STOP_LOSS_LIMIT,
        price=Decimal("30000"),
        price2=Decimal("29900"),
        close_ordertype=OrderType.TAKE_PROFIT,
        close_price="+10%",
    )

    params = order.params()

    assert params["price2"] == Decimal("29900")
    assert params["close[ordertype]"] == "take-profit"
    assert params["close[price]"] == "+10%"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"volume": Decimal("0")}, "volume"),
        ({"volume": Decimal("NaN")}, "volume"),
        ({"price": None}, "price is required"),
        ({"ordertype": OrderType.TAKE_PROFIT_LIMIT}, "price2"),
        ({"cl_ord_id": "a", "userref": 1}, "mutually exclusive"),
        ({"oflags": ("post", "yolo")}, "yolo"),
        ({"timeinforce": TimeInForce.GTD}, "expiretm"),
        ({"displayvol": Decimal("1")}, "iceberg"),
        ({"close_price": Decimal("1")}, "close_ordertype"),
    ],
)
def test_structurally_invalid_orders_are_refused_before_signing(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        _order(**overrides)


def test_market_order_needs_no_price() -> None:
    order = _order(ordertype=OrderType.MARKET, price=None)

    assert "price" not in order.params()
