"""Payload templates: `Parameters`, `ItemSelector` and `ResultSelector`.

A field whose name ends in `.$` takes its value from a path or an intrinsic function, at any depth
(inside arrays too); every other value is copied as written. Templates are compiled once; parts
without any `.$` field are returned as they are (the engine never mutates a value in place).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from stratoflow.engine.intrinsics import (
    IntrinsicError,
    IntrinsicSyntaxError,
    compile_intrinsic,
    is_intrinsic,
)
from stratoflow.engine.paths import ContextFn, PathNotFound, PathSyntaxError, compile_path, is_path

Render = Callable[[Any, ContextFn | None], Any]


class TemplateSyntaxError(ValueError):
    """A `.$` field does not hold a valid path or intrinsic function."""


class TemplateError(LookupError):
    """A `.$` field could not be evaluated against the state's input (AWS: States.Runtime)."""


def compile_template(template: Any, where: str = "") -> Render:
    """Compile a payload template into `render(input, context) -> value`; raises TemplateSyntaxError."""
    render = _compile(template, where)
    if render is None:
        return lambda _data, _context: template
    return render


def compile_dynamic(field: str, expression: Any) -> Render:
    """Compile the value of one `.$` field: a path or an intrinsic function call."""
    if is_path(expression):
        try:
            path = compile_path(expression)
        except PathSyntaxError as error:
            raise TemplateSyntaxError(f"{field}: {error}") from None

        def find(data: Any, context: ContextFn | None) -> Any:
            try:
                return path.find(data, context)
            except PathNotFound:
                source = "context object" if path.context else f"input '{preview(data)}'"
                raise TemplateError(
                    f"The JSONPath '{path.text}' specified for the field '{field}' could not be found in the {source}"
                ) from None

        return find
    if is_intrinsic(expression):
        try:
            call = compile_intrinsic(expression)
        except IntrinsicSyntaxError as error:
            raise TemplateSyntaxError(f"{field}: {error}") from None

        def evaluate(data: Any, context: ContextFn | None) -> Any:
            try:
                return call(data, context)
            except IntrinsicError as error:
                raise TemplateError(f"{error} (in the field '{field}')") from None

        return evaluate
    raise TemplateSyntaxError(
        f"{field}: the value must be a path ($...) or an intrinsic function (States...)"
    )


def _compile(template: Any, where: str) -> Render | None:
    """None when `template` holds no `.$` field, so it can be used as is."""
    if isinstance(template, list):
        parts = [_compile(item, f"{where}[{i}]") for i, item in enumerate(template)]
        if all(part is None for part in parts):
            return None
        renders = [part or _constant(item) for part, item in zip(parts, template, strict=True)]
        return lambda data, context: [render(data, context) for render in renders]
    if not isinstance(template, dict):
        return None
    fields: list[tuple[str, Render]] = []
    dynamic = False
    for key, value in template.items():
        if key.endswith(".$"):
            fields.append((key[:-2], compile_dynamic(key, value)))
            dynamic = True
        else:
            nested = _compile(value, f"{where}.{key}" if where else key)
            dynamic = dynamic or nested is not None
            fields.append((key, nested or _constant(value)))
    if not dynamic:
        return None
    return lambda data, context: {name: render(data, context) for name, render in fields}


def _constant(value: Any) -> Render:
    return lambda _data, _context: value


def preview(data: Any, limit: int = 1024) -> str:
    text = json.dumps(data, separators=(",", ":"), default=str)
    return text if len(text) <= limit else text[:limit] + "..."
