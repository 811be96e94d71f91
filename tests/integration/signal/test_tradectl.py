"""`tradectl signal …` against a running signal service, signed with the local issuer key."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from services.common.identity import write_key_pair
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer
from tests.support.services import Keys, RunningService, running_service
from tradectl.main import main

pytestmark = pytest.mark.integration

Tradectl = Callable[..., str]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    folder = tmp_path_factory.mktemp("keys")
    write_key_pair(folder / "signal.pem", folder / "signal.pub.pem")
    return Keys.create(folder)


@pytest.fixture(scope="module")
def signal(
    keys: Keys, tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer
) -> Iterator[RunningService]:
    env = {
        "REDIS_URL": redis_server.url,
        "IDENTITY_SIGNING_KEY_FILE": str(keys.folder / "signal.pem"),
        "EXECUTION_TARGET": f"127.0.0.1:{free_port()}",
        "LOG_LEVEL": "WARNING",
    }
    log_dir: Path = tmp_path_factory.mktemp("logs")
    with running_service("services.signal", keys, log_dir, env) as service:
        yield service


@pytest.fixture
def tradectl(
    signal: RunningService,
    keys: Keys,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Tradectl:
    monkeypatch.setenv("TRADECTL_SIGNAL_TARGET", signal.target)

    def call(*argv: str, user: str = "desk-a", groups: tuple[str, ...] = ("traders",)) -> str:
        group_args = [arg for g in groups for arg in ("--group", g)]
        code = main(
            ["--key-file", str(keys.folder / "local.pem"), "--user", user, *group_args, *argv]
        )
        assert code == 0
        return capsys.readouterr().out

    return call


def test_rules_create_list_delete(tradectl: Tradectl) -> None:
    created = json.loads(
        tradectl(
            "--json",
            "signal",
            "create-rule",
            "ma-cross",
            "--name",
            "ema",
            "--pair",
            "BTC/USD",
            "--average",
            "ema",
            "--fast",
            "12",
            "--slow",
            "26",
            "--interval",
            "1h",
        )
    )["rule"]
    table = tradectl("signal", "rules")
    deleted = tradectl("signal", "delete-rule", created["id"])
    after = json.loads(tradectl("--json", "signal", "rules"))

    assert created["moving_average_cross"]["fast_period"] == 12
    assert created["id"] in table
    assert "moving_average_cross" in table
    assert "fast_period=12" in table
    assert deleted == f"rule {created['id']} deleted\n"
    assert "rules" not in after


def test_a_bad_rule_names_the_field(tradectl: Tradectl) -> None:
    with pytest.raises(SystemExit) as failed:
        tradectl(
            "signal",
            "create-rule",
            "rsi",
            "--name",
            "r",
            "--pair",
            "BTC/USD",
            "--interval",
            "4h",
            "--lower",
            "70",
            "--upper",
            "30",
        )

    assert str(failed.value) == (
        "tradectl signal create-rule: INVALID_ARGUMENT: rsi.upper: must be above lower (70)"
    )


def test_bindings_create_pause_resume_delete(tradectl: Tradectl) -> None:
    created = json.loads(
        tradectl(
            "--json",
            "signal",
            "create-binding",
            "--name",
            "follow",
            "--pair",
            "ETH/USD",
            "--source",
            "quant-momentum",
            "--quote-amount",
            "250",
            "--type",
            "limit",
            "--offset-bps",
            "15",
            "--side",
            "buy",
        )
    )["binding"]
    binding_id = created["id"]
    paused = tradectl(
        "signal",
        "pause",
        binding_id,
        "--reason",
        "review",
        groups=("risk-officers",),
        user="officer-1",
    )
    listed = tradectl("signal", "bindings", "--state", "paused")
    resumed = tradectl("signal", "resume", binding_id)
    tradectl("signal", "delete-binding", binding_id)

    assert created["state"] == "BINDING_STATE_ACTIVE"
    assert created["sizing"] == {"fixed_quote_amount": {"amount": "250"}}
    assert "PAUSED" in paused
    assert "review" in paused
    assert binding_id in listed
    assert "limit -15bps" in listed
    assert "ACTIVE" in resumed
    assert "bindings" not in json.loads(tradectl("--json", "signal", "bindings"))


def test_publish_then_watch_from_the_start(tradectl: Tradectl) -> None:
    publisher = {"user": "quant-1", "groups": ("signal-publishers",)}
    first = tradectl(
        "--json",
        "signal",
        "publish",
        "quant-momentum",
        "s-1",
        "buy",
        "BTC/USD",
        "--strength",
        "0.8",
        "--price",
        "64000",
        **publisher,
    )
    repeat = tradectl(
        "signal",
        "publish",
        "quant-momentum",
        "s-1",
        "buy",
        "BTC/USD",
        "--strength",
        "0.8",
        **publisher,
    )
    tradectl(
        "signal",
        "publish",
        "quant-momentum",
        "s-2",
        "sell",
        "ETH/USD",
        "--strength",
        "0.3",
        "--reason",
        "fade",
        **publisher,
    )

    watched = tradectl("signal", "watch", "--after", "0", "--count", "2")
    as_json = tradectl(
        "--json", "signal", "watch", "--after", "0", "--pair", "ETH/USD", "--count", "1"
    )

    signal_id = json.loads(first)["signal"]["id"]
    assert "(duplicate: already published)" in repeat
    lines = watched.splitlines()
    assert lines[0].split() == [
        "ID",
        "TIME",
        "PAIR",
        "SIDE",
        "STRENGTH",
        "SOURCE",
        "PRICE",
        "REASON",
    ]
    assert lines[1].startswith(signal_id)
    assert "buy" in lines[1]
    assert "fade" in lines[2]
    assert json.loads(as_json)["external_id"] == "s-2"
