"""Credentials: loaded from env or files, masked in every repr, never in an error message."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest

from services.execution.kraken.credentials import KrakenCredentials
from services.execution.kraken.errors import ConfigurationError, KrakenError

API_KEY = "pub-KEY-visible-nowhere-123"
SECRET = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="


def test_repr_and_str_are_masked() -> None:
    credentials = KrakenCredentials.of(API_KEY, SECRET)

    for text in (repr(credentials), str(credentials), f"{credentials}", repr([credentials])):
        assert API_KEY not in text
        assert SECRET not in text
        assert SECRET[:12] not in text
        assert "**********" in text


def test_key_id_is_a_short_non_secret_hash() -> None:
    credentials = KrakenCredentials.of(API_KEY, SECRET)

    assert credentials.key_id == hashlib.sha256(API_KEY.encode()).hexdigest()[:8]
    assert credentials.key_id not in API_KEY


def test_loading_from_environment() -> None:
    credentials = KrakenCredentials.from_env(
        {"KRAKEN_API_KEY": API_KEY, "KRAKEN_API_SECRET": SECRET}
    )

    assert credentials.api_key.get_secret_value() == API_KEY
    assert credentials.api_secret.get_secret_value() == SECRET


def test_loading_from_files_strips_the_trailing_newline(tmp_path: Path) -> None:
    (tmp_path / "key").write_text(API_KEY + "\n")
    (tmp_path / "secret").write_text(SECRET + "\n")

    credentials = KrakenCredentials.from_env(
        {
            "KRAKEN_API_KEY_FILE": str(tmp_path / "key"),
            "KRAKEN_API_SECRET_FILE": str(tmp_path / "secret"),
        }
    )

    assert credentials.api_secret.get_secret_value() == SECRET


@pytest.mark.parametrize(
    ("environ", "names"),
    [
        ({"KRAKEN_API_SECRET": SECRET}, "KRAKEN_API_KEY"),
        ({"KRAKEN_API_KEY": API_KEY}, "KRAKEN_API_SECRET"),
        (
            {"KRAKEN_API_KEY": API_KEY, "KRAKEN_API_KEY_FILE": "/x", "KRAKEN_API_SECRET": SECRET},
            "KRAKEN_API_KEY_FILE",
        ),
        (
            {"KRAKEN_API_KEY": API_KEY, "KRAKEN_API_SECRET_FILE": "/nonexistent/secret"},
            "KRAKEN_API_SECRET_FILE",
        ),
    ],
)
def test_missing_or_ambiguous_variables_are_named(environ: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigurationError, match=names) as caught:
        KrakenCredentials.from_env(environ)

    assert API_KEY not in str(caught.value)
    assert SECRET not in str(caught.value)


def test_a_malformed_secret_is_refused_without_quoting_it() -> None:
    bad_secret = "not-base64-$$$-" + SECRET[:20]

    with pytest.raises(KrakenError) as caught:
        KrakenCredentials.of(API_KEY, bad_secret)

    assert bad_secret not in str(caught.value)
    assert SECRET[:20] not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_logging_the_credentials_shows_the_mask_only(caplog: pytest.LogCaptureFixture) -> None:
    credentials = KrakenCredentials.of(API_KEY, SECRET)

    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("loaded %s", credentials, extra={"creds": credentials})

    assert API_KEY not in caplog.text
    assert SECRET not in caplog.text
    assert API_KEY not in repr(caplog.records[0].__dict__)


def test_headers_sign_with_the_secret() -> None:
    credentials = KrakenCredentials.of(API_KEY, SECRET)
    body = b"nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"

    headers = credentials.headers("/0/private/AddOrder", 1616492376594, body)

    assert headers["API-Key"] == API_KEY
    assert headers["API-Sign"] == (
        "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="
    )
