"""PublishSignal and StreamSignals through the real signal service on a real Redis."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import redis

from services.common.identity import write_key_pair
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer
from tests.support.services import Keys, RunningService, running_service
from trading.common.v1 import common_pb2
from trading.signal.v1 import signal_pb2, signal_pb2_grpc

pytestmark = pytest.mark.integration

Metadata = tuple[tuple[str, str], ...]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    folder = tmp_path_factory.mktemp("keys")
    write_key_pair(folder / "signal.pem", folder / "signal.pub.pem")
    return Keys.create(folder)


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="module")
def signal(keys: Keys, log_dir: Path, redis_server: RedisServer) -> Iterator[RunningService]:
    env = {
        "REDIS_URL": redis_server.url,
        "IDENTITY_SIGNING_KEY_FILE": str(keys.folder / "signal.pem"),
        "EXECUTION_TARGET": f"127.0.0.1:{free_port()}",
        "LOG_LEVEL": "WARNING",
    }
    with running_service("services.signal", keys, log_dir, env) as service:
        yield service


@pytest.fixture
def stub(signal: RunningService, redis_url: str) -> Iterator[signal_pb2_grpc.SignalServiceStub]:
    with grpc.insecure_channel(signal.target) as channel:
        yield signal_pb2_grpc.SignalServiceStub(channel)


def as_team(keys: Keys, subject: str, *groups: str) -> Metadata:
    return (("authorization", f"Bearer {keys.issuer().mint(subject, list(groups))}"),)


@pytest.fixture
def publisher(keys: Keys) -> Metadata:
    return as_team(keys, "quant-1", "signal-publishers")


@pytest.fixture
def reader(keys: Keys) -> Metadata:
    return as_team(keys, "desk-a", "traders")


def signal_request(external_id: str, **fields: object) -> signal_pb2.PublishSignalRequest:
    values: dict[str, object] = {
        "source": "quant-momentum",
        "external_id": external_id,
        "pair": "BTC/USD",
        "side": common_pb2.SIDE_BUY,
        "strength": "0.75",
        "reason": "momentum",
        "price": "64000.5",
    }
    values.update(fields)
    return signal_pb2.PublishSignalRequest(**values)  # type: ignore[arg-type]


def publish(
    stub: signal_pb2_grpc.SignalServiceStub, metadata: Metadata, external_id: str, **fields: object
) -> signal_pb2.PublishSignalResponse:
    reply: signal_pb2.PublishSignalResponse = stub.PublishSignal(
        signal_request(external_id, **fields), metadata=metadata, timeout=5
    )
    return reply


def stream(
    stub: signal_pb2_grpc.SignalServiceStub, metadata: Metadata, **fields: object
) -> Iterator[signal_pb2.Signal]:
    """The signal stream; the iterator is also the call, which ``cancel()`` ends."""
    request = signal_pb2.StreamSignalsRequest(**fields)  # type: ignore[arg-type]
    replies: Iterator[signal_pb2.Signal] = stub.StreamSignals(  # type: ignore[assignment]
        request, metadata=metadata, timeout=20
    )
    return replies


def test_published_signal_is_recorded_with_id_and_publisher(
    stub: signal_pb2_grpc.SignalServiceStub, publisher: Metadata
) -> None:
    reply = publish(stub, publisher, "s-1")

    signal = reply.signal
    assert not reply.duplicate
    assert signal.id.split("-")[0].isdigit()
    assert (signal.source, signal.external_id, signal.published_by) == (
        "quant-momentum",
        "s-1",
        "quant-1",
    )
    assert (signal.pair, signal.strength, signal.price) == ("BTC/USD", "0.75", "64000.5")
    assert signal.time.seconds > 0


def test_a_repeat_returns_the_original_signal_and_records_nothing(
    stub: signal_pb2_grpc.SignalServiceStub, publisher: Metadata, redis_url: str
) -> None:
    first = publish(stub, publisher, "s-1")
    again = publish(stub, publisher, "s-1", strength="0.1", side=common_pb2.SIDE_SELL)
    other = publish(stub, publisher, "s-2")

    assert again.duplicate
    assert again.signal == first.signal
    assert other.signal.id != first.signal.id
    assert redis.Redis.from_url(redis_url).xlen("signal:signals") == 2


def test_bad_signal_is_invalid_argument_naming_the_field(
    stub: signal_pb2_grpc.SignalServiceStub, publisher: Metadata
) -> None:
    with pytest.raises(grpc.RpcError) as failed:
        publish(stub, publisher, "s-1", strength="1.5")

    assert failed.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert failed.value.details() == 'strength: must be from "0" to "1"'


def test_a_source_belongs_to_its_first_publisher(
    stub: signal_pb2_grpc.SignalServiceStub, publisher: Metadata, keys: Keys
) -> None:
    publish(stub, publisher, "s-1")

    with pytest.raises(grpc.RpcError) as failed:
        publish(stub, as_team(keys, "intruder", "signal-publishers"), "s-2")

    assert failed.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "belongs to quant-1" in (failed.value.details() or "")


def test_traders_cannot_publish(stub: signal_pb2_grpc.SignalServiceStub, reader: Metadata) -> None:
    with pytest.raises(grpc.RpcError) as failed:
        publish(stub, reader, "s-1")

    assert failed.value.code() is grpc.StatusCode.PERMISSION_DENIED


def test_a_reconnecting_subscriber_loses_nothing(
    stub: signal_pb2_grpc.SignalServiceStub, publisher: Metadata, reader: Metadata
) -> None:
    sent = [publish(stub, publisher, f"s-{i}").signal.id for i in range(3)]
    first = stream(stub, reader, after_signal_id="0")
    seen = [next(first).id for _ in range(2)]
    first.cancel()  # type: ignore[attr-defined]
    sent += [publish(stub, publisher, f"s-{i}").signal.id for i in range(3, 6)]

    resumed = stream(stub, reader, after_signal_id=seen[-1])
    replayed = [next(resumed).id for _ in range(4)]
    live = publish(stub, publisher, "s-6").signal.id
    followed = next(resumed).id
    resumed.cancel()  # type: ignore[attr-defined]

    assert seen + replayed == sent
    assert followed == live


def test_live_only_stream_skips_history_and_filters_apply(
    stub: signal_pb2_grpc.SignalServiceStub, publisher: Metadata, reader: Metadata
) -> None:
    publish(stub, publisher, "old-eth", pair="ETH/USD")
    live = stream(stub, reader, pairs=["ETH/USD"])
    received: list[signal_pb2.Signal] = []
    reading = threading.Thread(target=lambda: received.append(next(live)), daemon=True)
    reading.start()
    published = []
    # The stream starts at the newest signal once the call is set up: publish until it reads.
    for attempt in range(10):
        publish(stub, publisher, f"btc-{attempt}")
        published.append(publish(stub, publisher, f"eth-{attempt}", pair="ETH/USD").signal)
        reading.join(timeout=0.5)
        if received:
            break
    live.cancel()  # type: ignore[attr-defined]

    assert len(received) == 1
    assert received[0] in published


def test_resuming_after_trimmed_history_is_out_of_range(
    stub: signal_pb2_grpc.SignalServiceStub,
    publisher: Metadata,
    reader: Metadata,
    redis_url: str,
) -> None:
    first = publish(stub, publisher, "s-0").signal.id
    for i in range(1, 4):
        publish(stub, publisher, f"s-{i}")
    redis.Redis.from_url(redis_url).xtrim("signal:signals", maxlen=1, approximate=False)

    with pytest.raises(grpc.RpcError) as failed:
        next(stream(stub, reader, after_signal_id=first))

    assert failed.value.code() is grpc.StatusCode.OUT_OF_RANGE


def test_a_resume_point_that_is_not_an_id_is_invalid(
    stub: signal_pb2_grpc.SignalServiceStub, reader: Metadata
) -> None:
    with pytest.raises(grpc.RpcError) as failed:
        next(stream(stub, reader, after_signal_id="latest"))

    assert failed.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert (failed.value.details() or "").startswith("after_signal_id:")
