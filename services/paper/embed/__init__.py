"""Kraken Embed (B2B quote trading, kraken.md §6) served by the paper exchange on its own port."""
