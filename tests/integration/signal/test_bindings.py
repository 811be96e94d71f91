"""Bindings end to end: a signal becomes one order through the real execution, risk and paper
exchange, whatever is delivered again, paused, refused, or killed on the way.

Processes: the paper exchange, one Redis shared by risk and execution, risk, execution, and the
signal service on a Redis of its own (a second one for the replica test). Execution trusts the
signal service's own issuer key, as in production.
"""

from __future__ import annotations

import collections
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import grpc
import pytest
import redis

from services.common.identity import write_key_pair
from services.execution.orders.reference import DEFAULT_MAX_AGE as REFERENCE_PRICE_TTL
from services.signal.bindings.trader import client_order_id
from tests.support.paper_exchange import PaperExchange
from tests.support.platform import PlatformKeys, execution_env, risk_env
from tests.support.redis_server import RedisServer
from tests.support.services import RunningService, running_service
from trading.common.v1 import common_pb2
from trading.execution.v1 import execution_pb2, execution_pb2_grpc
from trading.risk.v1 import risk_pb2, risk_pb2_grpc
from trading.signal.v1 import signal_pb2, signal_pb2_grpc

pytestmark = pytest.mark.integration

Metadata = tuple[tuple[str, str], ...]
GROUP = "signal-bindings"
STREAM = "signal:signals"


@pytest.fixture(scope="module")
def platform_keys(tmp_path_factory: pytest.TempPathFactory) -> PlatformKeys:
    keys = PlatformKeys.create(tmp_path_factory.mktemp("keys"))
    write_key_pair(keys.keys.folder / "signal.pem", keys.keys.folder / "signal.pub.pem")
    return keys


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="module")
def paper() -> Iterator[PaperExchange]:
    with PaperExchange(nonce_window=1000) as exchange:
        yield exchange


def private_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.close()


platform_redis = pytest.fixture(scope="module")(private_redis)
signal_redis = pytest.fixture(scope="module")(private_redis)


@pytest.fixture(scope="module")
def risk(
    platform_keys: PlatformKeys, log_dir: Path, platform_redis: RedisServer
) -> Iterator[RunningService]:
    env = risk_env(platform_keys, platform_redis.url)
    with running_service("services.risk", platform_keys.keys, log_dir, env) as service:
        yield service


@pytest.fixture(scope="module")
def execution(
    platform_keys: PlatformKeys,
    log_dir: Path,
    paper: PaperExchange,
    platform_redis: RedisServer,
    risk: RunningService,
) -> Iterator[RunningService]:
    signal_public = platform_keys.keys.folder / "signal.pub.pem"
    trusted = {"IDENTITY_TRUSTED_KEYS": f"{platform_keys.trusted},signal={signal_public}"}
    env = execution_env(platform_keys, paper, platform_redis.url, risk.target, trusted)
    with running_service("services.execution", platform_keys.keys, log_dir, env) as service:
        yield service


def signal_env(keys: PlatformKeys, redis_url: str, execution: RunningService) -> dict[str, str]:
    return {
        "REDIS_URL": redis_url,
        "EXECUTION_TARGET": execution.target,
        "IDENTITY_SIGNING_KEY_FILE": str(keys.keys.folder / "signal.pem"),
        "SIGNAL_CLAIM_IDLE_MS": "1000",
        "SIGNAL_BINDING_MAX_FAILURES": "2",
        "LOG_LEVEL": "INFO",
    }


@pytest.fixture(scope="module")
def signal(
    platform_keys: PlatformKeys,
    log_dir: Path,
    signal_redis: RedisServer,
    execution: RunningService,
) -> Iterator[RunningService]:
    env = signal_env(platform_keys, signal_redis.url, execution)
    with running_service("services.signal", platform_keys.keys, log_dir, env) as service:
        yield service


