"""Identity tokens of design decision 5 (docs/identity.md): EdDSA JWTs minted and verified.

`TokenIssuer` mints (the local runner, tradectl, and each service for its own calls);
`TokenVerifier` checks issuer, signature, audience and expiry against trusted public keys.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "EdDSA"
DEFAULT_AUDIENCE = "trading-platform"
MAX_MINT_LIFETIME = 60
MAX_ACCEPTED_LIFETIME = 300
LEEWAY_SECONDS = 5
# Verified tokens kept, so a caller that reuses its token (a service, tradectl) pays for the
# signature check once per token rather than once per call.
VERIFIED_CACHE_SIZE = 4096


class IdentityError(Exception):
    """A token is missing, malformed, untrusted, expired or for another audience."""


@dataclass(frozen=True)
class Identity:
    """Who is calling: the verified claims of a token."""

    issuer: str
    subject: str
    groups: frozenset[str]
    request_id: str | None

    @property
    def is_service(self) -> bool:
        return self.subject.startswith("service:")


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise IdentityError(f"{path} is not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise IdentityError(f"{path} is not an Ed25519 public key")
    return key


def write_key_pair(private_path: Path, public_path: Path) -> None:
    """Create an Ed25519 key pair as PEM files, the private one readable by its owner only."""
    key = Ed25519PrivateKey.generate()
    private_path.parent.mkdir(parents=True, exist_ok=True)
    private_path.touch(mode=0o600)
    private_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def parse_trusted_keys(spec: str) -> dict[str, Ed25519PublicKey]:
    """``issuer=/path.pem,issuer2=/path2.pem`` → public key per issuer name."""
    trusted: dict[str, Ed25519PublicKey] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        issuer, sep, path = item.partition("=")
        if not sep or not issuer or not path:
            raise ValueError(f"expected issuer=/path/to/key.pem, got {item!r}")
        try:
            trusted[issuer.strip()] = load_public_key(Path(path.strip()))
        except (OSError, ValueError, IdentityError) as exc:
            raise ValueError(f"cannot load the public key of issuer {issuer!r}: {exc}") from exc
    if not trusted:
        raise ValueError("names no issuer")
    return trusted


class TokenIssuer:
    """Mints short-lived tokens under one issuer name."""

    def __init__(
        self,
        issuer: str,
        private_key: Ed25519PrivateKey,
        audience: str = DEFAULT_AUDIENCE,
        lifetime: int = MAX_MINT_LIFETIME,
    ) -> None:
        if not 0 < lifetime <= MAX_MINT_LIFETIME:
            raise ValueError(f"lifetime must be 1..{MAX_MINT_LIFETIME} s, got {lifetime}")
        self.issuer = issuer
        self._key = private_key
        self.audience = audience
        self.lifetime = lifetime

    def __repr__(self) -> str:
        return f"TokenIssuer(issuer={self.issuer!r}, audience={self.audience!r})"

    def mint(
        self,
        subject: str,
        groups: Iterable[str],
        request_id: str | None = None,
        now: float | None = None,
    ) -> str:
        issued = int(time.time() if now is None else now)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.audience,
            "groups": sorted(set(groups)),
            "iat": issued,
            "exp": issued + self.lifetime,
            "jti": uuid.uuid4().hex,
        }
        if request_id:
            claims["rid"] = request_id
        return jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self.issuer})


class TokenVerifier:
    """Verifies tokens from the trusted issuers for one audience."""

    def __init__(
        self, trusted: Mapping[str, Ed25519PublicKey], audience: str = DEFAULT_AUDIENCE
    ) -> None:
        self._trusted = dict(trusted)
        self.audience = audience
        self._verified: OrderedDict[str, tuple[Identity, int]] = OrderedDict()

    @property
    def issuers(self) -> frozenset[str]:
        return frozenset(self._trusted)

    def verify(self, token: str) -> Identity:
        """The token's identity; a token seen before is answered from the cache until it expires."""
        cached = self._verified.get(token)
        if cached is not None:
            identity, expires = cached
            if time.time() <= expires + LEEWAY_SECONDS:
                self._verified.move_to_end(token)
                return identity
            del self._verified[token]
        identity, expires = self._verify_signed(token)
        self._verified[token] = (identity, expires)
        if len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return identity

    def _verify_signed(self, token: str) -> tuple[Identity, int]:
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise IdentityError("malformed token") from exc
        issuer = unverified.get("iss")
        key = self._trusted.get(issuer) if isinstance(issuer, str) else None
        if key is None or not isinstance(issuer, str):
            raise IdentityError(f"untrusted issuer {issuer!r}")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "sub", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise IdentityError("token expired") from exc
        except jwt.PyJWTError as exc:
            raise IdentityError(f"invalid token: {exc}") from exc
        if int(claims["exp"]) - int(claims["iat"]) > MAX_ACCEPTED_LIFETIME:
            raise IdentityError("token lifetime too long")
        groups = claims.get("groups")
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise IdentityError("groups claim missing or malformed")
        request_id = claims.get("rid")
        identity = Identity(
            issuer=issuer,
            subject=str(claims["sub"]),
            groups=frozenset(groups),
            request_id=request_id if isinstance(request_id, str) else None,
        )
        return identity, int(claims["exp"])
