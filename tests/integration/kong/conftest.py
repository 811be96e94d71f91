"""The identity plugin's real kong-pdk plugin server, driven over its unix socket."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.support.kong_pluginserver import KongSide, PluginServerProcess

REPO = Path(__file__).resolve().parents[3]
PLUGIN_SCRIPT = REPO / "kong" / "plugins" / "trading_identity.py"
PLUGIN_NAME = "trading-identity"
SOCKET_NAME = "trading-identity.sock"


@dataclass(frozen=True)
class IssuerKeys:
    private_path: Path
    public_path: Path


def write_issuer_keys(folder: Path) -> IssuerKeys:
    key = Ed25519PrivateKey.generate()
    private_path = folder / "kong_issuer_key"
    public_path = folder / "kong_issuer_pub"
    private_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    private_path.chmod(0o600)
    public_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return IssuerKeys(private_path, public_path)


@pytest.fixture(scope="package")
def short_dir() -> Iterator[Path]:
    # unix socket paths are limited to ~107 bytes; pytest's tmp paths can be longer.
    folder = Path(tempfile.mkdtemp(prefix="kps-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="package")
def issuer_keys(short_dir: Path) -> IssuerKeys:
    secrets = short_dir / "secrets"
    secrets.mkdir()
    return write_issuer_keys(secrets)


@pytest.fixture(scope="package")
def plugin_server(short_dir: Path) -> Iterator[PluginServerProcess]:
    server = PluginServerProcess(PLUGIN_SCRIPT, SOCKET_NAME, short_dir / "prefix")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def kong_side(plugin_server: PluginServerProcess) -> KongSide:
    return KongSide(plugin_server.socket_path)


@pytest.fixture
def instance_id(kong_side: KongSide, issuer_keys: IssuerKeys) -> Iterator[int]:
    instance = kong_side.start_instance(
        PLUGIN_NAME,
        {"private_key_path": str(issuer_keys.private_path), "lifetime_seconds": 30},
    )
    yield instance
    kong_side.close_instance(instance)
