"""The jq builtins the subset supports, registered into `jq_eval.BUILTINS` by (name, arity), and
`jq_filter`, the entry point of the templates' `jq` filter: it runs programs once they are registered."""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import math
from collections.abc import Callable, Iterator
from typing import Any

from stratoflow.expressions.jq import Node, parse
from stratoflow.expressions.jq_eval import (
    BUILTINS,
    Builtin,
    JqError,
    add_values,
    bounded_range,
    order,
    run,
    truthy,
    type_name,
)
from stratoflow.expressions.runtime import check_size, counted
from stratoflow.expressions.values import to_json, to_plain


def builtin(name: str, arity: int = 0) -> Callable[[Builtin], Builtin]:
    def register(function: Builtin) -> Builtin:
        BUILTINS[(name, arity)] = function
        return function

    return register


def unary(name: str) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    """Register `function(input) -> output` as a zero-argument builtin."""

    def register(function: Callable[[Any], Any]) -> Callable[[Any], Any]:
        BUILTINS[(name, 0)] = lambda arguments, value: iter([function(value)])
        return function

    return register


def binary(name: str) -> Callable[[Callable[[Any, Any], Any]], Callable[[Any, Any], Any]]:
    """Register `function(input, argument) -> output`, once per output of the argument."""

    def register(function: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def call(arguments: list[Node], value: Any) -> Iterator[Any]:
            return (function(value, argument) for argument in run(arguments[0], value))

        BUILTINS[(name, 1)] = call
        return function

    return register


def _need(value: Any, kinds: tuple[str, ...], name: str) -> Any:
    if type_name(value) not in kinds:
        raise JqError(f"jq: {name} cannot be applied to {type_name(value)}")
    return value


def _sorted(items: list[Any]) -> list[Any]:
    return sorted(items, key=order)


@unary("length")
def length(value: Any) -> Any:
    if value is None:
        return 0
    if type_name(value) == "number":
        return abs(value)
    return len(_need(value, ("string", "array", "object"), "length"))


@unary("keys")
def keys(value: Any) -> list[Any]:
    if isinstance(_need(value, ("object", "array"), "keys"), list):
        return list(range(len(value)))
    return sorted(value)


@unary("keys_unsorted")
def keys_unsorted(value: Any) -> list[Any]:
    return list(_need(value, ("object",), "keys_unsorted"))


@builtin("empty")
def empty(arguments: list[Node], value: Any) -> Iterator[Any]:
    return iter(())


@builtin("select", 1)
def select(arguments: list[Node], value: Any) -> Iterator[Any]:
    return (value for test in run(arguments[0], value) if truthy(test))


@builtin("map", 1)
def map_(arguments: list[Node], value: Any) -> Iterator[Any]:
    yield [result for item in run(("iterate", ("identity",)), value) for result in run(arguments[0], item)]


@builtin("map_values", 1)
def map_values(arguments: list[Node], value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        yield {key: next(run(arguments[0], item)) for key, item in counted(value.items())}
    else:
        yield [next(run(arguments[0], item)) for item in counted(_need(value, ("array",), "map_values"))]


@builtin("with_entries", 1)
def with_entries(arguments: list[Node], value: Any) -> Iterator[Any]:
    entries = to_entries(value)
    yield from_entries([result for entry in entries for result in run(arguments[0], entry)])


@binary("has")
def has(value: Any, key: Any) -> bool:
    if isinstance(value, dict):
        return key in value
    return 0 <= int(key) < len(_need(value, ("array",), "has"))


@unary("not")
def not_(value: Any) -> bool:
    return not truthy(value)


@unary("add")
def add(value: Any) -> Any:
    items = list(value.values()) if isinstance(value, dict) else _need(value, ("array", "null"), "add") or []
    return functools.reduce(add_values, items, None)


@unary("first")
def first(value: Any) -> Any:
    return _need(value, ("array",), "first")[0] if value else None


@unary("last")
def last(value: Any) -> Any:
    return _need(value, ("array",), "last")[-1] if value else None


@builtin("first", 1)
def first_of(arguments: list[Node], value: Any) -> Iterator[Any]:
    yield from itertools.islice(run(arguments[0], value), 1)


@builtin("limit", 2)
def limit(arguments: list[Node], value: Any) -> Iterator[Any]:
    for count in run(arguments[0], value):
        yield from itertools.islice(run(arguments[1], value), max(int(count), 0))


@unary("reverse")
def reverse(value: Any) -> Any:
    return None if value is None else _need(value, ("array", "string"), "reverse")[::-1]


@unary("sort")
def sort(value: Any) -> list[Any]:
    return _sorted(_need(value, ("array",), "sort"))


def _by(arguments: list[Node], item: Any) -> Any:
    return order([*run(arguments[0], item)])


@builtin("sort_by", 1)
def sort_by(arguments: list[Node], value: Any) -> Iterator[Any]:
    yield sorted(_need(value, ("array",), "sort_by"), key=lambda item: _by(arguments, item))


@builtin("group_by", 1)
def group_by(arguments: list[Node], value: Any) -> Iterator[Any]:
    keyed = sorted(_need(value, ("array",), "group_by"), key=lambda item: _by(arguments, item))
    yield [list(group) for _, group in itertools.groupby(keyed, key=lambda item: _by(arguments, item))]


@builtin("unique_by", 1)
def unique_by(arguments: list[Node], value: Any) -> Iterator[Any]:
    groups = next(group_by(arguments, value))
    yield [group[0] for group in groups]


@builtin("min_by", 1)
def min_by(arguments: list[Node], value: Any) -> Iterator[Any]:
    items = _need(value, ("array",), "min_by")
    yield min(items, key=lambda item: _by(arguments, item)) if items else None


@builtin("max_by", 1)
def max_by(arguments: list[Node], value: Any) -> Iterator[Any]:
    items = _need(value, ("array",), "max_by")
    yield max(items, key=lambda item: _by(arguments, item)) if items else None


@unary("unique")
def unique(value: Any) -> list[Any]:
    result: list[Any] = []
    for item in _sorted(_need(value, ("array",), "unique")):
        if not result or order(result[-1]) != order(item):
            result.append(item)
    return result


@unary("min")
def minimum(value: Any) -> Any:
    items = _need(value, ("array",), "min")
    return _sorted(items)[0] if items else None


@unary("max")
def maximum(value: Any) -> Any:
    items = _need(value, ("array",), "max")
    return _sorted(items)[-1] if items else None


@unary("type")
def type_(value: Any) -> str:
    return type_name(value)


@unary("tostring")
def tostring(value: Any) -> str:
    return value if isinstance(value, str) else to_json(value)


@unary("tojson")
def tojson(value: Any) -> str:
    return to_json(value)


@unary("fromjson")
def fromjson(value: Any) -> Any:
    try:
        return json.loads(_need(value, ("string",), "fromjson"))
    except ValueError as error:
        raise JqError(f"jq: fromjson: {error}") from None


@unary("tonumber")
def tonumber(value: Any) -> Any:
    if type_name(value) == "number":
        return value
    try:
        text = _need(value, ("string",), "tonumber")
        return int(text) if text.strip().lstrip("-").isdigit() else float(text)
    except ValueError:
        raise JqError(f"jq: cannot parse {value!r} as a number") from None


@unary("to_entries")
def to_entries(value: Any) -> list[dict[str, Any]]:
    return [{"key": key, "value": item} for key, item in _need(value, ("object",), "to_entries").items()]


@unary("from_entries")
def from_entries(value: Any) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for entry in _need(value, ("array",), "from_entries"):
        key = next((entry[name] for name in ("key", "k", "name", "Name", "Key", "K") if name in entry), None)
        item = next((entry[name] for name in ("value", "v", "Value", "V") if name in entry), None)
        result[key if isinstance(key, str) else to_json(key)] = item
    return result


unary("ascii_downcase")(lambda value: str(_need(value, ("string",), "ascii_downcase")).lower())
unary("ascii_upcase")(lambda value: str(_need(value, ("string",), "ascii_upcase")).upper())


def _rounding(name: str, function: Callable[[float], int]) -> None:
    unary(name)(lambda value: function(_need(value, ("number",), name)))


_rounding("floor", math.floor)
_rounding("ceil", math.ceil)
_rounding("round", lambda number: math.floor(number + 0.5))


@unary("flatten")
def flatten(value: Any) -> list[Any]:
    flat: list[Any] = []
    for item in counted(_need(value, ("array",), "flatten")):
        flat.extend(flatten(item) if isinstance(item, list) else [item])
    return flat


@unary("any")
def any_(value: Any) -> bool:
    return any(truthy(item) for item in _need(value, ("array",), "any"))


@unary("all")
def all_(value: Any) -> bool:
    return all(truthy(item) for item in _need(value, ("array",), "all"))


@binary("join")
def join(value: Any, separator: Any) -> str:
    parts = ["" if item is None else item if isinstance(item, str) else to_json(item) for item in value]
    check_size(sum(map(len, parts)) + len(separator) * len(parts))
    return str(separator).join(parts)


@binary("startswith")
def startswith(value: Any, prefix: Any) -> bool:
    return str(_need(value, ("string",), "startswith")).startswith(prefix)


@binary("endswith")
def endswith(value: Any, suffix: Any) -> bool:
    return str(_need(value, ("string",), "endswith")).endswith(suffix)


@binary("split")
def split(value: Any, separator: Any) -> list[str]:
    text = str(_need(value, ("string",), "split"))
    return text.split(separator) if separator else list(text)


@binary("ltrimstr")
def ltrimstr(value: Any, prefix: Any) -> Any:
    return value.removeprefix(prefix) if isinstance(value, str) and isinstance(prefix, str) else value


@binary("rtrimstr")
def rtrimstr(value: Any, suffix: Any) -> Any:
    return value.removesuffix(suffix) if isinstance(value, str) and isinstance(suffix, str) else value


@binary("contains")
def contains(value: Any, element: Any) -> bool:
    if isinstance(value, str) and isinstance(element, str):
        return element in value
    if isinstance(value, list) and isinstance(element, list):
        return all(any(contains(item, wanted) for item in value) for wanted in element)
    if isinstance(value, dict) and isinstance(element, dict):
        return all(key in value and contains(value[key], item) for key, item in element.items())
    if type_name(value) != type_name(element):
        raise JqError(
            f"jq: {type_name(value)} and {type_name(element)} cannot have their containment checked"
        )
    return bool(order(value) == order(element))


@builtin("range", 1)
def range_(arguments: list[Node], value: Any) -> Iterator[Any]:
    for stop in run(arguments[0], value):
        yield from counted(bounded_range(0, stop))


@builtin("range", 2)
def range_between(arguments: list[Node], value: Any) -> Iterator[Any]:
    for start in run(arguments[0], value):
        for stop in run(arguments[1], value):
            yield from counted(bounded_range(start, stop))


@builtin("recurse")
def recurse(arguments: list[Node], value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, (list, dict)):
        for child in counted(value if isinstance(value, list) else value.values()):
            yield from recurse(arguments, child)


_TYPE_SELECTORS = {
    "arrays": ("array",),
    "objects": ("object",),
    "iterables": ("array", "object"),
    "scalars": ("null", "boolean", "number", "string"),
    "strings": ("string",),
    "numbers": ("number",),
    "booleans": ("boolean",),
    "nulls": ("null",),
    "values": ("boolean", "number", "string", "array", "object"),
}


def _selector(kinds: tuple[str, ...]) -> Builtin:
    return lambda arguments, value: iter([value] if type_name(value) in kinds else [])


for _name, _kinds in _TYPE_SELECTORS.items():
    BUILTINS[(_name, 0)] = _selector(_kinds)


def jq_filter(value: Any, program: str) -> list[Any]:
    """Every output of `program` on `value`, as a list; a string input holding JSON is parsed first."""
    data = to_plain(value)
    if isinstance(data, str):
        with contextlib.suppress(ValueError):
            data = json.loads(data)
    return [to_plain(item) for item in counted(run(parse(program), data))]
