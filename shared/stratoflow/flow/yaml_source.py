"""YAML reading that remembers where every key is, so an error can name its line and column.

Scalars follow the YAML 1.2 core schema, as Kestra's reader does: `yes`, `on` and `2024-01-31`
stay text, `010` is ten, and only true/false are booleans.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import JsonValue

from stratoflow.errors import Diagnostic

PathPart = str | int
YamlPath = tuple[PathPart, ...]

# Guards against alias bombs ("billion laughs") and absurd nesting: a flow file is never this big.
MAX_NODES = 200_000
MAX_DEPTH = 100

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class FlowLoader(_Base):  # type: ignore[misc]
    """Safe loader with YAML 1.2 core scalar resolution."""

    yaml_implicit_resolvers: dict[Any, Any] = {}


def _int(loader: Any, node: yaml.ScalarNode) -> int:
    text = str(node.value).replace("_", "")
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    if digits.lower().startswith("0o"):
        return sign * int(digits[2:], 8)
    if digits.lower().startswith("0x"):
        return sign * int(digits[2:], 16)
    return sign * int(digits, 10)


def _float(loader: Any, node: yaml.ScalarNode) -> float:
    text = str(node.value).lower()
    if text in (".nan",):
        return math.nan
    if text.endswith(".inf"):
        return -math.inf if text.startswith("-") else math.inf
    return float(text)


FlowLoader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
FlowLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
FlowLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), [*"-+0123456789"]
)
FlowLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    [*"-+.0123456789"],
)
FlowLoader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])
FlowLoader.add_constructor("tag:yaml.org,2002:int", _int)
FlowLoader.add_constructor("tag:yaml.org,2002:float", _float)


def format_path(parts: Sequence[PathPart]) -> str:
    """`("tasks", 2, "type")` -> `tasks[2].type`; keys that are not plain names are quoted."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_$][A-Za-z0-9_$-]*", part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out


@dataclass
class SourceMap:
    """Where each YAML path starts: the key of a mapping entry, or the item of a list (1-based)."""

    keys: dict[YamlPath, tuple[int, int]] = field(default_factory=dict)
    values: dict[YamlPath, tuple[int, int, str | None]] = field(default_factory=dict)

    def locate(self, parts: Sequence[PathPart]) -> tuple[int, int]:
        """Line and column of the path, or of its nearest ancestor that exists (the document: 1:1)."""
        path = tuple(parts)
        while path:
            if path in self.keys:
                return self.keys[path]
            path = path[:-1]
        return (1, 1)

    def value_start(self, parts: Sequence[PathPart]) -> tuple[int, int, str | None]:
        """Line, column and block style (`|`, `>` or None) of a scalar value."""
        path = tuple(parts)
        if path in self.values:
            return self.values[path]
        line, column = self.locate(path)
        return (line, column, None)


class YamlProblem(Exception):
    """A problem found while reading YAML, with its position."""

    def __init__(self, message: str, line: int, column: int):
        self.message, self.line, self.column = message, line, column
        super().__init__(message)


def _mark(node: yaml.Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


# The tags a flow may carry: YAML 1.2's core schema. Any other (`!!python/object/apply:...`,
# `!!timestamp`, `!custom`) would be read by PyYAML as something Kestra's reader does not give, or
# silently as a plain list; it is refused where it is written.
_CORE_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "seq", "map")
)


def _check_tag(node: yaml.Node) -> None:
    if node.tag in _CORE_TAGS:
        return
    tag = node.tag.replace("tag:yaml.org,2002:", "!!")
    raise YamlProblem(
        f"the YAML tag '{tag}' is not supported: a flow holds only text, numbers, booleans, null, "
        "lists and mappings",
        *_mark(node),
    )


def _scalar(loader: Any, node: yaml.ScalarNode) -> Any:
    try:
        return loader.construct_object(node, deep=True)
    except ValueError as err:
        # Python refuses to read integers of more than 4,300 digits; say so in the flow's words.
        if "digits" in str(err):
            raise YamlProblem(
                f"the number has {len(str(node.value))} digits: too large to be a number",
                *_mark(node),
            ) from None
        raise YamlProblem(f"YAML value error: {err}", *_mark(node)) from None


