"""Runs a parsed jq program (`jq.parse`) on plain JSON data, lazily, as jq does: every expression
yields zero or more outputs. The builtins are registered by `jq_builtins`, which also holds the entry
point of the templates' `jq` filter (`jq_filter`): this module never imports them."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Iterator
from typing import Any

from stratoflow.expressions.errors import ExpressionEvaluationError
from stratoflow.expressions.jq import Node
from stratoflow.expressions.runtime import MAX_RANGE, check_size, counted

# (name, arity) -> the function: given the argument expressions and the input, yields the outputs.
# Filled by `jq_builtins`.
Builtin = Callable[[list[Node], Any], Iterator[Any]]
BUILTINS: dict[tuple[str, int], Builtin] = {}
_TYPE_ORDER = {"null": 0, "boolean": 1, "number": 3, "string": 4, "array": 5, "object": 6}


class JqError(ExpressionEvaluationError):
    """A jq program failed on its input (`?` and `//` catch it, as in jq)."""


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def order(value: Any) -> tuple[Any, ...]:
    """jq's total order: null < false < true < numbers < strings < arrays < objects."""
    kind = type_name(value)
    if kind == "boolean":
        return (1 + int(value),)
    if kind in ("number", "string"):
        return (_TYPE_ORDER[kind], value)
    if kind == "array":
        return (5, [order(item) for item in value])
    if kind == "object":
        keys = sorted(value)
        return (6, keys, [order(value[key]) for key in keys])
    return (0,)


def truthy(value: Any) -> bool:
    return value is not None and value is not False


def _index(target: Any, key: Any) -> Any:
    if target is None:
        return None
    if isinstance(target, dict) and isinstance(key, str):
        return target.get(key)
    if isinstance(target, list) and type_name(key) == "number":
        position = int(key)
        return target[position] if -len(target) <= position < len(target) else None
    raise JqError(f"jq: cannot index {type_name(target)} with {type_name(key)} {json.dumps(key)}")


def _iterate(target: Any) -> Iterator[Any]:
    if isinstance(target, list):
        return counted(target)
    if isinstance(target, dict):
        return counted(target.values())
    raise JqError(f"jq: cannot iterate over {type_name(target)}")


def add_values(left: Any, right: Any) -> Any:
    if left is None:
        return right
    if right is None:
        return left
    kinds = (type_name(left), type_name(right))
    if kinds == ("number", "number"):
        return left + right
    if kinds in (("string", "string"), ("array", "array")):
        check_size(len(left) + len(right))
        return left + right
    if kinds == ("object", "object"):
        return {**left, **right}
    raise JqError(f"jq: {kinds[0]} and {kinds[1]} cannot be added")


