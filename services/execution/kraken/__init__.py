"""The Kraken Spot adapter of the execution service, split by role.

``config`` (KRAKEN_* settings, tier, nonce mode), ``credentials`` (the key pair, masked),
``errors`` (the one error hierarchy and the table of Kraken error strings), ``nonce`` (NonceKeeper),
``budget`` (the REST and trading leaky buckets), ``endpoints`` (paths, limiter, idempotency),
``orders`` (AddOrder request), ``wire`` (bodies, envelope, Decimals), ``client``
(KrakenSpotClient) and ``dead_mans_switch`` (CancelAllOrdersAfter kept armed). Signing reuses
``services.common.kraken_auth``.
"""
