"""The paper exchange: a local, Kraken-compatible Spot exchange that the platform tests against.

Start it with ``python -m services.paper``; see :mod:`services.paper.admin_api` for the test hooks.
"""