def _merge(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    merged = dict(left)
    for key, value in right.items():
        both = isinstance(merged.get(key), dict) and isinstance(value, dict)
        merged[key] = _merge(merged[key], value) if both else value
    return merged


def _arithmetic(operator: str, left: Any, right: Any) -> Any:
    kinds = (type_name(left), type_name(right))
    if operator == "+":
        return add_values(left, right)
    if kinds == ("number", "number"):
        if operator in "/%" and right == 0:
            raise JqError(f"jq: {left} cannot be divided by zero")
        if operator == "-":
            return left - right
        if operator == "*":
            return left * right
        if operator == "/":
            return left / right
        return int(left) % int(right)
    if operator == "-" and kinds == ("array", "array"):
        return [item for item in left if all(order(item) != order(other) for other in right)]
    if operator == "*" and kinds == ("object", "object"):
        return _merge(left, right)
    if operator == "*" and kinds == ("string", "number"):
        check_size(len(left) * max(int(right), 0))
        return left * int(right) if right > 0 else None
    if operator == "/" and kinds == ("string", "string"):
        return left.split(right) if right else list(left)
    raise JqError(f"jq: {kinds[0]} and {kinds[1]} cannot be combined with {operator}")


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def run(node: Node, value: Any) -> Iterator[Any]:
    """Every output of `node` applied to `value`."""
    kind = node[0]
    if kind == "identity":
        yield value
    elif kind == "literal":
        yield node[1]
    elif kind == "index":
        for target in run(node[1], value):
            for key in run(node[2], value):
                yield _index(target, key)
    elif kind == "iterate":
        for target in run(node[1], value):
            yield from _iterate(target)
    elif kind == "slice":
        for target in run(node[1], value):
            yield _slice(target, node[2], node[3], value)
    elif kind == "try":
        try:
            yield from run(node[1], value)
        except JqError:
            return
    elif kind == "pipe":
        for middle in run(node[1], value):
            yield from run(node[2], middle)
    elif kind == "comma":
        yield from run(node[1], value)
        yield from run(node[2], value)
    elif kind == "alt":
        yield from _alternative(node, value)
    elif kind in ("and", "or"):
        for left in run(node[1], value):
            if truthy(left) == (kind == "or"):
                yield kind == "or"
            else:
                yield from (truthy(right) for right in run(node[2], value))
    elif kind == "binop":
        for right in run(node[3], value):
            for left in run(node[2], value):
                if node[1] in _COMPARE:
                    yield _COMPARE[node[1]](order(left), order(right))
                else:
                    yield _arithmetic(node[1], left, right)
    elif kind == "neg":
        for operand in run(node[1], value):
            if type_name(operand) != "number":
                raise JqError(f"jq: {type_name(operand)} cannot be negated")
            yield -operand
    elif kind == "array":
        yield [] if node[1] is None else list(run(node[1], value))
    elif kind == "object":
        yield from _object(node[1], value)
    elif kind == "if":
        yield from _conditional(node[1], node[2], value)
    else:
        function = BUILTINS.get((node[1], len(node[2])))
        if function is None:
            raise JqError(f"jq: unknown function {node[1]}/{len(node[2])}")
        yield from function(node[2], value)


def _slice(target: Any, start: Node | None, stop: Node | None, value: Any) -> Any:
    if target is None:
        return None
    if not isinstance(target, (list, str)):
        raise JqError(f"jq: cannot slice {type_name(target)}")
    bounds = [None if part is None else next(run(part, value), None) for part in (start, stop)]
    low, high = (None if bound is None else math.floor(bound) for bound in bounds)
    return target[low:high]


def _alternative(node: Node, value: Any) -> Iterator[Any]:
    found = False
    try:
        for item in run(node[1], value):
            if truthy(item):
                found = True
                yield item
    except JqError:
        pass
    if not found:
        yield from run(node[2], value)


def _object(entries: list[tuple[Node, Node]], value: Any) -> Iterator[dict[str, Any]]:
    choices = []
    for key_node, value_node in entries:
        pairs: list[tuple[str, Any]] = []
        for key in run(key_node, value):
            if not isinstance(key, str):
                raise JqError(f"jq: object keys must be strings, not {type_name(key)}")
            pairs.extend((key, item) for item in run(value_node, value))
        choices.append(pairs)
    for combination in itertools.product(*choices):
        yield dict(combination)


def _conditional(branches: list[tuple[Node, Node]], otherwise: Node, value: Any) -> Iterator[Any]:
    condition, then = branches[0]
    for test in run(condition, value):
        if truthy(test):
            yield from run(then, value)
        elif len(branches) > 1:
            yield from _conditional(branches[1:], otherwise, value)
        else:
            yield from run(otherwise, value)


def bounded_range(start: Any, stop: Any) -> Iterator[Any]:
    if type_name(start) != "number" or type_name(stop) != "number":
        raise JqError("jq: range needs numbers")
    if stop - start > MAX_RANGE:
        raise JqError(f"jq: range of more than {MAX_RANGE:,} numbers")
    current = start
    while current < stop:
        yield current
        current += 1
