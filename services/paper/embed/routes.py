"""Kraken Embed's quote endpoints under ``/b2b/`` (kraken.md §6.3), each behind the signature check.

- ``GET /b2b/quotes/assets?user=<IIBAN>[&tradable=true|false]``: the listed assets.
- ``GET /b2b/quotes/limits?user=&base_asset=&quote_asset=&type=spend|receive``: the smallest and
  largest amount of ``base_asset`` (the asset a request's ``amount`` fixes) a quote may take.
  The paper exchange has no display currency, so the ``*_in_display`` figures repeat the others.
- ``POST /b2b/quotes?user=<IIBAN>``: Request Quote (body in :mod:`.quote_request`).
- ``PUT /b2b/quotes/{quote_id}[?user=<IIBAN>]``: Execute Quote.
- ``GET /b2b/quotes/{quote_id}[?user=<IIBAN>]``: Get Quote.

A success is HTTP 200 ``{"result": …}``; a refusal is ``{"error": ["<string>"]}`` with the
status :mod:`.errors` gives it. A missing ``user`` is 400 ``EGeneral:Invalid arguments:user``,
an unknown one 404 ``ENexus:User not found``; an unknown path or method under ``/b2b/`` is
404 or 405 ``EGeneral:Unknown Method``. ``Kraken-Version`` is accepted and ignored.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from services.paper.embed.assets import (
    EMBED_ASSETS,
    AssetStatus,
    EmbedAsset,
    disabled_against,
    find_embed_asset,
    market_between,
)
from services.paper.embed.errors import ASSET_DISABLED, UNKNOWN_METHOD, EmbedError, invalid_argument
from services.paper.embed.quote_request import QuoteType, parse_quote_request
from services.paper.embed.quotes import amount_text, quote_view
from services.paper.embed.state import EMBED
from services.paper.wire import JsonValue, json_response

log = logging.getLogger(__name__)

_PREFIX = "/b2b/"


def _ok(result: JsonValue) -> web.Response:
    return json_response({"result": result})


def _failed(exc: EmbedError) -> web.Response:
    return json_response({"error": [exc.text]}, status=exc.status)


@web.middleware
async def embed_envelope(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate every ``/b2b/`` call and answer every refusal in Embed's envelope."""
    if not request.path.startswith(_PREFIX):
        return await handler(request)
    try:
        body = await request.read()
        request.app[EMBED].auth.verify(
            request.raw_path,
            body,
            api_key=request.headers.get("API-Key"),
            api_sign=request.headers.get("API-Sign"),
            api_nonce=request.headers.get("API-Nonce"),
        )
        return await handler(request)
    except EmbedError as exc:
        log.info("call refused", extra={"path": request.path, "error": exc.text})
        return _failed(exc)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as exc:
        return _failed(EmbedError(exc.status, UNKNOWN_METHOD))


def _user(request: web.Request) -> str:
    user = request.query.get("user")
    if not user:
        raise invalid_argument("user")
    request.app[EMBED].users.require(user)
    return user


def _optional_user(request: web.Request) -> str | None:
    return _user(request) if "user" in request.query else None


def _asset_param(request: web.Request, name: str) -> EmbedAsset:
    asset = find_embed_asset(request.query.get(name, ""))
    if asset is None:
        raise invalid_argument(name)
    return asset


def _asset_view(asset: EmbedAsset) -> JsonValue:
    return {
        "name": asset.name,
        "status": asset.status.value,
        "disabled_against": disabled_against(asset),
        "decimals": asset.decimals,
    }


async def list_assets(request: web.Request) -> web.Response:
    _user(request)
    tradable = request.query.get("tradable")
    if tradable not in (None, "true", "false"):
        raise invalid_argument("tradable")
    assets = [
        _asset_view(asset)
        for asset in EMBED_ASSETS
        if tradable is None or (asset.status is AssetStatus.TRADABLE) == (tradable == "true")
    ]
    return _ok({"assets": assets})


async def quote_limits(request: web.Request) -> web.Response:
    _user(request)
    base = _asset_param(request, "base_asset")
    quote = _asset_param(request, "quote_asset")
    if request.query.get("type") not in tuple(QuoteType):
        raise invalid_argument("type")
    if base == quote:
        raise invalid_argument("quote_asset")
    tradable = base.status is AssetStatus.TRADABLE and quote.status is AssetStatus.TRADABLE
    if not tradable or market_between(base, quote) is None:
        raise invalid_argument(ASSET_DISABLED)
    minimum = amount_text(base.minimum, base.decimals)
    maximum = amount_text(base.maximum, base.decimals)
    return _ok(
        {
            "asset": base.name,
            "minimum": minimum,
            "maximum": maximum,
            "precision": base.decimals,
            "minimum_tradable_amount": minimum,
            "minimum_in_display": minimum,
            "maximum_in_display": maximum,
            "minimum_tradable_amount_in_display": minimum,
        }
    )


async def request_quote(request: web.Request) -> web.Response:
    user = _user(request)
    quote_request = parse_quote_request(await request.read())
    return _ok(quote_view(request.app[EMBED].desk.request(user, quote_request)))


async def execute_quote(request: web.Request) -> web.Response:
    desk = request.app[EMBED].desk
    quote = desk.execute(request.match_info["quote_id"], _optional_user(request))
    return _ok(quote_view(quote))


async def get_quote(request: web.Request) -> web.Response:
    desk = request.app[EMBED].desk
    return _ok(quote_view(desk.get(request.match_info["quote_id"], _optional_user(request))))


def add_routes(app: web.Application) -> None:
    # The fixed paths come first: ``/b2b/quotes/{quote_id}`` would match them too.
    app.router.add_get("/b2b/quotes/assets", list_assets)
    app.router.add_get("/b2b/quotes/limits", quote_limits)
    app.router.add_post("/b2b/quotes", request_quote)
    app.router.add_put("/b2b/quotes/{quote_id}", execute_quote)
    app.router.add_get("/b2b/quotes/{quote_id}", get_quote)
