"""ASL intrinsic functions (`States.Format('{}-{}', $.a, States.UUID())`): parsing and evaluation.

Arguments are string literals in single quotes (escape `'`, `{`, `}` and `\\` with a backslash),
numbers, `true`/`false`/`null`, paths (`$.x`, `$$.Execution.Id`) and nested calls. A failure
while evaluating (wrong argument type, index out of range, ...) raises `IntrinsicError`, which the
engine reports as `States.Runtime`, as AWS does.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import math
import random
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from stratoflow.engine.paths import ContextFn, PathNotFound, PathSyntaxError, compile_path

MAX_STRING = 10_000
_FUNCTION_NAME = re.compile(r"States\.[A-Za-z0-9]+")
_SCALAR = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?|true\b|false\b|null\b")
MAX_ARRAY = 1_000


class IntrinsicError(ValueError):
    """An intrinsic function failed while evaluating."""


class IntrinsicSyntaxError(ValueError):
    """An intrinsic function call cannot be parsed, names an unknown function or has a wrong arity."""


Evaluate = Callable[[Any, ContextFn | None], Any]


@dataclass(frozen=True)
class _Literal:
    value: Any
    raw: str | None = None  # a string literal's text before unescaping (States.Format reads `\{`)


@dataclass(frozen=True)
class _Call:
    name: str
    arguments: tuple[Any, ...]
    text: str


def is_intrinsic(text: Any) -> bool:
    return isinstance(text, str) and text.startswith("States.")


@functools.lru_cache(maxsize=1024)
def compile_intrinsic(text: str) -> Evaluate:
    """Compile a call such as `States.Array($.a, 1)`; raises IntrinsicSyntaxError."""
    parser = _Parser(text)
    call = parser.call()
    parser.skip_space()
    if parser.pos != len(text):
        raise IntrinsicSyntaxError(f"'{text}': unexpected '{text[parser.pos :]}'")
    return lambda data, context: _evaluate(call, data, context)


def _evaluate(node: Any, data: Any, context: ContextFn | None) -> Any:
    if isinstance(node, _Literal):
        return node.value
    if isinstance(node, _Call):
        if node.name == "States.Format":
            return _format(node, data, context)
        arguments = [_evaluate(argument, data, context) for argument in node.arguments]
        try:
            return FUNCTIONS[node.name][2](*arguments)
        except IntrinsicError as error:
            raise IntrinsicError(f"The function '{node.text}' had the following error: {error}") from None
    try:
        return node.find(data, context)
    except PathNotFound as error:
        raise IntrinsicError(f"{error}: the path does not resolve") from None


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def fail(self, message: str) -> IntrinsicSyntaxError:
        return IntrinsicSyntaxError(f"'{self.text}': {message} at position {self.pos}")

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def call(self) -> _Call:
        start = self.pos
        match = _FUNCTION_NAME.match(self.text, self.pos)
        if not match:
            raise self.fail("expected a function name such as States.Format")
        name = match.group()
        if name not in FUNCTIONS and name != "States.Format":
            raise IntrinsicSyntaxError(f"'{self.text}': unknown intrinsic function '{name}'")
        self.pos = match.end()
        self.skip_space()
        if not self.text.startswith("(", self.pos):
            raise self.fail("expected '('")
        self.pos += 1
        arguments: list[Any] = []
        self.skip_space()
        if self.text.startswith(")", self.pos):
            self.pos += 1
        else:
            while True:
                arguments.append(self.argument())
                self.skip_space()
                if self.text.startswith(",", self.pos):
                    self.pos += 1
                elif self.text.startswith(")", self.pos):
                    self.pos += 1
                    break
                else:
                    raise self.fail("expected ',' or ')'")
        low, high = (1, None) if name == "States.Format" else FUNCTIONS[name][:2]
        if len(arguments) < low or (high is not None and len(arguments) > high):
            expected = f"{low}" if low == high else f"{low} to {high}" if high else f"at least {low}"
            raise IntrinsicSyntaxError(
                f"'{self.text}': {name} takes {expected} arguments, got {len(arguments)}"
            )
        return _Call(name, tuple(arguments), self.text[start : self.pos])

    def argument(self) -> Any:
        self.skip_space()
        rest = self.text[self.pos :]
        if rest.startswith("'"):
            return self.string()
        if rest.startswith("States."):
            return self.call()
        if rest.startswith("$"):
            return self.path()
        match = _SCALAR.match(rest)
        if not match:
            raise self.fail("expected a string, number, boolean, null, path or function")
        self.pos += match.end()
        return _Literal(json.loads(match.group()))

    def string(self) -> _Literal:
        j = self.pos + 1
        value: list[str] = []
        while j < len(self.text) and self.text[j] != "'":
            if self.text[j] == "\\" and j + 1 < len(self.text):
                j += 1
            value.append(self.text[j])
            j += 1
        if j >= len(self.text):
            raise self.fail("unterminated string")
        raw = self.text[self.pos + 1 : j]
        self.pos = j + 1
        return _Literal("".join(value), raw)

    def path(self) -> Any:
        j, depth = self.pos, 0
        while j < len(self.text):
            c = self.text[j]
            if c in "'\"":
                quote, j = c, j + 1
                while j < len(self.text) and self.text[j] != quote:
                    j += 2 if self.text[j] == "\\" else 1
            elif c in "[(":
                depth += 1
            elif c in "])":
                if depth == 0:
                    break
                depth -= 1
            elif c == "," and depth == 0:
                break
            j += 1
        text = self.text[self.pos : j].strip()
        try:
            path = compile_path(text)
        except PathSyntaxError as error:
            raise IntrinsicSyntaxError(str(error)) from None
        self.pos = j
        return path


def _format(call: _Call, data: Any, context: ContextFn | None) -> str:
    template_node, *argument_nodes = call.arguments
    if isinstance(template_node, _Literal):
        template = template_node.raw if template_node.raw is not None else template_node.value
    else:
        template = _evaluate(template_node, data, context)
    if not isinstance(template, str):
        raise IntrinsicError(f"The function '{call.text}' needs a string template, got {_json(template)}")
    values = iter([_evaluate(node, data, context) for node in argument_nodes])
    out: list[str] = []
    i = 0
    used = 0
    while i < len(template):
        c = template[i]
        if c == "\\" and i + 1 < len(template):
            out.append(template[i + 1])
            i += 2
        elif template.startswith("{}", i):
            value = next(values, _Literal)
            if value is _Literal:
                raise IntrinsicError(f"The function '{call.text}' has more {{}} than arguments")
            out.append(_to_text(value))
            used += 1
            i += 2
        else:
            out.append(c)
            i += 1
    if used != len(argument_nodes):
        raise IntrinsicError(f"The function '{call.text}' has more arguments than {{}} placeholders")
    return "".join(out)


def _to_text(value: Any) -> str:
    """How States.Format writes a value (Java's toString for arrays and objects, JSON for the rest)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + ", ".join(_to_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_to_text(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _array(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise IntrinsicError(f"expected an array, got {_json(value)}")
    return value


def _string(value: Any, limit: int = MAX_STRING) -> str:
    if not isinstance(value, str):
        raise IntrinsicError(f"expected a string, got {_json(value)}")
    if len(value) > limit:
        raise IntrinsicError(f"the string is longer than {limit} characters")
    return value


def _integer(value: Any) -> int:
    """An integer argument; a float is rounded as Java's Math.round (half up), as Step Functions does."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise IntrinsicError(f"expected an integer, got {_json(value)}")
    if isinstance(value, float):
        return math.floor(value + 0.5)
    return value


def _array_partition(array: Any, size: Any) -> list[list[Any]]:
    items, chunk = _array(array), _integer(size)
    if chunk <= 0:
        raise IntrinsicError(f"the chunk size must be a positive integer, got {chunk}")
    return [items[i : i + chunk] for i in range(0, len(items), chunk)]


def _array_range(start: Any, end: Any, step: Any) -> list[int]:
    first, last, increment = _integer(start), _integer(end), _integer(step)
    if increment == 0:
        raise IntrinsicError("the step must not be 0")
    values = list(range(first, last + (1 if increment > 0 else -1), increment))
    if len(values) > MAX_ARRAY:
        raise IntrinsicError(f"the array would have {len(values)} items, more than {MAX_ARRAY}")
    return values


def _array_get_item(array: Any, index: Any) -> Any:
    items = _array(array)
    if isinstance(index, bool) or not isinstance(index, int):
        raise IntrinsicError(f"expected an integer index, got {_json(index)}")
    if not 0 <= index < len(items):
        raise IntrinsicError(f"The index provided '{index}' is out of bounds")
    return items[index]


def _canonical(value: Any) -> Any:
    """A hashable form of a JSON value where 1 and 1.0 are equal but 1 and true are not."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return (type(value).__name__, value)
    if isinstance(value, int | float):
        return ("number", int(value) if isinstance(value, float) and value.is_integer() else value)
    if isinstance(value, list):
        return ("array", tuple(_canonical(item) for item in value))
    return ("object", tuple(sorted((key, _canonical(item)) for key, item in value.items())))


def _array_unique(array: Any) -> list[Any]:
    seen: dict[Any, Any] = {}
    for item in _array(array):
        seen.setdefault(_canonical(item), item)
    return list(seen.values())


def _base64_decode(text: Any) -> str:
    try:
        return base64.b64decode(_string(text), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError) as error:
        raise IntrinsicError(f"not valid base64 of UTF-8 text: {error}") from None


_HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}


