"""Kong's side of the kong-pdk msgpack-RPC protocol, to drive a real Python plugin server.

Kong is not available here, so this plays the part of `kong/runloop/plugin_servers/rpc/mp_rpc.lua`
(Kong 3.9.3): one unix-socket connection per RPC call, requests `[0, id, method, [args]]`,
responses `[1, id, error, result]`; `plugin.StartInstance`, `plugin.HandleEvent`, then one
`plugin.Step*` per PDK call the plugin makes until it answers `"ret"`. PDK calls are answered
from a `KongRequest`, a small model of the request as Kong holds it after key-auth and acl ran.

Kong's own failure semantics are modelled too: when the event errors or times out, Kong logs
and proxies the request anyway (`PhaseOutcome.forwarded` is then True), which is exactly what
the plugin must never let happen.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack  # type: ignore[import-untyped]

# mp_rpc.lua's get_step_method: entity results go back through typed Step methods.
STEP_METHOD_BY_PDK_METHOD = {
    "kong.client.get_credential": "plugin.StepCredential",
    "kong.client.load_consumer": "plugin.StepConsumer",
    "kong.client.get_consumer": "plugin.StepConsumer",
    "kong.client.authenticate": "plugin.StepCredential",
    "kong.node.get_memory_stats": "plugin.StepMemoryStats",
    "kong.router.get_route": "plugin.StepRoute",
    "kong.router.get_service": "plugin.StepService",
    "kong.request.get_query": "plugin.StepMultiMap",
    "kong.request.get_headers": "plugin.StepMultiMap",
    "kong.response.get_headers": "plugin.StepMultiMap",
    "kong.service.response.get_headers": "plugin.StepMultiMap",
}
TERMINAL_METHODS = frozenset({"kong.response.exit", "kong.response.error"})


class RpcError(Exception):
    """The plugin server answered an RPC with an error."""


class PdkError(Exception):
    """Raised by a `KongRequest` handler to answer a PDK call with plugin.StepError."""


@dataclass
class Exit:
    """A `kong.response.exit` / `kong.response.error` the plugin issued."""

    method: str
    status: int
    body: Any
    headers: Any


@dataclass
class KongRequest:
    """One request as Kong sees it during `access`: headers (which are also what goes
    upstream, as in nginx), the authenticated consumer, and what the plugin did to them."""

    headers: dict[str, list[str]]
    consumer: Mapping[str, Any] | None
    fail_methods: Mapping[str, str] = field(default_factory=dict)
    calls: list[tuple[str, list[Any]]] = field(default_factory=list)
    logs: list[tuple[str, list[Any]]] = field(default_factory=list)
    exit: Exit | None = None

    def upstream_header(self, name: str) -> list[str]:
        return list(self.headers.get(name.lower(), []))

    def answer(self, method: str, args: list[Any]) -> Any:
        """Run one PDK call the way Kong would and return its result."""
        self.calls.append((method, args))
        if method in self.fail_methods:
            raise PdkError(self.fail_methods[method])
        if method.startswith("kong.log."):
            self.logs.append((method, args))
            return None
        handler = self._handlers().get(method)
        if handler is None:
            # Kong: `kong.log.err("could not find pdk method: ", cmd)` and a nil result.
            return None
        return handler(*args)

    def _handlers(self) -> dict[str, Callable[..., Any]]:
        return {
            "kong.client.get_consumer": lambda: self.consumer,
            "kong.request.get_header": self._get_header,
            "kong.request.get_headers": self._get_headers,
            "kong.service.request.set_header": self._set_header,
            "kong.service.request.add_header": self._add_header,
            "kong.service.request.clear_header": self._clear_header,
        }

    def _get_header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None

    def _get_headers(self, max_headers: int = 100) -> dict[str, list[str]]:
        # ngx.req.get_headers(max): at most `max` header lines, names lower-cased; mp_rpc's
        # fix_mmap turns every single value into a one-element list.
        result: dict[str, list[str]] = {}
        count = 0
        for name, values in self.headers.items():
            for value in values:
                if count >= max_headers:
                    return result
                result.setdefault(name, []).append(value)
                count += 1
        return result

    def _set_header(self, name: str, value: Any) -> None:
        self.headers[name.lower()] = [str(value)]

    def _add_header(self, name: str, value: Any) -> None:
        self.headers.setdefault(name.lower(), []).append(str(value))

    def _clear_header(self, name: str) -> None:
        self.headers.pop(name.lower(), None)


def request_after_auth(
    client_headers: Mapping[str, str | Sequence[str]],
    consumer: Mapping[str, Any] | None,
    groups: Sequence[str] = (),
    request_id: str | None = "7f9c1e0a-0000-4000-8000-000000000001",
) -> KongRequest:
    """The request after correlation-id, key-auth (hide_credentials) and acl ran, as in
    Kong 3.9.3: client headers kept, `apikey` removed, x-consumer-* and x-credential-identifier
    set for the consumer, `x-consumer-groups` overwritten by acl, `x-request-id` kept or set."""
    headers: dict[str, list[str]] = {}
    for name, value in client_headers.items():
        values = [value] if isinstance(value, str) else list(value)
        headers.setdefault(name.lower(), []).extend(values)
    headers.pop("apikey", None)
    if request_id is not None and not headers.get("x-request-id"):
        headers["x-request-id"] = [request_id]
    if consumer is not None:
        headers["x-consumer-id"] = [str(consumer.get("id", ""))]
        headers["x-consumer-username"] = [str(consumer.get("username", ""))]
        headers["x-credential-identifier"] = ["0b6c4d0e-cred"]
        headers.pop("x-anonymous-consumer", None)
        if groups:
            headers["x-consumer-groups"] = [", ".join(groups)]
    return KongRequest(headers=headers, consumer=consumer)


@dataclass
class PhaseOutcome:
    """How one phase ended, and what Kong does next."""

    finished: bool
    exit: Exit | None
    error: str | None

    @property
    def forwarded(self) -> bool:
        """Kong proxies unless the plugin ended the request (mp_rpc.lua only logs errors)."""
        return self.exit is None


class KongSide:
    """The RPC client half of Kong for one plugin server socket."""

    def __init__(self, socket_path: Path, timeout: float = 5.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        self._msg_id = 0

    def call(self, method: str, *args: Any) -> Any:
        self._msg_id += 1
        msg_id = self._msg_id
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(self.timeout)
            conn.connect(str(self.socket_path))
            conn.sendall(msgpack.packb([0, msg_id, method, list(args)]))
            unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
            while True:
                chunk = conn.recv(4096)
                if not chunk:
                    raise RpcError(f"{method}: connection closed without an answer")
                unpacker.feed(chunk)
                for message in unpacker:
                    kind, answer_id, error, result = message
                    if kind != 1 or answer_id != msg_id:
                        raise RpcError(f"{method}: unexpected message {message!r}")
                    if error is not None:
                        raise RpcError(str(error))
                    return result

    def start_instance(self, name: str, config: Mapping[str, Any]) -> int:
        status = self.call("plugin.StartInstance", {"Name": name, "Config": json.dumps(config)})
        return int(status["Id"])

    def close_instance(self, instance_id: int) -> None:
        self.call("plugin.CloseInstance", instance_id)

    def run_phase(self, instance_id: int, phase: str, request: KongRequest) -> PhaseOutcome:
        """mp_rpc.lua's bridge_loop: HandleEvent, then answer PDK calls until "ret"."""
        try:
            step = self.call("plugin.HandleEvent", {"InstanceId": instance_id, "EventName": phase})
            event_id = step["EventId"]
            while step["Data"] != "ret":
                data = step["Data"]
                method, args = data["Method"], list(data.get("Args") or [])
                if method in TERMINAL_METHODS:
                    request.calls.append((method, args))
                    status, body, headers = [*args, None, None, None][:3]
                    request.exit = Exit(method, int(status), body, headers)
                    return PhaseOutcome(finished=True, exit=request.exit, error=None)
                try:
                    result = request.answer(method, args)
                except PdkError as exc:
                    step = self.call("plugin.StepError", {"EventId": event_id, "Data": str(exc)})
                    continue
                step_method = STEP_METHOD_BY_PDK_METHOD.get(method, "plugin.Step")
                step = self.call(step_method, {"EventId": event_id, "Data": result})
        except (RpcError, OSError) as exc:
            return PhaseOutcome(finished=False, exit=None, error=str(exc))
        return PhaseOutcome(finished=True, exit=None, error=None)


