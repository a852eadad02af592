"""Template functions, and the runtime services they reach through `RuntimeFunctions`."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from stratoflow.expressions import (
    ExpressionError,
    ExpressionEvaluationError,
    ExpressionSecurityError,
    RuntimeFunctions,
    UndefinedError,
    render,
    render_string,
)

from .support import FakeRuntime


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ range(0, 3) }}", [0, 1, 2, 3]),
        ("{{ range(1, 10, 3) }}", [1, 4, 7, 10]),
        ("{{ range(3, 0, -1) }}", [3, 2, 1, 0]),
        ("{{ range(3, 1) }}", []),
        ("{{ range(3) }}", [0, 1, 2]),
        ("{{ range(0, 99999) | length }}", 100000),
        ("{{ json('{\"a\": [1]}').a }}", [1]),
        ("{{ json({'a': 1}) }}", '{"a":1}'),
        ("{{ fromJson('[1, 2]') }}", [1, 2]),
        ("{{ toJson({'a': none}) }}", '{"a":null}'),
        ("{{ yaml('a: 1') }}", {"a": 1}),
        ("{{ fromYaml('- x') }}", ["x"]),
        ("{{ yaml({'a': 1}) }}", "a: 1\n"),
        ("{{ max(1, 5, 3) }}", 5),
        ("{{ min([4, 2]) }}", 2),
    ],
)
def test_functions(template: str, expected: Any) -> None:
    assert render_string(template, {}) == expected


def test_uuid_is_a_fresh_uuid4_each_time() -> None:
    first, second = render_string("{{ uuid() }}", {}), render_string("{{ uuid() }}", {})
    assert uuid.UUID(first).version == 4
    assert first != second


def test_range_is_bounded() -> None:
    with pytest.raises(ExpressionSecurityError, match="more than the 100,000 allowed"):
        render_string("{{ range(0, 100000) }}", {})
    with pytest.raises(ExpressionEvaluationError, match="step must not be 0"):
        render_string("{{ range(0, 3, 0) }}", {})
    with pytest.raises(ExpressionEvaluationError, match="range needs integers"):
        render_string("{{ range(0, 'x') }}", {})


def test_the_fake_runtime_is_a_runtime_functions() -> None:
    runtime: RuntimeFunctions = FakeRuntime()
    assert runtime.secret("GITHUB_TOKEN") == "ghp_123"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ secret('GITHUB_TOKEN') }}", "ghp_123"),
        ("Bearer {{ secret('GITHUB_TOKEN') }}", "Bearer ghp_123"),
        ("{{ kv('color') }}", "blue"),
        ("{{ kv('size', namespace='team.a') }}", 3),
        ("{{ kv('nope', errorOnMissing=false) }}", None),
        ("{{ read('kestra:///ns/flow/file.txt') }}", "file content"),
        ("{{ errorLogs()[0].message }}", "connection refused"),
        ("{{ errorLogs() | length }}", 1),
    ],
)
def test_runtime_functions(template: str, expected: Any) -> None:
    assert render_string(template, {}, FakeRuntime()) == expected


def test_kv_of_a_missing_key_is_an_error_by_default() -> None:
    with pytest.raises(ExpressionEvaluationError, match="kv key 'nope' does not exist in namespace 'x'"):
        render_string("{{ kv('nope', 'x') }}", {}, FakeRuntime())


def test_a_failing_runtime_service_is_an_evaluation_error() -> None:
    with pytest.raises(ExpressionEvaluationError, match="KeyError: 'UNKNOWN'"):
        render_string("{{ secret('UNKNOWN') }}", {}, FakeRuntime())


@pytest.mark.parametrize("call", ["secret('a')", "kv('a')", "read('a')", "errorLogs()"])
def test_runtime_functions_need_a_runtime(call: str) -> None:
    name = call.split("(")[0]
    with pytest.raises(ExpressionError, match=rf"^{name}\(\) is not available here$"):
        render_string("{{ " + call + " }}", {})


def test_current_each_output_follows_the_loop_values_outermost_first() -> None:
    # Given outputs of a task inside two nested ForEach loops
    context = {
        "outputs": {"inner": {"a": {"1": {"value": "a1"}, "2": {"value": "a2"}}}},
        "_loop_values": ["a", "2"],
        "taskrun": {"value": "2"},
    }
    # Then
    assert render_string("{{ currentEachOutput(outputs.inner).value }}", context) == "a2"


def test_current_each_output_falls_back_on_taskrun_value() -> None:
    context = {"outputs": {"each": {"x": {"value": 1}, "y": {"value": 2}}}, "taskrun": {"value": "y"}}
    assert render_string("{{ currentEachOutput(outputs.each).value }}", context) == 2


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"outputs": {"each": {}}}, "only available inside a loop"),
        ({"outputs": {"each": {"x": {}}}, "taskrun": {"value": "z"}}, "no entry for the loop value 'z'"),
    ],
)
def test_current_each_output_errors(context: dict[str, Any], message: str) -> None:
    with pytest.raises(UndefinedError, match=message):
        render_string("{{ currentEachOutput(outputs.each) }}", context)


def test_render_renders_a_variable_with_the_same_context() -> None:
    # Given flow variables that hold expressions
    context = {
        "inputs": {"name": "Ada"},
        "vars": {"greeting": "Hello {{ inputs.name }}", "outer": "{{ vars.greeting }}!"},
    }
    # Then they are not rendered unless asked, and render() is recursive by default
    assert render_string("{{ vars.greeting }}", context) == "Hello {{ inputs.name }}"
    assert render_string("{{ render(vars.greeting) }}", context) == "Hello Ada"
    assert render_string("{{ render(vars.outer) }}", context) == "Hello Ada!"
    assert render_string("{{ render(vars.outer, recursive=false) }}", context) == "Hello {{ inputs.name }}!"


def test_render_reaches_the_runtime_functions_too() -> None:
    context = {"vars": {"auth": "token {{ secret('GITHUB_TOKEN') }}"}}
    assert render({"header": "{{ render(vars.auth) }}"}, context, FakeRuntime()) == {
        "header": "token ghp_123"
    }


def test_render_recursion_is_bounded() -> None:
    context = {"vars": {"loop": "{{ render(vars.loop) }}"}}
    with pytest.raises(ExpressionSecurityError, match="nested more than 10 levels"):
        render_string("{{ render(vars.loop) }}", context)


def test_render_of_a_value_that_never_settles_is_bounded() -> None:
    # Given a value whose rendering is again an expression, forever
    context = {"vars": {"quine": "{{ '{{' }} render(vars.quine) {{ '}}' }}"}}
    with pytest.raises(ExpressionSecurityError):
        render_string("{{ render(vars.quine) }}", context)
