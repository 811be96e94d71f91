"""The limits document: its schema, its validation, and its proto and JSON forms.

One validator serves the YAML file, SetLimits and the copy stored in Redis. It works on plain
data (mappings, lists, strings) and names the offending field by its path, so the file loader
can turn the path into a line number and SetLimits into an INVALID_ARGUMENT naming the field.
The schema is documented in `services/risk/README.md` and in `limits.example.yaml`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from services.risk.amounts import AmountError, check_amount, format_amount, parse_decimal
from trading.common.v1 import common_pb2
from trading.risk.v1 import risk_pb2

Path = tuple[str, ...]

ORDER_TYPES: dict[str, common_pb2.OrderType.ValueType] = {
    "market": common_pb2.ORDER_TYPE_MARKET,
    "limit": common_pb2.ORDER_TYPE_LIMIT,
    "stop-loss": common_pb2.ORDER_TYPE_STOP_LOSS,
    "stop-loss-limit": common_pb2.ORDER_TYPE_STOP_LOSS_LIMIT,
    "take-profit": common_pb2.ORDER_TYPE_TAKE_PROFIT,
    "take-profit-limit": common_pb2.ORDER_TYPE_TAKE_PROFIT_LIMIT,
}
ORDER_TYPE_NAMES = {value: name for name, value in ORDER_TYPES.items()}

ASSET = re.compile(r"[A-Z0-9]{1,16}(\.[A-Z])?")
PAIR = re.compile(r"[A-Z0-9]{1,16}/[A-Z0-9]{1,16}")
TEAM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

_PAIR_FIELDS = ("max_order_volume", "max_order_notional", "price_collar_pct")
_TOP_FIELDS = (
    "notional_currency",
    "allowed_pairs",
    "allowed_order_types",
    "default_price_collar_pct",
    "default_pair_limits",
    "pair_limits",
    "max_position",
    "team_daily_notional",
    "default_team_daily_notional",
    "max_open_orders",
)
_REQUIRED = (
    "notional_currency",
    "allowed_pairs",
    "allowed_order_types",
    "default_price_collar_pct",
)


class LimitsInvalid(ValueError):
    """The document breaks the schema at `path`."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{render_path(path)}: {problem}")
        self.path = path
        self.problem = problem


def render_path(path: Path) -> str:
    return ".".join(path) if path else "(document)"


@dataclass(frozen=True)
class PairLimits:
    """Order limits of one pair; None means no limit (or, for the collar, the default)."""

    max_order_volume: Decimal | None = None
    max_order_notional: Decimal | None = None
    price_collar_pct: Decimal | None = None


@dataclass(frozen=True)
class Limits:
    notional_currency: str
    allowed_pairs: tuple[str, ...]
    allowed_order_types: tuple[str, ...]
    default_price_collar_pct: Decimal
    default_pair_limits: PairLimits = PairLimits()
    pair_limits: Mapping[str, PairLimits] = field(default_factory=dict)
    max_position: Mapping[str, Decimal] = field(default_factory=dict)
    team_daily_notional: Mapping[str, Decimal] = field(default_factory=dict)
    default_team_daily_notional: Decimal | None = None
    max_open_orders: int = 0

    def pair(self, pair: str) -> PairLimits:
        """The pair's limits, its own entry's fields first, then the defaults."""
        own = self.pair_limits.get(pair, PairLimits())
        base = self.default_pair_limits
        return PairLimits(
            max_order_volume=_first(own.max_order_volume, base.max_order_volume),
            max_order_notional=_first(own.max_order_notional, base.max_order_notional),
            price_collar_pct=_first(
                own.price_collar_pct, base.price_collar_pct, self.default_price_collar_pct
            ),
        )

    def team_daily_limit(self, team: str) -> Decimal:
        """The team's daily notional; a team with neither an entry nor a default gets zero."""
        return self.team_daily_notional.get(team, self.default_team_daily_notional or Decimal(0))

    def to_data(self) -> dict[str, Any]:
        """Plain data in the schema's shape, decimals as strings: for JSON and YAML."""
        data: dict[str, Any] = {
            "notional_currency": self.notional_currency,
            "allowed_pairs": list(self.allowed_pairs),
            "allowed_order_types": list(self.allowed_order_types),
            "default_price_collar_pct": format_amount(self.default_price_collar_pct),
            "default_pair_limits": _pair_data(self.default_pair_limits),
            "pair_limits": {p: _pair_data(v) for p, v in sorted(self.pair_limits.items())},
            "max_position": {a: format_amount(v) for a, v in sorted(self.max_position.items())},
            "team_daily_notional": {
                t: format_amount(v) for t, v in sorted(self.team_daily_notional.items())
            },
            "max_open_orders": self.max_open_orders,
        }
        if self.default_team_daily_notional is not None:
            data["default_team_daily_notional"] = format_amount(self.default_team_daily_notional)
        return data


