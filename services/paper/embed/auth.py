"""Authentication of each ``/b2b/`` call: ``API-Key``, ``API-Nonce``, ``API-Sign`` (kraken.md §6.1).

The signature is Spot's formula with the nonce from its header: the path signed is the raw
request target (path, then ``?`` and the query string exactly as received) and the body is the
raw bytes received, empty for GET. Nonces must rise strictly per key. Each refusal is HTTP 401
with Spot's string: ``EAPI:Invalid key``, ``EAPI:Invalid signature``, ``EAPI:Invalid nonce``.
"""

from __future__ import annotations

from services.common.kraken_auth import signature_matches
from services.paper.embed.errors import unauthorized
from services.paper.errors import INVALID_KEY, INVALID_NONCE, INVALID_SIGNATURE
from services.paper.nonces import NonceBook


class EmbedAuthenticator:
    """Verifies the Embed key pair; each accepted call consumes its nonce."""

    def __init__(self, api_key: str, secret_b64: str) -> None:
        self._api_key = api_key
        self._secret = secret_b64
        self._nonces = NonceBook(window=0)

    def verify(
        self,
        signed_path: str,
        body: bytes,
        *,
        api_key: str | None,
        api_sign: str | None,
        api_nonce: str | None,
    ) -> None:
        """Raise the 401 for a bad key, nonce or signature; return when the call may run."""
        if not api_key or api_key != self._api_key:
            raise unauthorized(INVALID_KEY)
        if api_nonce is None or not (api_nonce.isascii() and api_nonce.isdigit()):
            raise unauthorized(INVALID_NONCE)
        if not api_sign or not signature_matches(
            signed_path, api_nonce, body, self._secret, api_sign
        ):
            raise unauthorized(INVALID_SIGNATURE)
        if not self._nonces.accept(api_key, int(api_nonce)):
            raise unauthorized(INVALID_NONCE)
