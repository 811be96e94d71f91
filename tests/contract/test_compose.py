"""docker-compose.yml: secrets reach only who needs them, only Kong publishes ports, every
container has a health check, the services scale. Checked on the file as written and, when
docker-compose (v1.29, `apt-get install docker-compose`) is installed, on its `config` output."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kong import render_config
from scripts import dev_secrets
from tests.contract.kong_model import CONSUMERS_TEMPLATE, REPO

COMPOSE_FILE = REPO / "docker-compose.yml"
PLATFORM = {"risk": "50052", "execution": "50051", "signal": "50053"}
KRAKEN_EXCHANGE_PAIR = {"kraken_api_key", "kraken_api_secret"}
KRAKEN_SECRETS = KRAKEN_EXCHANGE_PAIR | {
    "kraken_embed_api_key",
    "kraken_embed_api_secret",
    "kraken_embed_webhook_secret",
}


def compose_binary() -> str | None:
    local = REPO / ".venv-compose" / "bin" / "docker-compose"
    return str(local) if local.exists() else shutil.which("docker-compose")


@pytest.fixture(scope="module")
def secrets_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("secrets")
    dev_secrets.generate(folder, CONSUMERS_TEMPLATE.read_text(encoding="utf-8"))
    return folder


@pytest.fixture(scope="module", params=["file", "docker-compose-config"])
def compose(request: pytest.FixtureRequest, secrets_dir: Path) -> Iterator[dict[str, Any]]:
    if request.param == "file":
        yield yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
        return
    binary = compose_binary()
    if binary is None:
        pytest.skip("docker-compose not installed: apt-get install -y docker-compose")
    result = subprocess.run(
        [binary, "-f", str(COMPOSE_FILE), "--profile", "paper", "config"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        env={**os.environ, "SECRETS_DIR": str(secrets_dir)},
    )
    assert result.returncode == 0, result.stderr
    yield yaml.safe_load(result.stdout)


def secret_names(service: dict[str, Any]) -> set[str]:
    return {s if isinstance(s, str) else s["source"] for s in service.get("secrets") or []}


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def test_the_platform_is_all_there(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"redis", "kong", "paper", *PLATFORM}
    assert compose["services"]["paper"]["profiles"] == ["paper"]


def test_kraken_secrets_reach_execution_and_the_paper_exchange_only(
    compose: dict[str, Any],
) -> None:
    holders = {
        name: secret_names(service) & KRAKEN_SECRETS
        for name, service in compose["services"].items()
    }

    assert holders["execution"] == KRAKEN_SECRETS
    # The paper exchange is the exchange side of both APIs: it verifies both key pairs and
    # signs the Embed webhooks it sends.
    assert holders["paper"] == KRAKEN_SECRETS
    assert all(not found for name, found in holders.items() if name not in ("execution", "paper"))
    for name, service in compose["services"].items():
        env = environment(service)
        leaked = {k for k in env if k.startswith("KRAKEN_") and ("KEY" in k or "SECRET" in k)}
        assert all(key.endswith("_FILE") for key in leaked), (name, leaked)


def test_execution_reads_every_kraken_secret_from_a_file(compose: dict[str, Any]) -> None:
    env = environment(compose["services"]["execution"])
    for secret in KRAKEN_SECRETS:
        assert env[f"{secret.upper()}_FILE"] == f"/run/secrets/{secret}"


def test_only_kong_publishes_ports(compose: dict[str, Any]) -> None:
    published = {name for name, s in compose["services"].items() if s.get("ports")}
    kong_ports = {
        str(p).split(":")[-1].removesuffix("/tcp") if isinstance(p, str) else str(p["target"])
        for p in compose["services"]["kong"]["ports"]
    }

    assert published == {"kong"}
    assert kong_ports == {"8000", "9080", "8100"}


def test_services_can_be_scaled(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        assert "container_name" not in service, name
        if name != "kong":
            assert not service.get("ports"), name


def test_every_container_has_a_health_check(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        assert service["healthcheck"]["test"], name
    for name, port in PLATFORM.items():
        test = " ".join(services[name]["healthcheck"]["test"])
        assert f"services.common.healthcheck 127.0.0.1:{port}" in test, name
    assert "redis-cli ping" in " ".join(services["redis"]["healthcheck"]["test"])
    assert "/status/ready" in " ".join(services["kong"]["healthcheck"]["test"])
    assert "/0/public/Time" in " ".join(services["paper"]["healthcheck"]["test"])


def test_start_order_waits_for_healthy_dependencies(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        depends = service.get("depends_on") or {}
        assert isinstance(depends, dict), name
        for dependency, rule in depends.items():
            assert rule["condition"] == "service_healthy", (name, dependency)
            assert "profiles" not in compose["services"][dependency], (name, dependency)
    assert set(compose["services"]["kong"]["depends_on"]) >= set(PLATFORM)


def test_services_run_from_one_image_with_their_own_address(compose: dict[str, Any]) -> None:
    for name in [*PLATFORM, "paper"]:
        service = compose["services"][name]
        assert service["build"]["dockerfile"] == "services/Dockerfile"
        assert f"services.{name}" in " ".join(service["command"])
    for name, port in PLATFORM.items():
        env = environment(compose["services"][name])
        assert env["GRPC_LISTEN_ADDR"] == f"0.0.0.0:{port}"
        assert env["REDIS_URL"] == "redis://redis:6379/0"


def test_identity_keys_point_at_mounted_secrets(compose: dict[str, Any]) -> None:
    for name in PLATFORM:
        service = compose["services"][name]
        env = environment(service)
        mounted = secret_names(service)
        assert env["IDENTITY_SIGNING_KEY_FILE"] == f"/run/secrets/{name}_identity_key"
        trusted = dict(item.split("=", 1) for item in env["IDENTITY_TRUSTED_KEYS"].split(","))
        assert trusted["kong"] == "/run/secrets/kong_issuer_pub"
        for path in [env["IDENTITY_SIGNING_KEY_FILE"], *trusted.values()]:
            assert path.removeprefix("/run/secrets/") in mounted, (name, path)
    assert "kong_issuer_key" in secret_names(compose["services"]["kong"])
    assert not any(
        "kong_issuer_key" in secret_names(s) for n, s in compose["services"].items() if n != "kong"
    )


def test_kong_gets_exactly_the_consumer_keys_its_template_names(compose: dict[str, Any]) -> None:
    template = CONSUMERS_TEMPLATE.read_text(encoding="utf-8")
    kong_secrets = secret_names(compose["services"]["kong"])

    assert {s for s in kong_secrets if s.startswith("kong_consumer_")} == set(
        render_config.placeholders(template)
    )


def test_secret_files_are_named_after_their_secret(compose: dict[str, Any]) -> None:
    for name, spec in compose["secrets"].items():
        assert Path(spec["file"]).name == name


def test_redis_keeps_an_append_only_file(compose: dict[str, Any]) -> None:
    command = " ".join(compose["services"]["redis"]["command"])
    assert re.search(r"--appendonly yes", command)


def test_backend_network_has_no_route_out(compose: dict[str, Any]) -> None:
    assert compose["networks"]["backend"]["internal"] is True
    assert set(compose["services"]["risk"]["networks"]) == {"backend"}
    assert set(compose["services"]["redis"]["networks"]) == {"backend"}
