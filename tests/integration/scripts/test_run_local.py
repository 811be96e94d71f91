"""`make run`'s runner brings the whole stack up, serves it, and stops it with no orphans."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from services.common.healthcheck import check

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
NAMES = {
    50051: "trading.execution.v1.ExecutionService",
    50052: "trading.risk.v1.RiskService",
    50053: "trading.signal.v1.SignalService",
}
BASE_PORTS = (50051, 50052, 50053, 9101, 9102, 9103, 8081, 8082, 8090, 6380)


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_offset() -> int:
    """An offset that puts every port of the stack outside the kernel's ephemeral range.

    Every other test's free port, and every outgoing connection, comes from that range: a
    stack port inside it can be free when checked and taken by the time a service binds it.
    """
    low, high = ephemeral_range()
    outside = [
        offset
        for offset in range(-min(BASE_PORTS) + 1024, 65535 - max(BASE_PORTS))
        if all(not low <= port + offset <= high for port in BASE_PORTS)
    ]
    for _ in range(50):
        offset = random.choice(outside)  # noqa: S311 - not security
        if all(port_is_free(port + offset) for port in BASE_PORTS):
            return offset
    raise RuntimeError("no free port offset")


def reflected_services(target: str) -> set[str]:
    with grpc.insecure_channel(target) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
        )
        return {s.name for reply in replies for s in reply.list_services_response.service}


def processes_mentioning(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_make_run_serves_all_three_and_stops_cleanly(tmp_path: Path) -> None:
    offset = free_offset()
    run_dir = tmp_path / "run"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL",) and not k.startswith("KRAKEN_")
    }
    env.update({"LOCAL_RUN_DIR": str(run_dir), "LOCAL_PORT_OFFSET": str(offset)})
    runner = subprocess.Popen(
        [sys.executable, "scripts/run_local.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        started = time.monotonic()
        banner = []
        assert runner.stdout is not None
        for line in runner.stdout:
            banner.append(line)
            if line.startswith("logs:"):
                break
        up_after = time.monotonic() - started
        assert "trading platform is up" in "".join(banner), "".join(banner)
        assert up_after < 30

        for port, name in NAMES.items():
            target = f"127.0.0.1:{port + offset}"
            assert check(target, name)
            assert name in reflected_services(target)

        key = run_dir / "keys" / "local.pem"
        tradectl = subprocess.run(
            [sys.executable, "-m", "tradectl.main", "--json", "--key-file", str(key), "status"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
            env={
                **env,
                "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'gen'}",
                **{
                    f"TRADECTL_{n.upper()}_TARGET": f"127.0.0.1:{p + offset}"
                    for p, n in zip(NAMES, ("execution", "risk", "signal"), strict=True)
                },
            },
        )
        assert tradectl.returncode == 0, tradectl.stdout + tradectl.stderr
        rows = json.loads(tradectl.stdout)
        assert {row["status"] for row in rows} == {"SERVING"}
        assert {row["serves"] for row in rows} == set(NAMES.values())
        assert processes_mentioning(str(run_dir))
    finally:
        runner.send_signal(signal.SIGINT)
        runner.wait(timeout=30)

    deadline = time.monotonic() + 10
    while processes_mentioning(str(run_dir)):
        assert time.monotonic() < deadline, f"orphans: {processes_mentioning(str(run_dir))}"
        time.sleep(0.1)
    assert all(port_is_free(port + offset) for port in NAMES)
