"""`make run`: the local stack on one machine without Docker.

Starts Redis (the one at REDIS_URL, else a private redis-server), the paper exchange, and the
risk, execution and signal services on their fixed ports; creates the local issuer key and the
services' keys in the ignored `.run/` folder; prints where everything listens and how to call it.
Ctrl-C (or SIGTERM) stops everything, services first; children also die with this process.
LOCAL_RUN_DIR (default .run) and LOCAL_PORT_OFFSET (default 0) let a second stack run beside
the first.
"""

from __future__ import annotations

import base64
import ctypes
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "gen")]

from services.common.healthcheck import check  # noqa: E402
from services.common.identity import write_key_pair  # noqa: E402

RUN = Path(os.environ.get("LOCAL_RUN_DIR", ROOT / ".run")).resolve()
KEYS = RUN / "keys"
# Shifts every local port, so a second stack (or a test) can run beside the first.
OFFSET = int(os.environ.get("LOCAL_PORT_OFFSET", "0"))
SERVICES = ("risk", "execution", "signal")
GRPC_PORTS = {"execution": 50051 + OFFSET, "risk": 50052 + OFFSET, "signal": 50053 + OFFSET}
METRICS_PORTS = {"execution": 9101 + OFFSET, "risk": 9102 + OFFSET, "signal": 9103 + OFFSET}
PAPER_PORT = 8081 + OFFSET
PAPER_URL = f"http://127.0.0.1:{PAPER_PORT}"
PAPER_EMBED_PORT = 8082 + OFFSET
PAPER_EMBED_URL = f"http://127.0.0.1:{PAPER_EMBED_PORT}"
WEBHOOK_PORT = 8090 + OFFSET
WEBHOOK_URL = f"http://127.0.0.1:{WEBHOOK_PORT}/webhooks/kraken-embed"
LOCAL_REDIS_PORT = 6380 + OFFSET
START_TIMEOUT = 30.0
_PR_SET_PDEATHSIG = 1


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]


@dataclass
class Stack:
    children: list[Child] = field(default_factory=list)

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        log = (RUN / f"{name}.log").open("ab")
        process = subprocess.Popen(  # noqa: S603 - fixed argv built here
            argv,
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self.children.append(Child(name, process))

    def stop(self) -> None:
        for child in reversed(self.children):
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
                try:
                    child.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.process.kill()
                    child.process.wait()
            print(f"  stopped {child.name} (exit {child.process.returncode})")

    def exited(self) -> Child | None:
        return next((c for c in self.children if c.process.poll() is not None), None)


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM this child if `make run` itself is killed."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def ensure_keys() -> None:
    for issuer in ("local", *SERVICES):
        private = KEYS / f"{issuer}.pem"
        if not private.exists():
            write_key_pair(private, KEYS / f"{issuer}.pub.pem")


def kraken_credentials(name: str) -> tuple[str, str]:
    """The environment's KRAKEN_<name> pair if set, else a generated paper pair kept in .run/."""
    key = os.environ.get(f"KRAKEN_{name}API_KEY")
    secret = os.environ.get(f"KRAKEN_{name}API_SECRET")
    if key and secret:
        return key, secret
    stored = RUN / f"paper-{name.lower() or 'spot'}-credentials"
    if not stored.exists():
        stored.touch(mode=0o600)
        pair = (
            f"paper-{secrets.token_hex(8)}\n{base64.b64encode(secrets.token_bytes(64)).decode()}\n"
        )
        stored.write_text(pair)
    key, secret = stored.read_text().split()
    return key, secret


def webhook_secret() -> str:
    """The environment's KRAKEN_EMBED_WEBHOOK_SECRET if set, else a generated one kept in .run/."""
    if os.environ.get("KRAKEN_EMBED_WEBHOOK_SECRET"):
        return os.environ["KRAKEN_EMBED_WEBHOOK_SECRET"]
    stored = RUN / "paper-webhook-secret"
    if not stored.exists():
        stored.touch(mode=0o600)
        stored.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    return stored.read_text().strip()


def start_redis(stack: Stack) -> str:
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"]
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit(
            "redis-server is not on PATH and REDIS_URL is not set: "
            "`apt-get install redis-server`, or set REDIS_URL to a running Redis"
        )
    (RUN / "redis").mkdir(parents=True, exist_ok=True)
    stack.spawn(
        "redis",
        [
            binary,
            "--port",
            str(LOCAL_REDIS_PORT),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes",
            "--dir",
            str(RUN / "redis"),
        ],
        dict(os.environ),
    )
    return f"redis://127.0.0.1:{LOCAL_REDIS_PORT}/0"


def service_env(
    name: str, redis_url: str, spot: tuple[str, str], embed: tuple[str, str], hook_secret: str
) -> dict[str, str]:
    trusted = ",".join(f"{issuer}={KEYS / f'{issuer}.pub.pem'}" for issuer in ("local", *SERVICES))
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'gen'}",
        "GRPC_LISTEN_ADDR": f"127.0.0.1:{GRPC_PORTS[name]}",
        "METRICS_PORT": str(METRICS_PORTS[name]),
        "REDIS_URL": redis_url,
        "IDENTITY_TRUSTED_KEYS": trusted,
        "IDENTITY_SIGNING_KEY_FILE": str(KEYS / f"{name}.pem"),
        "RISK_TARGET": f"127.0.0.1:{GRPC_PORTS['risk']}",
        "EXECUTION_TARGET": f"127.0.0.1:{GRPC_PORTS['execution']}",
    }
    if name == "execution":
        env.update(
            {
                "KRAKEN_API_URL": os.environ.get("KRAKEN_API_URL", PAPER_URL),
                "KRAKEN_API_KEY": spot[0],
                "KRAKEN_API_SECRET": spot[1],
                "KRAKEN_EMBED_API_URL": os.environ.get("KRAKEN_EMBED_API_URL", PAPER_EMBED_URL),
                "KRAKEN_EMBED_API_KEY": embed[0],
                "KRAKEN_EMBED_API_SECRET": embed[1],
                "KRAKEN_EMBED_WEBHOOK_SECRET": hook_secret,
                "WEBHOOK_LISTEN_ADDR": f"127.0.0.1:{WEBHOOK_PORT}",
            }
        )
    else:
        for variable in (
            "KRAKEN_API_KEY",
            "KRAKEN_API_SECRET",
            "KRAKEN_EMBED_API_KEY",
            "KRAKEN_EMBED_API_SECRET",
            "KRAKEN_EMBED_WEBHOOK_SECRET",
        ):
            env.pop(variable, None)
    if name == "signal":
        # Public market data only: the WebSocket and REST of the same exchange, no credentials.
        env["KRAKEN_WS_URL"] = os.environ.get("KRAKEN_WS_URL", f"ws://127.0.0.1:{PAPER_PORT}/v2")
        env["KRAKEN_API_URL"] = os.environ.get("KRAKEN_API_URL", PAPER_URL)
    return env