@dataclass
class Caller:
    """One team calling a service with a locally minted token."""

    keys: PlatformKeys
    target: str
    subject: str
    groups: tuple[str, ...]

    def metadata(self) -> Metadata:
        token = self.keys.keys.issuer().mint(self.subject, list(self.groups))
        return (("authorization", f"Bearer {token}"),)

    def signal(self, method: str, request: object) -> object:
        with grpc.insecure_channel(self.target) as channel:
            call = getattr(signal_pb2_grpc.SignalServiceStub(channel), method)
            return call(request, metadata=self.metadata(), timeout=10)

    def create_binding(self, source: str, **fields: object) -> signal_pb2.Binding:
        values: dict[str, object] = {
            "name": f"follow {source}",
            "signal_source": source,
            "pair": "BTC/USD",
            "sizing": signal_pb2.SizingPolicy(fixed_volume=signal_pb2.FixedVolume(volume="0.001")),
            "order_type": common_pb2.ORDER_TYPE_MARKET,
        }
        values.update(fields)
        request = signal_pb2.CreateBindingRequest(**values)  # type: ignore[arg-type]
        reply = self.signal("CreateBinding", request)
        assert isinstance(reply, signal_pb2.CreateBindingResponse)
        return reply.binding

    def binding(self, binding_id: str) -> signal_pb2.Binding:
        reply = self.signal("ListBindings", signal_pb2.ListBindingsRequest())
        assert isinstance(reply, signal_pb2.ListBindingsResponse)
        return next(b for b in reply.bindings if b.id == binding_id)

    def publish(self, source: str, external_id: str, **fields: object) -> signal_pb2.Signal:
        values: dict[str, object] = {
            "source": source,
            "external_id": external_id,
            "pair": "BTC/USD",
            "side": common_pb2.SIDE_BUY,
            "strength": "0.9",
        }
        values.update(fields)
        request = signal_pb2.PublishSignalRequest(**values)  # type: ignore[arg-type]
        reply = self.signal("PublishSignal", request)
        assert isinstance(reply, signal_pb2.PublishSignalResponse)
        return reply.signal


@pytest.fixture
def desk(platform_keys: PlatformKeys, signal: RunningService) -> Caller:
    return Caller(platform_keys, signal.target, "desk-a", ("traders",))


@pytest.fixture
def publisher(platform_keys: PlatformKeys, signal: RunningService) -> Caller:
    return Caller(platform_keys, signal.target, "quant-1", ("signal-publishers",))


