"""Filters and tests on lists, maps, JSON and YAML, with Pebble's names and conventions."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context, Undefined

from stratoflow.expressions.errors import ExpressionEvaluationError
from stratoflow.expressions.registry import expect, template_filter, template_test
from stratoflow.expressions.runtime import check_size, counted
from stratoflow.expressions.values import fail_if_undefined, to_json, to_plain, to_text

_LISTS = (list, tuple)


def _items(value: Any, name: str) -> list[Any]:
    """A list, iterable or string as a list (the characters of a string; the items of a map)."""
    if isinstance(value, str):
        return list(value)
    if isinstance(value, Mapping):
        return list(value.items())
    if isinstance(value, Iterable):
        return list(counted(value))
    raise ExpressionEvaluationError(
        f"{name} needs a list, got {'null' if value is None else type(value).__name__}"
    )


def is_empty(value: Any) -> bool:
    """Pebble's `empty`: null, a blank string, an empty list or map."""
    if value is None or isinstance(value, Undefined):
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (Mapping, Sequence, set, frozenset)):
        return len(value) == 0
    return False


@template_filter("default", "d", strict=False)
def default(value: Any, fallback: Any = "", boolean: bool = False) -> Any:
    """Pebble's: `fallback` when the value is undefined, null or empty (`boolean=True`: also falsy)."""
    if is_empty(value) or (boolean and not value):
        return fallback
    return value


@template_filter("length", "count")
def length(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, (str, Mapping, Sequence, set, frozenset)):
        return len(value)
    raise ExpressionEvaluationError(f"length needs a string, list or map, got {type(value).__name__}")


@template_filter("keys")
def keys(value: Any) -> list[Any]:
    return list(expect(value, Mapping, "a map", "keys").keys())


@template_filter("values")
def values(value: Any) -> list[Any]:
    return list(expect(value, Mapping, "a map", "values").values())


@template_filter("items")
def items(value: Any) -> list[tuple[Any, Any]]:
    return list(expect(value, Mapping, "a map", "items").items())


@template_filter("first")
def first(value: Any) -> Any:
    """The first item of a list, the first character of a string; null when empty."""
    if isinstance(value, str):
        return value[:1]
    listed = _items(value, "first")
    return listed[0] if listed else None


@template_filter("last")
def last(value: Any) -> Any:
    if isinstance(value, str):
        return value[-1:]
    listed = _items(value, "last")
    return listed[-1] if listed else None


@template_filter("slice")
def slice_(value: Any, start: int = 0, end: int | None = None) -> Any:
    """Pebble's `slice(fromIndex, toIndex)`: items `start` (included) to `end` (excluded)."""
    if isinstance(value, str):
        return value[start:end]
    return _items(value, "slice")[start:end]


def _sort_key(attribute: str | None) -> Any:
    if attribute is None:
        return None
    path = attribute.split(".")

    def key(item: Any) -> Any:
        for part in path:
            item = item[int(part)] if isinstance(item, _LISTS) and part.isdigit() else item[part]
        return item

    return key


@template_filter("sort")
def sort(value: Any, attribute: str | None = None, reverse: bool = False) -> list[Any]:
    """Ascending order (`attribute='a.b'` sorts maps by a nested key)."""
    try:
        return sorted(_items(value, "sort"), key=_sort_key(attribute), reverse=reverse)
    except (TypeError, KeyError, IndexError) as error:
        raise ExpressionEvaluationError(f"sort: cannot compare these items ({error})") from None


@template_filter("rsort")
def rsort(value: Any, attribute: str | None = None) -> list[Any]:
    return sort(value, attribute, reverse=True)


@template_filter("reverse")
def reverse(value: Any) -> Any:
    if isinstance(value, str):
        return value[::-1]
    return _items(value, "reverse")[::-1]


@template_filter("join")
def join(value: Any, separator: Any = "", attribute: str | None = None) -> str:
    getter = _sort_key(attribute)
    parts = [to_text(getter(item) if getter else item) for item in _items(value, "join")]
    glue = to_text(separator)
    check_size(sum(map(len, parts)) + len(glue) * max(len(parts) - 1, 0))
    return glue.join(parts)


@template_filter("chunk")
def chunk(value: Any, size: int) -> list[list[Any]]:
    """Kestra's: the list cut into lists of `size` items."""
    if not isinstance(size, int) or size < 1:
        raise ExpressionEvaluationError("chunk size must be a positive integer")
    listed = _items(value, "chunk")
    return [listed[start : start + size] for start in range(0, len(listed), size)]


