"""Service settings fail fast with one line naming the variable."""

from __future__ import annotations

import pytest

from services.common.config import ServiceSettings, load_settings
from services.common.event_loop import EventLoop


class ExampleSettings(ServiceSettings):
    grpc_listen_addr: str = "127.0.0.1:50099"
    metrics_port: int = 0


def test_defaults_and_environment_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_TRUSTED_KEYS", "local=/tmp/x.pem")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    settings = load_settings(ExampleSettings)
    assert settings.log_level == "DEBUG"
    assert settings.grpc_listen_addr == "127.0.0.1:50099"
    assert settings.event_loop is EventLoop.UVLOOP


def test_missing_required_variable_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("IDENTITY_TRUSTED_KEYS", raising=False)
    with pytest.raises(SystemExit) as stopped:
        load_settings(ExampleSettings)
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == "configuration error: IDENTITY_TRUSTED_KEYS is required but not set"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("GRPC_LISTEN_ADDR", "nonsense"),
        ("GRPC_LISTEN_ADDR", "127.0.0.1:99999"),
        ("METRICS_PORT", "eighty"),
        ("LOG_LEVEL", "LOUD"),
        ("REDIS_URL", "http://127.0.0.1:6379"),
        ("GRPC_SHUTDOWN_GRACE", "-1"),
        ("EVENT_LOOP", "trio"),
    ],
)
def test_malformed_variable_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], variable: str, value: str
) -> None:
    monkeypatch.setenv("IDENTITY_TRUSTED_KEYS", "local=/tmp/x.pem")
    monkeypatch.setenv(variable, value)
    with pytest.raises(SystemExit):
        load_settings(ExampleSettings)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"configuration error: {variable} is malformed")


def test_settings_are_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_TRUSTED_KEYS", "local=/tmp/x.pem")
    settings = load_settings(ExampleSettings)
    with pytest.raises(ValueError, match="frozen"):
        settings.log_level = "ERROR"  # type: ignore[misc]
