"""Rendering: strings (native-typed when they are one expression), recursively inside dicts and
lists, with every failure turned into an `ExpressionError`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Any, cast

from jinja2 import exceptions as jinja_errors

from stratoflow.expressions.environment import ENVIRONMENT, CompiledTemplate, compile_template
from stratoflow.expressions.errors import (
    ExpressionError,
    ExpressionEvaluationError,
    ExpressionSecurityError,
    ExpressionSyntaxError,
    UndefinedError,
)
from stratoflow.expressions.runtime import (
    CURRENT,
    MAX_STRING,
    RenderState,
    RuntimeFunctions,
    has_expression,
)
from stratoflow.expressions.values import to_plain, to_text


class Scope(Mapping[str, Any]):
    """What a template's names resolve to: the caller's context, then the functions. Never copied,
    so a lazy context is only read where a template reads it, and never written to."""

    __slots__ = ("_context", "_functions")

    def __init__(self, context: Mapping[str, Any], functions: Mapping[str, Any]):
        self._context = context
        self._functions = functions

    def __getitem__(self, key: str) -> Any:
        if key in self._context:
            return self._context[key]
        return self._functions[key]

    def __contains__(self, key: object) -> bool:
        return key in self._context or key in self._functions

    def __iter__(self) -> Iterator[str]:
        yield from self._context
        yield from (key for key in self._functions if key not in self._context)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def evaluate(compiled: CompiledTemplate, context: Mapping[str, Any]) -> Any:
    """Run a compiled template on `context` (inside a render: the caller manages `CURRENT`)."""
    # Jinja types a context's variables as a dict, but only reads them.
    scope = cast(dict[str, Any], Scope(context, ENVIRONMENT.globals))
    if compiled.expression is not None:
        template = compiled.expression
        jinja_context = template.new_context(scope, shared=True)
        for _ in template.root_render_func(jinja_context):
            pass
        value = jinja_context.vars["result"]
        if isinstance(value, str) and (compiled.prefix or compiled.suffix):
            return compiled.prefix + value + compiled.suffix
        return to_plain(value)
    assert compiled.text is not None
    template = compiled.text
    jinja_context = template.new_context(scope, shared=True)
    parts: list[str] = []
    size = 0
    for part in template.root_render_func(jinja_context):
        size += len(part)
        if size > MAX_STRING:
            raise ExpressionSecurityError(f"the rendered text is longer than {MAX_STRING:,} characters")
        parts.append(part)
    return "".join(parts)


def _template_line(traceback: TracebackType | None) -> int | None:
    """The template line of the innermost template frame of a traceback, from Jinja's debug info."""
    line = None
    while traceback is not None:
        frame = traceback.tb_frame
        debug_info = frame.f_globals.get("debug_info") if frame.f_code.co_filename == "<template>" else None
        if isinstance(debug_info, str) and debug_info:
            pairs = [tuple(map(int, pair.split("="))) for pair in debug_info.split("&")]
            line = next((source for source, code in reversed(pairs) if code <= traceback.tb_lineno), 1)
        traceback = traceback.tb_next
    return line


def _translate(error: Exception, template: str) -> ExpressionError:
    """The `ExpressionError` for any failure of a render; multi-line templates get the line."""
    if isinstance(error, ExpressionError) and (error.located or isinstance(error, ExpressionSyntaxError)):
        return error
    line = _template_line(error.__traceback__) if "\n" in template.strip() else None
    if isinstance(error, ExpressionError) and line is None:
        error.located = True
        return error
    kind: type[ExpressionError]
    if isinstance(error, ExpressionError):
        kind, message = type(error), str(error)
    elif isinstance(error, jinja_errors.SecurityError):
        kind, message = ExpressionSecurityError, str(error)
    elif isinstance(error, jinja_errors.UndefinedError):
        kind, message = UndefinedError, str(error)
    elif isinstance(error, RecursionError):
        kind, message = ExpressionSecurityError, "the template recursed too deeply"
    elif isinstance(error, MemoryError):
        kind, message = ExpressionSecurityError, "the template needed too much memory"
    elif isinstance(error, OverflowError):
        kind, message = ExpressionEvaluationError, f"a number is too large ({error})"
    elif isinstance(error, jinja_errors.TemplateError):
        kind, message = ExpressionEvaluationError, str(error)
    else:
        kind, message = ExpressionEvaluationError, f"{type(error).__name__}: {error}"
    translated = kind(message if line is None else f"{message} (line {line})")
    translated.located = True
    return translated


def _render_template(template: str, context: Mapping[str, Any]) -> Any:
    compiled = compile_template(template)
    try:
        return evaluate(compiled, context)
    except (MemoryError, RecursionError) as error:
        # Drop the traceback at once: its frames may hold what exhausted the memory.
        raise _translate(error, template) from None
    except Exception as error:
        raise _translate(error, template) from error


def _render_value(value: Any, context: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return _render_template(value, context) if has_expression(value) else value
    if isinstance(value, Mapping):
        rendered: dict[Any, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and has_expression(key):
                key = to_text(_render_template(key, context))
            rendered[key] = _render_value(item, context)
        return rendered
    if isinstance(value, (list, tuple)):
        return [_render_value(item, context) for item in value]
    return value


def render(value: Any, context: Mapping[str, Any], functions: RuntimeFunctions | None = None) -> Any:
    """Render the expressions in `value`: a string, or the strings (values, and keys holding
    expressions) inside dicts and lists, at any depth. Other values are returned as they are."""
    if isinstance(value, str) and not has_expression(value):
        return value  # the hot path: most properties hold no expression
    if not isinstance(value, (str, Mapping, list, tuple)):
        return value
    token = CURRENT.set(RenderState(context, functions, renderer=_render_value))
    try:
        return _render_value(value, context)
    finally:
        CURRENT.reset(token)


def render_string(
    template: str, context: Mapping[str, Any], functions: RuntimeFunctions | None = None
) -> Any:
    """Render one string: its native value when it is exactly one `{{ expression }}` (surrounding
    whitespace allowed), else the text."""
    return render(template, context, functions)
