"""Bindings: automated trading that turns signals into orders through execution."""
