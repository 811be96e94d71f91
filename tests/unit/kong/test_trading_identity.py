"""The identity plugin's small functions and its access flow against a recording fake PDK."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kong.plugins import trading_identity as plugin

KNOWN = frozenset(plugin.DEFAULT_GROUPS)


def write_key(path: Path) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return key


@dataclass
class FakeKong:
    """Records PDK calls; like Kong, nothing the plugin calls after an exit may happen."""

    consumer: Any
    headers: dict[str, Any]
    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    exited: tuple[int, Mapping[str, str]] | None = None

    def _record(self, name: str, *args: Any) -> None:
        assert self.exited is None, f"{name} called after kong.response.exit"
        self.calls.append((name, args))

    @property
    def client(self) -> FakeKong:
        return self

    @property
    def request(self) -> FakeKong:
        return self

    @property
    def service(self) -> FakeKong:
        return self

    @property
    def response(self) -> FakeKong:
        return self

    @property
    def log(self) -> FakeKong:
        return self

    def get_consumer(self) -> Any:
        self._record("get_consumer")
        return self.consumer

    def get_headers(self, max_headers: int) -> Any:
        self._record("get_headers", max_headers)
        return self.headers

    def set_header(self, name: str, value: str) -> None:
        self._record("set_header", name, value)

    def clear_header(self, name: str) -> None:
        self._record("clear_header", name)

    def exit(self, status: int, body: Mapping[str, str]) -> None:
        self._record("exit", status, body)
        self.exited = (status, body)

    def err(self, *message: str) -> None:
        self._record("err", *message)


def stamped_token(kong: FakeKong) -> str:
    (value,) = [args[1] for name, args in kong.calls if name == "set_header"]
    assert value.startswith("Bearer ")
    return str(value.removeprefix("Bearer "))


def test_headers_to_strip_finds_identity_headers_only() -> None:
    names = [
        "Authorization",
        "x-consumer-groups",
        "X-Identity-Sub",
        "x-credential-identifier",
        "x-authenticated-groups",
        "x-anonymous-consumer",
        "x-userinfo",
        "x-request-id",
        "content-type",
        "x-consumers",
    ]

    assert plugin.headers_to_strip(names) == [
        "authorization",
        "x-anonymous-consumer",
        "x-authenticated-groups",
        "x-consumer-groups",
        "x-credential-identifier",
        "x-identity-sub",
        "x-userinfo",
    ]


def test_parse_groups_keeps_known_groups_sorted() -> None:
    assert plugin.parse_groups(["traders, partners", "admins"], KNOWN) == ["admins", "traders"]


def test_parse_groups_without_a_platform_group_is_forbidden() -> None:
    with pytest.raises(plugin.Rejection) as caught:
        plugin.parse_groups(["partners"], KNOWN)

    assert caught.value.status == 403


@pytest.mark.parametrize("rid", ["", "has space", "x" * 129, "tab\there"])
def test_malformed_request_ids_are_rejected(rid: str) -> None:
    with pytest.raises((plugin.Rejection, RuntimeError)):
        plugin.request_id([rid])


def test_request_id_takes_the_first_value() -> None:
    assert plugin.request_id(["abc-1", "abc-2"]) == "abc-1"


def test_consumer_subject_requires_a_consumer_with_a_username() -> None:
    with pytest.raises(plugin.Rejection) as missing:
        plugin.consumer_subject(None)
    with pytest.raises(plugin.Rejection) as nameless:
        plugin.consumer_subject({"id": "x"})

    assert missing.value.status == 401
    assert nameless.value.status == 403
    assert plugin.consumer_subject({"username": "treasury"}) == "treasury"


def test_settings_take_the_key_path_from_config_then_env_then_default() -> None:
    from_config = plugin.Settings.from_config({"private_key_path": "/a"}, {})
    from_env = plugin.Settings.from_config({}, {plugin.KEY_PATH_ENV: "/b"})
    default = plugin.Settings.from_config({}, {})

    assert from_config.private_key_path == Path("/a")
    assert from_env.private_key_path == Path("/b")
    assert default.private_key_path == Path(plugin.DEFAULT_KEY_PATH)
    assert default.lifetime_seconds == 30


def test_settings_refuse_a_lifetime_over_sixty_seconds() -> None:
    with pytest.raises(ValueError, match="lifetime_seconds"):
        plugin.Settings.from_config({"lifetime_seconds": 61}, {})


def test_mint_token_has_exactly_the_contract_claims(tmp_path: Path) -> None:
    key = write_key(tmp_path / "k.pem")
    settings = plugin.Settings.from_config({"lifetime_seconds": 20}, {})

    token = plugin.mint_token(key, settings, "risk-office", ["risk-officers"], "r-1", now=1000)

    claims = jwt.decode(
        token,
        key.public_key(),
        algorithms=["EdDSA"],
        audience="trading-platform",
        options={"verify_exp": False, "verify_iat": False},
    )
    assert set(claims) == {"iss", "sub", "aud", "groups", "rid", "iat", "exp", "jti"}
    assert (claims["iss"], claims["sub"], claims["groups"]) == (
        "kong",
        "risk-office",
        ["risk-officers"],
    )
    assert (claims["iat"], claims["exp"], claims["rid"]) == (1000, 1020, "r-1")
    assert jwt.get_unverified_header(token)["kid"] == "kong"


def test_signing_key_cache_reloads_a_replaced_key(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    first = write_key(path)
    cache = plugin.SigningKeyCache()
    loaded_first = cache.get(path)
    second = write_key(path)

    loaded_second = cache.get(path)

    raw = serialization.PublicFormat.Raw
    enc = serialization.Encoding.Raw
    assert loaded_first.public_key().public_bytes(enc, raw) == first.public_key().public_bytes(
        enc, raw
    )
    assert loaded_second.public_key().public_bytes(enc, raw) == second.public_key().public_bytes(
        enc, raw
    )


def test_access_stamps_after_clearing_identity_headers(tmp_path: Path) -> None:
    key = write_key(tmp_path / "k.pem")
    kong = FakeKong(
        consumer={"username": "quant-research"},
        headers={
            "x-consumer-groups": ["researchers"],
            "x-request-id": ["r-9"],
            "authorization": ["Bearer forged"],
        },
    )

    plugin.Plugin({"private_key_path": str(tmp_path / "k.pem")}).access(kong)

    assert kong.exited is None
    names = [name for name, _ in kong.calls]
    assert names == ["get_consumer", "get_headers", "clear_header", "clear_header", "set_header"]
    claims = jwt.decode(
        stamped_token(kong), key.public_key(), algorithms=["EdDSA"], audience="trading-platform"
    )
    assert claims["groups"] == ["researchers"]


def test_access_exits_once_and_stops_when_there_is_no_consumer(tmp_path: Path) -> None:
    kong = FakeKong(consumer=None, headers={})

    plugin.Plugin({"private_key_path": str(tmp_path / "missing.pem")}).access(kong)

    assert kong.exited == (401, {"message": "Unauthenticated: no consumer"})
    assert [name for name, _ in kong.calls] == ["get_consumer", "exit"]


def test_access_turns_any_exception_into_a_500(tmp_path: Path) -> None:
    kong = FakeKong(
        consumer={"username": "treasury"},
        headers={"x-consumer-groups": ["traders"], "x-request-id": ["r-1"]},
    )

    plugin.Plugin({"private_key_path": str(tmp_path / "missing.pem")}).access(kong)

    assert kong.exited == (500, {"message": "Identity unavailable"})
    assert "set_header" not in [name for name, _ in kong.calls]


def test_plugin_construction_never_raises_on_bad_config() -> None:
    instance = plugin.Plugin({"lifetime_seconds": "not a number"})
    kong = FakeKong(consumer={"username": "treasury"}, headers={})

    instance.access(kong)

    assert kong.exited is not None
    assert kong.exited[0] == 500
