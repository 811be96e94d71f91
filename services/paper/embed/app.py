"""The Embed server: an aiohttp application on its own port, priced by the Spot market it shares."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from services.paper.config import PaperSettings
from services.paper.embed import admin, routes
from services.paper.embed.auth import EmbedAuthenticator
from services.paper.embed.desk import QuoteDesk
from services.paper.embed.faults import EmbedFaultBook
from services.paper.embed.quotes import Quote
from services.paper.embed.rates import MarketRates
from services.paper.embed.state import EMBED, EmbedState
from services.paper.embed.users import UserBook
from services.paper.embed.webhooks import WebhookSender
from services.paper.market import Market


def _polling_only(quote: Quote) -> None:
    """With no webhook URL a final status is seen by polling Get Quote alone."""


async def _lifetime(app: web.Application) -> AsyncIterator[None]:
    state = app[EMBED]
    if state.webhooks is not None:
        await state.webhooks.start()
    yield
    state.desk.close()
    if state.webhooks is not None:
        await state.webhooks.close()


def build_embed_app(settings: PaperSettings, market: Market) -> web.Application:
    """Kraken Embed at ``/b2b/``, its test hooks at ``/_paper/embed/``; prices from ``market``."""
    api_key = settings.kraken_embed_api_key
    secret = settings.kraken_embed_api_secret
    if api_key is None or secret is None:
        raise ValueError("KRAKEN_EMBED_API_KEY and KRAKEN_EMBED_API_SECRET are not both set")
    faults = EmbedFaultBook()
    users = UserBook(settings.paper_embed_users)
    webhooks = None
    webhook_secret = settings.kraken_embed_webhook_secret
    if settings.paper_embed_webhook_url is not None and webhook_secret is not None:
        webhooks = WebhookSender(
            settings.paper_embed_webhook_url,
            webhook_secret.get_secret_value(),
            duplicate_rate=settings.paper_embed_webhook_duplicate_rate,
            seed=settings.paper_seed,
            faults=faults,
        )
    desk = QuoteDesk(
        rates=MarketRates(market),
        users=users,
        faults=faults,
        ttl_seconds=settings.paper_embed_quote_ttl,
        settle_delay=settings.paper_embed_settle_delay,
        on_final=_polling_only if webhooks is None else webhooks.publish,
    )
    app = web.Application(middlewares=[routes.embed_envelope])
    app[EMBED] = EmbedState(
        auth=EmbedAuthenticator(api_key, secret.get_secret_value()),
        users=users,
        faults=faults,
        desk=desk,
        webhooks=webhooks,
    )
    routes.add_routes(app)
    admin.add_routes(app)
    app.cleanup_ctx.append(_lifetime)
    return app
