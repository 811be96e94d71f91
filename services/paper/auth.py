"""Authentication of private calls: ``API-Key``, ``API-Sign`` over the raw body, and the nonce.

The signature is checked against the exact bytes received and the request path, never a
re-serialised parse (kraken.md §1.4); the nonce string it covers is the body's own text.
"""

from __future__ import annotations

from services.common.kraken_auth import signature_matches
from services.paper.errors import INVALID_KEY, INVALID_NONCE, INVALID_SIGNATURE, KrakenError
from services.paper.nonces import NonceBook
from services.paper.params import Params


class Authenticator:
    """Verifies the one paper account's key pair; each accepted call consumes its nonce."""

    def __init__(self, api_key: str, secret_b64: str, nonces: NonceBook) -> None:
        self._api_key = api_key
        self._secret = secret_b64
        self._nonces = nonces

    def verify(
        self, path: str, api_key: str | None, api_sign: str | None, body: bytes, params: Params
    ) -> None:
        """Raise Kraken's error for a bad key, signature or nonce; return when the call may run."""
        if not api_key or api_key != self._api_key:
            raise KrakenError(INVALID_KEY)
        nonce_text = params.text("nonce")
        if nonce_text is None or not nonce_text.isdigit():
            raise KrakenError(INVALID_NONCE)
        if not api_sign or not signature_matches(path, nonce_text, body, self._secret, api_sign):
            raise KrakenError(INVALID_SIGNATURE)
        if not self._nonces.accept(api_key, int(nonce_text)):
            raise KrakenError(INVALID_NONCE)
