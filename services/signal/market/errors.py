"""Errors of the market-data layer; every foreign error it meets is raised as one of these.

- :class:`MarketDataError`: the base.
- :class:`KrakenPublicError`: a public REST call failed: transport error, HTTP status, Kraken's
  ``error`` strings, or a body that is not the documented shape.
- :class:`MalformedMessage`: a WebSocket message that is not the documented shape.
"""

from __future__ import annotations


class MarketDataError(Exception):
    """Base of the market-data errors."""


class KrakenPublicError(MarketDataError):
    """A public REST call did not give a usable answer."""


class MalformedMessage(MarketDataError):
    """A WebSocket message lacks a field or carries a value of the wrong type."""
