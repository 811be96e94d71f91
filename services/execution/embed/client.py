"""``KrakenEmbedClient``: the Embed REST API (``/b2b/``) over one pooled ``httpx.AsyncClient``.

Authentication is ``kraken.md`` §6.1: ``API-Key``, ``API-Nonce`` and ``API-Sign`` headers, the
signature over the path with its query string exactly as sent and the JSON body exactly as sent.
Nonces come from the shared ``NonceKeeper`` under the Embed key's own id, so several replicas
share one counter. Errors (``EPTL:…``, ``ENexus:…``, HTTP 409/422/429/503) go through the same
error table as Spot. Only idempotent calls are retried here; Execute is idempotent at Kraken
(a second one answers ``EPTL:Quote already accepted``) but its unknown outcomes go back to the
caller, which records them before anything else happens.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from services.execution.embed.config import EmbedSettings
from services.execution.kraken.config import NonceMode
from services.execution.kraken.credentials import KrakenCredentials
from services.execution.kraken.errors import (
    InvalidNonceError,
    KrakenError,
    RetryClass,
    from_transport,
)
from services.execution.kraken.nonce import NonceKeeper
from services.execution.kraken.pooled import PooledHttpClient
from services.execution.kraken.wire import JSON, parse_result

logger = logging.getLogger(__name__)

_MAX_BACKOFF = 5.0


class KrakenEmbedClient(PooledHttpClient):
    def __init__(
        self,
        settings: EmbedSettings,
        credentials: KrakenCredentials,
        nonces: NonceKeeper,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._credentials = credentials
        self._nonces = nonces
        self._clock = clock
        headers = {"User-Agent": "trading-platform-execution/0.1"}
        if settings.version:
            headers[settings.version_header] = settings.version
        self._http = httpx.AsyncClient(
            base_url=settings.api_url,
            timeout=httpx.Timeout(settings.http_timeout, connect=settings.connect_timeout),
            limits=httpx.Limits(max_connections=20, keepalive_expiry=5.0),
            headers=headers,
            transport=transport,
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def key_id(self) -> str:
        return self._credentials.key_id

    async def list_assets(self, user: str, *, tradable: bool | None = None) -> list[dict[str, Any]]:
        query = [("user", user)]
        if tradable is not None:
            query.append(("tradable", "true" if tradable else "false"))
        result = await self._call("ListQuoteAssets", "GET", "/b2b/quotes/assets", query)
        assets = result.get("assets") if isinstance(result, dict) else None
        if not isinstance(assets, list):
            return []
        return [asset for asset in assets if isinstance(asset, dict)]

    async def request_quote(self, user: str, body: dict[str, Any]) -> Any:
        # Not retried: a lost answer leaves at most an unused quote that expires by itself.
        return await self._call(
            "RequestQuote", "POST", "/b2b/quotes", [("user", user)], body, idempotent=False
        )

    async def execute_quote(self, quote_id: str, user: str) -> Any:
        return await self._call(
            "ExecuteQuote",
            "PUT",
            f"/b2b/quotes/{quote(quote_id, safe='')}",
            [("user", user)],
            idempotent=False,
        )

    async def get_quote(self, quote_id: str, user: str) -> Any:
        return await self._call(
            "GetQuote", "GET", f"/b2b/quotes/{quote(quote_id, safe='')}", [("user", user)]
        )

    async def _call(
        self,
        name: str,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]],
        body: dict[str, Any] | None = None,
        *,
        idempotent: bool = True,
    ) -> Any:
        # The path is signed with its query string exactly as it goes on the wire.
        uri = f"{path}?{urlencode(query)}" if query else path
        # Python's default separators, as in Kraken's own example; these bytes are sent as is.
        content = json.dumps(body).encode("utf-8") if body is not None else b""
        attempt = 1
        nonce_retried = False
        while True:
            try:
                return await self._send(name, method, uri, content, idempotent=idempotent)
            except InvalidNonceError:
                mode = self._nonces.mode_for(self._credentials.key_id)
                if nonce_retried or mode is not NonceMode.WINDOW:
                    raise
                nonce_retried = True
            except KrakenError as exc:
                retry = (
                    idempotent
                    and exc.retry_class is RetryClass.SAFE_TO_RETRY
                    and attempt < self._settings.max_attempts
                )
                logger.info(
                    "kraken embed call failed",
                    extra={
                        "endpoint": name,
                        "attempt": attempt,
                        "error": type(exc).__name__,
                        "kraken_error": exc.kraken_error,
                        "will_retry": retry,
                    },
                )
                if not retry:
                    raise
                delay = min(_MAX_BACKOFF, 0.2 * 2 ** (attempt - 1))
                await asyncio.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter
                attempt += 1

    async def _send(
        self, name: str, method: str, uri: str, content: bytes, *, idempotent: bool
    ) -> Any:
        async with self._nonces.reserve(self._credentials.key_id) as nonce:
            headers = self._credentials.headers(uri, nonce, content)
            headers["API-Nonce"] = str(nonce)
            if content:
                headers["Content-Type"] = JSON
            began = time.monotonic()
            try:
                response = await self._http.request(
                    method,
                    httpx.URL(self._settings.api_url + uri),
                    content=content,
                    headers=headers,
                )
            except httpx.HTTPError as exc:
                raise from_transport(exc, endpoint=name, idempotent=idempotent) from exc
            finally:
                logger.debug(
                    "kraken embed call",
                    extra={
                        "endpoint": name,
                        "nonce": nonce,
                        "elapsed_ms": round((time.monotonic() - began) * 1000, 1),
                    },
                )
        return parse_result(
            response.status_code,
            _errors_as_error(response.content),
            endpoint=name,
            idempotent=idempotent,
            now=self._clock(),
        )


def _errors_as_error(content: bytes) -> bytes:
    """Embed's error key is not confirmed (``error`` or ``errors``, §6.4): read either."""
    if b'"errors"' not in content:
        return content
    try:
        payload = json.loads(content)
    except ValueError:
        return content
    if isinstance(payload, dict) and "error" not in payload:
        errors = payload.pop("errors")
        texts = [
            e if isinstance(e, str) else str(e.get("code") or e.get("message") or e)
            for e in (errors if isinstance(errors, list) else [errors])
            if isinstance(e, str | dict)
        ]
        payload["error"] = texts
        return json.dumps(payload).encode("utf-8")
    return content
