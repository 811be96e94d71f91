"""Start platform services as real processes on free ports, with their own identity keys."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from services.common.healthcheck import check
from services.common.identity import TokenIssuer, load_private_key, write_key_pair
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Keys:
    """A trusted local issuer and an untrusted one, as PEM files."""

    folder: Path

    @classmethod
    def create(cls, folder: Path) -> Keys:
        for name in ("local", "rogue"):
            write_key_pair(folder / f"{name}.pem", folder / f"{name}.pub.pem")
        return cls(folder)

    def issuer(self, name: str = "local", lifetime: int = 60) -> TokenIssuer:
        return TokenIssuer(
            "local", load_private_key(self.folder / f"{name}.pem"), lifetime=lifetime
        )

    @property
    def trusted(self) -> str:
        return f"local={self.folder / 'local.pub.pem'}"


@dataclass
class RunningService:
    process: subprocess.Popen[bytes]
    target: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def service_env(keys: Keys, port: int, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("KRAKEN_", "IDENTITY_", "GRPC_", "METRICS_", "REDIS_"))
    }
    env.update(
        {
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'gen'}",
            "GRPC_LISTEN_ADDR": f"127.0.0.1:{port}",
            "METRICS_PORT": "0",
            "IDENTITY_TRUSTED_KEYS": keys.trusted,
            # Never the machine's Redis: a test that needs one passes its private REDIS_URL.
            "REDIS_URL": "redis://127.0.0.1:1/0",
            # Nor a stack `make run` may have up: market data only from a test's own exchange.
            "KRAKEN_WS_URL": "ws://127.0.0.1:1/v2",
            "KRAKEN_API_URL": "http://127.0.0.1:1",
        }
    )
    env.update(extra or {})
    return env


@contextmanager
def running_service(
    module: str,
    keys: Keys,
    log_dir: Path,
    extra_env: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> Iterator[RunningService]:
    """``python -m module`` on a free port, SERVING before the body runs, stopped after."""
    port = free_port()
    log_path = log_dir / f"{module.replace('.', '_')}-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", module],
            env=service_env(keys, port, extra_env),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    service = RunningService(process, f"127.0.0.1:{port}", log_path)
    try:
        deadline = time.monotonic() + timeout
        while not check(service.target, timeout=0.5):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{module} did not start:\n{service.log()}")
            time.sleep(0.05)
        yield service
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
