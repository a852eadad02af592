"""Template functions: `range`, `uuid`, `json`/`fromJson`/`toJson`, `yaml`/`fromYaml`, `max`/`min`,
the runtime services `secret`, `kv`, `read`, `errorLogs`, and `currentEachOutput`, `render`.

`range(start, end[, step])` includes `end`, as Pebble's does (`range(0, 3)` is `[0, 1, 2, 3]`);
`range(n)` alone is Python's `[0, n)`. `json(text)` parses (Kestra's `json()`), `json(value)` of a
non-string prints JSON.
"""

from __future__ import annotations

import uuid as uuid_module
from collections.abc import Mapping
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context, Undefined

from stratoflow.expressions.errors import (
    ExpressionError,
    ExpressionEvaluationError,
    ExpressionSecurityError,
    UndefinedError,
)
from stratoflow.expressions.filters_data import from_json, from_yaml, to_yaml
from stratoflow.expressions.registry import template_function
from stratoflow.expressions.runtime import (
    MAX_RANGE,
    MAX_RENDER_DEPTH,
    current_state,
    has_expression,
    runtime_functions,
)
from stratoflow.expressions.values import fail_if_undefined, to_json


@template_function("range")
def range_(start: int, end: int | None = None, step: int = 1) -> list[int]:
    """Pebble's inclusive `range(start, end, step)`, at most 100,000 numbers."""
    for bound in (start, end, step):
        fail_if_undefined(bound)
        if bound is not None and (not isinstance(bound, int) or isinstance(bound, bool)):
            raise ExpressionEvaluationError(f"range needs integers, got {type(bound).__name__}")
    if step == 0:
        raise ExpressionEvaluationError("range step must not be 0")
    if end is None:
        start, end = 0, start - 1
    count = max((end - start) // step + 1, 0)
    if count > MAX_RANGE:
        raise ExpressionSecurityError(f"range of {count:,} numbers is more than the {MAX_RANGE:,} allowed")
    return list(range(start, end + (1 if step > 0 else -1), step))


@template_function("uuid")
def uuid() -> str:
    return str(uuid_module.uuid4())


@template_function("json")
def json_(value: Any) -> Any:
    """Kestra's `json('{"a": 1}')` parses JSON text; given a map or list it prints it as JSON."""
    fail_if_undefined(value)
    return from_json(value) if isinstance(value, (str, bytes)) else to_json(value)


@template_function("fromJson")
def from_json_function(value: Any) -> Any:
    fail_if_undefined(value)
    return from_json(value)


@template_function("toJson")
def to_json_function(value: Any) -> str:
    return to_json(value)


@template_function("yaml", "fromYaml")
def yaml_(value: Any) -> Any:
    """`yaml(text)` and `fromYaml(text)` parse YAML; `yaml(value)` of a non-string prints YAML."""
    fail_if_undefined(value)
    return from_yaml(value) if isinstance(value, str) else to_yaml(value)


@template_function("max")
def maximum(*values: Any) -> Any:
    items = list(values[0]) if len(values) == 1 and isinstance(values[0], (list, tuple)) else list(values)
    return max(items) if items else None


@template_function("min")
def minimum(*values: Any) -> Any:
    items = list(values[0]) if len(values) == 1 and isinstance(values[0], (list, tuple)) else list(values)
    return min(items) if items else None


@template_function("secret")
def secret(name: str) -> str:
    """The value of a secret, from the runtime (never from the template's context)."""
    fail_if_undefined(name)
    return runtime_functions("secret").secret(name)


@template_function("kv")
def kv(key: str, namespace: str | None = None, errorOnMissing: bool = True) -> Any:
    """A value of the KV store (the flow's namespace by default); missing is an error unless
    `errorOnMissing=false`, which gives null."""
    fail_if_undefined(key)
    value = runtime_functions("kv").kv(key, namespace)
    if value is None and errorOnMissing:
        where = f" in namespace '{namespace}'" if namespace else ""
        raise ExpressionEvaluationError(f"kv key '{key}' does not exist{where}")
    return value


@template_function("read")
def read(uri: str) -> str:
    """The content of a file of internal storage (or a namespace file) as text."""
    fail_if_undefined(uri)
    return runtime_functions("read").read(uri)


@template_function("errorLogs")
def error_logs() -> list[dict[str, Any]]:
    """The error logs of the task runs that failed, for tasks of an `errors` branch."""
    return runtime_functions("errorLogs").error_logs()


@template_function("currentEachOutput")
@pass_context
def current_each_output(context: Context, output: Any) -> Any:
    """`outputs.x[v1][v2]...` for the loop values of the current iteration, outermost first (the
    runner's `_loop_values`, else `taskrun.value`)."""
    fail_if_undefined(output)
    loop_values = context.resolve_or_missing("_loop_values")
    if isinstance(loop_values, Undefined) or not isinstance(loop_values, (list, tuple)):
        taskrun = context.resolve_or_missing("taskrun")
        if not isinstance(taskrun, Mapping) or taskrun.get("value") is None:
            raise UndefinedError("currentEachOutput() is only available inside a loop (no taskrun.value)")
        loop_values = [taskrun["value"]]
    current = output
    for value in loop_values:
        if not isinstance(current, Mapping) or value not in current:
            raise UndefinedError(f"currentEachOutput(): the output has no entry for the loop value {value!r}")
        current = current[value]
    return current


@template_function("render")
def render(value: Any, recursive: bool = True) -> Any:
    """Render `value` (a string holding expressions, e.g. a flow variable) with the same context;
    `recursive` renders the result again until it holds no more expressions."""
    fail_if_undefined(value)
    state = current_state()
    if state is None or state.renderer is None:
        raise ExpressionError("render() is not available here")
    for _ in range(MAX_RENDER_DEPTH):
        if state.depth >= MAX_RENDER_DEPTH:
            raise ExpressionSecurityError(f"render() nested more than {MAX_RENDER_DEPTH} levels deep")
        state.depth += 1
        try:
            rendered = state.renderer(value, state.context)
        finally:
            state.depth -= 1
        if not (recursive and isinstance(rendered, str) and has_expression(rendered) and rendered != value):
            return rendered
        value = rendered
    raise ExpressionSecurityError(f"render() still found expressions after {MAX_RENDER_DEPTH} passes")
