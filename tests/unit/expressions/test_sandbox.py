"""The sandbox: no way to Python internals, no mutation of the context, no unbounded work or memory.

Each attempt must end in an ExpressionError (ExpressionSecurityError where the sandbox refused) and
leave the process alive and usable."""

from __future__ import annotations

from typing import Any

import pytest

from stratoflow.expressions import (
    ExpressionError,
    ExpressionSecurityError,
    UndefinedError,
    render_string,
    runtime,
)


def _context() -> dict[str, Any]:
    return {"inputs": {"items": [1, 2], "map": {"a": 1}, "name": "x"}, "vars": {}}


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ inputs.items.__class__.__mro__ }}",
        "{{ inputs.__init__ }}",
        "{{ inputs.map.__class__ }}",
        "{{ now.__globals__ }}",
        "{{ range.__globals__['__builtins__'] }}",
        "{{ now().__class__.__subclasses__() }}",
        "{{ namespace.__init__.__globals__ }}",
        "{{ self._TemplateReference__context }}",
        "{{ self.__dict__ }}",
        "{{ inputs.name['__class__'] }}",
        "{{ (inputs.items | first).__class__ }}",
        "{% for x in inputs.items %}{{ loop.__class__ }}{% endfor %}",
        "{{ 'x'.zfill(1000000000) }}",
        "{{ 'x'.ljust(1000000000) }}",
        "{{ '{0.__class__}'.format(1) }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{{ inputs.items.append(1) }}",
        "{{ inputs.items.pop() }}",
        "{{ inputs.map.update({'b': 2}) }}",
        "{{ inputs.map.clear() }}",
        "{{ inputs.map.setdefault('b', 2) }}",
    ],
)
def test_internals_and_mutations_are_refused(template: str) -> None:
    # Given
    context = _context()
    # When
    with pytest.raises(ExpressionSecurityError):
        render_string(template, context)
    # Then the context is unchanged
    assert context == _context()


@pytest.mark.parametrize(
    "template",
    [
        "{{ cycler.__init__.__globals__ }}",
        "{{ joiner }}",
        "{{ lipsum() }}",
        "{{ config }}",
        "{{ config.items() }}",
        "{{ request.environ }}",
        "{{ dict(a=1) }}",
    ],
)
def test_jinja_and_flask_globals_do_not_exist(template: str) -> None:
    with pytest.raises(UndefinedError, match="is undefined"):
        render_string(template, _context())


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ range(0, 10**9) }}", "range of 1,000,000,001 numbers"),
        ("{{ 'x' * 10**9 }}", "longer than 16,777,216 characters"),
        ("{{ 10**9 * 'x' }}", "longer than 16,777,216 characters"),
        ("{{ '%s' * 100000000 }}", "longer than 16,777,216 characters"),
        ("{{ [0] * 10**9 }}", "more than 1,000,000 items"),
        ("{{ 2 ** 1000000 }}", "too large a number"),
        ("{{ (10 ** 40000) * (10 ** 40000) }}", "too large a number"),
        ("{% set s = 'x' * 9000000 %}{{ s ~ s }}", "longer than 16,777,216 characters"),
        ("{% set s = 'x' * 9000000 %}{{ s + s }}", "longer than 16,777,216 characters"),
        ("{% set s = 'ab' * 4000000 %}{{ s | replace('a', 'aaaa') }}", "longer than 16,777,216 characters"),
        ("{{ range(0, 99999) | join('x' * 1000) }}", "longer than 16,777,216 characters"),
        (
            "{% set s = 'x' * 8000000 %}{% set t = s ~ 'y' %}{% set u = t ~ 'y' %}"
            "{% set v = u ~ 'y' %}{% set w = v ~ 'y' %}{% set z = w ~ 'y' %}{% set q = z ~ 'y' %}"
            "{% set r = q ~ 'y' %}{% set o = r ~ 'y' %}",
            "more than 67,108,864 characters in one render",
        ),
    ],
)
def test_oversized_values_are_refused_before_they_are_built(template: str, message: str) -> None:
    with pytest.raises(ExpressionSecurityError, match=message):
        render_string(template, _context())


def test_nested_loops_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a smaller operation budget, to keep the test fast
    monkeypatch.setattr(runtime, "MAX_OPERATIONS", 20_000)
    # Then loops that produce nothing still stop
    with pytest.raises(ExpressionSecurityError, match="loop iterations and calls"):
        render_string(
            "{% for i in range(0, 9999) %}{% for j in range(0, 9999) %}{% endfor %}{% endfor %}", {}
        )


def test_nested_loops_generating_a_huge_string_stop_at_the_output_limit() -> None:
    # Given 5,000 x 5,000 iterations of 40 characters: 1 GB of text
    template = (
        "{% for i in range(1, 5000) %}{% for j in range(1, 5000) %}" + "x" * 40 + "{% endfor %}{% endfor %}"
    )
    # Then the output limit stops it at 16 MiB
    with pytest.raises(ExpressionSecurityError, match="rendered text is longer than"):
        render_string(template, {})


def test_a_huge_string_built_in_a_block_set_is_bounded() -> None:
    template = (
        "{% set s %}{% for i in range(1, 20000) %}" + "x" * 1000 + "{% endfor %}{% endset %}{{ s | length }}"
    )
    with pytest.raises(ExpressionSecurityError, match="longer than 16,777,216 characters"):
        render_string(template, {})


def test_exponential_macro_recursion_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "MAX_OPERATIONS", 20_000)
    template = (
        "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}"
    )
    with pytest.raises(ExpressionSecurityError, match="loop iterations and calls"):
        render_string(template, {})


def test_infinite_recursion_is_a_security_error() -> None:
    with pytest.raises(ExpressionSecurityError, match="recursed too deeply"):
        render_string("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", {})


def test_deeply_nested_source_is_refused() -> None:
    with pytest.raises(ExpressionSecurityError, match="nested too deeply"):
        render_string("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", {})


def test_a_set_inside_a_template_does_not_leak() -> None:
    # Given
    context: dict[str, Any] = {"x": 1}
    # When
    render_string("{% set x = 2 %}{% set y = 3 %}{{ x }}", context)
    # Then
    assert context == {"x": 1}
    assert render_string("{{ y ?? 'no y' }}", context) == "no y"


def test_namespaces_still_work_for_template_local_state() -> None:
    template = "{% set ns = namespace(total=0) %}{% for i in [1, 2, 3] %}{% set ns.total = ns.total + i %}{% endfor %}"
    assert render_string(template + "{{ ns.total }}", {}) == "6"


def test_the_process_keeps_working_after_refusals() -> None:
    # Given refused templates of every kind
    for template in (
        "{{ 'x' * 10**9 }}",
        "{{ ''.__class__ }}",
        "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    ):
        with pytest.raises(ExpressionError):
            render_string(template, {})
    # Then a normal template renders
    assert render_string("{{ 'still' ~ ' fine' }}", {}) == "still fine"


@pytest.mark.parametrize(
    "template",
    [
        "{{ 'x' | center(1000000000) }}",
        "{{ 'x' | indent(1000000000) }}",
        "{{ 'x' | format(1) }}",
        "{{ 'x' | wordwrap(5) }}",
    ],
)
def test_filters_that_could_build_unbounded_strings_do_not_exist(template: str) -> None:
    with pytest.raises(ExpressionError, match="No filter named"):
        render_string(template, {})
