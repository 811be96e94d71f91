"""Signals: validation, the Redis stream that records every signal, and following it."""
