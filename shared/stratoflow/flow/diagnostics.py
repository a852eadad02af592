"""Pydantic's validation errors, told in the flow file's words: a YAML path, a line and a message."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from stratoflow.errors import Diagnostic
from stratoflow.flow.fields import describe
from stratoflow.flow.yaml_source import PathPart, SourceMap, YamlPath, format_path

# Errors about the kind of a value: the message gains "(got <what was there>)".
_TYPE_ERRORS = ("_type", "_parsing", "literal_error", "enum", "bool_parsing")
_PREFIXES = ("Value error, ", "Assertion failed, ")


@dataclass
class _Located:
    path: YamlPath
    union_at: YamlPath | None  # where a union's alternatives were tried, if they were
    message: str


def _resolve(data: Any, error: dict[str, Any]) -> _Located:
    """Follow an error's `loc` through the data; drop the parts that are union branch names."""
    parts: list[PathPart] = []
    union_at: YamlPath | None = None
    current = data
    loc = error["loc"]
    missing: str | None = None
    for index, element in enumerate(loc):
        in_mapping = isinstance(current, dict) and isinstance(element, str) and element in current
        in_list = isinstance(current, list) and isinstance(element, int) and 0 <= element < len(current)
        if in_mapping or in_list:
            parts.append(element)
            current = current[element]
        elif error["type"] == "missing" and index == len(loc) - 1:
            missing = str(element)
        elif union_at is None:
            union_at = tuple(parts)
    return _Located(tuple(parts), union_at, _message(error, missing))


def _message(error: dict[str, Any], missing: str | None) -> str:
    kind, message = error["type"], str(error["msg"])
    if kind == "missing":
        return f"missing required property '{missing}'" if missing else message
    if kind == "extra_forbidden":
        return f"unknown property '{error['loc'][-1]}'"
    for prefix in _PREFIXES:
        message = message.removeprefix(prefix)
    if kind == "too_short" and isinstance(error.get("input"), list | dict) and not error["input"]:
        return "must not be empty"
    if any(kind.endswith(suffix) or kind == suffix for suffix in _TYPE_ERRORS):
        message += f" (got {describe(error.get('input'))})"
    return message


def _merge_union(items: list[_Located]) -> list[_Located]:
    """One message per union: the alternatives' messages joined, unless a branch got deeper
    (the value had that branch's shape), in which case only that branch's errors are kept."""
    deeper = [item for item in items if len(item.path) > len(item.union_at or ())]
    if deeper:
        return deeper
    messages = list(dict.fromkeys(item.message for item in items))
    if len(messages) > 1 and all(m.startswith("Input should be ") for m in messages):
        got = ""
        stripped = []
        for m in messages:
            body, _, tail = m.removeprefix("Input should be ").partition(" (got ")
            stripped.append(body)
            got = got or tail
        text = "Input should be " + " or ".join(stripped) + (f" (got {got}" if got else "")
        return [_Located(items[0].path, None, text)]
    return [_Located(items[0].path, None, "; ".join(messages))]


def diagnostics_from_error(
    err: ValidationError, data: object, source_map: SourceMap, file: str
) -> list[Diagnostic]:
    """Every error of a failed validation, located in the YAML source."""
    located: list[_Located] = []
    unions: dict[YamlPath, list[_Located]] = defaultdict(list)
    for error in err.errors(include_url=False):
        item = _resolve(data, dict(error))
        if item.union_at is not None:
            unions[item.union_at].append(item)
        else:
            located.append(item)
    for items in unions.values():
        located.extend(_merge_union(items))
    diagnostics = set()
    for item in located:
        line, column = source_map.locate(item.path)
        diagnostics.add(Diagnostic(file, line, column, format_path(item.path), item.message))
    return sorted(diagnostics)
