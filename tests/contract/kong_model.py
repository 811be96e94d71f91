"""What the contract tests know about Kong and the protos: the declarative config as Kong would
route it, the RPCs and their google.api.http bindings from generated descriptors, and the ACL
matrix documented in kong/README.md."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc_tools
import yaml
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2

REPO = Path(__file__).resolve().parents[2]
KONG_YML = REPO / "kong" / "kong.yml"
CONSUMERS_TEMPLATE = REPO / "kong" / "consumers.yml.tmpl"
KONG_README = REPO / "kong" / "README.md"
PLATFORM_SERVICES = {
    "trading.execution.v1.ExecutionService": ("execution", 50051),
    "trading.risk.v1.RiskService": ("risk", 50052),
    "trading.signal.v1.SignalService": ("signal", 50053),
}
GROUPS = ("traders", "risk-officers", "researchers", "signal-publishers", "admins")
KONG_PROTO_INCLUDE = "/usr/local/kong/include/"
WEBHOOK_ROUTE = "kraken-embed-webhook"


@dataclass(frozen=True)
class HttpBinding:
    verb: str
    template: str

    def sample_path(self) -> str:
        return re.sub(r"\{[^}]+\}", "sample-1", self.template)


@dataclass(frozen=True)
class Rpc:
    service: str
    method: str
    proto_file: str
    server_streaming: bool
    bindings: tuple[HttpBinding, ...]

    @property
    def short(self) -> str:
        return f"{self.service.rsplit('.', 1)[1]}/{self.method}"

    @property
    def path(self) -> str:
        return f"/{self.service}/{self.method}"


def _http_bindings(options: descriptor_pb2.MethodOptions) -> tuple[HttpBinding, ...]:
    if not options.HasExtension(annotations_pb2.http):
        return ()
    rule = options.Extensions[annotations_pb2.http]
    bindings = []
    for item in (rule, *rule.additional_bindings):
        verb = item.WhichOneof("pattern")
        if verb and verb != "custom":
            bindings.append(HttpBinding(verb.upper(), getattr(item, verb)))
    return tuple(bindings)


def load_rpcs() -> list[Rpc]:
    """Every RPC of the three platform services, from a descriptor set protoc generates now
    (so the check follows protos/ even before `make proto` ran)."""
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    import google.api

    googleapis = Path(next(iter(google.api.__path__))).parent.parent
    sources = sorted(str(p) for p in (REPO / "protos").rglob("*.proto"))
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "descriptors.pb"
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                f"-I{REPO / 'protos'}",
                f"-I{well_known}",
                f"-I{googleapis}",
                "--include_imports",
                f"--descriptor_set_out={out}",
                *sources,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"protoc failed: {result.stderr}")
        files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file
    rpcs = []
    for proto in files:
        for service in proto.service:
            full_name = f"{proto.package}.{service.name}"
            if full_name not in PLATFORM_SERVICES:
                continue
            for method in service.method:
                rpcs.append(
                    Rpc(
                        service=full_name,
                        method=method.name,
                        proto_file=proto.name,
                        server_streaming=method.server_streaming,
                        bindings=_http_bindings(method.options),
                    )
                )
    return rpcs


def parse_acl_matrix(readme: str) -> dict[str, frozenset[str]]:
    """`| `Service/Method` | ✓ | … |` rows of the "## ACL matrix" section → groups per RPC."""
    section = readme.split("## ACL matrix", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    group_columns = {index: name for index, name in enumerate(header) if name in GROUPS}
    assert sorted(group_columns.values()) == sorted(GROUPS), header
    matrix: dict[str, frozenset[str]] = {}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rpc = cells[0].strip("`")
        assert rpc not in matrix, f"{rpc} listed twice"
        allowed = {group for index, group in group_columns.items() if cells[index] == "✓"}
        unknown = {cells[i] for i in group_columns if cells[i] not in ("", "✓")}
        assert not unknown, f"{rpc}: unexpected cell values {unknown}"
        matrix[rpc] = frozenset(allowed)
    return matrix


@dataclass(frozen=True)
class Route:
    name: str
    service: Mapping[str, Any]
    spec: Mapping[str, Any]
    plugins: Mapping[str, Mapping[str, Any]]

    @property
    def protocols(self) -> set[str]:
        return set(self.spec.get("protocols") or ["http", "https"])

    def matches(self, protocol: str, verb: str, path: str) -> bool:
        """Kong's traditional_compatible router for the attributes used here: protocol,
        method, and paths (a `~` path is a regex anchored at the start, else a prefix)."""
        if protocol not in self.protocols:
            return False
        methods = self.spec.get("methods")
        if methods and verb not in methods:
            return False
        return any(path_matches(pattern, path) for pattern in self.spec.get("paths") or [])

    def acl_groups(self) -> frozenset[str] | None:
        acl = self.plugins.get("acl")
        return None if acl is None else frozenset(acl["config"]["allow"])


def path_matches(pattern: str, path: str) -> bool:
    if pattern.startswith("~"):
        return re.match(pattern[1:], path) is not None
    return path.startswith(pattern)


def load_kong_config(path: Path = KONG_YML) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return config


def routes(config: Mapping[str, Any]) -> list[Route]:
    """Every route with its effective plugins: global, then service, then route (the most
    specific one wins for the same plugin name, as in Kong)."""
    global_plugins = {p["name"]: p for p in config.get("plugins") or []}
    result = []
    for service in config["services"]:
        service_plugins = {p["name"]: p for p in service.get("plugins") or []}
        for route in service.get("routes") or []:
            route_plugins = {p["name"]: p for p in route.get("plugins") or []}
            effective = {**global_plugins, **service_plugins, **route_plugins}
            result.append(Route(route["name"], service, route, effective))
    return result


def matching_routes(
    all_routes: Iterable[Route], protocol: str, verb: str, path: str
) -> list[Route]:
    return [route for route in all_routes if route.matches(protocol, verb, path)]
