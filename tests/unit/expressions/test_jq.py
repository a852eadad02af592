"""The jq subset behind Kestra's `jq` filter: results are always a list."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stratoflow.expressions import (
    ExpressionEvaluationError,
    ExpressionSecurityError,
    jq_builtins,
    render_string,
    runtime,
)
from stratoflow.expressions.environment import compile_template
from stratoflow.expressions.jq import parse
from stratoflow.expressions.jq_builtins import jq_filter

DATA: dict[str, Any] = {
    "users": [
        {"name": "ada", "age": 36, "tags": ["math"], "email": None},
        {"name": "bob", "age": 17, "tags": [], "email": "b@x"},
        {"name": "cy", "age": 52, "tags": ["ops", "dev"], "email": "c@x"},
    ],
    "meta": {"count": 3, "next page": "p2"},
}


@pytest.mark.parametrize(
    ("program", "expected"),
    [
        (".", [DATA]),
        (".meta.count", [3]),
        ('."meta"."next page"', ["p2"]),
        ('.meta["next page"]', ["p2"]),
        (".users[0].name", ["ada"]),
        (".users[-1].name", ["cy"]),
        (".users[9]", [None]),
        (".missing.deeper", [None]),
        (".users[].name", ["ada", "bob", "cy"]),
        (".users[1:].name?", []),
        ("[.users[1:][].name]", [["bob", "cy"]]),
        (".users | length", [3]),
        (".users[] | select(.age > 30) | .name", ["ada", "cy"]),
        ("[.users[] | select(.tags | length > 0) | .name]", [["ada", "cy"]]),
        (".users | map(.age) | add", [105]),
        ('.users | map(.name) | join(",")', ["ada,bob,cy"]),
        (".users[0] | keys", [["age", "email", "name", "tags"]]),
        (".meta | to_entries | map(.key)", [["count", "next page"]]),
        (".users | map({(.name): .age}) | add", [{"ada": 36, "bob": 17, "cy": 52}]),
        ("{n: .meta.count, first: .users[0].name}", [{"n": 3, "first": "ada"}]),
        ("{count: .meta.count} | .count", [3]),
        ('.users[0].email // "none"', ["none"]),
        ('.users[1].email // "none"', ["b@x"]),
        (".users | sort_by(.age) | map(.name)", [["bob", "ada", "cy"]]),
        (".users | max_by(.age) | .name", ["cy"]),
        (".users | group_by(.age > 18) | map(length)", [[1, 2]]),
        ("[.users[].tags[]] | unique", [["dev", "math", "ops"]]),
        ("[.users[].tags] | flatten | sort | reverse", [["ops", "math", "dev"]]),
        (
            '.users[] | if .age < 18 then "minor" elif .age > 50 then "senior" else "adult" end',
            ["adult", "minor", "senior"],
        ),
        (".meta.count * 2 + 1", [7]),
        (".meta.count == 3 and (.users | length) != 0", [True]),
        ("(1, 2) + (10, 20)", [11, 12, 21, 22]),
        ("[range(3)]", [[0, 1, 2]]),
        ("[limit(2; .users[].name)]", [["ada", "bob"]]),
        ("first(.users[].name)", ["ada"]),
        ('.users[0].name | ascii_upcase | startswith("AD")', [True]),
        ('.users[0] | has("email")', [True]),
        ("[.users[] | .name | tostring] | any", [True]),
        ("[.. | numbers]", [[36, 17, 52, 3]]),
        (".users | map(.tags | length) | min", [0]),
        ("[.users[].email | values]", [["b@x", "c@x"]]),
        ('"a,b" | split(",")', [["a", "b"]]),
        ('"42" | tonumber', [42]),
        (".meta | tojson | fromjson | .count", [3]),
        ("[.users[] | .age] | sort | .[1]", [36]),
        ("empty", []),
        (".users | map(.age) | map(. / 2 | floor)", [[18, 8, 26]]),
        ('{"a": {"b": 1}} * {"a": {"c": 2}}', [{"a": {"b": 1, "c": 2}}]),
        ("[1, 2, 3] - [2]", [[1, 3]]),
        (".users | with_entries(.value |= .)?", []),
    ],
)
def test_programs(program: str, expected: list[Any]) -> None:
    if program.endswith("|= .)?"):
        with pytest.raises(ExpressionEvaluationError):
            jq_filter(DATA, program)
        return
    assert jq_filter(DATA, program) == expected


def test_the_jq_filter_parses_a_json_string_input() -> None:
    # Given an HTTP body as text
    context = {"outputs": {"request": {"body": json.dumps(DATA)}}}
    # Then
    assert render_string("{{ outputs.request.body | jq('.meta.count') | first }}", context) == 3
    assert render_string("{{ outputs.request.body | jq('.users[].name') }}", context) == ["ada", "bob", "cy"]


@pytest.mark.parametrize(
    ("program", "message"),
    [
        (".users[", "expected"),
        (".users | nosuchfn", "unknown function nosuchfn/0"),
        (".meta.count[]", "cannot iterate over number"),
        (".meta.count.x", "cannot index number with string"),
        ("1 / 0", "cannot be divided by zero"),
        ("{} + 1", "object and number cannot be added"),
        ("$var", "unexpected"),
    ],
)
def test_bad_programs_are_evaluation_errors(program: str, message: str) -> None:
    with pytest.raises(ExpressionEvaluationError, match=message):
        render_string("{{ data | jq(p) }}", {"data": DATA, "p": program})


def test_optional_suffix_and_alternative_swallow_errors() -> None:
    assert jq_filter(DATA, ".meta.count[]?") == []
    assert jq_filter(DATA, '(.meta.count[]) // "fallback"') == ["fallback"]


def test_large_ranges_and_products_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a smaller operation budget, to keep the test fast
    monkeypatch.setattr(runtime, "MAX_OPERATIONS", 10_000)
    # Then
    with pytest.raises(ExpressionEvaluationError, match="range of more than"):
        render_string("{{ 1 | jq('[range(1000000)]') }}", {})
    with pytest.raises(ExpressionSecurityError, match="loop iterations"):
        render_string("{{ 1 | jq('[range(1000)] | [.[] + .[]]') }}", {})


def test_parsed_programs_are_cached() -> None:
    assert parse(".a.b") is parse(".a.b")


def test_a_jq_program_on_a_literal_runs_when_rendering_not_while_compiling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a spy on the jq interpreter
    calls: list[str] = []

    def spy(value: Any, program: str) -> list[Any]:
        calls.append(program)
        return [value]

    monkeypatch.setattr(jq_builtins, "jq_filter", spy)
    template = "{{ 1 | jq('. + 0 | . + 0') }}"
    # When
    compile_template(template)
    # Then Jinja's constant folding did not run it: it would have no budget there
    assert calls == []
    assert render_string(template, {}) == [1]
    assert calls == [". + 0 | . + 0"]
