"""The order path as real processes: paper exchange, Redis, risk and execution, wired together.

``PlatformKeys`` adds execution's own issuer key to the test ``Keys`` so that risk trusts the
tokens execution mints for CheckOrder and ReportOrderOutcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from services.common.identity import write_key_pair
from tests.support.paper_exchange import PaperExchange
from tests.support.services import Keys


@dataclass(frozen=True)
class PlatformKeys:
    keys: Keys

    @classmethod
    def create(cls, folder: Path) -> PlatformKeys:
        keys = Keys.create(folder)
        write_key_pair(folder / "execution.pem", folder / "execution.pub.pem")
        return cls(keys)

    @property
    def execution_private(self) -> Path:
        return self.keys.folder / "execution.pem"

    @property
    def trusted(self) -> str:
        """The local issuer and execution's: what risk and execution both trust."""
        return f"{self.keys.trusted},execution={self.keys.folder / 'execution.pub.pem'}"


def risk_env(keys: PlatformKeys, redis_url: str) -> dict[str, str]:
    return {"REDIS_URL": redis_url, "IDENTITY_TRUSTED_KEYS": keys.trusted}


def execution_env(
    keys: PlatformKeys,
    paper: PaperExchange,
    redis_url: str,
    risk_target: str,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    return {
        "REDIS_URL": redis_url,
        "RISK_TARGET": risk_target,
        "KRAKEN_API_URL": paper.url,
        "KRAKEN_API_KEY": paper.api_key,
        "KRAKEN_API_SECRET": paper.api_secret,
        "KRAKEN_HTTP_TIMEOUT": "3",
        "KRAKEN_MAX_ATTEMPTS": "1",
        "IDENTITY_TRUSTED_KEYS": keys.trusted,
        "IDENTITY_SIGNING_KEY_FILE": str(keys.execution_private),
        "EXECUTION_RECONCILE_INTERVAL": "0.5",
        "EXECUTION_RECONCILE_GRACE": "3",
        "RISK_TIMEOUT": "1",
        **(extra or {}),
    }