def _hash(data: Any, algorithm: Any) -> str:
    if algorithm not in _HASHES:
        raise IntrinsicError(f"unknown hash algorithm {_json(algorithm)}; use one of {', '.join(_HASHES)}")
    return hashlib.new(_HASHES[algorithm], _string(data).encode("utf-8")).hexdigest()


def _json_merge(first: Any, second: Any, deep: Any) -> dict[str, Any]:
    if not isinstance(first, dict) or not isinstance(second, dict):
        raise IntrinsicError("both values to merge must be JSON objects")
    if deep is not False:
        raise IntrinsicError(
            "Step Functions supports only the shallow merge: the third argument must be false"
        )
    return {**first, **second}


def _math_random(start: Any, end: Any, seed: Any = None) -> int:
    low, high = _integer(start), _integer(end)
    if low > high:
        raise IntrinsicError(f"the start {low} is greater than the end {high}")
    generator = random.Random(_integer(seed)) if seed is not None else random
    return generator.randint(low, high)


def _string_split(text: Any, delimiters: Any) -> list[str]:
    value, chars = _string(text), _string(delimiters)
    if not chars:
        return [value] if value else []
    return [part for part in re.split("|".join(re.escape(c) for c in chars), value) if part]


def _string_to_json(text: Any) -> Any:
    try:
        return json.loads(_string(text, limit=256 * 1024))
    except json.JSONDecodeError as error:
        raise IntrinsicError(f"not valid JSON: {error}") from None


