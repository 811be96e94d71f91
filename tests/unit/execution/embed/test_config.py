"""Embed secrets: optional as a pair, never half a pair, never shown."""

from __future__ import annotations

import base64

import pytest

from services.execution.embed.config import EmbedSecrets
from services.execution.kraken.errors import ConfigurationError

SECRET = base64.b64encode(b"s" * 64).decode()


def test_no_embed_key_means_embed_is_off() -> None:
    secrets = EmbedSecrets.from_env({})
    assert secrets.credentials is None
    assert secrets.webhook_secret is None


def test_a_secret_without_its_key_is_refused_naming_the_key() -> None:
    with pytest.raises(ConfigurationError, match="KRAKEN_EMBED_API_KEY"):
        EmbedSecrets.from_env({"KRAKEN_EMBED_API_SECRET": SECRET})


def test_webhook_secret_must_be_base64() -> None:
    with pytest.raises(ConfigurationError, match="KRAKEN_EMBED_WEBHOOK_SECRET"):
        EmbedSecrets.from_env({"KRAKEN_EMBED_WEBHOOK_SECRET": "not base64!"})


def test_repr_shows_no_secret() -> None:
    secrets = EmbedSecrets.from_env(
        {
            "KRAKEN_EMBED_API_KEY": "embed-key-value",
            "KRAKEN_EMBED_API_SECRET": SECRET,
            "KRAKEN_EMBED_WEBHOOK_SECRET": SECRET,
        }
    )
    shown = repr(secrets)
    assert "embed-key-value" not in shown
    assert SECRET not in shown
