"""The Flow model: fields, aliases, walking tasks, plugin defaults, labels and source positions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from stratoflow.errors import FlowValidationError
from stratoflow.flow import Flow, flow_locations, load_flow, task_location
from stratoflow.flow.task_lists import DefaultValues, TaskValidation
from stratoflow.storage_layout import PLATFORM_FOLDERS
from stratoflow.store import namespace_files
from stratoflow.tasks.core import Log, Return
from stratoflow.tasks.flowable import Dag, ForEach, If, Parallel, Sequential, Switch
from tests.unit.flow.flow_test_helpers import flow_text

NESTED = flow_text(
    """
    tasks:
      - id: first
        type: Log
        message: one
      - id: outer
        type: Sequential
        tasks:
          - id: branch
            type: If
            condition: "{{ inputs.go }}"
            then:
              - id: deep
                type: Return
                format: x
            else:
              - id: other
                type: Log
                message: no
        errors:
          - id: on_error
            type: Log
            message: failed
      - id: graph
        type: Dag
        tasks:
          - task: {id: a, type: Log, message: a}
          - task: {id: b, type: Log, message: b}
            dependsOn: [a]
      - id: pick
        type: Switch
        value: "{{ inputs.kind }}"
        cases:
          small:
            - {id: s1, type: Log, message: small}
        defaults:
          - {id: d1, type: Log, message: default}
    errors:
      - id: alert
        type: Log
        message: alert
    finally:
      - id: cleanup
        type: Log
        message: bye
    inputs:
      - {id: go, type: BOOLEAN, defaults: true}
      - {id: kind, type: STRING, defaults: small}
    """
)


def test_all_tasks_walks_depth_first_through_every_child_list() -> None:
    flow = load_flow(NESTED)

    assert [t.id for t in flow.all_tasks()] == [
        "first", "outer", "branch", "deep", "other", "on_error", "graph", "a", "b",
        "pick", "s1", "d1", "alert", "cleanup",
    ]  # fmt: skip


def test_find_task_and_task_parents() -> None:
    flow = load_flow(NESTED)

    deep = flow.find_task("deep")
    assert isinstance(deep, Return)
    assert [t.id for t in flow.task_parents("deep")] == ["outer", "branch"]
    assert [t.id for t in flow.task_parents("b")] == ["graph"]
    assert flow.task_parents("first") == []
    assert flow.find_task("missing") is None
    assert flow.task_parents("missing") == []


def test_child_lists_name_the_yaml_properties() -> None:
    flow = load_flow(NESTED)

    outer = flow.find_task("outer")
    branch = flow.find_task("branch")
    graph = flow.find_task("graph")
    pick = flow.find_task("pick")
    assert isinstance(outer, Sequential) and isinstance(branch, If)
    assert isinstance(graph, Dag) and isinstance(pick, Switch)
    assert [(name, [t.id for t in tasks]) for name, tasks in outer.child_lists()] == [
        ("tasks", ["branch"]),
        ("errors", ["on_error"]),
    ]
    # Every flowable has Kestra's `errors` after its body
    assert [name for name, _ in branch.child_lists()] == ["then", "else", "errors"]
    assert [[t.id for t in tasks] for _, tasks in graph.child_lists()] == [["a", "b"], []]
    assert graph.tasks[1].depends_on == ["a"]
    assert [name for name, _ in pick.child_lists()] == ["cases.small", "defaults", "errors"]


def test_python_names_and_camel_case_aliases() -> None:
    # Given
    flow = load_flow(
        flow_text(
            """
            tasks:
              - id: each
                type: ForEach
                values: [1, 2]
                concurrencyLimit: 0
                allowFailure: true
                runIf: "{{ true }}"
                logLevel: DEBUG
                tasks:
                  - {id: t, type: Log, message: m, timeout: PT10M}
            """
        )
    )

    # Then
    each = flow.tasks[0]
    assert isinstance(each, ForEach)
    assert each.concurrency_limit == 0
    assert each.allow_failure is True
    assert each.run_if == "{{ true }}"
    assert each.log_level == "DEBUG"
    assert each.tasks[0].timeout == timedelta(minutes=10)  # a flowable refuses `timeout`
    dumped = flow.model_dump(by_alias=True, exclude_none=True)
    assert dumped["tasks"][0]["concurrencyLimit"] == 0
    assert dumped["tasks"][0]["tasks"][0]["message"] == "m"


def test_flow_round_trips_through_model_dump() -> None:
    flow = load_flow(NESTED)

    again = Flow.model_validate(flow.model_dump(mode="json", by_alias=True, exclude_none=True))

    assert [t.id for t in again.all_tasks()] == [t.id for t in flow.all_tasks()]
    assert again.finally_[0].id == "cleanup"


@pytest.mark.parametrize(
    "type_name",
    ["Log", "io.kestra.plugin.core.log.Log", "io.kestra.core.tasks.log.Log"],
)
def test_type_aliases_resolve_to_the_canonical_name(type_name: str) -> None:
    flow = load_flow(flow_text(f"tasks:\n  - {{id: t, type: {type_name}, message: m}}\n"))

    assert isinstance(flow.tasks[0], Log)
    assert flow.tasks[0].type == "Log"


@pytest.mark.parametrize(
    ("alias", "cls"),
    [
        ("io.kestra.plugin.core.flow.Parallel", Parallel),
        ("io.kestra.core.tasks.flows.Parallel", Parallel),
        ("io.kestra.core.tasks.debugs.Return", Return),
        ("io.kestra.plugin.core.debug.Return", Return),
    ],
)
def test_kestra_full_names(alias: str, cls: type) -> None:
    body = f"tasks:\n  - id: t\n    type: {alias}\n"
    body += "    tasks: [{id: c, type: Log, message: m}]\n" if cls is Parallel else "    format: x\n"

    assert isinstance(load_flow(flow_text(body)).tasks[0], cls)


def test_labels_accept_a_map_or_a_list_of_key_values() -> None:
    as_map = load_flow(
        flow_text("labels:\n  team: data\n  tier: 1\n  live: true\ntasks: [{id: t, type: Log, message: m}]\n")
    )
    as_list = load_flow(
        flow_text(
            "labels:\n  - {key: team, value: data}\n  - {key: tier, value: 1}\ntasks: [{id: t, type: Log, message: m}]\n"
        )
    )

    assert as_map.labels == {"team": "data", "tier": "1", "live": "true"}
    assert as_list.labels == {"team": "data", "tier": "1"}


def test_plugin_defaults_fill_missing_properties_and_the_task_wins() -> None:
    # Given
    text = flow_text(
        """
        tasks:
          - {id: plain, type: Log, message: m}
          - {id: own, type: Log, message: m, level: ERROR}
          - id: nested
            type: Parallel
            tasks:
              - {id: inner, type: io.kestra.plugin.core.log.Log, message: m}
        pluginDefaults:
          - type: io.kestra.plugin.core.log.Log
            values:
              level: WARN
        """
    )

    # When
    flow = load_flow(text)

    # Then
    levels = {t.id: getattr(t, "level", None) for t in flow.all_tasks()}
    assert levels == {"plain": "WARN", "own": "ERROR", "nested": None, "inner": "WARN"}
    assert flow.plugin_defaults[0].type == "io.kestra.plugin.core.log.Log"


def test_forced_plugin_defaults_win_over_the_task() -> None:
    text = flow_text(
        """
        tasks:
          - {id: own, type: Log, message: m, level: ERROR}
        pluginDefaults:
          - type: Log
            forced: true
            values: {level: DEBUG}
        """
    )

    assert load_flow(text).tasks[0].level == "DEBUG"  # type: ignore[attr-defined]


def test_plugin_defaults_merge_maps_deeply() -> None:
    text = flow_text(
        """
        tasks:
          - id: call
            type: http.Request
            uri: https://example.com
            headers: {X-Own: "1"}
        pluginDefaults:
          - type: http.Request
            values:
              headers: {X-Default: "2"}
              options: {timeout: PT5S}
        """
    )

    call = load_flow(text).tasks[0]

    assert call.headers == {"X-Default": "2", "X-Own": "1"}  # type: ignore[attr-defined]
    assert call.options.timeout == timedelta(seconds=5)  # type: ignore[attr-defined]


def test_a_package_prefix_applies_to_every_type_under_it() -> None:
    text = flow_text(
        """
        tasks:
          - {id: a, type: Log, message: m}
          - {id: b, type: Echo, format: m}
          - {id: c, type: Return, format: m}
        pluginDefaults:
          - type: io.kestra.plugin.core.log
            values: {level: TRACE}
        """
    )

    flow = load_flow(text)

    assert [getattr(t, "level", None) for t in flow.tasks] == ["TRACE", "TRACE", None]


def test_legacy_task_defaults_are_merged_into_plugin_defaults() -> None:
    text = flow_text(
        """
        tasks:
          - {id: a, type: Log, message: m}
        taskDefaults:
          - type: Log
            values: {level: WARN}
        """
    )

    flow = load_flow(text)

    assert flow.tasks[0].level == "WARN"  # type: ignore[attr-defined]
    assert [d.type for d in flow.plugin_defaults] == ["Log"]
    assert "taskDefaults" not in flow.model_dump(by_alias=True)


def test_flow_level_settings() -> None:
    text = flow_text(
        """
        revision: 3
        disabled: true
        variables: {bucket: data, nested: {a: [1, 2]}}
        concurrency: {limit: 2, behavior: CANCEL}
        retry: {type: constant, interval: PT1M, maxAttempts: 2, behavior: CREATE_NEW_EXECUTION}
        tasks: [{id: t, type: Log, message: m}]
        outputs:
          - {id: result, type: STRING, value: "{{ outputs.t }}"}
        """
    )

    flow = load_flow(text)

    assert flow.revision == 3 and flow.disabled
    assert flow.variables == {"bucket": "data", "nested": {"a": [1, 2]}}
    assert (
        flow.concurrency is not None and flow.concurrency.limit == 2 and flow.concurrency.behavior == "CANCEL"
    )
    assert flow.retry is not None and flow.retry.behavior == "CREATE_NEW_EXECUTION"
    assert flow.outputs[0].id == "result" and flow.outputs[0].type == "STRING"


def test_concurrency_behavior_defaults_to_queue() -> None:
    flow = load_flow(flow_text("concurrency: {limit: 1}\ntasks: [{id: t, type: Log, message: m}]\n"))

    assert flow.concurrency is not None and flow.concurrency.behavior == "QUEUE"


def test_source_positions_are_kept_for_a_loaded_flow() -> None:
    # Given
    flow = load_flow(NESTED, "flows/nested.yaml")

    # When
    locations = flow_locations(flow)

    # Then
    assert flow.source is not None and flow.source.file == "flows/nested.yaml"
    assert flow.source.text == NESTED
    assert locations["tasks[1].tasks[0].then[0]"] == (14, 13)
    assert task_location(flow, "deep") == ("flows/nested.yaml", 14, 13)
    assert task_location(flow, "b") == ("flows/nested.yaml", 29, 9)
    assert task_location(flow, "nope") is None


def test_a_flow_built_in_python_has_no_source() -> None:
    flow = Flow.model_validate(
        {"id": "f", "namespace": "n", "tasks": [{"id": "t", "type": "Log", "message": "m"}]}
    )

    assert flow.source is None
    assert flow_locations(flow) == {}
    assert task_location(flow, "t") is None


def test_load_flow_raises_with_every_problem_sorted() -> None:
    text = "id: bad id\nnamespace: UPPER\ntasks: []\n"

    with pytest.raises(FlowValidationError) as caught:
        load_flow(text, "f.yaml")

    lines = [(d.line, d.path) for d in caught.value.diagnostics]
    assert lines == [(1, "id"), (2, "namespace"), (3, "tasks")]
    assert str(caught.value).splitlines()[0].startswith("f.yaml:1:1: id: ")


def test_validating_does_not_change_the_callers_data() -> None:
    data = {
        "id": "f",
        "namespace": "n",
        "tasks": [{"id": "t", "type": "io.kestra.plugin.core.log.Log", "message": "m"}],
        "pluginDefaults": [{"type": "Log", "values": {"level": "WARN"}}],
    }

    flow = Flow.model_validate(data)

    assert flow.tasks[0].type == "Log" and flow.tasks[0].level == "WARN"  # type: ignore[attr-defined]
    assert data["tasks"] == [{"id": "t", "type": "io.kestra.plugin.core.log.Log", "message": "m"}]


def test_plugin_defaults_travel_in_the_validation_context_the_caller_gives() -> None:
    # Given flow data without pluginDefaults, and defaults passed explicitly as the context
    data = {"id": "f", "namespace": "n", "tasks": [{"id": "t", "type": "Log", "message": "m"}]}
    context = TaskValidation(plugin_defaults=(DefaultValues("Log", {"level": "ERROR"}),))

    # When it is validated with that context
    flow = Flow.model_validate(data, context=context)

    # Then the task got the default
    assert flow.tasks[0].level == "ERROR"  # type: ignore[attr-defined]


def test_plugin_defaults_that_would_not_reach_the_tasks_are_refused_not_ignored() -> None:
    # Given a flow with plugin defaults, validated from JSON (no validation context carries them)
    text = (
        '{"id": "f", "namespace": "n", "tasks": [{"id": "t", "type": "Log", "message": "m"}],'
        ' "pluginDefaults": [{"type": "Log", "values": {"level": "WARN"}}]}'
    )

    # When / Then the error names the property and the way that applies them
    with pytest.raises(ValidationError, match="plugin defaults are applied only when the flow is validated"):
        Flow.model_validate_json(text)


@pytest.mark.parametrize("folder", sorted(PLATFORM_FOLDERS))
def test_a_namespace_may_not_take_the_name_of_a_platform_folder(folder: str) -> None:
    # Given a flow whose namespace is named like a top-level folder of the data bucket (a flow role is
    # granted `<its namespace>/*/executions/...` there)
    text = f"id: f\nnamespace: {folder}\ntasks:\n  - id: t\n    type: Log\n    message: m\n"

    # When it is loaded, Then it is refused at the namespace's line, naming the reason
    with pytest.raises(FlowValidationError, match=rf"f.yaml:2:1: namespace: '{folder}' is reserved"):
        load_flow(text, "f.yaml")
    # ... while a namespace that only starts like one is a namespace like any other
    assert load_flow(text.replace(f"namespace: {folder}", f"namespace: {folder}.team"), "f.yaml")


def test_namespace_files_live_in_a_platform_folder() -> None:
    assert namespace_files.PREFIX in PLATFORM_FOLDERS
