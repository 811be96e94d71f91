"""Fixtures every execution integration test shares: keys, logs, and risk on its own Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.platform import PlatformKeys, risk_env
from tests.support.redis_server import RedisServer
from tests.support.services import RunningService, running_service


@pytest.fixture(scope="module")
def platform_keys(tmp_path_factory: pytest.TempPathFactory) -> PlatformKeys:
    return PlatformKeys.create(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="module")
def risk_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def risk(
    platform_keys: PlatformKeys, log_dir: Path, risk_redis: RedisServer
) -> Iterator[RunningService]:
    with running_service(
        "services.risk", platform_keys.keys, log_dir, risk_env(platform_keys, risk_redis.url)
    ) as service:
        yield service
