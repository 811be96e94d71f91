"""Outgoing call metadata: a fresh bearer token and the current request id.

Services use it for their calls to each other (their own issuer, subject ``service:<name>``);
tradectl uses it with the local issuer key.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from services.common.context import REQUEST_ID_HEADER, current_request_id, new_request_id
from services.common.identity import TokenIssuer

Metadata = tuple[tuple[str, str], ...]

# Re-mint this long before expiry so a token never expires in flight.
_REFRESH_MARGIN = 15


class CallerCredentials:
    """Mints and caches one caller's token and builds the metadata of each call."""

    def __init__(self, issuer: TokenIssuer, subject: str, groups: Iterable[str]) -> None:
        self._issuer = issuer
        self.subject = subject
        self.groups = frozenset(groups)
        self._token = ""
        self._refresh_at = 0.0

    def __repr__(self) -> str:
        return f"CallerCredentials(subject={self.subject!r}, groups={sorted(self.groups)})"

    def token(self) -> str:
        now = time.time()
        if now >= self._refresh_at:
            self._token = self._issuer.mint(self.subject, self.groups, now=now)
            self._refresh_at = now + max(1, self._issuer.lifetime - _REFRESH_MARGIN)
        return self._token

    def metadata(self, request_id: str | None = None) -> Metadata:
        rid = request_id or current_request_id() or new_request_id()
        return (("authorization", f"Bearer {self.token()}"), (REQUEST_ID_HEADER, rid))
