"""Everything one Embed server holds, shared by its ``/b2b/`` and admin handlers."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from services.paper.embed.auth import EmbedAuthenticator
from services.paper.embed.desk import QuoteDesk
from services.paper.embed.faults import EmbedFaultBook
from services.paper.embed.users import UserBook
from services.paper.embed.webhooks import WebhookSender


@dataclass
class EmbedState:
    """The Embed server's parts; ``webhooks`` is ``None`` when no webhook URL is configured."""

    auth: EmbedAuthenticator
    users: UserBook
    faults: EmbedFaultBook
    desk: QuoteDesk
    webhooks: WebhookSender | None


EMBED = web.AppKey("embed", EmbedState)
