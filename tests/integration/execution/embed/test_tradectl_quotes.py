"""`tradectl quote …` against the real execution service and paper exchange (Embed).

The CLI signs as the partner fixture's team, so what it prints can be read back through GetQuote
by that same team, and the end user's balances are read from the paper exchange.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
import redis
from google.protobuf.json_format import MessageToDict

from tests.integration.execution.embed.conftest import Partner
from tests.support.paper_exchange import PaperExchange
from tests.support.platform import PlatformKeys
from tests.support.redis_server import RedisServer
from tests.support.services import ROOT, RunningService
from tradectl.main import main as tradectl_main
from trading.execution.v1 import execution_pb2 as pb

pytestmark = pytest.mark.integration

Tradectl = Callable[..., str]

# "100 USD (99 + fee 1)" or "0.0015 BTC": a leg as `tradectl quote` prints it.
_LEG = re.compile(r"^(?P<total>\S+) (?P<asset>\S+)(?: \((?P<subtotal>\S+) \+ fee (?P<fee>\S+)\))?$")
_COLUMNS = ["QUOTE_ID", "STATUS", "SPENDS", "RECEIVES", "UNIT_PRICE", "EXPIRES", "REASON"]


@pytest.fixture
def cli_base(platform_keys: PlatformKeys, partner: Partner) -> list[str]:
    """Global options: the local issuer key, the partner's team as subject, traders only."""
    key_file = platform_keys.keys.folder / "local.pem"
    return ["--key-file", str(key_file), "--user", partner.team, "--group", "traders"]


