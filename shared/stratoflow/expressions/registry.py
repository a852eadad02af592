"""The filters, tests and functions templates can use, collected by decorators in their modules."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from jinja2.runtime import Undefined

from stratoflow.expressions.errors import ExpressionEvaluationError
from stratoflow.expressions.runtime import charge

F = TypeVar("F", bound=Callable[..., Any])

# Filled by the decorators below as the filter and function modules are imported, then read-only:
# the sandboxed environment is built from them once (`stratoflow.expressions.environment`).
FILTERS: dict[str, Callable[..., Any]] = {}
TESTS: dict[str, Callable[..., Any]] = {}
FUNCTIONS: dict[str, Callable[..., Any]] = {}


def _charged(function: F) -> F:
    """Charge what `function` built to the render budgets (see `runtime.charge`)."""

    @functools.wraps(function)
    def charging(*args: Any, **kwargs: Any) -> Any:
        return charge(function(*args, **kwargs))

    return charging  # type: ignore[return-value]


def _strict(function: F) -> F:
    """Make `function` fail, naming the variable, when the value it filters is undefined."""
    # A `@pass_context` filter receives Jinja's context before the value.
    position = 1 if hasattr(function, "jinja_pass_arg") else 0

    @functools.wraps(function)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if len(args) > position and isinstance(args[position], Undefined):
            args[position]._fail_with_undefined_error()
        return function(*args, **kwargs)

    return checked  # type: ignore[return-value]


def template_filter(*names: str, strict: bool = True) -> Callable[[F], F]:
    """Register a filter under `names`; `strict=False` lets it see undefined values (as `default`)."""

    def register(function: F) -> F:
        for name in names:
            FILTERS[name] = _charged(_strict(function) if strict else function)
        return function

    return register


def template_test(*names: str) -> Callable[[F], F]:
    def register(function: F) -> F:
        for name in names:
            TESTS[name] = function
        return function

    return register


def template_function(*names: str) -> Callable[[F], F]:
    def register(function: F) -> F:
        for name in names:
            FUNCTIONS[name] = _charged(function)
        return function

    return register


def expect(value: Any, kind: type | tuple[type, ...], what: str, name: str) -> Any:
    """`value` when it is a `kind`; otherwise an error saying what `name` needed."""
    # bool is an int in Python, never a number in a template
    if isinstance(value, kind) and not (isinstance(value, bool) and bool not in _types(kind)):
        return value
    shown = "null" if value is None else type(value).__name__
    raise ExpressionEvaluationError(f"{name} needs {what}, got {shown}")


def _types(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)
