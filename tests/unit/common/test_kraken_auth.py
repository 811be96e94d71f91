"""Golden vectors for Kraken's signature (kraken.md §1.3, §1.4, §6.1)."""

from __future__ import annotations

from services.common.kraken_auth import kraken_signature, signature_matches

DOCS_SECRET = (
    "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
)


def test_official_docs_example_is_reproduced_exactly() -> None:
    body = b"nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
    signature = kraken_signature("/0/private/AddOrder", 1616492376594, body, DOCS_SECRET)
    assert signature == (
        "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="
    )


def test_kraken_sdk_vector_is_reproduced_exactly() -> None:
    secret = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
    signature = kraken_signature(
        "/0/private/Balance", 1700000000000000000, b"nonce=1700000000000000000", secret
    )
    assert signature == (
        "6i7+cpXVLDDnDOekgsRcgFQhkYFyPDSSxhSVA8OrA6vjziXcy2K1DP3n7f9B/Kgni71WjBSQusZKxduRsdF20Q=="
    )


def test_json_body_vector() -> None:
    body = (
        b'{"nonce":1616492376594,"ordertype":"limit","pair":"XBTUSD",'
        b'"price":"37500","type":"buy","volume":"1.25"}'
    )
    signature = kraken_signature("/0/private/AddOrder", "1616492376594", body, DOCS_SECRET)
    assert signature == (
        "kMkTQfyYJH05IdnWQ9TIqL9Kq+dKqcD5O/TGPPLRwwy1is/YvqEYtMAHf7tXsqwfbLwp7pbzJzWHxzKPnL8rfA=="
    )


def test_embed_get_with_query_string() -> None:
    signature = kraken_signature(
        "/b2b/quotes/assets?user=AA00TESTEXAMPLE1", 1616492376594, b"", DOCS_SECRET
    )
    assert signature == (
        "3ZO7Y1Wwk7h0YGyzeHit+8lcVJ0HFCSlS+Dwz7Ouo5T9xZhXjZ7AMDPnUj5ccSo6rfTJXz0qXvgvtPymVf9QoA=="
    )


def test_a_changed_body_byte_does_not_match() -> None:
    body = b"nonce=1&pair=XBTUSD"
    good = kraken_signature("/0/private/Balance", 1, body, DOCS_SECRET)
    assert signature_matches("/0/private/Balance", 1, body, DOCS_SECRET, good)
    assert not signature_matches("/0/private/Balance", 1, body + b" ", DOCS_SECRET, good)
    assert not signature_matches("/0/private/Balance", 2, body, DOCS_SECRET, good)
