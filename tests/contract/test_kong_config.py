"""kong/kong.yml against the protos, the documented ACL matrix, and the security rules."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kong import render_config
from kong.plugins import trading_identity
from tests.contract.kong_model import (
    CONSUMERS_TEMPLATE,
    GROUPS,
    KONG_PROTO_INCLUDE,
    KONG_README,
    KONG_YML,
    PLATFORM_SERVICES,
    REPO,
    WEBHOOK_ROUTE,
    Route,
    Rpc,
    load_kong_config,
    load_rpcs,
    matching_routes,
    parse_acl_matrix,
    routes,
)


@pytest.fixture(scope="module")
def rpcs() -> list[Rpc]:
    found = load_rpcs()
    assert {rpc.service for rpc in found} == set(PLATFORM_SERVICES)
    return found


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return load_kong_config()


@pytest.fixture(scope="module")
def all_routes(config: dict[str, Any]) -> list[Route]:
    return routes(config)


@pytest.fixture(scope="module")
def matrix() -> dict[str, frozenset[str]]:
    return parse_acl_matrix(KONG_README.read_text(encoding="utf-8"))


def random_looking_tokens(text: str) -> list[str]:
    """Runs of 32+ key characters mixing lower case, upper case and digits, as generated
    keys and secrets do (identifiers and paths here never mix all three)."""
    candidates = re.findall(r"[A-Za-z0-9+/_-]{32,}", text)
    return [
        token
        for token in candidates
        if re.search(r"[a-z]", token) and re.search(r"[A-Z]", token) and re.search(r"\d", token)
    ]


def authenticated(all_routes: list[Route]) -> list[Route]:
    return [route for route in all_routes if route.name != WEBHOOK_ROUTE]


def test_file_is_db_less_format_3_without_consumers(config: dict[str, Any]) -> None:
    assert config["_format_version"] == "3.0"
    assert "consumers" not in config
    assert set(config) <= {"_format_version", "services", "plugins"}


def test_matrix_lists_every_rpc_of_the_protos_once(
    rpcs: list[Rpc], matrix: dict[str, frozenset[str]]
) -> None:
    assert set(matrix) == {rpc.short for rpc in rpcs}


def test_every_rpc_is_reachable_over_grpc_through_exactly_its_route(
    rpcs: list[Rpc], all_routes: list[Route], matrix: dict[str, frozenset[str]]
) -> None:
    for rpc in rpcs:
        found = matching_routes(all_routes, "grpc", "POST", rpc.path)
        if not matrix[rpc.short]:
            assert found == [], f"{rpc.short} is internal but routed by {found[0].name}"
            continue
        assert len(found) == 1, f"{rpc.short}: routes {[r.name for r in found]}"
        (route,) = found
        assert (route.service["host"], route.service["port"]) == PLATFORM_SERVICES[rpc.service]
        assert route.service["protocol"] == "grpc"
        assert route.protocols == {"grpc"}
        assert route.acl_groups() == matrix[rpc.short], f"{rpc.short} via {route.name}"


def test_every_http_binding_is_reachable_over_rest_through_exactly_its_route(
    rpcs: list[Rpc], all_routes: list[Route], matrix: dict[str, frozenset[str]]
) -> None:
    bound = [rpc for rpc in rpcs if rpc.bindings]
    assert bound, "no google.api.http annotations found"
    for rpc in bound:
        for binding in rpc.bindings:
            found = matching_routes(all_routes, "http", binding.verb, binding.sample_path())
            where = f"{rpc.short} {binding.verb} {binding.template}"
            if not matrix[rpc.short]:
                assert found == [], f"{where} is internal but routed"
                continue
            assert len(found) == 1, f"{where}: routes {[r.name for r in found]}"
            (route,) = found
            assert route.protocols == {"http"}
            assert route.acl_groups() == matrix[rpc.short], where
            gateway = route.plugins["grpc-gateway"]["config"]
            assert gateway["proto"] == KONG_PROTO_INCLUDE + rpc.proto_file, where
            assert (REPO / "protos" / rpc.proto_file).is_file()
            assert (route.service["host"], route.service["port"]) == PLATFORM_SERVICES[rpc.service]


def test_no_route_path_leads_nowhere(rpcs: list[Rpc], all_routes: list[Route]) -> None:
    grpc_paths = [rpc.path for rpc in rpcs]
    rest_requests = [(b.verb, b.sample_path()) for rpc in rpcs for b in rpc.bindings]
    for route in authenticated(all_routes):
        for pattern in route.spec["paths"]:
            single = Route(route.name, route.service, {**route.spec, "paths": [pattern]}, {})
            if "grpc" in route.protocols:
                hits = [path for path in grpc_paths if single.matches("grpc", "POST", path)]
            else:
                hits = [path for verb, path in rest_requests if single.matches("http", verb, path)]
            assert hits, f"{route.name}: {pattern} matches no RPC"


def test_matrix_mirrors_the_services_access_tables(matrix: dict[str, frozenset[str]]) -> None:
    tables = []
    for name in ("execution", "risk", "signal"):
        module = pytest.importorskip(f"services.{name}.access")
        tables.append(getattr(module, f"{name.upper()}_ACCESS"))
    for table in tables:
        for method, groups in table.rules.items():
            short = f"{table.service.rsplit('.', 1)[1]}/{method}"
            assert matrix[short] == groups - {"services"}, short


def test_every_route_but_the_webhook_needs_an_apikey_and_a_group(all_routes: list[Route]) -> None:
    for route in authenticated(all_routes):
        key_auth = route.plugins["key-auth"]["config"]
        assert key_auth["hide_credentials"] is True, route.name
        assert key_auth.get("key_in_query") is False, route.name
        assert key_auth.get("key_in_body") is False, route.name
        assert "anonymous" not in key_auth, route.name
        assert route.plugins["acl"]["config"]["hide_groups_header"] is False, route.name
        groups = route.acl_groups()
        assert groups, route.name
        assert groups <= set(GROUPS), route.name


def test_every_authenticated_route_is_stamped_by_the_identity_plugin(
    all_routes: list[Route],
) -> None:
    for route in authenticated(all_routes):
        identity = route.plugins[trading_identity.PLUGIN_NAME]["config"]
        assert identity["private_key_path"] == "/run/secrets/kong_issuer_key"
        assert identity["issuer"] == "kong"
        assert 0 < identity["lifetime_seconds"] <= trading_identity.MAX_LIFETIME
        removed = route.plugins["request-transformer"]["config"]["remove"]["headers"]
        assert "authorization" in removed, route.name


def test_identity_plugin_runs_after_acl_rate_limiting_and_request_transformer() -> None:
    # Bundled priorities in Kong 3.9.3: acl 950, rate-limiting 910, request-transformer 801.
    assert trading_identity.priority < 801


def test_webhook_route_is_public_and_goes_to_executions_http_endpoint(
    all_routes: list[Route],
) -> None:
    (route,) = [r for r in all_routes if r.name == WEBHOOK_ROUTE]

    assert route.service["protocol"] == "http"
    assert (route.service["host"], route.service["port"]) == ("execution", 8080)
    assert route.spec["methods"] == ["POST"]
    assert route.matches("http", "POST", "/webhooks/kraken-embed")
    assert not route.matches("http", "POST", "/webhooks/kraken-embed/other")
    for name in ("key-auth", "acl", trading_identity.PLUGIN_NAME):
        assert name not in route.plugins
    assert [r.name for r in all_routes if "key-auth" not in r.plugins] == [WEBHOOK_ROUTE]


def test_global_plugins_request_id_rate_limit_size_and_metrics(config: dict[str, Any]) -> None:
    plugins = {p["name"]: p.get("config", {}) for p in config["plugins"]}

    assert plugins["correlation-id"]["header_name"] == "x-request-id"
    assert plugins["correlation-id"]["echo_downstream"] is True
    assert plugins["rate-limiting"]["limit_by"] == "consumer"
    assert plugins["rate-limiting"]["policy"] == "redis"
    assert plugins["rate-limiting"]["redis"]["host"] == "redis"
    assert plugins["request-size-limiting"]["allowed_payload_size"] > 0
    assert "prometheus" in plugins


def test_consumers_template_holds_placeholders_only(config: dict[str, Any]) -> None:
    template = CONSUMERS_TEMPLATE.read_text(encoding="utf-8")
    keys = re.findall(r"^\s*-\s*key:\s*(.+)$", template, re.MULTILINE)
    rendered = render_config.render(template, lambda name: "k" * 40)
    consumers = __import__("yaml").safe_load(rendered)["consumers"]

    assert keys
    assert all(re.fullmatch(r'"\$\{secret:kong_consumer_[a-z0-9_]+\}"', key) for key in keys)
    groups = {acl["group"] for consumer in consumers for acl in consumer["acls"]}
    assert groups == set(GROUPS)
    assert all(len(consumer["keyauth_credentials"]) == 1 for consumer in consumers)


def test_no_literal_secret_in_kong_files_or_compose() -> None:
    files = [*sorted((REPO / "kong").rglob("*")), REPO / "docker-compose.yml"]
    text_files = [f for f in files if f.is_file() and "__pycache__" not in f.parts]
    for path in text_files:
        text = path.read_text(encoding="utf-8")
        assert "-----BEGIN" not in text, path
        assert "keyauth_credentials" not in text or path == CONSUMERS_TEMPLATE, path
        assert not random_looking_tokens(text), f"{path}: {random_looking_tokens(text)[:1]}"
    assert "key:" not in KONG_YML.read_text(encoding="utf-8")


def test_secret_detector_catches_a_generated_key() -> None:
    assert random_looking_tokens("key: " + "Ab1-" * 10)


def test_rendered_config_passes_decks_structural_validation(tmp_path: Path) -> None:
    deck = shutil.which("deck")
    if deck is None:
        pytest.skip("deck not installed (apt-get install deck)")
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    template = CONSUMERS_TEMPLATE.read_text(encoding="utf-8")
    for name in render_config.placeholders(template):
        (secrets_dir / name).write_text(name.replace("_", "-").ljust(43, "k"))
    output = tmp_path / "kong.yml"

    render_config.render_to_file(output, KONG_YML, CONSUMERS_TEMPLATE, secrets_dir)
    result = subprocess.run(
        [deck, "validate", "-s", str(output)], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr
