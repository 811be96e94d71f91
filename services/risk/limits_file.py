"""Read the limits YAML file, reporting a schema error with the line of the offending field.

Scalars are kept as the exact text of the file (YAML never turns ``0.1`` into a float here),
so decimals reach `Decimal` untouched. The file seeds Redis when Redis holds no limits yet.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from services.risk.limits import Limits, LimitsInvalid, parse_limits, render_path


class LimitsFileError(Exception):
    """The limits file cannot be read or breaks the schema; the message names line and field."""


def load_limits_file(path: Path) -> Limits:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LimitsFileError(f"limits file {path}: cannot read: {exc.strerror or exc}") from exc
    return parse_limits_text(text, str(path))


def parse_limits_text(text: str, name: str) -> Limits:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        raise LimitsFileError(
            f"limits file {name}, line {line}: not valid YAML: {exc.problem}"
        ) from exc
    if root is None:
        raise LimitsFileError(f"limits file {name}, line 1: the file is empty")
    lines: dict[tuple[str, ...], int] = {}
    try:
        return parse_limits(_plain(root, (), lines))
    except LimitsInvalid as exc:
        line = _line_of(exc.path, lines)
        raise LimitsFileError(
            f"limits file {name}, line {line}: {render_path(exc.path)}: {exc.problem}"
        ) from exc


def _plain(node: yaml.Node, path: tuple[str, ...], lines: dict[tuple[str, ...], int]) -> object:
    """The node as mappings, lists and raw scalar strings; records each path's line."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[str, object] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in result:
                lines[(*path, key)] = key_node.start_mark.line + 1
                raise LimitsInvalid((*path, key), "appears twice")
            result[key] = _plain(value_node, (*path, key), lines)
            lines[(*path, key)] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item, (*path, str(i)), lines) for i, item in enumerate(node.value)]
    if node.tag == "tag:yaml.org,2002:null":
        return None
    return str(node.value)


def _line_of(path: tuple[str, ...], lines: dict[tuple[str, ...], int]) -> int:
    """The line of the deepest part of the path the file has (a missing field: its parent)."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return 1
