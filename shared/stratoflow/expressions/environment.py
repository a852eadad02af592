"""The one sandboxed environment templates compile in, and the caches of compiled templates: in the
process (`compile_template`) and, when a command turns it on, on disk (`template_cache`)."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import nodes
from jinja2.environment import Template
from jinja2.exceptions import TemplateSyntaxError

# Imported for their side effect: they register their filters, tests and functions.
from stratoflow.expressions import dates, filters_data, filters_text, functions  # noqa: F401
from stratoflow.expressions.compiler import ITERATE_FILTER, transform
from stratoflow.expressions.errors import ExpressionSecurityError, ExpressionSyntaxError
from stratoflow.expressions.operators import (
    COALESCE_FILTER,
    CONTAINS_FILTER,
    SPELLING,
    UNDEFINED_COALESCE_FILTER,
    PebbleOperators,
)
from stratoflow.expressions.references import called_functions, read_inputs, read_outputs
from stratoflow.expressions.registry import FILTERS, FUNCTIONS, TESTS
from stratoflow.expressions.runtime import CURRENT, RenderState, counted
from stratoflow.expressions.sandbox import KestraSandbox, PathUndefined
from stratoflow.expressions.template_cache import TemplateCode, active
from stratoflow.expressions.values import MapEntry, to_text

# Jinja filters that keep their meaning and cannot build unbounded values; the others (`center`,
# `indent`, `wordwrap`, `format`, `pprint`, `xmlattr`, `filesizeformat`, ...) are left out.
_JINJA_FILTERS = (
    "attr", "batch", "dictsort", "e", "escape", "float", "groupby", "int", "list", "map", "max",
    "min", "reject", "rejectattr", "round", "select", "selectattr", "striptags", "sum", "truncate",
    "wordcount",
)  # fmt: skip
# `lipsum`, `cycler`, `joiner` and `dict` are Jinja conveniences no flow needs: less to reach.
_JINJA_GLOBALS = ("namespace",)


def _build() -> KestraSandbox:
    environment = KestraSandbox(
        undefined=PathUndefined,
        extensions=[PebbleOperators],
        finalize=to_text,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,  # Pebble drops the newline after a `{% %}` tag
        cache_size=0,  # compiled templates are cached by `compile_template`
        auto_reload=False,
    )
    environment.filters = {name: environment.filters[name] for name in _JINJA_FILTERS}
    environment.filters.update(FILTERS)
    # The operators' marker filters; the code generator compiles the coalescing ones lazily, these
    # eager forms only serve constant folding (`{{ 1 ?? 2 }}`).
    environment.filters[CONTAINS_FILTER] = filters_data.contains
    environment.filters[ITERATE_FILTER] = loop_items
    environment.filters[COALESCE_FILTER] = lambda value, other: (
        other if environment.is_missing(value, False) else value
    )
    environment.filters[UNDEFINED_COALESCE_FILTER] = lambda value, other: (
        other if environment.is_missing(value, True) else value
    )
    environment.tests.update(TESTS)
    environment.globals = {name: environment.globals[name] for name in _JINJA_GLOBALS}
    environment.globals.update(FUNCTIONS)
    return environment


def loop_items(value: Any) -> Iterator[Any]:
    """What a `{% for %}` iterates, charged to the operation budget: Pebble's entries for a map."""
    if isinstance(value, Mapping):
        return counted(MapEntry(key, item) for key, item in value.items())
    return counted(value)


ENVIRONMENT = _build()


@dataclass(frozen=True)
class CompiledTemplate:
    """A compiled template: `expression` when the source is one `{{ }}` (between whitespace), with
    what validation checks (see `references`)."""

    text: Template | None
    expression: Template | None
    prefix: str = ""
    suffix: str = ""
    calls: tuple[tuple[str, int], ...] = ()
    outputs: frozenset[str] = frozenset()
    inputs: frozenset[str] = frozenset()


def spell(message: str) -> str:
    """A Jinja message with the operator placeholders written back as the user wrote them."""
    for placeholder, operator in SPELLING.items():
        message = message.replace(placeholder, operator)
    return message


def _single_expression(tree: nodes.Template) -> tuple[nodes.Expr, str, str] | None:
    if len(tree.body) != 1 or not isinstance(tree.body[0], nodes.Output):
        return None
    children = tree.body[0].nodes
    expressions = [index for index, child in enumerate(children) if not isinstance(child, nodes.TemplateData)]
    if len(expressions) != 1:
        return None
    text = [child.data if isinstance(child, nodes.TemplateData) else None for child in children]
    position = expressions[0]
    prefix = "".join(part or "" for part in text[:position])
    suffix = "".join(part or "" for part in text[position + 1 :])
    if prefix.strip() or suffix.strip():
        return None
    return children[position], prefix, suffix


def parse(source: str) -> nodes.Template:
    """The syntax tree of a template, with Pebble's operators already rewritten."""
    try:
        return ENVIRONMENT.parse(source)
    except TemplateSyntaxError as error:
        raise ExpressionSyntaxError(spell(error.message or "syntax error"), error.lineno) from None
    except (RecursionError, MemoryError):
        raise ExpressionSecurityError("the template is nested too deeply") from None


@functools.lru_cache(maxsize=4096)
def compile_template(source: str) -> CompiledTemplate:
    """Compile (and cache) a template; raises `ExpressionSyntaxError` with the line of the problem."""
    cache = active()
    code = cache.load(source) if cache is not None else None
    if code is None:
        code = generate(source)
        if cache is not None:
            cache.store(code)
    template = ENVIRONMENT.template_class.from_code(
        ENVIRONMENT, code.code, ENVIRONMENT.make_globals(None), None
    )
    if code.single:
        return CompiledTemplate(
            None, template, code.prefix, code.suffix, code.calls, code.outputs, code.inputs
        )
    return CompiledTemplate(template, None, calls=code.calls, outputs=code.outputs, inputs=code.inputs)


def generate(source: str) -> TemplateCode:
    """Parse a template and generate its Python code; raises `ExpressionSyntaxError`."""
    tree = parse(source)
    # Jinja folds constant expressions while compiling, calling filters: give that work a budget too.
    token = CURRENT.set(RenderState({}, None))
    try:
        calls, outputs, inputs = called_functions(tree), read_outputs(tree), read_inputs(tree)
        tree = transform(tree)
        single = _single_expression(tree)
        if single is None:
            return TemplateCode(source, ENVIRONMENT.compile(tree), False, "", "", calls, outputs, inputs)
        expression, prefix, suffix = single
        line = expression.lineno
        assign = nodes.Assign(nodes.Name("result", "store", lineno=line), expression, lineno=line)
        code = ENVIRONMENT.compile(nodes.Template([assign], lineno=1))
        return TemplateCode(source, code, True, prefix, suffix, calls, outputs, inputs)
    except TemplateSyntaxError as error:
        raise ExpressionSyntaxError(spell(error.message or "syntax error"), error.lineno) from None
    except (RecursionError, MemoryError):
        raise ExpressionSecurityError("the template is nested too deeply") from None
    except Exception as error:  # a bug in code generation must still surface as an expression error
        raise ExpressionSyntaxError(
            f"cannot compile this template ({type(error).__name__}: {error})"
        ) from error
    finally:
        CURRENT.reset(token)