def wait_until_serving(stack: Stack) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    pending = set(SERVICES)
    while pending:
        dead = stack.exited()
        if dead is not None:
            raise SystemExit(
                f"{dead.name} exited with {dead.process.returncode}; see {RUN / dead.name}.log"
            )
        if time.monotonic() > deadline:
            raise SystemExit(
                f"not SERVING after {START_TIMEOUT:.0f} s: {', '.join(sorted(pending))}"
            )
        pending = {
            name for name in pending if not check(f"127.0.0.1:{GRPC_PORTS[name]}", timeout=0.5)
        }
        time.sleep(0.2)


def banner(redis_url: str, paper: bool) -> str:
    rows = [
        f"  {name:<10} grpc 127.0.0.1:{GRPC_PORTS[name]}   metrics http://127.0.0.1:{METRICS_PORTS[name]}/metrics"
        for name in ("execution", "risk", "signal")
    ]
    exchange = (
        f"  paper      {PAPER_URL} (WebSocket ws://127.0.0.1:{PAPER_PORT}/v2, "
        f"Embed {PAPER_EMBED_URL})\n"
        f"  webhooks   {WEBHOOK_URL} (execution)"
        if paper
        else ("  paper      not built yet (issue 3); execution points at KRAKEN_API_URL")
    )
    return "\n".join(
        [
            "trading platform is up:",
            *rows,
            exchange,
            f"  redis      {redis_url}",
            "",
            f"call it:  .venv/bin/tradectl status      (signs with {KEYS / 'local.pem'})",
            f"          grpcurl -plaintext 127.0.0.1:{GRPC_PORTS['execution']} list",
            f"logs:     {RUN}/<name>.log       stop: Ctrl-C",
        ]
    )


def main() -> None:
    RUN.mkdir(exist_ok=True)
    ensure_keys()
    stack = Stack()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        redis_url = start_redis(stack)
        spot = kraken_credentials("")
        embed = kraken_credentials("EMBED_")
        hook_secret = webhook_secret()
        paper = (ROOT / "services" / "paper" / "__main__.py").exists()
        if paper:
            paper_env = {
                **os.environ,
                "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'gen'}",
                "PAPER_PORT": str(PAPER_PORT),
                "KRAKEN_API_KEY": spot[0],
                "KRAKEN_API_SECRET": spot[1],
                "KRAKEN_EMBED_API_KEY": embed[0],
                "KRAKEN_EMBED_API_SECRET": embed[1],
                "PAPER_EMBED_PORT": str(PAPER_EMBED_PORT),
                "PAPER_EMBED_WEBHOOK_URL": WEBHOOK_URL,
                "KRAKEN_EMBED_WEBHOOK_SECRET": hook_secret,
            }
            stack.spawn("paper", [sys.executable, "-m", "services.paper"], paper_env)
        for name in SERVICES:
            stack.spawn(
                name,
                [sys.executable, "-m", f"services.{name}"],
                service_env(name, redis_url, spot, embed, hook_secret),
            )
        wait_until_serving(stack)
        print(banner(redis_url, paper), flush=True)
        while (dead := stack.exited()) is None:
            time.sleep(0.5)
        print(
            f"{dead.name} exited with {dead.process.returncode}; see {RUN / dead.name}.log",
            "- stopping",
        )
    except KeyboardInterrupt:
        print("\nstopping…")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
