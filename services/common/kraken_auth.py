"""Kraken's request signature: execution signs with it, the paper exchange verifies with it.

Spot REST and Embed use one formula (``kraken.md`` §1.2, §6.1):
``base64(HMAC-SHA512(base64decode(secret), path || SHA256(nonce || body)))``. Both sides work
on the exact bytes that travel: the body as sent, the path with its query string as sent.
Embed's webhooks carry their own signature, HMAC-SHA256 over the raw body (§6.5).
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def kraken_signature(uri_path: str, nonce: int | str, body: bytes, secret_b64: str) -> str:
    """``API-Sign`` for one request.

    ``uri_path`` is the path the server sees (``/0/private/AddOrder``, or for Embed
    ``/b2b/quotes?user=…`` with its query string); ``body`` is the raw body sent, empty for GET.
    """
    inner = hashlib.sha256(str(nonce).encode("ascii") + body).digest()
    mac = hmac.new(base64.b64decode(secret_b64), uri_path.encode("utf-8") + inner, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode("ascii")


def signature_matches(
    uri_path: str, nonce: int | str, body: bytes, secret_b64: str, api_sign: str
) -> bool:
    """Whether ``api_sign`` is the signature of this request, compared in constant time."""
    expected = kraken_signature(uri_path, nonce, body, secret_b64)
    return hmac.compare_digest(expected.encode("ascii"), api_sign.encode("ascii", "replace"))


def webhook_signature(secret_b64: str, timestamp: int, body: bytes) -> str:
    """The ``v1`` of an Embed webhook's ``X-Signature: t=<timestamp>,v1=<hex>`` (kraken.md §6.5).

    ``hex(HMAC-SHA256(base64decode(secret), f"{timestamp}." || body))`` over the raw body; a
    verifier compares it with ``hmac.compare_digest``.
    """
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(base64.b64decode(secret_b64), message, hashlib.sha256).hexdigest()
