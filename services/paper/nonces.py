"""The nonce book: an increasing nonce per API key, with Kraken's nonce window (kraken.md §2.1)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class _KeyNonces:
    highest: int = -1
    # Nonces accepted below ``highest`` inside the window, so a replay is still refused.
    recent: set[int] = field(default_factory=set)


class NonceBook:
    """Accepts a nonce above the key's highest or, with a window, an unused one within it below.

    The window is in nonce units, as on Kraken's key settings: ``10000`` is ten seconds of
    millisecond nonces.
    """

    def __init__(self, window: int) -> None:
        self._window = window
        self._keys: dict[str, _KeyNonces] = {}

    def accept(self, api_key: str, nonce: int) -> bool:
        """Record ``nonce`` if acceptable; ``False`` means ``EAPI:Invalid nonce``."""
        if nonce < 0 or nonce >= 2**64:
            return False
        state = self._keys.setdefault(api_key, _KeyNonces())
        if nonce > state.highest:
            if self._window:
                state.recent.add(state.highest)
                state.highest = nonce
                floor = nonce - self._window
                state.recent = {seen for seen in state.recent if seen > floor}
            else:
                state.highest = nonce
            return True
        if nonce <= state.highest - self._window or nonce == state.highest:
            return False
        if nonce in state.recent:
            return False
        state.recent.add(nonce)
        return True
