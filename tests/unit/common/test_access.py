"""The per-service access table."""

from __future__ import annotations

from services.common.access import AccessTable, is_public

TABLE = AccessTable("pkg.v1.Svc", {"Read": frozenset({"traders"})})


def test_listed_method_has_its_groups() -> None:
    assert TABLE.allowed_groups("/pkg.v1.Svc/Read") == {"traders"}


def test_unlisted_method_and_other_service_are_denied_to_all() -> None:
    assert TABLE.allowed_groups("/pkg.v1.Svc/Write") == frozenset()
    assert TABLE.allowed_groups("/other.v1.Svc/Read") == frozenset()


def test_health_and_reflection_are_public() -> None:
    assert is_public("/grpc.health.v1.Health/Check")
    assert is_public("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
    assert not is_public("/pkg.v1.Svc/Read")
