"""JSONPath as ASL uses it: paths (`InputPath`, `.$` fields, `ItemsPath`, ...) and reference paths (`ResultPath`).

Supported syntax: `$` (state input) and `$$` (context object) followed by `.name`, `['name']`,
`["name"]`, `[n]` (negative counts from the end), `[*]` / `.*`, `[a,b]` unions, `[start:end:step]`
slices, `..` descent and `[?(@.x > 1)]` filters (comparisons `== != < <= > >=` against literals or
other `@` paths, `&&`, `||`, and bare `@.x` for existence).

A *definite* path (only names and single indices) yields one value and fails when it does not
resolve; any other path yields the list of everything it matched, possibly empty - as AWS does.
Paths are compiled once (cached) so evaluating one on the hot path is a few dictionary lookups.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

ContextFn = Callable[[], Any]
"""Builds the context object (`$$`) on demand: most states never read it."""

# A compiled step: (kind, argument). Kinds: key, index, wild, slice, union, descend, filter.
Step = tuple[str, Any]

_NAME = re.compile(r"[^.\[\]\s]+")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")


class PathSyntaxError(ValueError):
    """A path, reference path or filter cannot be parsed."""


class PathNotFound(LookupError):
    """A definite path does not resolve against the data it was applied to."""

    def __init__(self, path: str, detail: str = ""):
        self.path = path
        super().__init__(f"Invalid path '{path}' : {detail}" if detail else f"Invalid path '{path}'")


class Path:
    """A compiled JSONPath."""

    __slots__ = ("_keys", "context", "definite", "steps", "text")

    def __init__(self, text: str, context: bool, steps: tuple[Step, ...]):
        self.text = text
        self.context = context
        self.steps = steps
        self.definite = all(kind in ("key", "index") for kind, _ in steps)
        self._keys = tuple(arg for _, arg in steps) if self.definite else ()

    def find(self, data: Any, context: ContextFn | None = None) -> Any:
        """The value (definite path) or list of values (other paths) this path selects."""
        root = context() if self.context and context is not None else data
        if self.context and context is None:
            raise PathNotFound(self.text, "no context object here")
        if self.definite:
            node = root
            for key in self._keys:
                if isinstance(key, str):
                    if not isinstance(node, dict) or key not in node:
                        raise PathNotFound(self.text, f"No results for path: {self.normalized}")
                elif not isinstance(node, list) or not -len(node) <= key < len(node):
                    raise PathNotFound(self.text, f"No results for path: {self.normalized}")
                node = node[key]
            return node
        return _select(self.steps, [root])

    @property
    def normalized(self) -> str:
        """The path in bracket notation, as AWS quotes it in errors: `$['a'][0]`."""
        parts = [
            f"[{arg}]" if kind == "index" else f"['{arg}']" if kind == "key" else "[...]"
            for kind, arg in self.steps
        ]
        return "$" + "".join(parts)

    def __repr__(self) -> str:
        return f"Path({self.text!r})"


class ReferencePath:
    """A compiled reference path (`ResultPath`): names and indices only; `set` returns a modified copy."""

    __slots__ = ("keys", "text")

    def __init__(self, text: str):
        path = compile_path(text)
        if path.context or not path.definite:
            raise PathSyntaxError(f"'{text}' is not a reference path: use only $, .name, ['name'] and [n]")
        self.text = text
        self.keys: tuple[str | int, ...] = path._keys

    def set(self, data: Any, value: Any) -> Any:
        """`data` with `value` placed at this path; intermediate objects are created, nothing is mutated."""
        return _set_at(self.text, data, self.keys, 0, value)


def _set_at(text: str, node: Any, keys: tuple[str | int, ...], at: int, value: Any) -> Any:
    if at == len(keys):
        return value
    key = keys[at]
    if isinstance(key, int):
        if not isinstance(node, list) or not -len(node) <= key < len(node):
            raise PathNotFound(text, f"cannot set index {key} on {_kind(node)}")
        copy = list(node)
        copy[key] = _set_at(text, node[key], keys, at + 1, value)
        return copy
    if not isinstance(node, dict):
        raise PathNotFound(text, f"cannot set field '{key}' on {_kind(node)}")
    copied = dict(node)
    copied[key] = _set_at(text, node.get(key, {}), keys, at + 1, value)
    return copied


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number"
    )


@functools.lru_cache(maxsize=4096)
def compile_path(text: str) -> Path:
    """Parse a JSONPath starting with `$` or `$$`; raises PathSyntaxError."""
    if not isinstance(text, str) or not text.startswith("$"):
        raise PathSyntaxError(f"'{text}' is not a path: it must start with '$'")
    context = text.startswith("$$")
    steps, end = _parse_steps(text, 2 if context else 1, relative=False)
    if end != len(text):
        raise PathSyntaxError(f"'{text}': unexpected '{text[end:]}'")
    return Path(text, context, tuple(steps))


def is_path(text: Any) -> bool:
    return isinstance(text, str) and text.startswith("$")


def _parse_steps(text: str, i: int, relative: bool) -> tuple[list[Step], int]:
    """Parse segments from `text[i:]`; in a filter (`relative`), stop at the first non-segment character."""
    steps: list[Step] = []
    n = len(text)
    while i < n:
        c = text[i]
        if c == ".":
            if text.startswith("..", i):
                i += 2
                steps.append(("descend", None))
                if i < n and text[i] == "[":
                    continue
            else:
                i += 1
            if i < n and text[i] == "*":
                steps.append(("wild", None))
                i += 1
                continue
            match = _NAME.match(text, i)
            if not match:
                raise PathSyntaxError(f"'{text}': expected a field name at position {i}")
            name = match.group()
            if relative:
                name = re.split(r"[\s)=!<>&|]", name, maxsplit=1)[0]
            steps.append(("key", name))
            i += len(name)
        elif c == "[":
            step, i = _parse_bracket(text, i + 1)
            steps.append(step)
        elif relative:
            break
        else:
            raise PathSyntaxError(f"'{text}': unexpected '{c}' at position {i}")
    return steps, i


def _parse_bracket(text: str, i: int) -> tuple[Step, int]:
    """Parse what follows `[` up to its `]`."""
    if text.startswith("?(", i):
        depth, j = 1, i + 2
        while j < len(text) and depth:
            if text[j] in "'\"":
                j = _skip_string(text, j)
                continue
            depth += {"(": 1, ")": -1}.get(text[j], 0)
            j += 1
        if depth or not text.startswith("]", j):
            raise PathSyntaxError(f"'{text}': unterminated filter")
        # filters imports this module (a filter holds paths, a path holds filters): one grammar, two files
        from stratoflow.engine.filters import compile_filter

        return ("filter", compile_filter(text[i + 2 : j - 1])), j + 1
    close = _find_close(text, i)
    body = text[i:close].strip()
    if body == "*":
        return ("wild", None), close + 1
    if ":" in body and not body.startswith(("'", '"')):
        parts = [p.strip() for p in body.split(":")]
        if len(parts) > 3 or not all(p == "" or re.fullmatch(r"-?\d+", p) for p in parts):
            raise PathSyntaxError(f"'{text}': bad slice [{body}]")
        bounds = [int(p) if p else None for p in parts] + [None] * (3 - len(parts))
        return ("slice", slice(*bounds)), close + 1
    items = [_bracket_item(text, part.strip()) for part in _split_union(body)]
    if len(items) == 1:
        item = items[0]
        return ("index" if isinstance(item, int) else "key", item), close + 1
    return ("union", tuple(items)), close + 1


def _bracket_item(text: str, part: str) -> str | int:
    if re.fullmatch(r"-?\d+", part):
        return int(part)
    if len(part) >= 2 and part[0] == part[-1] and part[0] in "'\"":
        return unquote(part)
    raise PathSyntaxError(f"'{text}': bad subscript [{part}]")


def unquote(literal: str) -> str:
    """The text of a quoted literal, with backslash escapes resolved."""
    return re.sub(r"\\(.)", lambda m: m.group(1), literal[1:-1])


def _skip_string(text: str, j: int) -> int:
    quote, j = text[j], j + 1
    while j < len(text) and text[j] != quote:
        j += 2 if text[j] == "\\" else 1
    return j + 1


def _find_close(text: str, i: int) -> int:
    j = i
    while j < len(text):
        if text[j] in "'\"":
            j = _skip_string(text, j)
        elif text[j] == "]":
            return j
        else:
            j += 1
    raise PathSyntaxError(f"'{text}': missing ']'")


def _split_union(body: str) -> list[str]:
    parts, start, j = [], 0, 0
    while j < len(body):
        if body[j] in "'\"":
            j = _skip_string(body, j)
        elif body[j] == ",":
            parts.append(body[start:j])
            start = j = j + 1
        else:
            j += 1
    parts.append(body[start:])
    return parts


def _children(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return list(node.values())
    if isinstance(node, list):
        return node
    return []


def _descendants(node: Any, out: list[Any]) -> None:
    out.append(node)
    for child in _children(node):
        _descendants(child, out)


def _select(steps: tuple[Step, ...], nodes: list[Any]) -> list[Any]:
    for index, (kind, arg) in enumerate(steps):
        if kind == "descend":
            expanded: list[Any] = []
            for node in nodes:
                _descendants(node, expanded)
            # `..name` keeps the name step, applied to every descendant.
            return _select(steps[index + 1 :], expanded)
        nodes = _apply(kind, arg, nodes)
    return nodes


def _apply(kind: str, arg: Any, nodes: list[Any]) -> list[Any]:
    out: list[Any] = []
    for node in nodes:
        if kind == "key":
            if isinstance(node, dict) and arg in node:
                out.append(node[arg])
        elif kind == "index":
            if isinstance(node, list) and -len(node) <= arg < len(node):
                out.append(node[arg])
        elif kind == "wild":
            out.extend(_children(node))
        elif kind == "slice":
            if isinstance(node, list):
                out.extend(node[arg])
        elif kind == "union":
            for item in arg:
                out.extend(_apply("index" if isinstance(item, int) else "key", item, [node]))
        elif kind == "filter":
            candidates = node if isinstance(node, list) else [node] if isinstance(node, dict) else []
            out.extend(item for item in candidates if arg(item))
    return out
