"""Kraken Embed quotes through the real process: signed calls, the quote flow, errors and faults."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.support.paper_exchange import PaperExchange

SETTLE_DELAY = 0.2


@pytest.fixture(scope="module")
def paper() -> Iterator[PaperExchange]:
    with PaperExchange(extra_env={"PAPER_EMBED_SETTLE_DELAY": str(SETTLE_DELAY)}) as exchange:
        exchange.set_price("XBTUSD", "65000.0")
        yield exchange


@pytest.fixture
def user(paper: PaperExchange) -> str:
    return paper.embed_create_user({"USD": "1000", "BTC": "0.5"})


def _spend_usd_for_btc(amount: str = "100") -> dict[str, Any]:
    return {
        "type": "spend",
        "amount": {"asset": "USD", "amount": amount, "asset_class": "currency"},
        "quote": {"asset": "BTC"},
        "fee_bps": "100",
        "spread_bps": "50",
    }


def _request_quote(paper: PaperExchange, user: str, body: dict[str, Any]) -> dict[str, Any]:
    response = paper.embed("POST", "/b2b/quotes", {"user": user}, body)
    assert response.status_code == 200, response.text
    quote: dict[str, Any] = response.json()["result"]
    return quote


def _wait_for_status(paper: PaperExchange, quote_id: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while True:
        quote: dict[str, Any] = paper.embed("GET", f"/b2b/quotes/{quote_id}").json()["result"]
        if quote["status"] == status or time.monotonic() > deadline:
            return quote
        time.sleep(0.05)


def test_assets_are_listed_and_filtered(paper: PaperExchange, user: str) -> None:
    every = paper.embed("GET", "/b2b/quotes/assets", {"user": user}).json()["result"]["assets"]
    tradable = paper.embed("GET", "/b2b/quotes/assets", {"user": user, "tradable": "true"})
    others = paper.embed("GET", "/b2b/quotes/assets", {"user": user, "tradable": "false"})

    by_name = {asset["name"]: asset for asset in every}
    assert by_name["BTC"] == {
        "name": "BTC",
        "status": "tradable",
        "disabled_against": ["ETH", "SOL", "DOGE", "DOT"],
        "decimals": 8,
    }
    assert by_name["USD"]["decimals"] == 2
    assert {name for name in by_name if by_name[name]["status"] != "tradable"} == {"DOGE", "DOT"}
    assert [a["name"] for a in tradable.json()["result"]["assets"]] == [
        "USD",
        "EUR",
        "BTC",
        "ETH",
        "SOL",
    ]
    assert [(a["name"], a["status"]) for a in others.json()["result"]["assets"]] == [
        ("DOGE", "disabled"),
        ("DOT", "soon"),
    ]


def test_spend_quote_executes_and_moves_balances_by_the_quoted_totals(
    paper: PaperExchange, user: str
) -> None:
    quote = _request_quote(paper, user, _spend_usd_for_btc())

    executed = paper.embed("PUT", f"/b2b/quotes/{quote['quote_id']}", {"user": user})
    final = _wait_for_status(paper, quote["quote_id"], "credit_transfer_complete")

    assert quote["status"] == "new"
    assert quote["transaction_id"] is None
    assert quote["expires"].endswith("Z")
    assert quote["unit_price"] == {
        "asset": "BTC",
        "unit_price": "65325.00",
        "denomination_asset": "USD",
        "asset_class": "currency",
        "denomination_asset_class": "currency",
    }
    assert quote["spend"] == {
        "asset": "USD",
        "total": "100.00",
        "fee": "1.00",
        "subtotal": "99.00",
        "asset_class": "currency",
    }
    assert quote["receive"]["total"] == "0.00151549"
    assert quote["quoted_spend"] is None
    assert executed.status_code == 200
    assert executed.json()["result"]["status"] == "accepted"
    assert executed.json()["result"]["transaction_id"]
    assert final["status"] == "credit_transfer_complete"
    assert final["transaction_id"] == executed.json()["result"]["transaction_id"]
    balances = paper.embed_balances(user)
    assert balances["USD"] == "900.00"
    assert balances["BTC"] == str(Decimal("0.5") + Decimal("0.00151549"))


def test_receive_fiat_for_crypto_executes(paper: PaperExchange, user: str) -> None:
    body = {
        "type": "receive",
        "amount": {"asset": "USD", "amount": "1000.00", "asset_class": "currency"},
        "quote": {"asset": "BTC"},
        "fee_bps": "100",
        "spread_bps": "50",
        "quote_currency": "USD",
    }
    quote = _request_quote(paper, user, body)

    paper.embed("PUT", f"/b2b/quotes/{quote['quote_id']}")
    _wait_for_status(paper, quote["quote_id"], "credit_transfer_complete")

    assert quote["unit_price"]["unit_price"] == "64675.00"
    assert quote["spend"]["total"] == "0.01561655"
    assert quote["receive"]["total"] == "1000.00"
    balances = paper.embed_balances(user)
    assert balances["USD"] == "2000.00"
    assert balances["BTC"] == str(Decimal("0.5") - Decimal("0.01561655"))


def test_executing_twice_is_already_accepted(paper: PaperExchange, user: str) -> None:
    quote_id = _request_quote(paper, user, _spend_usd_for_btc())["quote_id"]
    assert paper.embed("PUT", f"/b2b/quotes/{quote_id}").status_code == 200

    again = paper.embed("PUT", f"/b2b/quotes/{quote_id}")

    assert again.status_code == 409
    assert again.json() == {"error": ["EPTL:Quote already accepted"]}
    assert paper.embed_balances(user)["USD"] == "900.00"


def test_expired_quote_is_refused_and_stays_new(paper: PaperExchange, user: str) -> None:
    quote_id = _request_quote(paper, user, _spend_usd_for_btc())["quote_id"]
    paper.embed_expire(quote_id)

    response = paper.embed("PUT", f"/b2b/quotes/{quote_id}", {"user": user})

    assert response.status_code == 409
    assert response.json() == {"error": ["EPTL:Price quote expired"]}
    assert paper.embed("GET", f"/b2b/quotes/{quote_id}").json()["result"]["status"] == "new"
    assert paper.embed_balances(user)["USD"] == "1000.00"


def test_insufficient_funds_is_409_with_detail(paper: PaperExchange, user: str) -> None:
    quote_id = _request_quote(paper, user, _spend_usd_for_btc("5000"))["quote_id"]

    response = paper.embed("PUT", f"/b2b/quotes/{quote_id}")

    assert response.status_code == 409
    [error] = response.json()["error"]
    assert error.startswith("EPTL:Insufficient funds for transfer: ")
    assert "USD" in error


def test_bad_signature_is_401(paper: PaperExchange, user: str) -> None:
    target, content, headers = paper.signed_embed_request(
        "/b2b/quotes", {"user": user}, _spend_usd_for_btc()
    )

    tampered = paper.embed_http.post(
        target, content=content.replace(b"100", b"999"), headers=headers
    )

    assert tampered.status_code == 401
    assert tampered.json() == {"error": ["EAPI:Invalid signature"]}


def test_query_changed_after_signing_is_401(paper: PaperExchange, user: str) -> None:
    target, _, headers = paper.signed_embed_request("/b2b/quotes/assets", {"user": user})

    response = paper.embed_http.get(target + "&tradable=true", headers=headers)

    assert response.status_code == 401
    assert response.json() == {"error": ["EAPI:Invalid signature"]}


def test_replayed_or_lower_nonce_is_401(paper: PaperExchange, user: str) -> None:
    target, _, headers = paper.signed_embed_request("/b2b/quotes/assets", {"user": user})
    assert paper.embed_http.get(target, headers=headers).status_code == 200

    replay = paper.embed_http.get(target, headers=headers)
    lower = paper.embed("GET", "/b2b/quotes/assets", {"user": user}, nonce=1)

    assert replay.status_code == 401
    assert replay.json() == {"error": ["EAPI:Invalid nonce"]}
    assert lower.status_code == 401
    assert lower.json() == {"error": ["EAPI:Invalid nonce"]}


def test_unknown_key_is_401(paper: PaperExchange, user: str) -> None:
    target, _, headers = paper.signed_embed_request("/b2b/quotes/assets", {"user": user})
    headers["API-Key"] = "someone-else"

    response = paper.embed_http.get(target, headers=headers)

    assert response.status_code == 401
    assert response.json() == {"error": ["EAPI:Invalid key"]}


def test_kraken_version_header_is_accepted(paper: PaperExchange, user: str) -> None:
    target, _, headers = paper.signed_embed_request("/b2b/quotes/assets", {"user": user})

    response = paper.embed_http.get(target, headers={**headers, "Kraken-Version": "2025-04-15"})

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("kind", "status", "error"),
    [
        ("http_429", 429, "EPTL:User has too many quote executions in progress"),
        ("http_503", 503, "EPTL:Order cancelled. Try again."),
    ],
)
def test_refusal_faults_answer_their_status_and_the_quote_can_run_after(
    paper: PaperExchange, user: str, kind: str, status: int, error: str
) -> None:
    quote_id = _request_quote(paper, user, _spend_usd_for_btc())["quote_id"]
    paper.embed_fault(kind)

    refused = paper.embed("PUT", f"/b2b/quotes/{quote_id}")
    retried = paper.embed("PUT", f"/b2b/quotes/{quote_id}")

    assert refused.status_code == status
    assert refused.json() == {"error": [error]}
    assert retried.status_code == 200


@pytest.mark.parametrize(
    ("kind", "final"),
    [("execution_failed", "quote_execution_failed"), ("cancelled", "quote_cancelled")],
)
def test_settlement_faults_end_the_quote_and_refund(
    paper: PaperExchange, user: str, kind: str, final: str
) -> None:
    quote_id = _request_quote(paper, user, _spend_usd_for_btc())["quote_id"]
    paper.embed_fault(kind)

    accepted = paper.embed("PUT", f"/b2b/quotes/{quote_id}")
    ended = _wait_for_status(paper, quote_id, final)

    assert accepted.json()["result"]["status"] == "accepted"
    assert ended["status"] == final
    assert paper.embed_balances(user)["USD"] == "1000.00"
    assert paper.embed_balances(user)["BTC"] == "0.50000000"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"type": "buy"}, "type"),
        ({"amount": {"asset": "USD", "amount": "ten"}}, "amount.amount"),
        ({"amount": {"asset": "XYZ", "amount": "10"}}, "amount.asset"),
        ({"quote": {"asset": "NOPE"}}, "quote.asset"),
        ({"fee_bps": "-1"}, "fee_bps"),
        ({"spread_bps": 5}, "spread_bps"),
        ({"quote": {"asset": "DOGE"}}, "asset disabled"),
    ],
)
def test_bad_input_is_400_naming_the_field(
    paper: PaperExchange, user: str, change: dict[str, Any], field: str
) -> None:
    response = paper.embed(
        "POST", "/b2b/quotes", {"user": user}, {**_spend_usd_for_btc(), **change}
    )

    assert response.status_code == 400
    assert response.json() == {"error": [f"EGeneral:Invalid arguments:{field}"]}


def test_missing_or_unknown_user_and_unknown_quote(paper: PaperExchange, user: str) -> None:
    missing = paper.embed("POST", "/b2b/quotes", None, _spend_usd_for_btc())
    unknown = paper.embed("GET", "/b2b/quotes/assets", {"user": "AA99 NOBO DYHE RE01"})
    no_quote = paper.embed("GET", "/b2b/quotes/QNOSUCHQUOTE", {"user": user})
    no_route = paper.embed("GET", "/b2b/nothing", {"user": user})
    no_method = paper.embed("DELETE", "/b2b/quotes/QNOSUCHQUOTE", {"user": user})

    assert (missing.status_code, missing.json()) == (
        400,
        {"error": ["EGeneral:Invalid arguments:user"]},
    )
    assert (unknown.status_code, unknown.json()) == (404, {"error": ["ENexus:User not found"]})
    assert (no_quote.status_code, no_quote.json()) == (404, {"error": ["ENexus:Quote not found"]})
    assert (no_route.status_code, no_route.json()) == (404, {"error": ["EGeneral:Unknown Method"]})
    assert (no_method.status_code, no_method.json()) == (
        405,
        {"error": ["EGeneral:Unknown Method"]},
    )


def test_another_users_quote_is_not_found(paper: PaperExchange, user: str) -> None:
    quote_id = _request_quote(paper, user, _spend_usd_for_btc())["quote_id"]
    other = paper.embed_create_user({"USD": "1000"})

    response = paper.embed("PUT", f"/b2b/quotes/{quote_id}", {"user": other})

    assert (response.status_code, response.json()) == (404, {"error": ["ENexus:Quote not found"]})


def test_quote_limits(paper: PaperExchange, user: str) -> None:
    params = {"user": user, "base_asset": "BTC", "quote_asset": "USD", "type": "receive"}

    limits = paper.embed("GET", "/b2b/quotes/limits", params).json()["result"]
    disabled = paper.embed("GET", "/b2b/quotes/limits", {**params, "quote_asset": "ETH"})

    assert limits["asset"] == "BTC"
    assert (limits["minimum"], limits["maximum"], limits["precision"]) == (
        "0.00001000",
        "100.00000000",
        8,
    )
    assert disabled.status_code == 400
    assert disabled.json() == {"error": ["EGeneral:Invalid arguments:asset disabled"]}


def test_quote_follows_the_spot_price(paper: PaperExchange, user: str) -> None:
    paper.set_price("XBTUSD", "50000.0")
    try:
        quote = _request_quote(paper, user, {**_spend_usd_for_btc(), "spread_bps": "0"})
    finally:
        paper.set_price("XBTUSD", "65000.0")

    assert quote["unit_price"]["unit_price"] == "50000.00"
    assert quote["receive"]["total"] == "0.00198000"
