"""A rule fires on live market data and its binding trades: paper exchange → signal → execution
→ paper exchange → risk, all real processes on one Redis, as in compose.

The rule is a price cross above the current price; moving the paper exchange's price sends a
ticker over its WebSocket, the signal service's feed publishes it, the rule fires, the binding
places a market order, it fills, and risk's exposure shows the position.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import grpc
import pytest

from services.common.identity import write_key_pair
from tests.support.paper_exchange import PaperExchange
from tests.support.platform import PlatformKeys, execution_env, risk_env
from tests.support.redis_server import RedisServer
from tests.support.services import RunningService, running_service
from tradectl.main import main
from trading.common.v1 import common_pb2
from trading.risk.v1 import risk_pb2, risk_pb2_grpc
from trading.signal.v1 import signal_pb2, signal_pb2_grpc

TEAM = "desk-e2e"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> PlatformKeys:
    keys = PlatformKeys.create(tmp_path_factory.mktemp("keys"))
    write_key_pair(keys.keys.folder / "signal.pem", keys.keys.folder / "signal.pub.pem")
    return keys


@pytest.fixture(scope="module")
def stack(
    keys: PlatformKeys, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[PaperExchange, RunningService, RunningService]]:
    logs = tmp_path_factory.mktemp("logs")
    store = RedisServer()
    store.start()
    trusted = f"{keys.trusted},signal={keys.keys.folder / 'signal.pub.pem'}"
    try:
        with (
            PaperExchange(nonce_window=1000) as paper,
            running_service("services.risk", keys.keys, logs, risk_env(keys, store.url)) as risk,
            running_service(
                "services.execution",
                keys.keys,
                logs,
                execution_env(
                    keys, paper, store.url, risk.target, {"IDENTITY_TRUSTED_KEYS": trusted}
                ),
            ) as execution,
            running_service(
                "services.signal",
                keys.keys,
                logs,
                {
                    "REDIS_URL": store.url,
                    "EXECUTION_TARGET": execution.target,
                    "IDENTITY_SIGNING_KEY_FILE": str(keys.keys.folder / "signal.pem"),
                    "KRAKEN_WS_URL": paper.ws_url,
                    "KRAKEN_API_URL": paper.url,
                    "SIGNAL_PAIRS": "BTC/USD",
                    "SIGNAL_OHLC_INTERVALS": "1",
                    "SIGNAL_BACKFILL_CANDLES": "5",
                    "SIGNAL_RULES_REFRESH": "0.2",
                },
            ) as signal,
        ):
            yield paper, risk, signal
    finally:
        store.close()


def _metadata(keys: PlatformKeys, subject: str, groups: list[str]) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {keys.keys.issuer().mint(subject, groups)}"),)


def _eventually(probe: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := probe()):
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.1)
    return value


def test_rule_fires_order_fills_and_risk_shows_the_position(
    keys: PlatformKeys, stack: tuple[PaperExchange, RunningService, RunningService]
) -> None:
    paper, risk, signal = stack
    desk = _metadata(keys, TEAM, ["traders"])
    signals = signal_pb2_grpc.SignalServiceStub(grpc.insecure_channel(signal.target))
    ticker = _eventually(
        lambda: _ticker(signals, desk), timeout=20
    )  # the feed is up and publishing
    price = Decimal(ticker.last)
    rule = signals.CreateRule(
        signal_pb2.CreateRuleRequest(
            name="breakout above",
            pair="BTC/USD",
            price_cross=signal_pb2.PriceCrossRule(
                threshold=format(price + 100, "f"), direction=signal_pb2.CROSS_DIRECTION_ABOVE
            ),
        ),
        metadata=desk,
        timeout=5,
    ).rule
    binding = signals.CreateBinding(
        signal_pb2.CreateBindingRequest(
            name="buy the breakout",
            rule_id=rule.id,
            pair="BTC/USD",
            sizing=signal_pb2.SizingPolicy(fixed_volume=signal_pb2.FixedVolume(volume="0.01")),
            order_type=common_pb2.ORDER_TYPE_MARKET,
        ),
        metadata=desk,
        timeout=5,
    ).binding
    time.sleep(0.5)  # two rule reloads (SIGNAL_RULES_REFRESH): the engine knows the rule

    paper.set_price("XBTUSD", format(price + 50, "f"))  # below the threshold: no signal
    paper.set_price("XBTUSD", format(price + 200, "f"))  # crosses it

    orders = _eventually(lambda: _binding_orders(paper))
    assert len(orders) == 1
    assert orders[0]["status"] == "closed"
    assert Decimal(orders[0]["vol_exec"]) == Decimal("0.01")
    assert orders[0]["cl_ord_id"]

    exposure = risk_pb2_grpc.RiskServiceStub(grpc.insecure_channel(risk.target))
    btc = _eventually(lambda: _position(exposure, keys, "BTC"), timeout=20)
    assert btc == Decimal("0.01")
    listed = signals.ListBindings(
        signal_pb2.ListBindingsRequest(), metadata=desk, timeout=5
    ).bindings
    assert [b.last_client_order_id for b in listed if b.id == binding.id] == [
        orders[0]["cl_ord_id"]
    ]


def _ticker(stub: signal_pb2_grpc.SignalServiceStub, metadata: Any) -> Any:
    try:
        return stub.GetTicker(
            signal_pb2.GetTickerRequest(pair="BTC/USD"), metadata=metadata, timeout=2
        ).ticker
    except grpc.RpcError:
        return None


def _binding_orders(paper: PaperExchange) -> list[dict[str, Any]]:
    return [o for o in paper.orders()["orders"] if o.get("cl_ord_id")]


def _position(stub: risk_pb2_grpc.RiskServiceStub, keys: PlatformKeys, asset: str) -> Any:
    reply = stub.GetExposure(
        risk_pb2.GetExposureRequest(assets=[asset]),
        metadata=_metadata(keys, "officer", ["risk-officers"]),
        timeout=5,
    )
    found = [Decimal(a.position) for a in reply.assets if a.asset == asset]
    return found[0] if found and found[0] != 0 else None


def test_tradectl_shows_the_ticker(
    keys: PlatformKeys,
    stack: tuple[PaperExchange, RunningService, RunningService],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    paper, _risk, signal = stack
    monkeypatch.setenv("TRADECTL_SIGNAL_TARGET", signal.target)
    paper.set_price("XBTUSD", "61234.5")
    argv = ["--key-file", str(keys.keys.folder / "local.pem"), "--user", TEAM, "--group", "traders"]

    def last() -> str | None:
        assert main([*argv, "--json", "signal", "ticker", "BTC/USD"]) == 0
        shown: str = json.loads(capsys.readouterr().out)["ticker"]["last"]
        return shown if Decimal(shown) == Decimal("61234.5") else None

    assert _eventually(last, timeout=10)
