"""Memory and time bombs in templates: every operation that can grow memory or time is charged to the
render's budgets, and an over-budget render fails naming the budget. (Peak RSS and times of these
templates: `bench/render_bombs.py`; no timed assertion here.)"""

from __future__ import annotations

import pytest

from stratoflow.expressions import ExpressionError, render
from stratoflow.expressions.runtime import MAX_BUILT_ITEMS

BIG = "abcdefghij," * 1_500_000  # 16.5 MB, the string
CONTEXT = {"s": BIG, "small": "a,b,c", "deep": [[[[1]]]]}

ITEMS = "list and map items in one render"
STRING = "characters"


@pytest.mark.parametrize(
    ("template", "budget"),
    [
        ("{{ s.split(',') | length }}", ITEMS),
        ("{{ s.rsplit(',') | length }}", ITEMS),
        ("{{ s.split() | length }}", ITEMS),
        ("{{ s | split(',') | length }}", ITEMS),
        ("{{ s | split('') | length }}", ITEMS),
        ("{% set a = s.split(',', 600000) %}{% set b = s.split(',', 600000) %}{{ a | length }}", ITEMS),
        ("{{ s | split(',') | join('-') | length }}", ITEMS),
        ("{{ s | replace(',', ',,,,,,,,') | length }}", STRING),
        ("{{ s | replace({',': ';;;;', 'a': 'AAAA'}) | length }}", STRING),
        ("{{ ('x' * 10000000 ~ 'y' * 10000000) | length }}", STRING),
        ("{% set t = s %}{% for i in range(10) %}{% set t = t ~ s %}{% endfor %}{{ t | length }}", STRING),
        ("{{ (s ~ s) | urlencode | length }}", STRING),
        ("{{ (s ~ s) | base64encode | length }}", STRING),
        ("{{ s | upper | lower | upper | lower | upper | lower | length }}", STRING),
        ("{% for i in range(11) %}{% set x = range(99999) | chunk(1) %}{% endfor %}", ITEMS),
        ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "in one render"),
        ("{% macro f(x) %}{{ f(x) ~ f(x) }}{% endmacro %}{{ f(1) }}", "recursed too deeply"),
        ("{{ 9 ** (9 ** 9) }}", "too large a number"),
        ("{{ range(1000000000) | length }}", "allowed"),
        ("{{ 1 | jq('[range(100000000)] | length') }}", "range of more than"),
    ],
)
def test_an_over_budget_render_fails_naming_the_budget(template: str, budget: str) -> None:
    with pytest.raises(ExpressionError, match=budget):
        render(template, CONTEXT)


def test_a_large_json_indent_is_refused() -> None:
    with pytest.raises(ExpressionError, match="indent must be between 0 and 16"):
        render("{{ deep | toJson(indent=100000) }}", CONTEXT)


@pytest.mark.allowed_path
def test_splits_within_the_budget_still_work() -> None:
    assert render("{{ small.split(',') }}", CONTEXT) == ["a", "b", "c"]
    assert render("{{ small | split(',') | join('+') }}", CONTEXT) == "a+b+c"
    assert render("{{ s.split(',', 2) | length }}", CONTEXT) == 3


@pytest.mark.allowed_path
def test_the_items_budget_is_per_render() -> None:
    # Given: a render that builds most of the budget
    parts = MAX_BUILT_ITEMS // 2
    template = "{{ s.split(',', " + str(parts - 1) + ") | length }}"

    # Then: each render starts with a full budget
    for _ in range(3):
        assert render(template, CONTEXT) == parts
