"""Runnable core tasks: what `run` does with a RunContext, and the errors it raises."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from stratoflow.flow import load_flow
from stratoflow.flow.task import Task
from stratoflow.tasks.errors import ExitExecution, HttpError, TaskError, TaskFailed, TaskTimeout
from stratoflow.tasks.kv import Delete, Get, Set
from tests.unit.flow.flow_test_helpers import FakeContext, flow_text


def task(yaml: str) -> Task:
    """One task from its YAML mapping (flow style)."""
    return load_flow(flow_text(f"tasks:\n  - {yaml}\n")).tasks[0]


def run(yaml: str, ctx: FakeContext) -> dict[str, Any]:
    runnable = task(yaml)
    return runnable.run(ctx)  # type: ignore[attr-defined,no-any-return]


def test_log_renders_and_logs_each_message(make_ctx: Callable[..., FakeContext]) -> None:
    # Given
    ctx = make_ctx({"{{ vars.n }}": 3, "{{ items }}": [1, 2]})

    # When
    outputs = run(
        "{id: t, type: Log, level: WARN, message: ['n={{ vars.n }}', '{{ vars.n }}', '{{ items }}']}", ctx
    )

    # Then
    assert outputs == {}
    assert ctx.logs == [("WARN", "n={{ vars.n }}"), ("WARN", "3"), ("WARN", "[1, 2]")]


def test_echo_logs_its_format(make_ctx: Callable[..., FakeContext]) -> None:
    ctx = make_ctx({"{{ x }}": True})

    run("{id: t, type: Echo, format: '{{ x }}'}", ctx)

    assert ctx.logs == [("INFO", "true")]


def test_return_outputs_the_rendered_value_with_its_type(make_ctx: Callable[..., FakeContext]) -> None:
    ctx = make_ctx({"{{ 1 + 1 }}": 2})

    assert run("{id: t, type: Return, format: '{{ 1 + 1 }}'}", ctx) == {"value": 2}


def test_output_values_renders_the_map(make_ctx: Callable[..., FakeContext]) -> None:
    ctx = make_ctx({"{{ a }}": [1, 2]})

    outputs = run("{id: t, type: OutputValues, values: {a: '{{ a }}', b: {c: plain}}}", ctx)

    assert outputs == {"values": {"a": [1, 2], "b": {"c": "plain"}}}


def test_labels_adds_text_labels(make_ctx: Callable[..., FakeContext]) -> None:
    ctx = make_ctx({"{{ env }}": "prod", "{{ n }}": 3})

    run(
        "{id: t, type: Labels, labels: [{key: env, value: '{{ env }}'}, {key: count, value: '{{ n }}'}]}", ctx
    )

    assert ctx.labels == {"env": "prod", "count": "3"}


def test_fail_without_condition_fails_with_the_message(make_ctx: Callable[..., FakeContext]) -> None:
    ctx = make_ctx({"{{ msg }}": "bad input"})

    with pytest.raises(TaskFailed, match=r"^bad input$"):
        run("{id: t, type: Fail, errorMessage: '{{ msg }}'}", ctx)


def test_fail_default_message(make_ctx: Callable[..., FakeContext]) -> None:
    with pytest.raises(TaskFailed, match=r"^Task failure$"):
        run("{id: t, type: Fail}", make_ctx())


@pytest.mark.parametrize(
    ("rendered", "fails"), [(True, True), ("true", True), ("false", False), ("0", False), ("", False)]
)
def test_fail_with_a_condition_uses_kestra_truthiness(
    rendered: Any, fails: bool, make_ctx: Callable[..., FakeContext]
) -> None:
    ctx = make_ctx({"{{ cond }}": rendered})

    if fails:
        with pytest.raises(TaskFailed):
            run("{id: t, type: Fail, condition: '{{ cond }}'}", ctx)
    else:
        assert run("{id: t, type: Fail, condition: '{{ cond }}'}", ctx) == {}


@pytest.mark.parametrize("state", ["SUCCESS", "WARNING", "FAILED", "KILLED"])
def test_exit_ends_the_execution_with_its_state(state: str, make_ctx: Callable[..., FakeContext]) -> None:
    with pytest.raises(ExitExecution) as caught:
        run(f"{{id: t, type: Exit, state: {state}}}", make_ctx())

    assert caught.value.state == state
    assert state in caught.value.message


def test_kv_set_get_delete(make_ctx: Callable[..., FakeContext]) -> None:
    # Given
    ctx = make_ctx({"{{ key }}": "counter", "{{ value }}": {"n": 1}})

    # When
    run("{id: s, type: kv.Set, key: '{{ key }}', value: '{{ value }}', ttl: PT1H}", ctx)
    got = run("{id: g, type: kv.Get, key: counter}", ctx)
    deleted = run("{id: d, type: kv.Delete, key: counter}", ctx)
    again = run("{id: d, type: kv.Delete, key: counter}", ctx)

    # Then
    assert got == {"value": {"n": 1}}
    assert deleted == {"deleted": True} and again == {"deleted": False}


def test_kv_set_keeps_the_ttl_and_namespace(make_ctx: Callable[..., FakeContext]) -> None:
    ctx = make_ctx()

    run("{id: s, type: kv.Set, key: k, value: 1, namespace: other, ttl: PT90S}", ctx)

    assert ctx.kv == {("other", "k"): (1, 90)}


def test_kv_set_without_overwrite_refuses_an_existing_key(make_ctx: Callable[..., FakeContext]) -> None:
    ctx = make_ctx()
    ctx.kv_set("k", "old")

    with pytest.raises(TaskFailed, match="already exists"):
        run("{id: s, type: kv.Set, key: k, value: new, overwrite: false}", ctx)
    assert ctx.kv_get("k") == "old"


def test_kv_missing_keys(make_ctx: Callable[..., FakeContext]) -> None:
    ctx = make_ctx()

    assert run("{id: g, type: kv.Get, key: nope}", ctx) == {"value": None}
    with pytest.raises(TaskFailed, match="no value for key 'nope'"):
        run("{id: g, type: kv.Get, key: nope, errorOnMissing: true}", ctx)
    with pytest.raises(TaskFailed, match="no value for key 'nope'"):
        run("{id: d, type: kv.Delete, key: nope, errorOnMissing: true}", ctx)


def test_kv_key_that_renders_empty_fails(make_ctx: Callable[..., FakeContext]) -> None:
    with pytest.raises(TaskFailed, match="empty"):
        run("{id: g, type: kv.Get, key: '{{ nothing }}'}", make_ctx({"{{ nothing }}": ""}))


def test_kv_class_names_and_types() -> None:
    assert [cls.type_name for cls in (Set, Get, Delete)] == ["kv.Set", "kv.Get", "kv.Delete"]


def test_task_errors_carry_their_message_and_asl_name() -> None:
    errors: list[TaskError] = [
        TaskFailed("f"),
        TaskTimeout("t"),
        HttpError("h", 503),
        ExitExecution("KILLED"),
    ]

    assert [type(e).__name__ for e in errors] == ["TaskFailed", "TaskTimeout", "HttpError", "ExitExecution"]
    assert [e.message for e in errors] == ["f", "t", "h", "execution exited with state KILLED"]
    assert isinstance(errors[2], HttpError) and errors[2].code == 503
    assert all(isinstance(e, TaskError) for e in errors)


def test_native_tasks_are_plain_tasks() -> None:
    sleep = task("{id: s, type: Sleep, duration: PT2M}")
    pause = task("{id: p, type: Pause, timeout: PT1H, onResume: [{id: ok, type: BOOLEAN}]}")
    sub = task("{id: c, type: Subflow, namespace: a.b, flowId: child, inputs: {x: 1}, labels: {k: v}}")

    assert sleep.duration == timedelta(minutes=2)  # type: ignore[attr-defined]
    assert pause.timeout == timedelta(hours=1) and pause.on_resume[0].id == "ok"  # type: ignore[attr-defined]
    assert (sub.namespace, sub.flow_id, sub.wait, sub.transmit_failed) == ("a.b", "child", True, True)  # type: ignore[attr-defined]
    assert not hasattr(sleep, "run")
