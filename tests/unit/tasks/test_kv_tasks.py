"""`kv.Set` / `kv.Get` / `kv.Delete` and `kv()`: namespaces and TTLs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from stratoflow.local import LocalPlatform
from stratoflow.namespaces import set_allowed_namespaces
from stratoflow.states import State
from tests.unit.tasks.task_helpers import (
    MutableClock,
    RunFlow,
    direct_context,
    flow_source,
    load_task,
    outputs_of,
)


def test_set_with_a_ttl_expires_after_it(tmp_path: Path) -> None:
    # Given
    clock = MutableClock()
    ctx = direct_context(tmp_path, clock=clock)
    load_task("{id: s, type: kv.Set, key: k, value: {rows: 3}, ttl: PT1H}").run(ctx)
    get = load_task("{id: g, type: kv.Get, key: k}")

    # When / Then
    clock.advance(timedelta(minutes=59))
    assert get.run(ctx) == {"value": {"rows": 3}}
    clock.advance(timedelta(minutes=2))
    assert get.run(ctx) == {"value": None}


def test_the_namespace_property_targets_another_namespace_that_allows_it(tmp_path: Path) -> None:
    # Given
    ctx = direct_context(tmp_path, namespace="team.a")
    set_allowed_namespaces(ctx.store, "team.shared", ["team.a"])
    load_task("{id: s, type: kv.Set, key: shared, value: 1, namespace: team.shared}").run(ctx)
    load_task("{id: s, type: kv.Set, key: shared, value: 2}").run(ctx)

    # Then
    assert ctx.store.kv_get("team.shared", "shared") == (True, 1)
    assert ctx.store.kv_get("team.a", "shared") == (True, 2)
    assert load_task("{id: g, type: kv.Get, key: shared, namespace: team.shared}").run(ctx) == {"value": 1}
    assert load_task("{id: d, type: kv.Delete, key: shared, namespace: team.shared}").run(ctx) == {
        "deleted": True
    }
    assert ctx.store.kv_get("team.shared", "shared") == (False, None)
    assert ctx.store.kv_get("team.a", "shared") == (True, 2)


def test_kv_function_and_tasks_in_a_flow(run_flow: RunFlow, platform: LocalPlatform) -> None:
    set_allowed_namespaces(platform.store, "elsewhere", ["tests.tasks"])
    source = flow_source(
        """
        - {id: set, type: kv.Set, key: counter, value: 41}
        - {id: other, type: kv.Set, key: counter, value: 7, namespace: elsewhere}
        - {id: use, type: Return, format: "{{ kv('counter') + kv('counter', 'elsewhere') }}"}
        - {id: delete, type: kv.Delete, key: counter}
        - {id: missing, type: Return, format: "{{ kv('counter', errorOnMissing=false) }}"}
        """
    )

    outcome = run_flow(source)

    assert outcome.execution.state == State.SUCCESS
    assert outputs_of(platform, outcome, "use")["value"] == 48
    assert outputs_of(platform, outcome, "delete")["deleted"] is True
    assert outputs_of(platform, outcome, "missing")["value"] is None


def test_kv_type_converts_the_value_as_kestra_stores_it(tmp_path: Path) -> None:
    # Given Kestra's kv.Set with `kvType`
    ctx = direct_context(tmp_path)
    for key, value, kv_type in (
        ("n", '"42"', "NUMBER"),
        ("f", '"2.5"', "NUMBER"),
        ("b", '"true"', "BOOLEAN"),
        ("j", "'{\"rows\": 3}'", "JSON"),
        ("s", "7", "STRING"),
    ):
        load_task(
            f"{{id: s, type: io.kestra.plugin.core.kv.Set, key: {key}, value: {value}, kvType: {kv_type}}}"
        ).run(ctx)
    get = {key: load_task(f"{{id: g, type: kv.Get, key: {key}}}").run(ctx)["value"] for key in "nfbjs"}

    # Then
    assert get == {"n": 42, "f": 2.5, "b": True, "j": {"rows": 3}, "s": "7"}


def test_a_value_that_is_not_of_its_kv_type_fails(tmp_path: Path) -> None:
    import pytest

    task = load_task("{id: s, type: kv.Set, key: k, value: abc, kvType: NUMBER}")

    with pytest.raises(Exception, match="kvType NUMBER"):
        task.run(direct_context(tmp_path))
