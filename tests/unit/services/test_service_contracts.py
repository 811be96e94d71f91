"""Each service serves every RPC of its proto, and its access table names exactly those RPCs."""

from __future__ import annotations

import inspect
from types import ModuleType

import pytest

from services.common.access import ALL_TEAMS, SERVICES, AccessTable
from services.execution.access import EXECUTION_ACCESS
from services.execution.servicer import ExecutionServicer
from services.risk.access import RISK_ACCESS
from services.risk.servicer import RiskServicer
from services.signal.access import SIGNAL_ACCESS
from services.signal.servicer import SignalServicer
from trading.execution.v1 import execution_pb2
from trading.risk.v1 import risk_pb2
from trading.signal.v1 import signal_pb2

CASES = [
    (execution_pb2, "ExecutionService", EXECUTION_ACCESS, ExecutionServicer),
    (risk_pb2, "RiskService", RISK_ACCESS, RiskServicer),
    (signal_pb2, "SignalService", SIGNAL_ACCESS, SignalServicer),
]
IDS = ["execution", "risk", "signal"]


def rpc_names(module: ModuleType, service: str) -> set[str]:
    return {method.name for method in module.DESCRIPTOR.services_by_name[service].methods}


@pytest.mark.parametrize(("module", "service", "access", "servicer"), CASES, ids=IDS)
def test_access_table_names_exactly_the_rpcs(
    module: ModuleType, service: str, access: AccessTable, servicer: type
) -> None:
    assert access.service == module.DESCRIPTOR.services_by_name[service].full_name
    assert set(access.rules) == rpc_names(module, service)


@pytest.mark.parametrize(("module", "service", "access", "servicer"), CASES, ids=IDS)
def test_every_rpc_has_an_async_handler_of_our_own(
    module: ModuleType, service: str, access: AccessTable, servicer: type
) -> None:
    for name in rpc_names(module, service):
        # Our classes only (the servicer or a mixin of it), never the generated base.
        handler = next(
            (
                cls.__dict__[name]
                for cls in servicer.__mro__
                if name in cls.__dict__ and not cls.__module__.startswith("trading.")
            ),
            None,
        )
        assert handler is not None, f"{servicer.__name__}.{name} falls back to generated code"
        assert inspect.iscoroutinefunction(handler) or inspect.isasyncgenfunction(handler)


@pytest.mark.parametrize(("module", "service", "access", "servicer"), CASES, ids=IDS)
def test_groups_are_known_and_every_rpc_is_open_to_someone(
    module: ModuleType, service: str, access: AccessTable, servicer: type
) -> None:
    for rpc, groups in access.rules.items():
        assert groups, rpc
        assert groups <= ALL_TEAMS | {SERVICES}, rpc
