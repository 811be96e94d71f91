"""Development secrets for docker compose (`make secrets`), written into the ignored `.secrets/`.

Creates what docker-compose.yml mounts as docker secrets: the Kong issuer Ed25519 key pair, one
key pair per service (for its own service-to-service tokens), one Kong apikey per team named in
kong/consumers.yml.tmpl, and a Kraken key set for the paper exchange. Idempotent: a file that
exists is kept, so keys survive re-runs; delete a file to rotate it.
"""

from __future__ import annotations

import argparse
import base64
import re
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).resolve().parent.parent
CONSUMERS_TEMPLATE = ROOT / "kong" / "consumers.yml.tmpl"
ISSUERS = ("kong_issuer", "execution_identity", "signal_identity", "risk_identity")
CONSUMER_SECRET = re.compile(r"\$\{secret:(kong_consumer_[a-z0-9_]+)\}")
USERNAME = re.compile(r"^\s*-\s*username:\s*(\S+)\s*$", re.MULTILINE)

# Docker compose (outside swarm) bind-mounts secret files with their host mode and owner, and
# the containers run as their own non-root users; the files must be readable by them, so the
# folder (0700) is what keeps other users on this machine out.
FILE_MODE = 0o644
DIR_MODE = 0o700


@dataclass(frozen=True)
class Team:
    username: str
    secret_name: str


def teams(template: str) -> list[Team]:
    """Each consumer's username and the secret holding its apikey, in template order."""
    names = USERNAME.findall(template)
    keys = CONSUMER_SECRET.findall(template)
    if len(names) != len(keys):
        raise ValueError("every consumer in the template needs exactly one ${secret:...} key")
    return [Team(name, key) for name, key in zip(names, keys, strict=True)]


def write_new(path: Path, content: bytes) -> bool:
    """Write a file unless it exists; True when written."""
    if path.exists():
        return False
    path.write_bytes(content)
    path.chmod(FILE_MODE)
    return True


def ensure_key_pair(folder: Path, name: str) -> bool:
    private, public = folder / f"{name}_key", folder / f"{name}_pub"
    if private.exists() and public.exists():
        return False
    key = Ed25519PrivateKey.generate()
    private.unlink(missing_ok=True)
    public.unlink(missing_ok=True)
    write_new(
        private,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    write_new(
        public,
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )
    return True


def kraken_values() -> dict[str, bytes]:
    """Paper-exchange credentials shaped like Kraken's: a 56-char key, a base64 64-byte secret."""
    return {
        "kraken_api_key": base64.b64encode(secrets.token_bytes(42)),
        "kraken_api_secret": base64.b64encode(secrets.token_bytes(64)),
        "kraken_embed_api_key": base64.b64encode(secrets.token_bytes(42)),
        "kraken_embed_api_secret": base64.b64encode(secrets.token_bytes(64)),
        # Embed webhook secrets are base64, like Kraken's (kraken.md §6.5).
        "kraken_embed_webhook_secret": base64.b64encode(secrets.token_bytes(32)),
    }


def generate(folder: Path, template: str) -> list[str]:
    """Create every missing secret in `folder`; returns the names created."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(DIR_MODE)
    created = [name for name in ISSUERS if ensure_key_pair(folder, name)]
    for team in teams(template):
        if write_new(folder / team.secret_name, secrets.token_urlsafe(32).encode()):
            created.append(team.secret_name)
    for name, value in kraken_values().items():
        if write_new(folder / name, value):
            created.append(name)
    return created


def usage(folder: Path, template: str) -> str:
    lines = [f"Development secrets are in {folder}/ (never commit them).", "Team apikeys:"]
    for team in teams(template):
        lines.append(f"  {team.username:<16} {folder / team.secret_name}")
    lines += [
        "A team sends its key in the `apikey` header, e.g.:",
        f'  grpcurl -plaintext -H "apikey: $(cat {folder}/kong_consumer_trading_desk)" \\',
        "    localhost:9080 trading.execution.v1.ExecutionService/GetBalances",
        f'  curl -H "apikey: $(cat {folder}/kong_consumer_trading_desk)" '
        "localhost:8000/v1/balances",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / ".secrets")
    folder: Path = parser.parse_args().out
    template = CONSUMERS_TEMPLATE.read_text(encoding="utf-8")
    created = generate(folder, template)
    sys.stdout.write(f"created {len(created)} secret file(s)\n{usage(folder, template)}\n")


if __name__ == "__main__":
    main()
