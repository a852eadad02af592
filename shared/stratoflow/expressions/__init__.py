"""Kestra-compatible `{{ expressions }}`: Jinja2, sandboxed, with Pebble's operators and filters.

    >>> render("Hello {{ inputs.name ?? 'you' }}", {"inputs": {}})
    'Hello you'
    >>> render("{{ [1, 2] }}", {})
    [1, 2]

What a flow author can rely on (Kestra's behaviour where it is defined, else written here):

- A string that is exactly one `{{ expression }}` (whitespace around allowed) keeps its native type;
  dates become ISO-8601 strings and maps/lists plain dicts/lists. In text, `null` prints as nothing,
  booleans as `true`/`false`, maps and lists as compact JSON.
- Undefined variables, attributes and keys are errors naming the path (`'outputs.extract' is
  undefined`); `a ?? b` (null or undefined), `a ??? b` (undefined only), `is defined` and `default`
  are the ways to accept them. Pebble's `c ? a : b`, `x contains y` and `null` work too.
- Maps: `map.key` reads the key before any method (`outputs.t.values` is the output named values);
  `{% for entry in map %}` gives `entry.key` / `entry.value` as in Pebble, and unpacks as `k, v`.
- `range(a, b)` includes `b` (Pebble); `json(text)` parses, `json(value)` prints; `{% %}` tags drop
  the newline that follows them (Pebble's default).
- The sandbox refuses `_private` and dunder names, mutating methods, most methods of builtin types,
  strings over 16 MiB, more than 100,000 items from `range`, and more than 1,000,000 loop iterations
  and calls in one render.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from stratoflow.expressions.errors import (
    ExpressionError,
    ExpressionEvaluationError,
    ExpressionSecurityError,
    ExpressionSyntaxError,
    UndefinedError,
)

if TYPE_CHECKING:
    from stratoflow.expressions.analysis import referenced_inputs, referenced_outputs, syntax_errors
    from stratoflow.expressions.rendering import render, render_string
    from stratoflow.expressions.runtime import RuntimeFunctions
    from stratoflow.expressions.values import is_truthy, to_json, to_text

# Everything but the errors needs Jinja (about 100 ms to import). Loading a flow, admission, the
# webhook and the deployer never render, so the package loads it on the first use of a name below:
# callers import the package (`from stratoflow import expressions`) at the top of their module and
# write `expressions.render(...)`, and only a render pays for Jinja.
_LAZY = {
    "referenced_inputs": "analysis",
    "referenced_outputs": "analysis",
    "syntax_errors": "analysis",
    "render": "rendering",
    "render_string": "rendering",
    "RuntimeFunctions": "runtime",
    "is_truthy": "values",
    "to_json": "values",
    "to_text": "values",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ExpressionError",
    "ExpressionEvaluationError",
    "ExpressionSecurityError",
    "ExpressionSyntaxError",
    "RuntimeFunctions",
    "UndefinedError",
    "is_truthy",
    "referenced_inputs",
    "referenced_outputs",
    "render",
    "render_string",
    "syntax_errors",
    "to_json",
    "to_text",
]
