"""Golden vectors for Embed: the request signature (kraken.md §6.1) and the webhook's (§6.5)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from services.common.kraken_auth import kraken_signature, signature_matches, webhook_signature
from services.paper.embed.webhooks import signature_header

DOCS_SECRET = (
    "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
)
# The POST below signed by hand with the guide's steps (kraken.md §6.1), once, and written down.
POST_VECTOR = (
    "X5ZrfmjivT5Mcp62uICBaFAniDjAgtxhjKmnPNMbCtyPrON6kiTQQ8F4TN9Akqcwdesx9jOYKfj6HC1OAkOvnA=="
)
WEBHOOK_SECRET = "dGVzdC1zZWNyZXQtcGxlYXNlLWlnbm9yZQ=="
WEBHOOK_TEST_BODY = (
    b'{"event_type":"webhook.test","message":"This is a test webhook event to verify your '
    b'endpoint configuration."}'
)


def test_embed_get_vector_from_the_reference() -> None:
    signature = kraken_signature(
        "/b2b/quotes/assets?user=AA00TESTEXAMPLE1", 1616492376594, b"", DOCS_SECRET
    )

    assert signature == (
        "3ZO7Y1Wwk7h0YGyzeHit+8lcVJ0HFCSlS+Dwz7Ouo5T9xZhXjZ7AMDPnUj5ccSo6rfTJXz0qXvgvtPymVf9QoA=="
    )


def test_embed_post_with_json_body_matches_the_documented_algorithm() -> None:
    path = "/b2b/quotes?user=AA00%20PAPE%20RUSE%20R001"
    nonce = "1616492376594"
    body = json.dumps(
        {
            "type": "spend",
            "amount": {"asset": "USD", "amount": "100", "asset_class": "currency"},
            "quote": {"asset": "BTC"},
            "fee_bps": "100",
            "spread_bps": "50",
        }
    ).encode("utf-8")
    # The guide's steps, by hand: SHA256(nonce + JSON body), prefixed with the path and query,
    # HMAC-SHA512 under the base64-decoded secret, base64.
    digest = hashlib.sha256(nonce.encode("ascii") + body).digest()
    mac = hmac.new(base64.b64decode(DOCS_SECRET), path.encode("ascii") + digest, hashlib.sha512)
    expected = base64.b64encode(mac.digest()).decode("ascii")

    # Pinned, so a change to the hand computation above cannot pass unnoticed either.
    assert expected == POST_VECTOR
    assert kraken_signature(path, nonce, body, DOCS_SECRET) == expected
    assert signature_matches(path, nonce, body, DOCS_SECRET, expected)
    assert not signature_matches(path.replace("%20", "+"), nonce, body, DOCS_SECRET, expected)


def test_webhook_vector_from_the_reference() -> None:
    assert webhook_signature(WEBHOOK_SECRET, 1734567890, WEBHOOK_TEST_BODY) == (
        "1ef668d4f2ef42f82d076fcdd4b6320d5d956df364588a36a00d1e3027744654"
    )


def test_webhook_header_carries_timestamp_and_v1() -> None:
    assert signature_header(WEBHOOK_SECRET, 1734567890, WEBHOOK_TEST_BODY) == (
        "t=1734567890,v1=1ef668d4f2ef42f82d076fcdd4b6320d5d956df364588a36a00d1e3027744654"
    )


def test_webhook_signature_changes_with_the_timestamp() -> None:
    assert webhook_signature(WEBHOOK_SECRET, 1734567891, WEBHOOK_TEST_BODY) != (
        webhook_signature(WEBHOOK_SECRET, 1734567890, WEBHOOK_TEST_BODY)
    )