def _contains(array: Any, value: Any) -> bool:
    wanted = _canonical(value)
    return any(_canonical(item) == wanted for item in _array(array))


# name -> (minimum arguments, maximum arguments or None, implementation); States.Format is special.
FUNCTIONS: dict[str, tuple[int, int | None, Callable[..., Any]]] = {
    "States.StringToJson": (1, 1, _string_to_json),
    "States.JsonToString": (1, 1, _json),
    "States.Array": (0, None, lambda *values: list(values)),
    "States.ArrayPartition": (2, 2, _array_partition),
    "States.ArrayContains": (2, 2, _contains),
    "States.ArrayRange": (3, 3, _array_range),
    "States.ArrayGetItem": (2, 2, _array_get_item),
    "States.ArrayLength": (1, 1, lambda array: len(_array(array))),
    "States.ArrayUnique": (1, 1, _array_unique),
    "States.Base64Encode": (1, 1, lambda text: base64.b64encode(_string(text).encode()).decode("ascii")),
    "States.Base64Decode": (1, 1, _base64_decode),
    "States.Hash": (2, 2, _hash),
    "States.JsonMerge": (3, 3, _json_merge),
    "States.MathRandom": (2, 3, _math_random),
    "States.MathAdd": (2, 2, lambda a, b: _integer(a) + _integer(b)),
    "States.StringSplit": (2, 2, _string_split),
    "States.UUID": (0, 0, lambda: str(uuid.uuid4())),
}

NAMES: Sequence[str] = ("States.Format", *FUNCTIONS)
