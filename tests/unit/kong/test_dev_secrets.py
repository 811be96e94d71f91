"""`make secrets`: every secret compose mounts, created once and kept on re-runs."""

from __future__ import annotations

import stat
from pathlib import Path

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kong import render_config
from scripts import dev_secrets

REPO = Path(__file__).resolve().parents[3]
TEMPLATE = (REPO / "kong" / "consumers.yml.tmpl").read_text(encoding="utf-8")


def test_creates_every_secret_compose_mounts(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))

    dev_secrets.generate(folder, TEMPLATE)

    assert {p.name for p in folder.iterdir()} >= set(compose["secrets"])
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_is_idempotent(tmp_path: Path) -> None:
    first = dev_secrets.generate(tmp_path, TEMPLATE)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    second = dev_secrets.generate(tmp_path, TEMPLATE)

    assert first
    assert second == []
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_keys_are_usable(tmp_path: Path) -> None:
    dev_secrets.generate(tmp_path, TEMPLATE)

    key = serialization.load_pem_private_key((tmp_path / "kong_issuer_key").read_bytes(), None)
    for name in render_config.placeholders(TEMPLATE):
        render_config.read_secret_file(tmp_path, name)
    assert isinstance(key, Ed25519PrivateKey)


def test_teams_follow_the_consumers_template() -> None:
    teams = dev_secrets.teams(TEMPLATE)

    assert [t.secret_name for t in teams] == render_config.placeholders(TEMPLATE)
    assert "trading-desk" in [t.username for t in teams]