@template_filter("distinct", "unique")
def distinct(value: Any) -> list[Any]:
    """The items in their first order, without repeats (maps and lists compared by value)."""
    seen: set[str] = set()
    unique: list[Any] = []
    for item in _items(value, "distinct"):
        marker = to_json(item)
        if marker not in seen:
            seen.add(marker)
            unique.append(item)
    return unique


@template_filter("merge")
def merge(value: Any, other: Any) -> Any:
    """Pebble's: two maps merged (right wins), two lists concatenated, or a list plus an item."""
    if isinstance(value, Mapping):
        return {**value, **expect(other, Mapping, "a map to merge into a map", "merge")}
    listed = _items(value, "merge")
    return listed + (list(other) if isinstance(other, (list, tuple)) else [other])


@template_filter("flatten")
def flatten(value: Any) -> list[Any]:
    flat: list[Any] = []
    for item in _items(value, "flatten"):
        flat.extend(item if isinstance(item, _LISTS) else [item])
    return flat


MAX_INDENT = 16


@template_filter("json", "toJson", "tojson")
def to_json_filter(value: Any, indent: int | None = None) -> str:
    """A value as JSON text (compact, as Kestra prints it; `indent=2` for a readable form)."""
    if indent is not None and not 0 <= indent <= MAX_INDENT:
        # Each nesting level repeats the indent on every line: a large one grows as depth x indent.
        raise ExpressionEvaluationError(f"toJson indent must be between 0 and {MAX_INDENT}, got {indent}")
    return to_json(value, indent=indent)


@template_filter("fromJson")
def from_json(value: Any) -> Any:
    """Parse JSON text; a value that is already a map or list is returned as it is."""
    if isinstance(value, (Mapping, list, tuple)) or value is None:
        return value
    text = value.decode() if isinstance(value, bytes) else to_text(value)
    try:
        return json.loads(text)
    except ValueError as error:
        raise ExpressionEvaluationError(f"fromJson: invalid JSON ({error})") from None


@template_filter("yaml", "toYaml")
def to_yaml(value: Any) -> str:
    import yaml  # imported on use: most renders never need it

    text: str = yaml.safe_dump(to_plain(value), sort_keys=False, allow_unicode=True, default_flow_style=False)
    check_size(len(text))
    return text


@template_filter("fromYaml")
def from_yaml(value: Any) -> Any:
    """Parse YAML text (one document; anchors and aliases are refused: they can expand exponentially)."""
    import yaml

    class NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                raise ExpressionEvaluationError("fromYaml: YAML aliases are not allowed")
            return super().compose_node(parent, index)

    try:
        return yaml.load(to_text(value), Loader=NoAliasLoader)
    except yaml.YAMLError as error:
        raise ExpressionEvaluationError(f"fromYaml: invalid YAML ({error})") from None


@template_filter("jq")
@pass_context  # only so that Jinja never runs it while compiling (constant folding has no budget)
def jq(context: Context, value: Any, program: str) -> list[Any]:
    """Kestra's `jq` filter: every output of the jq `program` on `value`, as a list (`| first` for one)."""
    # Imported on use: the jq interpreter is the largest part of the package and few renders need it.
    from stratoflow.expressions.jq_builtins import jq_filter

    return jq_filter(value, program)


def contains(container: Any, item: Any) -> bool:
    """Pebble's `contains` operator: a substring, a map key, a list item, or every item of a list."""
    fail_if_undefined(container)
    fail_if_undefined(item)
    if isinstance(container, str):
        return to_text(item) in container
    if isinstance(container, Mapping):
        return item in container
    if isinstance(container, (Sequence, set, frozenset)):
        if isinstance(item, _LISTS):
            return all(part in container for part in item)
        return item in container
    if container is None:
        return False
    raise ExpressionEvaluationError(
        f"'contains' needs a string, list or map on its left, got {type(container).__name__}"
    )


@template_test("json")
def is_json(value: Any) -> bool:
    """Kestra's `is json`: a string that parses as JSON."""
    if not isinstance(value, (str, bytes)):
        return False
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


@template_test("empty")
def empty_test(value: Any) -> bool:
    return is_empty(value)


@template_test("null")
def null_test(value: Any) -> bool:
    return value is None


@template_test("map")
def map_test(value: Any) -> bool:
    return isinstance(value, Mapping)
