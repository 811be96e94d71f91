"""Outgoing call metadata: a cached bearer token and the request id."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.common.calls import CallerCredentials
from services.common.context import request_id_var
from services.common.identity import TokenIssuer, TokenVerifier


def test_metadata_carries_a_verifiable_token_and_the_current_request_id() -> None:
    key = Ed25519PrivateKey.generate()
    credentials = CallerCredentials(
        TokenIssuer("execution", key), "service:execution", ["services"]
    )
    reset = request_id_var.set("rid-7")
    try:
        metadata = dict(credentials.metadata())
    finally:
        request_id_var.reset(reset)
    assert metadata["x-request-id"] == "rid-7"
    scheme, token = metadata["authorization"].split(" ")
    assert scheme == "Bearer"
    identity = TokenVerifier({"execution": key.public_key()}).verify(token)
    assert identity.subject == "service:execution"
    assert identity.is_service
    assert identity.groups == {"services"}


def test_token_is_reused_until_near_expiry_and_repr_hides_it() -> None:
    credentials = CallerCredentials(
        TokenIssuer("signal", Ed25519PrivateKey.generate()), "service:signal", ["services"]
    )
    first = credentials.token()
    assert credentials.token() == first
    assert first not in repr(credentials)
