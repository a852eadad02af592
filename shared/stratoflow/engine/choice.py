"""Choice rules: compile `{"Variable": "$.x", "NumericGreaterThan": 3}` (and And/Or/Not) to predicates.

As on AWS: a comparison whose value has the wrong type is false (no error); a `Variable` (or a
`...Path` operand) that does not resolve fails the execution with States.Runtime, except for
`IsPresent`; `StringMatches` knows only `*` (escape `*` and `\\` with a backslash); timestamps are
RFC 3339 with an uppercase `T` and a `Z` or numeric offset.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from stratoflow.engine.paths import ContextFn, PathNotFound, PathSyntaxError, compile_path

Predicate = Callable[[Any, ContextFn | None], bool]

_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": operator.eq,
    "LessThan": operator.lt,
    "GreaterThan": operator.gt,
    "LessThanEquals": operator.le,
    "GreaterThanEquals": operator.ge,
}
_TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "IsNull": lambda v: v is None,
    "IsNumeric": lambda v: _is_number(v),
    "IsString": lambda v: isinstance(v, str),
    "IsBoolean": lambda v: isinstance(v, bool),
    "IsTimestamp": lambda v: parse_timestamp(v) is not None,
}


class ChoiceSyntaxError(ValueError):
    """A Choice rule is malformed."""


class ChoiceRuntimeError(LookupError):
    """A Choice rule's path does not resolve (AWS: States.Runtime)."""


def parse_timestamp(value: Any) -> datetime | None:
    """The datetime of an RFC 3339 timestamp string, or None when `value` is not one."""
    if not isinstance(value, str) or not _TIMESTAMP.fullmatch(value):
        return None
    head, _, fraction = value.partition(".")
    if fraction:  # Python reads at most 6 fractional digits
        digits = re.match(r"\d+", fraction)
        assert digits is not None
        value = f"{head}.{digits.group()[:6].ljust(6, '0')}{fraction[digits.end() :]}"
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _kind_of(family: str) -> tuple[Callable[[Any], bool], Callable[[Any], Any]]:
    """(accepts a value of this family?, convert it for comparison)."""
    if family == "String":
        return (lambda v: isinstance(v, str)), (lambda v: v)
    if family == "Numeric":
        return _is_number, (lambda v: v)
    if family == "Boolean":
        return (lambda v: isinstance(v, bool)), (lambda v: v)
    return (lambda v: parse_timestamp(v) is not None), parse_timestamp


OPERATORS: frozenset[str] = frozenset(
    [
        f"{family}{order}{suffix}"
        for family in ("String", "Numeric", "Timestamp")
        for order in _ORDER
        for suffix in ("", "Path")
    ]
    + ["BooleanEquals", "BooleanEqualsPath", "StringMatches", "IsPresent", *_TYPE_TESTS]
)


def compile_rule(rule: Any, where: str = "Choices") -> Predicate:
    """Compile one Choice rule (without its Next); raises ChoiceSyntaxError."""
    if not isinstance(rule, dict):
        raise ChoiceSyntaxError(f"{where}: a rule must be an object")
    combinators = [key for key in ("And", "Or", "Not") if key in rule]
    if combinators:
        if len(combinators) > 1 or "Variable" in rule:
            raise ChoiceSyntaxError(f"{where}: use one of And, Or, Not (without Variable) in a rule")
        key = combinators[0]
        if key == "Not":
            inner = compile_rule(rule["Not"], f"{where}.Not")
            return lambda data, context: not inner(data, context)
        if not isinstance(rule[key], list) or not rule[key]:
            raise ChoiceSyntaxError(f"{where}.{key}: must be a non-empty array of rules")
        parts = [compile_rule(sub, f"{where}.{key}[{i}]") for i, sub in enumerate(rule[key])]
        if key == "And":
            return lambda data, context: all(part(data, context) for part in parts)
        return lambda data, context: any(part(data, context) for part in parts)
    operators = [key for key in rule if key in OPERATORS]
    if len(operators) != 1:
        raise ChoiceSyntaxError(
            f"{where}: a rule needs exactly one comparison operator, found {operators or 'none'}"
        )
    if "Variable" not in rule:
        raise ChoiceSyntaxError(f"{where}: a comparison needs a Variable")
    variable = _path(rule["Variable"], f"{where}.Variable")
    name = operators[0]
    test = _comparison(name, rule[name], f"{where}.{name}")
    if name == "IsPresent":
        return lambda data, context: test(_resolve(variable, data, context, missing_ok=True))

    def predicate(data: Any, context: ContextFn | None) -> bool:
        value = _resolve(variable, data, context, missing_ok=False)
        return test(value, data, context)

    return predicate


_MISSING = object()


def _path(text: Any, where: str) -> Any:
    try:
        return compile_path(text)
    except PathSyntaxError as error:
        raise ChoiceSyntaxError(f"{where}: {error}") from None


def _resolve(path: Any, data: Any, context: ContextFn | None, missing_ok: bool) -> Any:
    try:
        return path.find(data, context)
    except PathNotFound:
        if missing_ok:
            return _MISSING
        raise ChoiceRuntimeError(
            f"Invalid path '{path.text}': The choice state's condition path references an invalid value."
        ) from None


def _comparison(name: str, operand: Any, where: str) -> Callable[..., bool]:
    if name == "IsPresent" or name in _TYPE_TESTS:
        if not isinstance(operand, bool):
            raise ChoiceSyntaxError(f"{where}: must be true or false")
        if name == "IsPresent":
            return lambda value: (value is not _MISSING) is operand
        check = _TYPE_TESTS[name]
        return lambda value, _data, _context: check(value) is operand
    if name == "StringMatches":
        if not isinstance(operand, str):
            raise ChoiceSyntaxError(f"{where}: must be a string pattern")
        pattern = _wildcard(operand)
        return lambda value, _data, _context: isinstance(value, str) and pattern.fullmatch(value) is not None
    by_path = name.endswith("Path")
    base = name[:-4] if by_path else name
    family = next(f for f in ("String", "Numeric", "Boolean", "Timestamp") if base.startswith(f))
    compare = _ORDER[base[len(family) :]]
    accepts, convert = _kind_of(family)
    if by_path:
        other = _path(operand, where)

        def against_path(value: Any, data: Any, context: ContextFn | None) -> bool:
            expected = _resolve(other, data, context, missing_ok=False)
            return accepts(value) and accepts(expected) and compare(convert(value), convert(expected))

        return against_path
    if not accepts(operand):
        raise ChoiceSyntaxError(f"{where}: {operand!r} is not a {family.lower()} value")
    expected = convert(operand)
    return lambda value, _data, _context: accepts(value) and compare(convert(value), expected)


def _wildcard(pattern: str) -> re.Pattern[str]:
    """StringMatches: `*` matches any run of characters; `\\*` and `\\\\` are a literal star and backslash."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "*" else re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)
