"""Starting bench/bare_chain.py's roles as processes, for the benches that measure beside it."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from tests.support.paper_exchange import PaperExchange
from tests.support.services import Keys, RunningService, running_service


def start_role(
    stack: ExitStack, keys: Keys, root: Path, role: str, env: dict[str, str]
) -> RunningService:
    """One role, SERVING when this returns, stopped when ``stack`` closes."""
    return stack.enter_context(
        running_service("bench.bare_chain", keys, root, {"BARE_ROLE": role, **env})
    )


def start_order_roles(
    stack: ExitStack, keys: Keys, root: Path, redis_url: str, paper: PaperExchange
) -> tuple[RunningService, RunningService]:
    """The risk role, then the execution role that asks it and places on ``paper``."""
    risk = start_role(stack, keys, root, "risk", {"REDIS_URL": redis_url})
    execution = start_role(
        stack,
        keys,
        root,
        "execution",
        {
            "REDIS_URL": redis_url,
            "RISK_TARGET": risk.target,
            "KRAKEN_API_URL": paper.url,
            "KRAKEN_API_KEY": paper.api_key,
            "KRAKEN_API_SECRET": paper.api_secret,
        },
    )
    return risk, execution
