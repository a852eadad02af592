"""A jq subset, parsed in pure Python (no native library): the programs Kestra flows use on JSON.

Paths `.`, `..`, `.a.b`, `."a b"`, `.[0]`, `.[-1]`, `.["k"]`, `.[]`, `.[1:3]`, the `?` suffix; pipes `|`,
`,`, `//`; literals, `[...]` and `{...}` construction; `== != < <= > >=`, `and`, `or`, `+ - * / %`;
`if ... then ... elif ... else ... end`; and the builtins listed in `jq_eval.BUILTINS`. Variables,
`reduce`, `as`, assignment operators, regular expressions and `@formats` are not supported.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from stratoflow.expressions.errors import ExpressionEvaluationError

Node = tuple[Any, ...]

_TOKEN = re.compile(
    r"""\s*(?:
    (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<field>\.[A-Za-z_][A-Za-z0-9_]*)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\.\.|//|==|!=|<=|>=|[.|,:;()\[\]{}?<>+\-*/%])
    )""",
    re.VERBOSE,
)
_KEYWORDS = frozenset({"and", "or", "if", "then", "elif", "else", "end"})
_COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})


class JqSyntaxError(ExpressionEvaluationError):
    """A jq program that does not parse."""


def _tokenize(program: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    position = 0
    program = program.rstrip()
    while position < len(program):
        match = _TOKEN.match(program, position)
        if match is None or match.end() == position:
            raise JqSyntaxError(f"jq: unexpected {program[position:].strip()[:10]!r} in {program!r}")
        position = match.end()
        kind = match.lastgroup
        text = match.group(kind or "op")
        if kind == "number":
            tokens.append(("literal", float(text) if any(c in text for c in ".eE") else int(text)))
        elif kind == "string":
            tokens.append(("string", json.loads(text)))
        elif kind == "field":
            tokens.append(("field", text[1:]))
        elif kind == "ident":
            tokens.append(("keyword" if text in _KEYWORDS else "ident", text))
        else:
            tokens.append(("op", text))
    tokens.append(("end", None))
    return tokens


class _Parser:
    def __init__(self, program: str):
        self.program = program
        self.tokens = _tokenize(program)
        self.position = 0

    def peek(self, kind: str, value: Any = None) -> bool:
        token_kind, token_value = self.tokens[self.position]
        return token_kind == kind and (value is None or token_value == value)

    def take(self) -> tuple[str, Any]:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def accept(self, kind: str, value: Any = None) -> bool:
        if self.peek(kind, value):
            self.position += 1
            return True
        return False

    def expect(self, kind: str, value: Any = None) -> None:
        if not self.accept(kind, value):
            found = self.tokens[self.position][1]
            raise JqSyntaxError(f"jq: expected {value or kind!r}, found {found!r} in {self.program!r}")

    def parse(self) -> Node:
        node = self.pipe()
        self.expect("end")
        return node

    def pipe(self, commas: bool = True) -> Node:
        left = self.comma() if commas else self.alternative()
        if self.accept("op", "|"):
            return ("pipe", left, self.pipe(commas))
        return left

    def comma(self) -> Node:
        node = self.alternative()
        while self.accept("op", ","):
            node = ("comma", node, self.alternative())
        return node

    def alternative(self) -> Node:
        left = self.logical("or")
        if self.accept("op", "//"):
            return ("alt", left, self.alternative())
        return left

    def logical(self, word: str) -> Node:
        node = self.logical("and") if word == "or" else self.comparison()
        while self.accept("keyword", word):
            node = (word, node, self.logical("and") if word == "or" else self.comparison())
        return node

    def comparison(self) -> Node:
        left = self.arithmetic(("+", "-"))
        kind, value = self.tokens[self.position]
        if kind == "op" and value in _COMPARISONS:
            self.position += 1
            return ("binop", value, left, self.arithmetic(("+", "-")))
        return left

    def arithmetic(self, operators: tuple[str, ...]) -> Node:
        def operand() -> Node:
            return self.arithmetic(("*", "/", "%")) if operators[0] == "+" else self.unary()

        node = operand()
        while (kind_value := self.tokens[self.position])[0] == "op" and kind_value[1] in operators:
            self.position += 1
            node = ("binop", kind_value[1], node, operand())
        return node

    def unary(self) -> Node:
        if self.accept("op", "-"):
            return ("neg", self.unary())
        return self.postfix(self.term())

    def postfix(self, node: Node) -> Node:
        while True:
            if self.peek("field"):
                node = ("index", node, ("literal", self.take()[1]))
            elif self.peek("op", ".") and self.tokens[self.position + 1][0] == "string":
                self.position += 1
                node = ("index", node, ("literal", self.take()[1]))
            elif self.peek("op", "[") or (
                self.peek("op", ".") and self.tokens[self.position + 1] == ("op", "[")
            ):
                self.accept("op", ".")
                node = self.bracket(node)
            elif self.accept("op", "?"):
                node = ("try", node)
            else:
                return node

    def bracket(self, target: Node) -> Node:
        self.expect("op", "[")
        if self.accept("op", "]"):
            return ("iterate", target)
        start = None if self.peek("op", ":") else self.pipe()
        if self.accept("op", ":"):
            stop = None if self.peek("op", "]") else self.pipe()
            self.expect("op", "]")
            return ("slice", target, start, stop)
        self.expect("op", "]")
        assert start is not None
        return ("index", target, start)

    def term(self) -> Node:
        kind, value = self.take()
        if kind == "field":
            return ("index", ("identity",), ("literal", value))
        if kind in ("literal", "string"):
            return ("literal", value)
        if kind == "op" and value == ".":
            if self.peek("string"):
                return ("index", ("identity",), ("literal", self.take()[1]))
            if self.peek("op", "["):
                return self.bracket(("identity",))
            return ("identity",)
        if kind == "op" and value == "..":
            return ("call", "recurse", [])
        if kind == "op" and value == "(":
            node = self.pipe()
            self.expect("op", ")")
            return node
        if kind == "op" and value == "[":
            if self.accept("op", "]"):
                return ("array", None)
            node = self.pipe()
            self.expect("op", "]")
            return ("array", node)
        if kind == "op" and value == "{":
            return self.object()
        if kind == "keyword" and value == "if":
            return self.conditional()
        if kind == "ident":
            if value in ("true", "false", "null"):
                return ("literal", {"true": True, "false": False, "null": None}[value])
            arguments: list[Node] = []
            if self.accept("op", "("):
                arguments.append(self.pipe())
                while self.accept("op", ";"):
                    arguments.append(self.pipe())
                self.expect("op", ")")
            return ("call", value, arguments)
        raise JqSyntaxError(f"jq: unexpected {value!r} in {self.program!r}")

    def object(self) -> Node:
        entries: list[tuple[Node, Node]] = []
        while not self.accept("op", "}"):
            if entries:
                self.expect("op", ",")
            kind, value = self.take()
            if kind in ("ident", "keyword", "string"):
                key: Node = ("literal", value)
            elif kind == "op" and value == "(":
                key = self.pipe()
                self.expect("op", ")")
            else:
                raise JqSyntaxError(f"jq: unexpected {value!r} as an object key in {self.program!r}")
            shorthand = ("index", ("identity",), key)
            entries.append((key, self.pipe(commas=False) if self.accept("op", ":") else shorthand))
        return ("object", entries)

    def conditional(self) -> Node:
        branches: list[tuple[Node, Node]] = []
        while True:
            condition = self.pipe()
            self.expect("keyword", "then")
            branches.append((condition, self.pipe()))
            if not self.accept("keyword", "elif"):
                break
        otherwise = self.pipe() if self.accept("keyword", "else") else ("identity",)
        self.expect("keyword", "end")
        return ("if", branches, otherwise)


@functools.lru_cache(maxsize=256)
def parse(program: str) -> Node:
    """The syntax tree of a jq program (tuples: `(kind, ...)`)."""
    return _Parser(program).parse()
