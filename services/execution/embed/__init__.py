"""Kraken Embed quote trading: request a quote, execute it, follow it to completion (issue #7)."""
