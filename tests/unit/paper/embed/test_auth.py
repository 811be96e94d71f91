"""Embed authentication: key, signature over the raw target and body, and strictly rising nonces."""

from __future__ import annotations

from typing import Any

import pytest

from services.common.kraken_auth import kraken_signature
from services.paper.embed.auth import EmbedAuthenticator
from services.paper.embed.errors import EmbedError

SECRET = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
TARGET = "/b2b/quotes?user=AA00%20PAPE%20RUSE%20R001"
BODY = b'{"type": "spend"}'


def _verify(
    auth: EmbedAuthenticator,
    nonce: str,
    *,
    key: str | None = "embed-key",
    target: str = TARGET,
    body: bytes = BODY,
    sign: str | None = None,
) -> None:
    auth.verify(
        target,
        body,
        api_key=key,
        api_sign=sign if sign is not None else kraken_signature(TARGET, nonce, BODY, SECRET),
        api_nonce=nonce,
    )


@pytest.fixture
def auth() -> EmbedAuthenticator:
    return EmbedAuthenticator("embed-key", SECRET)


def test_a_signed_call_passes(auth: EmbedAuthenticator) -> None:
    _verify(auth, "1000")


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"key": None}, "EAPI:Invalid key"),
        ({"key": "other"}, "EAPI:Invalid key"),
        ({"target": "/b2b/quotes?user=AA00+PAPE+RUSE+R001"}, "EAPI:Invalid signature"),
        ({"body": BODY + b" "}, "EAPI:Invalid signature"),
        ({"sign": "bm90IGl0"}, "EAPI:Invalid signature"),
    ],
)
def test_refusals_are_401_with_krakens_strings(
    auth: EmbedAuthenticator, changes: dict[str, Any], error: str
) -> None:
    with pytest.raises(EmbedError) as caught:
        _verify(auth, "1000", **changes)

    assert (caught.value.status, caught.value.text) == (401, error)


@pytest.mark.parametrize("nonce", ["", "abc", "-5", "\uff11\uff12"])
def test_a_malformed_nonce_is_refused(auth: EmbedAuthenticator, nonce: str) -> None:
    with pytest.raises(EmbedError, match="EAPI:Invalid nonce"):
        _verify(auth, nonce, sign="bm90IGl0")


def test_a_repeated_or_lower_nonce_is_refused(auth: EmbedAuthenticator) -> None:
    _verify(auth, "1000")

    with pytest.raises(EmbedError, match="EAPI:Invalid nonce"):
        _verify(auth, "1000")
    with pytest.raises(EmbedError, match="EAPI:Invalid nonce"):
        _verify(auth, "999")
    _verify(auth, "1001")
