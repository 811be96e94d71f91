"""Minting and verifying identity tokens (docs/identity.md)."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.common.identity import (
    IdentityError,
    TokenIssuer,
    TokenVerifier,
    load_private_key,
    parse_trusted_keys,
    write_key_pair,
)


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def verifier_for(issuer: str, key: Ed25519PrivateKey) -> TokenVerifier:
    return TokenVerifier({issuer: key.public_key()})


def test_a_minted_token_verifies_with_its_claims(key: Ed25519PrivateKey) -> None:
    token = TokenIssuer("kong", key).mint("desk-a", ["traders", "admins"], request_id="rid-1")
    identity = verifier_for("kong", key).verify(token)
    assert identity.issuer == "kong"
    assert identity.subject == "desk-a"
    assert identity.groups == frozenset({"traders", "admins"})
    assert identity.request_id == "rid-1"
    assert jwt.get_unverified_header(token)["alg"] == "EdDSA"


def test_an_expired_token_is_refused(key: Ed25519PrivateKey) -> None:
    token = TokenIssuer("kong", key, lifetime=10).mint("desk-a", ["traders"], now=time.time() - 60)
    with pytest.raises(IdentityError, match="expired"):
        verifier_for("kong", key).verify(token)


def test_an_untrusted_issuer_is_refused(key: Ed25519PrivateKey) -> None:
    token = TokenIssuer("mallory", key).mint("desk-a", ["traders"])
    with pytest.raises(IdentityError, match="untrusted issuer"):
        verifier_for("kong", key).verify(token)


def test_a_trusted_name_with_another_key_is_refused(key: Ed25519PrivateKey) -> None:
    forged = TokenIssuer("kong", Ed25519PrivateKey.generate()).mint("desk-a", ["admins"])
    with pytest.raises(IdentityError, match="invalid token"):
        verifier_for("kong", key).verify(forged)


def test_another_audience_is_refused(key: Ed25519PrivateKey) -> None:
    token = TokenIssuer("kong", key, audience="elsewhere").mint("desk-a", ["traders"])
    with pytest.raises(IdentityError, match="invalid token"):
        verifier_for("kong", key).verify(token)


def test_a_hand_made_long_lived_token_is_refused(key: Ed25519PrivateKey) -> None:
    now = int(time.time())
    claims = {
        "iss": "kong",
        "sub": "x",
        "aud": "trading-platform",
        "groups": [],
        "iat": now,
        "exp": now + 3600,
    }
    token = jwt.encode(claims, key, algorithm="EdDSA")
    with pytest.raises(IdentityError, match="lifetime"):
        verifier_for("kong", key).verify(token)


def test_garbage_is_malformed(key: Ed25519PrivateKey) -> None:
    with pytest.raises(IdentityError, match="malformed"):
        verifier_for("kong", key).verify("not-a-jwt")


def test_issuer_lifetime_is_capped(key: Ed25519PrivateKey) -> None:
    with pytest.raises(ValueError, match="lifetime"):
        TokenIssuer("kong", key, lifetime=3600)


def test_key_files_round_trip_and_trusted_keys_parse(tmp_path: Path) -> None:
    write_key_pair(tmp_path / "local.pem", tmp_path / "local.pub.pem")
    assert (tmp_path / "local.pem").stat().st_mode & 0o077 == 0
    issuer = TokenIssuer("local", load_private_key(tmp_path / "local.pem"))
    trusted = parse_trusted_keys(f"local={tmp_path / 'local.pub.pem'}")
    assert TokenVerifier(trusted).verify(issuer.mint("me", ["traders"])).subject == "me"


@pytest.mark.parametrize("spec", ["", "local", "local=", "local=/no/such/file.pem"])
def test_bad_trusted_key_specs_name_the_problem(spec: str) -> None:
    with pytest.raises(ValueError, match=r"issuer|names no issuer"):
        parse_trusted_keys(spec)


def test_a_cached_token_is_still_refused_once_expired(key: Ed25519PrivateKey) -> None:
    verifier = verifier_for("kong", key)
    # Expired 4 to 5 s ago: still inside the 5 s leeway, for about a second more.
    token = TokenIssuer("kong", key, lifetime=10).mint("desk-a", ["traders"], now=time.time() - 14)
    assert verifier.verify(token).subject == "desk-a"
    time.sleep(1.2)
    with pytest.raises(IdentityError, match="expired"):
        verifier.verify(token)


def test_a_refused_token_is_never_cached(key: Ed25519PrivateKey) -> None:
    verifier = verifier_for("kong", key)
    forged = TokenIssuer("kong", Ed25519PrivateKey.generate()).mint("desk-a", ["admins"])
    for _ in range(2):
        with pytest.raises(IdentityError):
            verifier.verify(forged)