@dataclass(frozen=True)
class StoredLimits:
    """The document as stored in Redis, with its version and who last changed it."""

    limits: Limits
    version: int
    updated_by: str
    update_time: datetime

    def to_proto(self) -> risk_pb2.Limits:
        message = limits_to_proto(self.limits)
        message.version = self.version
        message.updated_by = self.updated_by
        message.update_time.CopyFrom(timestamp(self.update_time))
        return message


def timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _first(*values: Decimal | None) -> Decimal | None:
    return next((v for v in values if v is not None), None)


def _pair_data(limits: PairLimits) -> dict[str, str]:
    return {
        name: format_amount(value)
        for name in _PAIR_FIELDS
        if (value := getattr(limits, name)) is not None
    }


# --- validation -------------------------------------------------------------------------------


def parse_limits(data: object) -> Limits:
    """Validate plain data against the schema; raises LimitsInvalid naming the first bad field."""
    top = _mapping(data, ())
    for key in top:
        if key not in _TOP_FIELDS:
            raise LimitsInvalid((key,), f"unknown field; expected one of {', '.join(_TOP_FIELDS)}")
    for key in _REQUIRED:
        if key not in top:
            raise LimitsInvalid((key,), "is required")
    pairs = tuple(_pair_name(p, ("allowed_pairs", str(i))) for i, p in _items(top, "allowed_pairs"))
    order_types = tuple(
        _order_type(t, ("allowed_order_types", str(i)))
        for i, t in _items(top, "allowed_order_types")
    )
    collar = _collar(top["default_price_collar_pct"], ("default_price_collar_pct",))
    if collar is None:
        raise LimitsInvalid(("default_price_collar_pct",), "is required")
    default_team = top.get("default_team_daily_notional")
    return Limits(
        notional_currency=_asset(top["notional_currency"], ("notional_currency",)),
        allowed_pairs=pairs,
        allowed_order_types=order_types,
        default_price_collar_pct=collar,
        default_pair_limits=_pair_limits(
            top.get("default_pair_limits", {}), ("default_pair_limits",)
        ),
        pair_limits={
            _pair_name(p, ("pair_limits", str(p))): _pair_limits(v, ("pair_limits", str(p)))
            for p, v in _mapping(top.get("pair_limits", {}), ("pair_limits",)).items()
        },
        max_position={
            _asset(a, ("max_position", str(a))): _amount(v, ("max_position", str(a)))
            for a, v in _mapping(top.get("max_position", {}), ("max_position",)).items()
        },
        team_daily_notional={
            _team(t, ("team_daily_notional", str(t))): _amount(v, ("team_daily_notional", str(t)))
            for t, v in _mapping(
                top.get("team_daily_notional", {}), ("team_daily_notional",)
            ).items()
        },
        default_team_daily_notional=None
        if default_team is None
        else _amount(default_team, ("default_team_daily_notional",)),
        max_open_orders=_count(top.get("max_open_orders", "0"), ("max_open_orders",)),
    )


def _mapping(value: object, path: Path) -> Mapping[str, object]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise LimitsInvalid(path, "must be a mapping")
    return value


def _items(top: Mapping[str, object], key: str) -> list[tuple[int, object]]:
    value = top[key]
    if value is None:
        return []
    if not isinstance(value, list):
        raise LimitsInvalid((key,), "must be a list")
    return list(enumerate(value))


def _text(value: object, path: Path) -> str:
    if value is None:
        raise LimitsInvalid(path, "has no value")
    if not isinstance(value, str):
        raise LimitsInvalid(path, "must be a single value, not a list or mapping")
    return value


def _asset(value: object, path: Path) -> str:
    text = _text(value, path)
    if not ASSET.fullmatch(text):
        raise LimitsInvalid(path, f"{text!r} is not an asset code like 'BTC' or 'USD'")
    return text


