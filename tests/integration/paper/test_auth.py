"""Signed private calls against the real process: signature, key and nonce checks."""

from __future__ import annotations

import pytest

from tests.support.paper_exchange import PaperExchange


def test_signed_form_call_returns_the_balance(paper: PaperExchange) -> None:
    envelope = paper.private("Balance")

    assert envelope["error"] == []
    assert envelope["result"]["ZUSD"] == "100000.0000"
    assert envelope["result"]["XXBT"] == "2.0000000000"


def test_signed_json_body_call_is_verified(paper: PaperExchange) -> None:
    envelope = paper.private("BalanceEx", json_body=True)

    assert envelope["error"] == []
    assert set(envelope["result"]["ZUSD"]) >= {"balance", "hold_trade"}


def test_bad_signature_is_refused_with_krakens_error(paper: PaperExchange) -> None:
    path, body, headers = paper.signed_request("Balance")
    headers["API-Sign"] = headers["API-Sign"][::-1]

    response = paper.http.post(path, content=body, headers=headers)

    assert response.json() == {"error": ["EAPI:Invalid signature"], "result": {}}


def test_body_changed_after_signing_is_refused(paper: PaperExchange) -> None:
    path, body, headers = paper.signed_request("OpenOrders", {"trades": "false"})

    response = paper.http.post(path, content=body.replace(b"false", b"true"), headers=headers)

    assert response.json()["error"] == ["EAPI:Invalid signature"]


def test_unknown_key_is_refused(paper: PaperExchange) -> None:
    path, body, headers = paper.signed_request("Balance")
    headers["API-Key"] = "someone-else"

    assert paper.http.post(path, content=body, headers=headers).json()["error"] == [
        "EAPI:Invalid key"
    ]


def test_replayed_nonce_is_refused_and_counted(paper: PaperExchange) -> None:
    before = paper.stats()["summary"]["nonce_rejections"]
    path, body, headers = paper.signed_request("Balance")
    first = paper.http.post(path, content=body, headers=headers).json()

    replay = paper.http.post(path, content=body, headers=headers).json()

    assert first["error"] == []
    assert replay == {"error": ["EAPI:Invalid nonce"], "result": {}}
    assert paper.stats()["summary"]["nonce_rejections"] == before + 1


def test_lower_nonce_is_refused_without_a_window(paper: PaperExchange) -> None:
    nonce = paper.next_nonce()
    assert paper.private("Balance", nonce=nonce + 1000)["error"] == []

    assert paper.private("Balance", nonce=nonce)["error"] == ["EAPI:Invalid nonce"]


def test_nonce_window_tolerates_a_late_nonce_but_not_a_replay() -> None:
    with PaperExchange(nonce_window=10_000) as paper:
        nonce = paper.next_nonce()
        assert paper.private("Balance", nonce=nonce + 5_000)["error"] == []

        late = paper.private("Balance", nonce=nonce)
        replay = paper.private("Balance", nonce=nonce)
        too_late = paper.private("Balance", nonce=nonce - 20_000)

    assert late["error"] == []
    assert replay["error"] == ["EAPI:Invalid nonce"]
    assert too_late["error"] == ["EAPI:Invalid nonce"]


@pytest.mark.parametrize("endpoint", ["Nope", "addorder"])
def test_unknown_private_method(paper: PaperExchange, endpoint: str) -> None:
    assert paper.private(endpoint)["error"] == ["EGeneral:Unknown Method"]


def test_rest_counter_limits_a_starter_key() -> None:
    with PaperExchange(tier="starter") as paper:
        errors = [paper.private("Balance")["error"] for _ in range(17)]
        stats = paper.stats()

    assert errors[:15] == [[]] * 15
    assert ["EAPI:Rate limit exceeded"] in errors[15:]
    assert stats["summary"]["rest_rate_limited"] >= 1
