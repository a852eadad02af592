"""JSONPath filter expressions: the `?(...)` inside `$.items[?(@.size > 10 && @.kind == 'csv')]`."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from stratoflow.engine import paths

Predicate = Callable[[Any], bool]

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<op>==|!=|<=|>=|<|>|&&|\|\||!|\(|\))
    | (?P<str>'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*")
    | (?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    | (?P<word>true|false|null)
    | (?P<at>@)
    )""",
    re.VERBOSE,
)
_MISSING = object()
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: _same_type(a, b) and a == b,
    "!=": lambda a, b: not (_same_type(a, b) and a == b),
    "<": lambda a, b: _ordered(a, b) and a < b,
    "<=": lambda a, b: _ordered(a, b) and a <= b,
    ">": lambda a, b: _ordered(a, b) and a > b,
    ">=": lambda a, b: _ordered(a, b) and a >= b,
}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same_type(a: Any, b: Any) -> bool:
    return (_is_number(a) and _is_number(b)) or type(a) is type(b)


def _ordered(a: Any, b: Any) -> bool:
    return (_is_number(a) and _is_number(b)) or (isinstance(a, str) and isinstance(b, str))


def compile_filter(text: str) -> Predicate:
    """Compile the expression between `?(` and `)`; raises PathSyntaxError."""
    parser = _Parser(text)
    predicate = parser.expression()
    parser.skip_space()
    if parser.pos != len(text):
        raise paths.PathSyntaxError(f"filter '{text}': unexpected '{text[parser.pos :]}'")
    return predicate


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str | None:
        self.skip_space()
        match = _TOKEN.match(self.text, self.pos)
        return match.group("op") if match and match.group("op") else None

    def take(self, op: str) -> None:
        if self.peek() != op:
            raise paths.PathSyntaxError(f"filter '{self.text}': expected '{op}' at position {self.pos}")
        self.skip_space()
        self.pos += len(op)

    def expression(self) -> Predicate:
        left = self.conjunction()
        while self.peek() == "||":
            self.take("||")
            right = self.conjunction()
            left = (lambda a, b: lambda item: a(item) or b(item))(left, right)
        return left

    def conjunction(self) -> Predicate:
        left = self.factor()
        while self.peek() == "&&":
            self.take("&&")
            right = self.factor()
            left = (lambda a, b: lambda item: a(item) and b(item))(left, right)
        return left

    def factor(self) -> Predicate:
        op = self.peek()
        if op == "!":
            self.take("!")
            inner = self.factor()
            return lambda item: not inner(item)
        if op == "(":
            self.take("(")
            inner = self.expression()
            self.take(")")
            return inner
        left = self.operand()
        op = self.peek()
        if op not in _COMPARE:
            return lambda item: left(item) is not _MISSING
        self.take(op)
        right, compare = self.operand(), _COMPARE[op]
        return lambda item: _compare(compare, left(item), right(item))

    def operand(self) -> Callable[[Any], Any]:
        self.skip_space()
        match = _TOKEN.match(self.text, self.pos)
        if not match or match.group("op"):
            raise paths.PathSyntaxError(f"filter '{self.text}': expected a value at position {self.pos}")
        self.pos = match.end()
        if match.group("at"):
            steps, self.pos = paths._parse_steps(self.text, self.pos, relative=True)
            selected = tuple(steps)
            return lambda item: _relative(selected, item)
        if match.group("str"):
            value: Any = paths.unquote(match.group("str"))
        else:
            value = json.loads(match.group("num") or match.group("word"))
        return lambda _item: value


def _relative(steps: tuple[paths.Step, ...], item: Any) -> Any:
    found = paths._select(steps, [item])
    return found[0] if found else _MISSING


def _compare(compare: Callable[[Any, Any], bool], left: Any, right: Any) -> bool:
    if left is _MISSING or right is _MISSING:
        return False
    return compare(left, right)