def _pair_name(value: object, path: Path) -> str:
    text = _text(value, path)
    if not PAIR.fullmatch(text):
        raise LimitsInvalid(path, f"{text!r} is not a pair in 'BASE/QUOTE' form like 'BTC/USD'")
    return text


def _team(value: object, path: Path) -> str:
    text = _text(value, path)
    if not TEAM.fullmatch(text):
        raise LimitsInvalid(path, f"{text!r} is not a team (Kong consumer) name")
    return text


def _order_type(value: object, path: Path) -> str:
    text = _text(value, path)
    if text not in ORDER_TYPES:
        raise LimitsInvalid(path, f"{text!r} is not one of {', '.join(ORDER_TYPES)}")
    return text


def _amount(value: object, path: Path) -> Decimal:
    try:
        amount = parse_decimal(_text(value, path))
        check_amount(amount)
    except AmountError as exc:
        raise LimitsInvalid(path, str(exc)) from exc
    return amount


def _collar(value: object, path: Path) -> Decimal | None:
    if value is None:
        return None
    collar = _amount(value, path)
    if not 0 < collar <= 100:
        raise LimitsInvalid(path, f"{format_amount(collar)} must be above 0 and at most 100 (%)")
    return collar


def _count(value: object, path: Path) -> int:
    text = str(value) if type(value) is int else _text(value, path)
    if not text.isdigit() or int(text) > 1_000_000:
        raise LimitsInvalid(path, f"{text!r} must be a whole number from 0 to 1000000")
    return int(text)


def _pair_limits(value: object, path: Path) -> PairLimits:
    fields = _mapping(value, path)
    for key in fields:
        if key not in _PAIR_FIELDS:
            raise LimitsInvalid(
                (*path, key), f"unknown field; expected one of {', '.join(_PAIR_FIELDS)}"
            )

    def amount(name: str) -> Decimal | None:
        raw = fields.get(name)
        return None if raw is None else _amount(raw, (*path, name))

    return PairLimits(
        max_order_volume=amount("max_order_volume"),
        max_order_notional=amount("max_order_notional"),
        price_collar_pct=_collar(fields.get("price_collar_pct"), (*path, "price_collar_pct")),
    )


# --- proto ------------------------------------------------------------------------------------


def limits_to_proto(limits: Limits) -> risk_pb2.Limits:
    message = risk_pb2.Limits(
        allowed_pairs=list(limits.allowed_pairs),
        allowed_order_types=[ORDER_TYPES[name] for name in limits.allowed_order_types],
        default_pair_limits=_pair_proto(limits.default_pair_limits),
        default_price_collar_pct=format_amount(limits.default_price_collar_pct),
        max_position={a: format_amount(v) for a, v in limits.max_position.items()},
        team_daily_notional={t: format_amount(v) for t, v in limits.team_daily_notional.items()},
        max_open_orders=limits.max_open_orders,
        notional_currency=limits.notional_currency,
    )
    if limits.default_team_daily_notional is not None:
        message.default_team_daily_notional = format_amount(limits.default_team_daily_notional)
    for pair, pair_limits in limits.pair_limits.items():
        message.pair_limits[pair].CopyFrom(_pair_proto(pair_limits))
    return message


def _pair_proto(limits: PairLimits) -> risk_pb2.PairLimits:
    return risk_pb2.PairLimits(**_pair_data(limits))


def proto_to_data(message: risk_pb2.Limits) -> dict[str, object]:
    """The proto's fields as plain data for `parse_limits`; empty strings mean "not set"."""
    data: dict[str, object] = {
        "allowed_pairs": list(message.allowed_pairs),
        "allowed_order_types": [
            ORDER_TYPE_NAMES.get(value, common_pb2.OrderType.Name(value))
            if value in common_pb2.OrderType.values()
            else str(value)
            for value in message.allowed_order_types
        ],
        "default_pair_limits": _pair_proto_data(message.default_pair_limits),
        "pair_limits": {p: _pair_proto_data(v) for p, v in message.pair_limits.items()},
        "max_position": dict(message.max_position),
        "team_daily_notional": dict(message.team_daily_notional),
        "max_open_orders": str(message.max_open_orders),
    }
    for name in ("notional_currency", "default_price_collar_pct", "default_team_daily_notional"):
        if value := getattr(message, name):
            data[name] = value
    return data


def _pair_proto_data(message: risk_pb2.PairLimits) -> dict[str, str]:
    return {name: value for name in _PAIR_FIELDS if (value := getattr(message, name))}
