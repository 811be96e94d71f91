"""SIGTERM drains in-flight calls within the bound and exits 0; a second signal cuts them short."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import grpc
import pytest

from tests.support.services import Keys, RunningService, running_service

pytestmark = pytest.mark.integration


def start_sleep(service: RunningService, keys: Keys, seconds: float) -> dict[str, object]:
    """Call Sleep on a thread; the returned dict gets 'reply' or 'error' and 'elapsed'."""
    outcome: dict[str, object] = {}
    token = keys.issuer().mint("desk-a", ["traders"])

    def call() -> None:
        started = time.monotonic()
        with grpc.insecure_channel(service.target) as channel:
            sleep = channel.unary_unary(
                "/test.Slow/Sleep", request_serializer=None, response_deserializer=None
            )
            try:
                outcome["reply"] = sleep(
                    str(seconds).encode(),
                    metadata=(("authorization", f"Bearer {token}"),),
                    timeout=60,
                )
            except grpc.RpcError as exc:
                outcome["error"] = exc.code()
        outcome["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=call)
    thread.start()
    outcome["thread"] = thread
    time.sleep(0.5)
    return outcome


def test_sigterm_lets_the_slow_call_finish_and_exits_zero(keys: Keys, log_dir: Path) -> None:
    with running_service(
        "tests.support.slow_service", keys, log_dir, {"GRPC_SHUTDOWN_GRACE": "10"}
    ) as service:
        outcome = start_sleep(service, keys, 2.0)
        service.process.send_signal(signal.SIGTERM)
        exit_code = service.process.wait(timeout=15)
        outcome["thread"].join(timeout=15)  # type: ignore[attr-defined]
    assert outcome.get("reply") == b"done", outcome
    assert exit_code == 0
    assert "stopped" in [json.loads(line)["msg"] for line in service.log().splitlines()]


def test_new_calls_are_refused_while_draining(keys: Keys, log_dir: Path) -> None:
    with running_service(
        "tests.support.slow_service", keys, log_dir, {"GRPC_SHUTDOWN_GRACE": "10"}
    ) as service:
        start_sleep(service, keys, 3.0)
        service.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        late = start_sleep(service, keys, 0.1)
        late["thread"].join(timeout=15)  # type: ignore[attr-defined]
        service.process.wait(timeout=15)
    assert late.get("error") is grpc.StatusCode.UNAVAILABLE, late


def test_the_grace_bound_ends_a_call_that_is_too_slow(keys: Keys, log_dir: Path) -> None:
    with running_service(
        "tests.support.slow_service", keys, log_dir, {"GRPC_SHUTDOWN_GRACE": "1"}
    ) as service:
        outcome = start_sleep(service, keys, 30.0)
        started = time.monotonic()
        service.process.send_signal(signal.SIGTERM)
        exit_code = service.process.wait(timeout=15)
        stopped_after = time.monotonic() - started
        outcome["thread"].join(timeout=15)  # type: ignore[attr-defined]
    assert exit_code == 0
    assert stopped_after < 5
    assert "error" in outcome, outcome


def test_a_second_sigterm_ends_it_at_once(keys: Keys, log_dir: Path) -> None:
    with running_service(
        "tests.support.slow_service", keys, log_dir, {"GRPC_SHUTDOWN_GRACE": "60"}
    ) as service:
        outcome = start_sleep(service, keys, 30.0)
        started = time.monotonic()
        service.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        service.process.send_signal(signal.SIGTERM)
        exit_code = service.process.wait(timeout=15)
        stopped_after = time.monotonic() - started
        outcome["thread"].join(timeout=15)  # type: ignore[attr-defined]
    assert exit_code == 0
    assert stopped_after < 5
    assert "error" in outcome, outcome
