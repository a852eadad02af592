"""What one render may use beyond its context: runtime services, and the budgets that bound it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from stratoflow.expressions.errors import ExpressionError, ExpressionSecurityError

MAX_RANGE = 100_000
MAX_STRING = 16 * 1024 * 1024
# Bytes produced by size-checked operations (concatenation, join, replace, repetition, output) in one
# render: a loop that keeps building 16 MiB strings is stopped long before it exhausts the memory.
MAX_PRODUCED = 64 * 1024 * 1024
# Loop iterations plus calls in one render: bounds nested loops and exponential macro recursion.
MAX_OPERATIONS = 1_000_000
# List and map items built by filters, functions and methods in one render (`split`, `chunk`,
# `fromJson`...): a list of a million 10-character strings takes about 100 MB.
MAX_BUILT_ITEMS = 1_000_000
# A macro call costs about as much as ten loop iterations.
MACRO_CALL_COST = 10
MAX_RENDER_DEPTH = 10
MAX_INT_BITS = 100_000


class RuntimeFunctions(Protocol):
    """Services a template reaches through `secret()`, `kv()`, `read()` and `errorLogs()`."""

    def secret(self, name: str) -> str: ...

    def kv(self, key: str, namespace: str | None) -> Any: ...

    def read(self, uri: str) -> str: ...

    def error_logs(self) -> list[dict[str, Any]]: ...


@dataclass
class RenderState:
    """The render in progress: its context, its services and what it has spent of its budgets."""

    context: Mapping[str, Any]
    functions: RuntimeFunctions | None
    # Renders a value with a context: the `render()` template function's way back into the renderer
    # (`rendering`), which it cannot import, since the renderer's environment is built from it.
    renderer: Callable[[Any, Mapping[str, Any]], Any] | None = None
    depth: int = 0
    operations: int = 0
    produced: int = 0
    built_items: int = 0

    def tick(self, cost: int = 1) -> None:
        self.operations += cost
        if self.operations > MAX_OPERATIONS:
            raise ExpressionSecurityError(
                f"template exceeded {MAX_OPERATIONS:,} loop iterations and calls in one render"
            )

    def produce(self, size: int) -> None:
        if size > MAX_STRING:
            raise ExpressionSecurityError(f"template built a string longer than {MAX_STRING:,} characters")
        self.produced += size
        if self.produced > MAX_PRODUCED:
            raise ExpressionSecurityError(
                f"template built more than {MAX_PRODUCED:,} characters in one render"
            )

    def build(self, count: int) -> None:
        self.built_items += count
        if self.built_items > MAX_BUILT_ITEMS:
            raise ExpressionSecurityError(
                f"template built more than {MAX_BUILT_ITEMS:,} list and map items in one render"
            )


# A context variable rather than a template variable: nothing in a template can reach it.
CURRENT: ContextVar[RenderState | None] = ContextVar("stratoflow_render_state", default=None)


def has_expression(text: str) -> bool:
    return "{{" in text or "{%" in text


def current_state() -> RenderState | None:
    return CURRENT.get()


def check_size(size: int) -> None:
    """Refuse a string of `size` characters before building it, and count it against the budget."""
    state = CURRENT.get()
    if state is not None:
        state.produce(size)
    elif size > MAX_STRING:
        raise ExpressionSecurityError(f"template built a string longer than {MAX_STRING:,} characters")


def check_items(count: int) -> None:
    """Refuse to build `count` more list or map items than the current render's budget allows."""
    state = CURRENT.get()
    if state is not None:
        state.build(count)
    elif count > MAX_BUILT_ITEMS:
        raise ExpressionSecurityError(f"a value of more than {MAX_BUILT_ITEMS:,} items is too large")


def charge(result: Any) -> Any:
    """Charge what a filter, function or method built to the current render (strings by length,
    lists and maps by items); returns `result`."""
    if isinstance(result, str):
        check_size(len(result))
    elif isinstance(result, (list, tuple, dict)):
        check_items(len(result))
    return result


def split_cost(text: str, separator: str | None) -> int:
    """How many parts splitting `text` makes, counted before building them (no allocation)."""
    if not separator:
        return len(text) if separator == "" else len(text) // 2 + 1
    return text.count(separator) + 1


def counted(iterable: Iterable[Any]) -> Iterator[Any]:
    """Iterate, charging each item to the current render's operation budget."""
    state = CURRENT.get()
    if state is None:
        yield from iterable
        return
    for item in iterable:
        state.tick()
        yield item


def runtime_functions(name: str) -> RuntimeFunctions:
    """The services of the current render, or a clear error when this render has none."""
    state = CURRENT.get()
    if state is None or state.functions is None:
        raise ExpressionError(f"{name}() is not available here")
    return state.functions
