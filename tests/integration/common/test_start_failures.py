"""A service started with a missing or malformed variable exits non-zero with one line naming it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.ports import free_port
from tests.support.services import ROOT, Keys, service_env

pytestmark = pytest.mark.integration


def start(module: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize("module", ["services.execution", "services.risk", "services.signal"])
def test_missing_trusted_keys_is_named(module: str, keys: Keys) -> None:
    env = service_env(keys, free_port())
    del env["IDENTITY_TRUSTED_KEYS"]
    result = start(module, env)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "configuration error: IDENTITY_TRUSTED_KEYS is required but not set"
    ]


@pytest.mark.parametrize(
    ("variable", "value"),
    [("GRPC_LISTEN_ADDR", "no-port-here"), ("METRICS_PORT", "lots"), ("LOG_LEVEL", "chatty")],
)
def test_malformed_variable_is_named(variable: str, value: str, keys: Keys) -> None:
    env = service_env(keys, free_port(), {variable: value})
    result = start("services.risk", env)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"configuration error: {variable} is malformed")


def test_unreadable_trusted_key_is_named(keys: Keys, tmp_path: Path) -> None:
    env = service_env(keys, free_port(), {"IDENTITY_TRUSTED_KEYS": f"kong={tmp_path}/absent.pem"})
    result = start("services.risk", env)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("configuration error: IDENTITY_TRUSTED_KEYS is malformed")