class _Builder:
    """Builds Python values from composed nodes, recording positions and duplicate keys."""

    def __init__(self, loader: Any):
        self.loader = loader
        self.source_map = SourceMap()
        self.problems: list[tuple[YamlPath, int, int, str]] = []
        self._active: set[int] = set()
        self._count = 0

    def build(self, node: yaml.Node, path: YamlPath) -> Any:
        self._count += 1
        if self._count > MAX_NODES:
            raise YamlProblem("the document is too large (too many nodes or aliases)", *_mark(node))
        if len(path) > MAX_DEPTH:
            raise YamlProblem(f"the document is nested more than {MAX_DEPTH} levels deep", *_mark(node))
        _check_tag(node)
        if isinstance(node, yaml.ScalarNode):
            self.source_map.values[path] = (*_mark(node), node.style if node.style in ("|", ">") else None)
            return _scalar(self.loader, node)
        if id(node) in self._active:
            raise YamlProblem("an alias refers to itself (recursive YAML)", *_mark(node))
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return self._sequence(node, path)
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
        finally:
            self._active.discard(id(node))
        raise YamlProblem(f"unsupported YAML node {type(node).__name__}", *_mark(node))

    def _sequence(self, node: yaml.SequenceNode, path: YamlPath) -> list[Any]:
        items = []
        for index, child in enumerate(node.value):
            self.source_map.keys[(*path, index)] = _mark(child)
            items.append(self.build(child, (*path, index)))
        return items

    def _mapping(self, node: yaml.MappingNode, path: YamlPath) -> dict[str, Any]:
        own = sum(1 for key, _ in node.value if key.tag != "tag:yaml.org,2002:merge")
        self.loader.flatten_mapping(node)
        # flatten_mapping puts the merged (`<<: *anchor`) pairs first; the mapping's own keys override
        # them, as YAML says, and only the own keys can be duplicates.
        merged_count = len(node.value) - own
        result: dict[str, Any] = {}
        own_keys: set[str] = set()
        for index, (key_node, value_node) in enumerate(node.value):
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlProblem("a key must be plain text, not a list or a mapping", *_mark(key_node))
            # The key's text as written: `on:` or `1:` stay the keys "on" and "1".
            key = str(key_node.value)
            child = (*path, key)
            if index >= merged_count:
                if key in own_keys:
                    first = self.source_map.keys.get(child, (0, 0))[0]
                    self.problems.append(
                        (child, *_mark(key_node), f"duplicate key '{key}' (first at line {first})")
                    )
                    continue
                own_keys.add(key)
            self.source_map.keys[child] = _mark(key_node)
            result[key] = self.build(value_node, child)
        return result


@dataclass
class YamlDocument:
    data: Any
    source_map: SourceMap
    problems: list[Diagnostic]


def _unclosed(err: yaml.YAMLError) -> bool:
    """A quoted string, `[` or `{` still open at the end of the file: the problem is where it opens."""
    return bool(getattr(err, "context_mark", None)) and "end of stream" in str(getattr(err, "problem", ""))


def _error_position(err: yaml.YAMLError) -> tuple[int, int]:
    if _unclosed(err):
        mark = err.context_mark  # type: ignore[attr-defined]
        return (mark.line + 1, mark.column + 1)
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    if mark is None:
        return (1, 1)
    return (mark.line + 1, mark.column + 1)


def _error_message(err: yaml.YAMLError) -> str:
    problem = getattr(err, "problem", None)
    context = getattr(err, "context", None)
    if context and "single document" in context:
        return "a flow file holds one YAML document, but another one starts here"
    if _unclosed(err) and context and "quoted scalar" in context:
        return "YAML syntax error: this quoted string is never closed"
    kind = "YAML error" if isinstance(err, yaml.constructor.ConstructorError) else "YAML syntax error"
    if problem:
        return f"{kind}: {problem}" + (f" ({context})" if context else "")
    return f"{kind}: {str(err).splitlines()[0] if str(err) else type(err).__name__}"


def read_yaml(text: str, file: str) -> YamlDocument:
    """Parse one YAML document. Problems (syntax, duplicate keys) come back as diagnostics."""
    loader = FlowLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return YamlDocument(None, SourceMap(), [Diagnostic(file, 1, 1, "", "the file is empty")])
        builder = _Builder(loader)
        data = builder.build(node, ())
    except YamlProblem as problem:
        return YamlDocument(
            None, SourceMap(), [Diagnostic(file, problem.line, problem.column, "", problem.message)]
        )
    except yaml.YAMLError as err:
        line, column = _error_position(err)
        return YamlDocument(None, SourceMap(), [Diagnostic(file, line, column, "", _error_message(err))])
    except (ValueError, OverflowError) as err:
        # A scalar the constructors cannot build (e.g. an out-of-range explicit tag value).
        return YamlDocument(None, SourceMap(), [Diagnostic(file, 1, 1, "", f"YAML value error: {err}")])
    finally:
        loader.dispose()
    problems = [
        Diagnostic(file, line, col, format_path(path), msg) for path, line, col, msg in builder.problems
    ]
    return YamlDocument(data, builder.source_map, problems)


def parse_yaml_value(text: str) -> JsonValue:
    """A YAML value from text (an input of type YAML), with the same scalar rules as flow files."""
    try:
        value: JsonValue = yaml.load(text, Loader=FlowLoader)  # FlowLoader is a SafeLoader: no tags
        return value
    except yaml.YAMLError as err:
        raise ValueError("not valid YAML: " + _error_message(err).split(": ", 1)[-1]) from None
