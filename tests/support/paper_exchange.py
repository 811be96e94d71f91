"""The paper exchange as a real process on a free port, for any test that needs a Kraken.

    with PaperExchange(nonce_window=1000, tier="starter") as paper:
        paper.private("Balance")                  # signed form body, fresh nonce
        paper.private("AddOrder", {...}, json_body=True)
        paper.set_price("XBTUSD", "50000.0")      # test hooks under /_paper/
        paper.embed("POST", "/b2b/quotes", {"user": iiban}, {...})   # signed Embed call
        paper.embed_fault("expired")              # Embed test hooks under /_paper/embed/

The key pairs (Spot and Embed) are generated per instance unless given; ``paper.env`` is what
the process got, so a service under test can be pointed at it with the same
``KRAKEN_API_KEY``/``KRAKEN_API_SECRET`` and ``KRAKEN_EMBED_API_KEY``/``KRAKEN_EMBED_API_SECRET``.
Embed listens on ``paper.embed_url``; its webhooks go to ``webhook_url`` when one is given.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from services.common.kraken_auth import kraken_signature
from tests.support.ports import free_ports

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 15.0


def generate_secret() -> str:
    """A random private key in Kraken's format: 64 bytes, base64."""
    return base64.b64encode(secrets.token_bytes(64)).decode("ascii")


