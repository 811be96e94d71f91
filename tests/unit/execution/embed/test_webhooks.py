"""Webhook signatures (kraken.md §6.5): the documented vector verifies; forged or stale do not."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from services.common.kraken_auth import webhook_signature
from services.execution.embed.webhooks import SignatureRefused, verify_signature

DOCS_SECRET = SecretStr("dGVzdC1zZWNyZXQtcGxlYXNlLWlnbm9yZQ==")
DOCS_BODY = (
    b'{"event_type":"webhook.test","message":"This is a test webhook event to verify your '
    b'endpoint configuration."}'
)
DOCS_T = 1734567890
DOCS_V1 = "1ef668d4f2ef42f82d076fcdd4b6320d5d956df364588a36a00d1e3027744654"


def test_documented_vector_verifies() -> None:
    header = f"t={DOCS_T},v1={DOCS_V1}"
    assert (
        verify_signature(header, DOCS_BODY, DOCS_SECRET, tolerance=300, now=DOCS_T + 10) == DOCS_T
    )


def test_one_of_several_v1_values_may_match() -> None:
    header = f"t={DOCS_T},v1={'0' * 64},v1={DOCS_V1}"
    assert verify_signature(header, DOCS_BODY, DOCS_SECRET, tolerance=300, now=DOCS_T)


def test_changed_body_is_refused() -> None:
    header = f"t={DOCS_T},v1={DOCS_V1}"
    with pytest.raises(SignatureRefused, match="does not match"):
        verify_signature(header, DOCS_BODY + b" ", DOCS_SECRET, tolerance=300, now=DOCS_T)


def test_other_secret_is_refused() -> None:
    forged = webhook_signature("b3RoZXItc2VjcmV0", DOCS_T, DOCS_BODY)
    with pytest.raises(SignatureRefused, match="does not match"):
        verify_signature(
            f"t={DOCS_T},v1={forged}", DOCS_BODY, DOCS_SECRET, tolerance=300, now=DOCS_T
        )


@pytest.mark.parametrize("offset", [-301, 301])
def test_timestamp_outside_window_is_refused(offset: int) -> None:
    header = f"t={DOCS_T},v1={DOCS_V1}"
    with pytest.raises(SignatureRefused, match="window"):
        verify_signature(header, DOCS_BODY, DOCS_SECRET, tolerance=300, now=DOCS_T + offset)


@pytest.mark.parametrize("header", [None, "", "v1=abc", f"t={DOCS_T}", "t=x,v1=abc"])
def test_malformed_header_is_refused(header: str | None) -> None:
    with pytest.raises(SignatureRefused):
        verify_signature(header, DOCS_BODY, DOCS_SECRET, tolerance=300, now=DOCS_T)
