"""A limits file that breaks the schema stops the start with one line naming line and field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.risk.conftest import TEST_LIMITS
from tests.support.ports import free_port
from tests.support.services import ROOT, Keys, service_env

pytestmark = pytest.mark.integration


def start_risk(keys: Keys, limits_file: Path) -> subprocess.CompletedProcess[str]:
    env = service_env(keys, free_port(), {"RISK_LIMITS_FILE": str(limits_file)})
    return subprocess.run(
        [sys.executable, "-m", "services.risk"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_bad_limits_file_stops_the_start_naming_line_and_field(keys: Keys, tmp_path: Path) -> None:
    bad = tmp_path / "limits.yaml"
    bad.write_text(TEST_LIMITS.replace('BTC: "7.3"', 'BTC: "lots"'))

    result = start_risk(keys, bad)

    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("configuration error: RISK_LIMITS_FILE: limits file")
    assert ", line 11: max_position.BTC: 'lots' is not a plain decimal number" in lines[0]


def test_missing_limits_file_is_named(keys: Keys, tmp_path: Path) -> None:
    result = start_risk(keys, tmp_path / "absent.yaml")

    assert result.returncode != 0
    assert "absent.yaml: cannot read" in result.stderr


def test_shipped_example_limits_start_the_service(keys: Keys) -> None:
    from services.risk.config import EXAMPLE_LIMITS
    from services.risk.limits_file import load_limits_file

    limits = load_limits_file(EXAMPLE_LIMITS)

    assert "BTC/USD" in limits.allowed_pairs
