"""`tradectl risk …` against a running risk service, signed with the local issuer key."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.support.services import Keys, RunningService
from tradectl.main import main

pytestmark = pytest.mark.integration

Tradectl = Callable[..., str]


@pytest.fixture
def tradectl(
    risk: RunningService,
    keys: Keys,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Tradectl:
    monkeypatch.setenv("TRADECTL_RISK_TARGET", risk.target)

    def call(*argv: str, groups: tuple[str, ...] = ("risk-officers",)) -> str:
        group_args = [arg for g in groups for arg in ("--group", g)]
        code = main(
            [
                "--key-file",
                str(keys.folder / "local.pem"),
                "--user",
                "officer-7",
                *group_args,
                *argv,
            ]
        )
        assert code == 0
        return capsys.readouterr().out

    return call


def test_halt_then_resume_a_team(redis_url: str, tradectl: Tradectl) -> None:
    halted = tradectl("risk", "halt", "--reason", "fat finger", "--team", "desk-a")
    state = json.loads(tradectl("--json", "risk", "kill-switch"))
    resumed = tradectl("risk", "resume", "--reason", "fixed", "--team", "desk-a")

    assert "ENGAGED" in halted
    assert "fat finger" in halted
    assert state["teams"][0]["team"] == "desk-a"
    assert state["teams"][0]["engaged"] is True
    assert "released" in resumed


def test_limits_and_exposure_tables(redis_url: str, tradectl: Tradectl) -> None:
    limits = tradectl("risk", "limits")
    exposure = tradectl("risk", "exposure")

    assert limits.startswith("version 1")
    assert "max_position.BTC" in limits
    assert "7.3" in limits
    assert "ASSET" in exposure


def test_a_trader_cannot_halt(redis_url: str, tradectl: Tradectl) -> None:
    with pytest.raises(SystemExit) as failed:
        tradectl("risk", "halt", "--reason", "x", groups=("traders",))
    assert "PERMISSION_DENIED" in str(failed.value)