@pytest.fixture
def tradectl(
    execution: RunningService,
    cli_base: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Tradectl:
    monkeypatch.setenv("TRADECTL_EXECUTION_TARGET", execution.target)

    def call(*argv: str) -> str:
        assert tradectl_main([*cli_base, *argv]) == 0
        return capsys.readouterr().out

    return call


@pytest.fixture
def store(risk_redis: RedisServer) -> Iterator[redis.Redis]:
    """Execution's Redis (it shares risk's in these tests), to see which quotes it recorded."""
    client = redis.Redis.from_url(risk_redis.url, decode_responses=True)
    yield client
    client.close()


def rows(table: str) -> list[dict[str, str]]:
    """The rows of a quote table; cells are separated by two spaces or more."""
    lines = table.strip().splitlines()
    assert re.split(r"\s{2,}", lines[0]) == _COLUMNS
    return [
        dict(zip([c.lower() for c in _COLUMNS], re.split(r"\s{2,}", line), strict=True))
        for line in lines[1:]
    ]


def leg(cell: str) -> dict[str, Any]:
    match = _LEG.match(cell)
    assert match is not None, cell
    return {
        "asset": match["asset"],
        "total": Decimal(match["total"]),
        "subtotal": Decimal(match["subtotal"]) if match["subtotal"] else None,
        "fee": Decimal(match["fee"]) if match["fee"] else None,
    }


def recorded_quotes(store: redis.Redis) -> set[str]:
    return set(store.scan_iter(match="execution:quote:{*}"))


def request_argv(user: str, amount: str = "100", *extra: str) -> list[str]:
    return [
        "quote",
        "request",
        "--user",
        user,
        "--spend",
        amount,
        "USD",
        "--for",
        "BTC",
        "--fee-bps",
        "100",
        *extra,
    ]


def test_request_prints_the_quote_id_amounts_and_fee_as_recorded(
    tradectl: Tradectl, partner: Partner, paper: PaperExchange
) -> None:
    user = paper.embed_create_user({"USD": "1000", "BTC": "0"})

    printed = rows(tradectl(*request_argv(user)))

    assert len(printed) == 1
    row = printed[0]
    # Read back by the CLI's own team with traders' rights only: the quote must be that team's.
    quote = partner.get(row["quote_id"])
    assert quote.team == partner.team
    assert quote.user == user
    assert row["status"] == "NEW"
    spends, receives = leg(row["spends"]), leg(row["receives"])
    assert spends == {
        "asset": "USD",
        "total": Decimal(quote.spend.total),
        "subtotal": Decimal(quote.spend.subtotal),
        "fee": Decimal(quote.spend.fee),
    }
    assert spends["total"] == Decimal(100)
    assert spends["fee"] == Decimal(1)  # 100 bps of 100 USD
    assert receives["asset"] == "BTC"
    assert receives["total"] == Decimal(quote.receive.total) > 0
    price, pair = row["unit_price"].split(" ")
    assert Decimal(price) == Decimal(quote.unit_price.unit_price)
    assert pair == f"{quote.unit_price.denomination_asset}/{quote.unit_price.asset}"
    assert row["reason"] == "-"


def test_execute_then_watch_ends_complete_and_moves_the_quoted_totals(
    tradectl: Tradectl, partner: Partner, paper: PaperExchange
) -> None:
    user = paper.embed_create_user({"USD": "1000", "BTC": "0"})
    quote_id = rows(tradectl(*request_argv(user)))[0]["quote_id"]

    executed = rows(tradectl("quote", "execute", quote_id))
    watched = rows(tradectl("quote", "watch", quote_id))

    quote = partner.get(quote_id)
    assert [r["quote_id"] for r in executed] == [quote_id]
    assert executed[0]["status"] in {"ACCEPTED", "CREDIT_TRANSFER_COMPLETE"}
    assert {r["quote_id"] for r in watched} == {quote_id}
    assert watched[-1]["status"] == "CREDIT_TRANSFER_COMPLETE"
    assert [r["status"] for r in watched].count("CREDIT_TRANSFER_COMPLETE") == 1
    assert quote.status == pb.QUOTE_STATUS_CREDIT_TRANSFER_COMPLETE
    assert leg(watched[-1]["spends"])["total"] == Decimal(quote.spend.total)
    assert leg(watched[-1]["receives"])["total"] == Decimal(quote.receive.total)
    balances = paper.embed_balances(user)
    assert Decimal(balances["USD"]) == Decimal(1000) - Decimal(quote.spend.total)
    assert Decimal(balances["BTC"]) == Decimal(quote.receive.total)


def test_non_numeric_amount_fails_naming_the_field_and_records_nothing(
    tradectl: Tradectl, paper: PaperExchange, store: redis.Redis
) -> None:
    user = paper.embed_create_user({"USD": "1000"})
    client_id = str(uuid.uuid4())
    before = recorded_quotes(store)

    with pytest.raises(SystemExit) as failed:
        tradectl(*request_argv(user, "ten", "--client-id", client_id))

    assert str(failed.value) == (
        "tradectl quote request: INVALID_ARGUMENT: amount: 'ten' is not a decimal number"
    )
    assert recorded_quotes(store) == before
    assert store.exists(f"execution:quote-client:{client_id}") == 0
    assert Decimal(paper.embed_balances(user)["USD"]) == Decimal(1000)
    # The idempotency key was not spent: a good request under it is a new quote, not a replay.
    retried = json.loads(tradectl("--json", *request_argv(user, "10", "--client-id", client_id)))
    assert retried["quote"]["client_quote_id"] == client_id
    assert "replayed" not in retried
    assert len(recorded_quotes(store) - before) == 1


def test_failure_exits_non_zero_with_the_message_on_stderr(
    execution: RunningService, cli_base: list[str], paper: PaperExchange, store: redis.Redis
) -> None:
    user = paper.embed_create_user({"USD": "1000"})
    before = recorded_quotes(store)
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'gen'}",
        "TRADECTL_EXECUTION_TARGET": execution.target,
    }

    done = subprocess.run(
        [sys.executable, "-m", "tradectl.main", *cli_base, *request_argv(user, "1e3")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip() == (
        "tradectl quote request: INVALID_ARGUMENT: amount: '1e3' is not a decimal number"
    )
    assert recorded_quotes(store) == before


def test_missing_end_user_is_refused_before_any_call(
    tradectl: Tradectl, capsys: pytest.CaptureFixture[str], store: redis.Redis
) -> None:
    before = recorded_quotes(store)

    with pytest.raises(SystemExit) as failed:
        tradectl("quote", "request", "--spend", "100", "USD", "--for", "BTC")

    assert failed.value.code == 2
    assert "the following arguments are required: --user" in capsys.readouterr().err
    assert recorded_quotes(store) == before


def test_unknown_end_user_exits_with_krakens_reason_and_records_nothing(
    tradectl: Tradectl, store: redis.Redis
) -> None:
    before = recorded_quotes(store)

    with pytest.raises(SystemExit) as failed:
        tradectl(*request_argv("AA00 NOSU CHUS ER00"))

    # Kraken's 404 for an unknown user is NOT_FOUND, its reason passed on unchanged.
    message = str(failed.value)
    assert message.startswith("tradectl quote request: NOT_FOUND: ")
    assert message.endswith("Kraken RequestQuote failed: ENexus:User not found")
    assert recorded_quotes(store) == before


def test_json_output_is_the_quote_as_get_quote_returns_it(
    tradectl: Tradectl, partner: Partner, paper: PaperExchange
) -> None:
    user = paper.embed_create_user({"USD": "1000", "BTC": "0"})

    requested = json.loads(tradectl("--json", *request_argv(user)))
    quote_id = requested["quote"]["quote_id"]
    got = json.loads(tradectl("--json", "quote", "get", quote_id))
    executed = json.loads(tradectl("--json", "quote", "execute", quote_id))
    events = [
        json.loads(line) for line in tradectl("--json", "quote", "watch", quote_id).splitlines()
    ]

    recorded = MessageToDict(partner.get(quote_id), preserving_proto_field_name=True)
    assert requested["quote"]["status"] == "QUOTE_STATUS_NEW"
    assert got["quote"] == {**requested["quote"], "update_time": got["quote"]["update_time"]}
    for side in ("spend", "receive"):
        for amount in ("total", "subtotal", "fee"):
            printed = requested["quote"][side].get(amount, "0")
            assert Decimal(printed) == Decimal(recorded[side].get(amount, "0")), (side, amount)
        assert requested["quote"][side]["asset"] == recorded[side]["asset"]
    assert Decimal(requested["quote"]["spend"]["fee"]) == Decimal(1)
    assert executed["quote"]["quote_id"] == quote_id
    assert events[-1]["quote"]["status"] == "QUOTE_STATUS_CREDIT_TRANSFER_COMPLETE"
    assert all("event_id" in e for e in events)
    assert Decimal(paper.embed_balances(user)["USD"]) == Decimal(1000) - Decimal(
        recorded["spend"]["total"]
    )


def test_assets_lists_each_asset_with_its_status(tradectl: Tradectl) -> None:
    user = "AA00 PAPE RUSE R001"

    table = tradectl("quote", "assets", "--user", user).strip().splitlines()
    listed = json.loads(tradectl("--json", "quote", "assets", "--user", user))

    assert table[0].split() == ["ASSET", "STATUS", "DECIMALS", "NOT_AGAINST"]
    statuses = {line.split()[0]: line.split()[1] for line in table[1:]}
    assert statuses["BTC"] == "TRADABLE"
    assert "DISABLED" in statuses.values()
    assert {a["name"]: a["status"] for a in listed["assets"]} == {
        name: f"QUOTE_ASSET_STATUS_{status}" for name, status in statuses.items()
    }