class PluginServerProcess:
    """A dedicated kong-pdk plugin server, started the way Kong's start_cmd starts it."""

    def __init__(
        self,
        script: Path,
        socket_name: str,
        prefix: Path,
        extra_args: Sequence[str] = ("--no-lua-style", "-g"),
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.script = script
        self.socket_name = socket_name
        self.prefix = prefix
        self.extra_args = list(extra_args)
        self.env = dict(os.environ if env is None else env)
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    @property
    def log_path(self) -> Path:
        return self.prefix / f"{self.socket_name}.log"

    @property
    def socket_path(self) -> Path:
        return self.prefix / self.socket_name

    def dump(self) -> list[dict[str, Any]]:
        """What Kong's query_cmd reads: the JSON plugin info list."""
        out = subprocess.run(
            [sys.executable, str(self.script), "--dump"],
            check=True,
            capture_output=True,
            env=self.env,
            timeout=30,
        )
        info: list[dict[str, Any]] = json.loads(out.stdout)
        return info

    def start(self, timeout: float = 15.0) -> None:
        self.prefix.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [
                sys.executable,
                str(self.script),
                "--kong-prefix",
                str(self.prefix),
                "--socket-name",
                self.socket_name,
                *self.extra_args,
            ],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while not self._accepts():
            if self._process.poll() is not None:
                raise RuntimeError(f"plugin server exited: {self.log_path.read_text()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"plugin server did not listen on {self.socket_path}")
            time.sleep(0.05)

    def _accepts(self) -> bool:
        if not self.socket_path.exists():
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            try:
                conn.connect(str(self.socket_path))
            except OSError:
                return False
        return True

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._log.close()
        self._process = None