class PaperExchange:
    """One ``python -m services.paper`` process, started on enter and stopped on exit."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        api_secret: str | None = None,
        nonce_window: int = 0,
        tier: str = "intermediate",
        tick_interval: float = 3600.0,
        seed: int = 42,
        extra_env: Mapping[str, str] | None = None,
        embed_api_key: str | None = None,
        embed_api_secret: str | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        webhook_duplicate_rate: float = 0.0,
    ) -> None:
        # Two ports picked together: picked one by one, the second could repeat the first.
        self.port, self.embed_port = free_ports(2)
        self.api_key = api_key or "paper-" + secrets.token_hex(8)
        self.api_secret = api_secret or generate_secret()
        self.embed_api_key = embed_api_key or "paper-embed-" + secrets.token_hex(8)
        self.embed_api_secret = embed_api_secret or generate_secret()
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret or generate_secret()
        embed_env = {
            "PAPER_EMBED_PORT": str(self.embed_port),
            "KRAKEN_EMBED_API_KEY": self.embed_api_key,
            "KRAKEN_EMBED_API_SECRET": self.embed_api_secret,
            "PAPER_EMBED_WEBHOOK_DUPLICATE_RATE": str(webhook_duplicate_rate),
        }
        if webhook_url is not None:
            embed_env["PAPER_EMBED_WEBHOOK_URL"] = webhook_url
            embed_env["KRAKEN_EMBED_WEBHOOK_SECRET"] = self.webhook_secret
        self.env = {
            "PAPER_HOST": "127.0.0.1",
            "PAPER_PORT": str(self.port),
            "KRAKEN_API_KEY": self.api_key,
            "KRAKEN_API_SECRET": self.api_secret,
            "PAPER_NONCE_WINDOW": str(nonce_window),
            "PAPER_TIER": tier,
            "PAPER_TICK_INTERVAL": str(tick_interval),
            "PAPER_SEED": str(seed),
            **embed_env,
            **(extra_env or {}),
        }
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/v2"
        self.embed_url = f"http://127.0.0.1:{self.embed_port}"
        self._process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="paper-", suffix=".log", delete=False)
        self._nonce_lock = threading.Lock()
        self._last_nonce = 0
        self.http = httpx.Client(base_url=self.url, timeout=10.0)
        self.embed_http = httpx.Client(base_url=self.embed_url, timeout=10.0)

    # -- process ------------------------------------------------------------------------------

    @property
    def pid(self) -> int:
        """The paper exchange's process id (benchmarks read its CPU time)."""
        if self._process is None:
            raise RuntimeError("the paper exchange is not running")
        return self._process.pid

    def start(self) -> None:
        env = {**os.environ, **self.env}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "services.paper"],
            cwd=REPO_ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"paper exchange exited at start:\n{self.log_text()}")
            try:
                if self.http.get("/0/public/Time").status_code == 200 and (
                    self.embed_http.get("/_paper/embed/faults").status_code == 200
                ):
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"paper exchange did not answer:\n{self.log_text()}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        self.http.close()
        self.embed_http.close()
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)

    def log_text(self) -> str:
        self._log.flush()
        return Path(self._log.name).read_text(errors="replace")[-4000:]

    def __enter__(self) -> PaperExchange:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- Kraken calls -------------------------------------------------------------------------

    def next_nonce(self) -> int:
        """A nanosecond nonce, strictly increasing within this helper."""
        with self._nonce_lock:
            self._last_nonce = max(self._last_nonce + 1, time.time_ns())
            return self._last_nonce

    def signed_request(
        self,
        endpoint: str,
        params: Mapping[str, Any] | None = None,
        *,
        json_body: bool = False,
        nonce: int | None = None,
    ) -> tuple[str, bytes, dict[str, str]]:
        """Path, body and headers of a private call, signed as Kraken's clients sign it.

        A JSON body is compact and serialised once, with the nonce a JSON number, as Kraken's
        CLI sends it; a form body is what krakenex and ccxt send.
        """
        path = f"/0/private/{endpoint}"
        nonce = self.next_nonce() if nonce is None else nonce
        fields = {"nonce": nonce, **(params or {})}
        if json_body:
            body = json.dumps(fields, separators=(",", ":")).encode("utf-8")
            content_type = "application/json"
        else:
            body = urlencode(fields).encode("ascii")
            content_type = "application/x-www-form-urlencoded"
        headers = {
            "API-Key": self.api_key,
            "API-Sign": kraken_signature(path, nonce, body, self.api_secret),
            "Content-Type": content_type,
        }
        return path, body, headers

    def private(
        self,
        endpoint: str,
        params: Mapping[str, Any] | None = None,
        *,
        json_body: bool = False,
        nonce: int | None = None,
    ) -> dict[str, Any]:
        """A signed private call; returns Kraken's envelope ``{"error": [...], "result": ...}``."""
        path, body, headers = self.signed_request(
            endpoint, params, json_body=json_body, nonce=nonce
        )
        response = self.http.post(path, content=body, headers=headers)
        response.raise_for_status()
        envelope: dict[str, Any] = response.json()
        return envelope

    def signed_embed_request(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        *,
        nonce: int | None = None,
    ) -> tuple[str, bytes, dict[str, str]]:
        """Target, body and headers of an Embed call, signed as Kraken's guide signs it.

        The query string is encoded once (spaces as ``%20``) and signed as it is sent; a body is
        serialised once with ``json.dumps`` and the same bytes are signed and sent.
        """
        target = path
        if params:
            target += "?" + urlencode(params, quote_via=quote)
        content = b"" if body is None else json.dumps(body).encode("utf-8")
        nonce = self.next_nonce() if nonce is None else nonce
        headers = {
            "API-Key": self.embed_api_key,
            "API-Nonce": str(nonce),
            "API-Sign": kraken_signature(target, nonce, content, self.embed_api_secret),
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        return target, content, headers

    def embed(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        *,
        nonce: int | None = None,
    ) -> httpx.Response:
        """A signed Embed call (``/b2b/…``); the response is returned whatever its status."""
        target, content, headers = self.signed_embed_request(path, params, body, nonce=nonce)
        return self.embed_http.request(method, target, content=content, headers=headers)

    def public(self, endpoint: str, **query: Any) -> dict[str, Any]:
        response = self.http.get(f"/0/public/{endpoint}", params=query)
        response.raise_for_status()
        envelope: dict[str, Any] = response.json()
        return envelope

    # -- test hooks ---------------------------------------------------------------------------

    def add_fault(self, kind: str, **spec: Any) -> dict[str, Any]:
        response = self.http.post("/_paper/faults", json={"kind": kind, **spec})
        response.raise_for_status()
        fault: dict[str, Any] = response.json()
        return fault

    def clear_faults(self) -> None:
        self.http.delete("/_paper/faults").raise_for_status()

    def set_price(self, pair: str, price: str) -> dict[str, Any]:
        response = self.http.post("/_paper/price", json={"pair": pair, "price": price})
        response.raise_for_status()
        book: dict[str, Any] = response.json()
        return book

    def orders(self, **filters: str) -> dict[str, Any]:
        response = self.http.get("/_paper/orders", params=filters)
        response.raise_for_status()
        orders: dict[str, Any] = response.json()
        return orders

    def stats(self) -> dict[str, Any]:
        response = self.http.get("/_paper/stats")
        response.raise_for_status()
        stats: dict[str, Any] = response.json()
        return stats

    # -- Embed test hooks ---------------------------------------------------------------------

    def embed_create_user(self, balances: Mapping[str, str], user: str | None = None) -> str:
        """Create an Embed user with these balances; returns its IIBAN."""
        response = self.embed_http.post(
            "/_paper/embed/users", json={"user": user, "balances": dict(balances)}
        )
        response.raise_for_status()
        iiban: str = response.json()["user"]
        return iiban

    def embed_balances(self, user: str) -> dict[str, str]:
        response = self.embed_http.get(f"/_paper/embed/users/{quote(user)}/balances")
        response.raise_for_status()
        balances: dict[str, str] = response.json()["balances"]
        return balances

    def embed_fault(self, kind: str, **spec: Any) -> dict[str, Any]:
        response = self.embed_http.post("/_paper/embed/faults", json={"kind": kind, **spec})
        response.raise_for_status()
        fault: dict[str, Any] = response.json()
        return fault

    def embed_clear_faults(self) -> None:
        self.embed_http.delete("/_paper/embed/faults").raise_for_status()

    def embed_webhooks(self) -> list[dict[str, Any]]:
        response = self.embed_http.get("/_paper/embed/webhooks")
        response.raise_for_status()
        deliveries: list[dict[str, Any]] = response.json()["deliveries"]
        return deliveries

    def embed_expire(self, quote_id: str) -> dict[str, Any]:
        response = self.embed_http.post(f"/_paper/embed/quotes/{quote_id}/expire")
        response.raise_for_status()
        quote_object: dict[str, Any] = response.json()
        return quote_object
