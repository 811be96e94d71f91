"""The identity plugin through the real kong-pdk 0.36 plugin server, driven the way Kong 3.9
drives it (tests/support/kong_pluginserver.py): stamped when it should be, refused otherwise."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from tests.integration.kong.conftest import PLUGIN_NAME, IssuerKeys
from tests.support.kong_pluginserver import (
    KongRequest,
    KongSide,
    PluginServerProcess,
    request_after_auth,
)

pytestmark = pytest.mark.integration

DESK = {"id": "5d2f5b8c-0000-4000-8000-00000000d35c", "username": "trading-desk"}
RID = "3b7e0a52-1111-4c6e-9d7a-0123456789ab"


def bearer_token(request: KongRequest) -> str:
    values = request.upstream_header("authorization")
    assert len(values) == 1, values
    scheme, _, token = values[0].partition(" ")
    assert scheme == "Bearer"
    return token


def verify(token: str, keys: IssuerKeys) -> dict[str, Any]:
    public_key = serialization.load_pem_public_key(keys.public_path.read_bytes())
    claims: dict[str, Any] = jwt.decode(
        token,
        public_key,  # type: ignore[arg-type]
        algorithms=["EdDSA"],
        audience="trading-platform",
        issuer="kong",
        options={"require": ["exp", "iat", "iss", "sub", "aud", "jti"]},
    )
    return claims


def set_authorization_calls(request: KongRequest) -> list[list[Any]]:
    return [
        args
        for method, args in request.calls
        if method == "kong.service.request.set_header" and str(args[0]).lower() == "authorization"
    ]


def test_dump_registers_one_access_plugin_below_acl(plugin_server: PluginServerProcess) -> None:
    (info,) = plugin_server.dump()

    assert info["Name"] == PLUGIN_NAME
    assert info["Phases"] == ["access"]
    assert info["Priority"] < 801  # below request-transformer, acl (950), rate-limiting (910)
    fields = info["Schema"]["fields"][0]["config"]["fields"]
    assert {next(iter(f)) for f in fields} >= {"private_key_path", "issuer", "lifetime_seconds"}


def test_authenticated_request_carries_a_token_with_the_contract_claims(
    kong_side: KongSide, instance_id: int, issuer_keys: IssuerKeys
) -> None:
    request = request_after_auth({}, DESK, groups=["traders", "researchers"], request_id=RID)

    before = int(time.time())
    outcome = kong_side.run_phase(instance_id, "access", request)

    assert outcome.finished
    assert outcome.exit is None
    assert outcome.forwarded
    token = bearer_token(request)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA"
    assert header["kid"] == "kong"
    claims = verify(token, issuer_keys)
    assert claims["sub"] == "trading-desk"
    assert claims["groups"] == ["researchers", "traders"]
    assert claims["rid"] == RID
    assert before <= claims["iat"] <= int(time.time())
    assert claims["exp"] - claims["iat"] == 30
    assert len(claims["jti"]) >= 16


def test_token_is_accepted_by_the_platform_verifier(
    kong_side: KongSide, instance_id: int, issuer_keys: IssuerKeys
) -> None:
    identity = pytest.importorskip("services.common.identity")
    request = request_after_auth({}, DESK, groups=["traders"], request_id=RID)

    kong_side.run_phase(instance_id, "access", request)

    verifier = identity.TokenVerifier(
        identity.parse_trusted_keys(f"kong={issuer_keys.public_path}")
    )
    verified = verifier.verify(bearer_token(request))
    assert verified.subject == "trading-desk"
    assert verified.groups == frozenset({"traders"})
    assert verified.request_id == RID


def test_client_sent_identity_headers_are_stripped(
    kong_side: KongSide, instance_id: int, issuer_keys: IssuerKeys
) -> None:
    forged = jwt.encode({"sub": "admin", "groups": ["admins"]}, "x" * 32, algorithm="HS256")
    client_headers = {
        "authorization": f"Bearer {forged}",
        "Proxy-Authorization": "Basic YWRtaW46YWRtaW4=",
        "x-identity-subject": "admin",
        "X-Identity-Groups": "admins",
        "x-authenticated-groups": "admins",
        "x-authenticated-userid": "admin",
        "x-consumer-custom-id": "root",
        "x-anonymous-consumer": "true",
        "x-credential-username": "admin",
        "x-userinfo": "eyJzdWIiOiJhZG1pbiJ9",
        "content-type": "application/grpc",
        "te": "trailers",
        "x-trace-note": "keep me",
    }
    request = request_after_auth(client_headers, DESK, groups=["traders"], request_id=RID)

    outcome = kong_side.run_phase(instance_id, "access", request)

    assert outcome.exit is None
    remaining = set(request.headers)
    assert remaining == {"authorization", "content-type", "te", "x-trace-note", "x-request-id"}
    claims = verify(bearer_token(request), issuer_keys)
    assert claims["sub"] == "trading-desk"
    assert claims["groups"] == ["traders"]


def test_missing_consumer_is_rejected_and_never_forwarded(
    kong_side: KongSide, instance_id: int
) -> None:
    request = request_after_auth({"authorization": "Bearer stolen"}, None, request_id=RID)

    outcome = kong_side.run_phase(instance_id, "access", request)

    assert outcome.exit is not None
    assert outcome.exit.method == "kong.response.exit"
    assert outcome.exit.status == 401
    assert not outcome.forwarded
    assert set_authorization_calls(request) == []


def test_missing_signing_key_is_an_error_that_rejects(kong_side: KongSide, short_dir: Path) -> None:
    instance = kong_side.start_instance(
        PLUGIN_NAME, {"private_key_path": str(short_dir / "no-such-key.pem")}
    )
    request = request_after_auth({}, DESK, groups=["traders"], request_id=RID)

    outcome = kong_side.run_phase(instance, "access", request)

    kong_side.close_instance(instance)
    assert outcome.exit is not None
    assert outcome.exit.status == 500
    assert not outcome.forwarded
    assert set_authorization_calls(request) == []


def test_pdk_error_inside_the_plugin_rejects(kong_side: KongSide, instance_id: int) -> None:
    request = request_after_auth({}, DESK, groups=["traders"], request_id=RID)
    request.fail_methods = {"kong.service.request.clear_header": "header is read-only"}

    outcome = kong_side.run_phase(instance_id, "access", request)

    assert outcome.exit is not None
    assert outcome.exit.status == 500
    assert not outcome.forwarded
    assert set_authorization_calls(request) == []
    assert any(method == "kong.log.err" for method, _ in request.logs)


def test_malformed_consumer_from_kong_rejects(kong_side: KongSide, instance_id: int) -> None:
    request = request_after_auth({}, DESK, groups=["traders"], request_id=RID)
    request.consumer = "not-a-table"  # type: ignore[assignment]

    outcome = kong_side.run_phase(instance_id, "access", request)

    assert outcome.exit is not None
    assert outcome.exit.status == 500
    assert set_authorization_calls(request) == []


@pytest.mark.parametrize(
    ("groups", "client_headers", "request_id", "status"),
    [
        pytest.param(["partners"], {}, RID, 403, id="no-platform-group"),
        pytest.param(["traders"], {"x-request-id": "bad id with spaces"}, None, 400, id="bad-rid"),
        pytest.param(["traders"], {}, None, 500, id="no-correlation-id"),
        pytest.param(
            ["traders"], {f"x-filler-{i}": "1" for i in range(1000)}, RID, 400, id="too-many"
        ),
    ],
)
def test_unusable_requests_are_rejected(
    kong_side: KongSide,
    instance_id: int,
    groups: list[str],
    client_headers: dict[str, str],
    request_id: str | None,
    status: int,
) -> None:
    request = request_after_auth(client_headers, DESK, groups=groups, request_id=request_id)

    outcome = kong_side.run_phase(instance_id, "access", request)

    assert outcome.exit is not None
    assert outcome.exit.status == status
    assert set_authorization_calls(request) == []


def test_invalid_configuration_rejects_instead_of_failing_open(
    kong_side: KongSide, issuer_keys: IssuerKeys
) -> None:
    instance = kong_side.start_instance(
        PLUGIN_NAME, {"private_key_path": str(issuer_keys.private_path), "lifetime_seconds": 600}
    )
    request = request_after_auth({}, DESK, groups=["traders"], request_id=RID)

    outcome = kong_side.run_phase(instance, "access", request)

    kong_side.close_instance(instance)
    assert outcome.exit is not None
    assert outcome.exit.status == 500


def test_server_keeps_serving_after_rejections(
    kong_side: KongSide, instance_id: int, issuer_keys: IssuerKeys
) -> None:
    outcomes = []
    for n in range(20):
        consumer = DESK if n % 2 else None
        request = request_after_auth({}, consumer, groups=["traders"], request_id=f"rid-{n}")
        outcomes.append((consumer, request, kong_side.run_phase(instance_id, "access", request)))

    for consumer, request, outcome in outcomes:
        if consumer is None:
            assert outcome.exit is not None
            assert outcome.exit.status == 401
        else:
            assert outcome.exit is None
            assert (
                verify(bearer_token(request), issuer_keys)["rid"]
                == request.headers["x-request-id"][0]
            )


RAISING_PLUGIN = """
from kong_pdk.cli import start_dedicated_server

class Plugin:
    def __init__(self, config):
        pass

    def access(self, kong):
        kong.client.get_consumer()
        raise RuntimeError("boom")

start_dedicated_server("raising", Plugin, "0.0.1", 800, [])
"""


def test_harness_shows_kong_forwards_when_a_plugin_just_raises(short_dir: Path) -> None:
    # Why the identity plugin catches everything: a bare exception leaves HandleEvent
    # unanswered, Kong's read times out, and mp_rpc.lua proxies the request (kong.md §5.4).
    script = short_dir / "raising.py"
    script.write_text(RAISING_PLUGIN)
    server = PluginServerProcess(script, "raising.sock", short_dir / "prefix-raising")
    server.start()
    try:
        kong = KongSide(server.socket_path, timeout=1.0)
        instance = kong.start_instance("raising", {})
        request = request_after_auth({}, DESK, groups=["traders"], request_id=RID)

        outcome = kong.run_phase(instance, "access", request)
    finally:
        server.stop()

    assert not outcome.finished
    assert outcome.forwarded
