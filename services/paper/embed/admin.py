"""The Embed test hooks under ``/_paper/embed/`` on the Embed port; unsigned, not Kraken's API.

- ``POST /_paper/embed/users`` ``{"user": "<IIBAN>" (optional), "balances": {"USD": "100"}}``:
  creates the user (a fresh IIBAN when none is given); 201 ``{"user", "balances"}``, 409 when
  the IIBAN is taken.
- ``GET /_paper/embed/users/{iiban}/balances``: ``{"user", "balances": {"USD": "100.00", …}}``.
- ``POST /_paper/embed/faults`` ``{"kind", "count": 1, "copies": 2}``: 201 with the fault and its
  ``id`` (kinds in :mod:`.faults`); ``GET`` lists the live ones; ``DELETE`` clears them all.
- ``GET /_paper/embed/webhooks``: ``{"deliveries": [...]}``, one entry per copy of each event:
  ``event_id``, ``event_type``, ``quote_id``, ``copy``, ``attempts``, ``last_status``,
  ``last_error``, ``state`` (``pending``, ``delivered``, ``gave_up``). Empty when no webhook URL
  is configured.
- ``POST /_paper/embed/quotes/{quote_id}/expire``: the quote's ``expires`` becomes now; answers
  the quote object.

A malformed request is HTTP 400 ``{"error": "<message>"}``, as on the Spot hooks.
"""

from __future__ import annotations

import json
from decimal import Decimal

from aiohttp import web
from pydantic import ValidationError

from services.paper.embed.assets import EMBED_ASSETS
from services.paper.embed.errors import EmbedError
from services.paper.embed.faults import EmbedFaultSpec
from services.paper.embed.quotes import amount_text, quote_view
from services.paper.embed.state import EMBED
from services.paper.embed.users import is_iiban, new_iiban, parse_balances
from services.paper.wire import JsonValue, json_response


def _refused(status: int, message: str) -> web.Response:
    return json_response({"error": message}, status=status)


def _balances_view(request: web.Request, iiban: str) -> JsonValue:
    balances = request.app[EMBED].users.balances(iiban)
    return {asset.name: amount_text(balances[asset.name], asset.decimals) for asset in EMBED_ASSETS}


async def create_user(request: web.Request) -> web.Response:
    users = request.app[EMBED].users
    try:
        body = json.loads(await request.read(), parse_float=Decimal)
        iiban = body.get("user") or new_iiban()
        raw = body.get("balances", {})
        if not isinstance(iiban, str) or not is_iiban(iiban):
            raise ValueError(f"user {iiban!r} is not an IIBAN")
        if not isinstance(raw, dict):
            raise TypeError("balances must be an object of asset to amount")
        balances = parse_balances({str(name): str(amount) for name, amount in raw.items()})
    except (ValueError, TypeError, AttributeError) as exc:
        return _refused(400, f"expected {{'user': IIBAN?, 'balances': {{...}}}}: {exc}")
    if users.exists(iiban):
        return _refused(409, f"user {iiban!r} exists")
    users.create(iiban, balances)
    return json_response({"user": iiban, "balances": _balances_view(request, iiban)}, status=201)


async def user_balances(request: web.Request) -> web.Response:
    iiban = request.match_info["iiban"]
    if not request.app[EMBED].users.exists(iiban):
        return _refused(404, f"no user {iiban!r}")
    return json_response({"user": iiban, "balances": _balances_view(request, iiban)})


async def add_fault(request: web.Request) -> web.Response:
    try:
        spec = EmbedFaultSpec.model_validate_json(await request.read())
    except ValidationError as exc:
        return _refused(400, str(exc))
    return json_response(request.app[EMBED].faults.add(spec).as_json(), status=201)


async def list_faults(request: web.Request) -> web.Response:
    faults: list[JsonValue] = [fault.as_json() for fault in request.app[EMBED].faults.all()]
    return json_response({"faults": faults})


async def clear_faults(request: web.Request) -> web.Response:
    request.app[EMBED].faults.clear()
    return json_response({"faults": []})


async def webhook_log(request: web.Request) -> web.Response:
    sender = request.app[EMBED].webhooks
    deliveries: list[JsonValue] = (
        [] if sender is None else [delivery.as_json() for delivery in sender.deliveries]
    )
    return json_response({"deliveries": deliveries})


async def expire_quote(request: web.Request) -> web.Response:
    try:
        quote = request.app[EMBED].desk.expire_now(request.match_info["quote_id"])
    except EmbedError as exc:
        return _refused(exc.status, exc.text)
    return json_response(quote_view(quote))


def add_routes(app: web.Application) -> None:
    app.router.add_post("/_paper/embed/users", create_user)
    app.router.add_get("/_paper/embed/users/{iiban}/balances", user_balances)
    app.router.add_post("/_paper/embed/faults", add_fault)
    app.router.add_get("/_paper/embed/faults", list_faults)
    app.router.add_delete("/_paper/embed/faults", clear_faults)
    app.router.add_get("/_paper/embed/webhooks", webhook_log)
    app.router.add_post("/_paper/embed/quotes/{quote_id}/expire", expire_quote)