@pytest.fixture
def stream_redis(signal_redis: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(signal_redis.url, decode_responses=True)
    yield client
    client.close()


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def handled(client: redis.Redis, signal_id: str) -> bool:
    """The consumer group has delivered the signal and acknowledged everything so far."""
    group = next(g for g in client.xinfo_groups(STREAM) if g["name"] == GROUP)
    last = tuple(int(part) for part in str(group["last-delivered-id"]).split("-"))
    wanted = tuple(int(part) for part in signal_id.split("-"))
    return last >= wanted and int(group["pending"]) == 0


def orders_at_exchange(paper: PaperExchange, order_id: str) -> int:
    return int(paper.orders(cl_ord_id=order_id)["count"])


def get_order(keys: PlatformKeys, execution: RunningService, order_id: str) -> common_pb2.Order:
    token = keys.keys.issuer().mint("desk-a", ["traders"])
    with grpc.insecure_channel(execution.target) as channel:
        reply = execution_pb2_grpc.ExecutionServiceStub(channel).GetOrder(
            execution_pb2.GetOrderRequest(client_order_id=order_id),
            metadata=(("authorization", f"Bearer {token}"),),
            timeout=10,
        )
    order: common_pb2.Order = reply.order
    return order


def test_a_published_signal_places_exactly_one_order(
    desk: Caller,
    publisher: Caller,
    paper: PaperExchange,
    platform_keys: PlatformKeys,
    execution: RunningService,
    stream_redis: redis.Redis,
) -> None:
    binding = desk.create_binding("quant-one")

    signal = publisher.publish("quant-one", "e-1")
    order_id = client_order_id(binding.id, signal.id)
    wait_until(lambda: orders_at_exchange(paper, order_id) == 1)
    wait_until(lambda: handled(stream_redis, signal.id))

    order = get_order(platform_keys, execution, order_id)
    assert (order.team, order.placed_by) == ("desk-a", "service:signal")
    assert (order.binding_id, order.signal_id) == (binding.id, signal.id)
    assert order.volume == "0.001"
    after = desk.binding(binding.id)
    assert (after.last_client_order_id, after.last_signal_id) == (order_id, signal.id)
    assert (after.last_error, after.consecutive_failures) == ("", 0)
    assert orders_at_exchange(paper, order_id) == 1


def test_a_signal_delivered_again_does_not_trade_twice(
    desk: Caller, publisher: Caller, paper: PaperExchange, stream_redis: redis.Redis
) -> None:
    binding = desk.create_binding("quant-two")
    signal = publisher.publish("quant-two", "e-1")
    order_id = client_order_id(binding.id, signal.id)
    wait_until(lambda: handled(stream_redis, signal.id))
    assert orders_at_exchange(paper, order_id) == 1
    intent = f"signal:intent:{binding.id}:{signal.id}"
    before = stream_redis.xrevrange(STREAM, max=f"({signal.id}", count=1)

    # As after a crash before XACK, with the intent lost too: only the client_order_id is left.
    stream_redis.delete(intent)
    stream_redis.xgroup_setid(STREAM, GROUP, str(before[0][0]) if before else "0")
    marker = publisher.publish("quant-nobody", "marker-1")
    wait_until(lambda: handled(stream_redis, marker.id))

    assert stream_redis.hget(intent, "outcome") == "placed"  # handled again...
    assert orders_at_exchange(paper, order_id) == 1  # ...and execution replayed the order


def test_a_paused_binding_places_nothing_and_resumes_without_replay(
    desk: Caller, publisher: Caller, paper: PaperExchange, stream_redis: redis.Redis
) -> None:
    binding = desk.create_binding("quant-three", start_paused=True)
    while_paused = publisher.publish("quant-three", "e-1")
    wait_until(lambda: handled(stream_redis, while_paused.id))

    desk.signal("ResumeBinding", signal_pb2.ResumeBindingRequest(binding_id=binding.id))
    after_resume = publisher.publish("quant-three", "e-2")
    resumed_order = client_order_id(binding.id, after_resume.id)
    wait_until(lambda: orders_at_exchange(paper, resumed_order) == 1)

    assert binding.state == signal_pb2.BINDING_STATE_PAUSED
    assert orders_at_exchange(paper, client_order_id(binding.id, while_paused.id)) == 0


def test_a_limit_order_is_sized_from_the_quote_amount_on_the_pair_rules(
    desk: Caller, publisher: Caller, paper: PaperExchange
) -> None:
    paper.set_price("XBTUSD", "50000.0")
    # Execution caches the reference price it gives risk for a second (orders/reference.py);
    # an order priced off the new level inside that second would be outside risk's collar.
    time.sleep(REFERENCE_PRICE_TTL + 0.1)
    binding = desk.create_binding(
        "quant-four",
        sizing=signal_pb2.SizingPolicy(
            fixed_quote_amount=signal_pb2.FixedQuoteAmount(amount="100")
        ),
        order_type=common_pb2.ORDER_TYPE_LIMIT,
        limit_offset_bps=20,
    )

    signal = publisher.publish("quant-four", "e-1", price="50000")
    order_id = client_order_id(binding.id, signal.id)
    wait_until(lambda: orders_at_exchange(paper, order_id) == 1)

    placed = paper.orders(cl_ord_id=order_id)["orders"][0]
    assert placed["vol"] == "0.00200000"  # 100 USD at 50000
    assert placed["descr"]["price"] == "49900.0"  # 20 bps below
    assert placed["descr"]["ordertype"] == "limit"


def test_a_balance_fraction_sells_that_share_of_the_base_balance(
    desk: Caller,
    publisher: Caller,
    paper: PaperExchange,
    platform_keys: PlatformKeys,
    execution: RunningService,
) -> None:
    share = signal_pb2.SizingPolicy(balance_fraction=signal_pb2.BalanceFraction(fraction="0.001"))
    binding = desk.create_binding("quant-seven", sizing=share)
    token = platform_keys.keys.issuer().mint("desk-a", ["traders"])
    with grpc.insecure_channel(execution.target) as channel:
        balances = execution_pb2_grpc.ExecutionServiceStub(channel).GetBalances(
            execution_pb2.GetBalancesRequest(assets=["BTC"]),
            metadata=(("authorization", f"Bearer {token}"),),
            timeout=10,
        )
    available = Decimal(balances.balances[0].available)

    signal = publisher.publish("quant-seven", "e-1", side=common_pb2.SIDE_SELL)
    order_id = client_order_id(binding.id, signal.id)
    wait_until(lambda: orders_at_exchange(paper, order_id) == 1)

    placed = paper.orders(cl_ord_id=order_id)["orders"][0]
    assert Decimal(placed["vol"]) == (available * Decimal("0.001")).quantize(
        Decimal("1e-8"), ROUND_DOWN
    )
    assert placed["descr"]["type"] == "sell"


def test_a_binding_cooldown_lets_one_order_through(
    desk: Caller, publisher: Caller, paper: PaperExchange, stream_redis: redis.Redis
) -> None:
    binding = desk.create_binding("quant-eight", cooldown={"seconds": 60})

    first = publisher.publish("quant-eight", "e-1")
    second = publisher.publish("quant-eight", "e-2")
    wait_until(lambda: handled(stream_redis, second.id))

    assert orders_at_exchange(paper, client_order_id(binding.id, first.id)) == 1
    assert orders_at_exchange(paper, client_order_id(binding.id, second.id)) == 0


def test_a_kill_switch_refusal_is_recorded_and_nothing_is_sent(
    platform_keys: PlatformKeys,
    risk: RunningService,
    execution: RunningService,
    publisher: Caller,
    signal: RunningService,
    paper: PaperExchange,
    stream_redis: redis.Redis,
) -> None:
    desk_k = Caller(platform_keys, signal.target, "desk-k", ("traders",))
    binding = desk_k.create_binding("quant-five")
    officer = Caller(platform_keys, risk.target, "officer-1", ("risk-officers",))
    switch = risk_pb2.SetKillSwitchRequest(
        scope=risk_pb2.KILL_SWITCH_SCOPE_TEAM, team="desk-k", engaged=True, reason="test halt"
    )
    with grpc.insecure_channel(risk.target) as channel:
        risk_stub = risk_pb2_grpc.RiskServiceStub(channel)
        risk_stub.SetKillSwitch(switch, metadata=officer.metadata(), timeout=5)
        try:
            signal_record = publisher.publish("quant-five", "e-1")
            wait_until(lambda: handled(stream_redis, signal_record.id))
        finally:
            switch.engaged, switch.reason = False, "test over"
            risk_stub.SetKillSwitch(switch, metadata=officer.metadata(), timeout=5)

    order_id = client_order_id(binding.id, signal_record.id)
    after = desk_k.binding(binding.id)
    assert after.last_client_order_id == order_id
    assert after.state == signal_pb2.BINDING_STATE_ACTIVE  # one failure is below the maximum
    assert after.consecutive_failures == 1
    assert "KILL_SWITCH" in after.last_error
    assert orders_at_exchange(paper, order_id) == 0
    token = platform_keys.keys.issuer().mint("desk-k", ["traders"])
    with grpc.insecure_channel(execution.target) as channel:
        order = (
            execution_pb2_grpc.ExecutionServiceStub(channel)
            .GetOrder(
                execution_pb2.GetOrderRequest(client_order_id=order_id),
                metadata=(("authorization", f"Bearer {token}"),),
                timeout=10,
            )
            .order
        )
    assert order.status == common_pb2.ORDER_STATUS_REJECTED
    assert "KILL_SWITCH" in [v.code for v in order.violations]


def test_refused_orders_are_recorded_once_and_pause_the_binding(
    desk: Caller, publisher: Caller, paper: PaperExchange, stream_redis: redis.Redis
) -> None:
    tiny = signal_pb2.SizingPolicy(fixed_volume=signal_pb2.FixedVolume(volume="0.00000001"))
    binding = desk.create_binding("quant-six", sizing=tiny)

    first = publisher.publish("quant-six", "e-1")
    wait_until(lambda: handled(stream_redis, first.id))
    still_active = desk.binding(binding.id).state
    second = publisher.publish("quant-six", "e-2")
    wait_until(lambda: handled(stream_redis, second.id))
    paused = desk.binding(binding.id)

    assert still_active == signal_pb2.BINDING_STATE_ACTIVE
    assert paused.state == signal_pb2.BINDING_STATE_PAUSED
    assert "after 2 failures in a row" in paused.pause_reason
    assert "INVALID_ARGUMENT" in paused.pause_reason
    assert paused.consecutive_failures == 2
    assert paused.last_error.startswith("execution refused: INVALID_ARGUMENT")
    for signal_id in (first.id, second.id):
        assert orders_at_exchange(paper, client_order_id(binding.id, signal_id)) == 0


def test_two_replicas_one_killed_mid_stream_act_on_every_signal_once(
    platform_keys: PlatformKeys,
    log_dir: Path,
    execution: RunningService,
    paper: PaperExchange,
) -> None:
    shared = RedisServer()
    shared.start()
    client = redis.Redis.from_url(shared.url, decode_responses=True)
    env = signal_env(platform_keys, shared.url, execution)
    try:
        with (
            running_service("services.signal", platform_keys.keys, log_dir, env) as first,
            running_service("services.signal", platform_keys.keys, log_dir, env) as second,
        ):
            replicas = {first.process.pid: first, second.process.pid: second}
            desk = Caller(platform_keys, first.target, "desk-a", ("traders",))
            publisher = Caller(platform_keys, first.target, "quant-1", ("signal-publishers",))
            binding = desk.create_binding("quant-failover")
            signals = [publisher.publish("quant-failover", f"e-{i}") for i in range(5)]
            wait_until(lambda: handled(client, signals[-1].id))

            # One signal alone on the wire, slowed at the exchange: whichever replica took it is
            # inside PlaceOrder, its order sent, when it is killed.
            paper.add_fault("latency", count=1, endpoints=["AddOrder"], seconds="1.5")
            sent = add_orders(paper)
            in_flight = publisher.publish("quant-failover", "e-5")
            signals.append(in_flight)
            wait_until(lambda: add_orders(paper) > sent)
            doomed = replicas.pop(holder_of(client, in_flight.id))
            doomed.process.kill()
            doomed.process.wait()
            survivor = next(iter(replicas.values()))

            publisher.target = survivor.target
            signals += [publisher.publish("quant-failover", f"e-{i}") for i in range(6, 12)]
            wait_until(lambda: handled(client, signals[-1].id), timeout=60)
            claimed = [
                entry["signal_id"]
                for entry in map(json.loads, survivor.log().splitlines())
                if entry.get("msg") == "signal claimed"
            ]
    finally:
        paper.clear_faults()
        client.close()
        shared.close()

    counts = collections.Counter(o.get("cl_ord_id") for o in paper.orders()["orders"])
    order_ids = [client_order_id(binding.id, s.id) for s in signals]
    assert [counts[order_id] for order_id in order_ids] == [1] * 12
    # Only the dead replica's signal was claimed (again, while execution still had it PENDING).
    assert set(claimed) == {in_flight.id}
    # The dead replica's call was on the wire: execution finished it anyway (a caller that goes
    # away does not cut an order off), so the survivor's retry found it, never a second order.
    # (A market order: OPEN until reconciliation records the fill.)
    assert get_order(platform_keys, execution, order_ids[5]).status in {
        common_pb2.ORDER_STATUS_OPEN,
        common_pb2.ORDER_STATUS_FILLED,
    }


def add_orders(paper: PaperExchange) -> int:
    """AddOrder calls that reached the exchange (counted on arrival, before any latency)."""
    return int(paper.stats()["calls"].get("AddOrder", 0))


def holder_of(client: redis.Redis, signal_id: str) -> int:
    """The process id of the replica the signal is pending with (consumer ``host-pid-xxx``)."""
    pending = client.xpending_range(STREAM, GROUP, min=signal_id, max=signal_id, count=1)
    return int(str(pending[0]["consumer"]).rsplit("-", 2)[1])
