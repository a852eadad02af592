"""Namespace plugin defaults merge with a flow's own as Kestra's levels do: the flow wins over its
namespace, a child namespace over its parent, a forced default over the task's own value."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from stratoflow.errors import FlowValidationError
from stratoflow.flow import load_flow
from stratoflow.flow.namespace_defaults import (
    NamespaceDefaults,
    as_recorded,
    from_record,
    from_settings,
    read_defaults,
    recorded_of,
)
from stratoflow.tasks.core import Log

FLOW = """id: f
namespace: company.team
{own}tasks:
  - id: a
    type: Log
  - id: b
    type: Log
    message: mine
    level: ERROR
"""


def settings(**by_namespace: list[dict[str, object]]) -> Sequence[NamespaceDefaults]:
    """Namespace -> its entries (the keyword's `_` as `.`), nearest first as given."""
    return from_settings([(name.replace("_", "."), entries) for name, entries in by_namespace.items()])


def log(message: str, forced: bool = False, **more: object) -> dict[str, object]:
    return {"type": "Log", "values": {"message": message, **more}, "forced": forced}


def messages(own: str, inherited: Sequence[NamespaceDefaults]) -> tuple[object, ...]:
    flow = load_flow(FLOW.format(own=own), "f.yaml", lambda namespace: inherited)
    tasks = [task for task in flow.tasks if isinstance(task, Log)]
    return tuple((task.message, task.level) for task in tasks)


def test_a_child_namespace_wins_over_its_parent_and_a_task_over_both() -> None:
    # Given company and company.team both setting Log's message (nearest first)
    inherited = settings(company_team=[log("team")], company=[log("company", level="WARN")])

    # When a flow of company.team is loaded
    found = messages("", inherited)

    # Then the child's value fills what the task lacks, the parent's what the child lacks, and the
    # task's own values stay
    assert found == (("team", "WARN"), ("mine", "ERROR"))


def test_the_flows_own_defaults_win_over_its_namespaces() -> None:
    own = 'pluginDefaults:\n  - type: Log\n    values: {message: "flow"}\n'
    assert messages(own, settings(company=[log("company")])) == (("flow", "INFO"), ("mine", "ERROR"))


def test_forced_defaults_overwrite_the_task_and_the_flow_still_wins_over_its_namespace() -> None:
    # Given a forced namespace default, then the same forced in the flow too
    inherited = settings(company_team=[log("team", forced=True)], company=[log("company", forced=True)])
    own = 'pluginDefaults:\n  - type: Log\n    forced: true\n    values: {message: "flow"}\n'

    # Then the forced one overwrites even the task's value, the child's over the parent's, the flow's
    # over both
    assert messages("", inherited) == (("team", "INFO"), ("team", "ERROR"))
    assert messages(own, inherited) == (("flow", "INFO"), ("flow", "ERROR"))


def test_a_problem_the_namespace_defaults_bring_names_them_at_the_task_they_reach() -> None:
    # Given a namespace default that gives Log a level it does not have
    inherited = settings(company=[log("hi", level="LOUD")])

    # When a flow of a child namespace is loaded
    with pytest.raises(FlowValidationError) as refused:
        load_flow(FLOW.format(own=""), "f.yaml", lambda namespace: inherited)

    # Then the problem is located at the task it reached and names the namespace setting as its source
    [problem] = refused.value.diagnostics
    assert problem.file == "f.yaml" and problem.path.startswith("tasks[0]")
    assert "(from the plugin defaults of namespace 'company' (`strato namespaces defaults`))" in str(problem)


def test_a_defaults_file_is_checked_as_a_flows_plugin_defaults_with_locations() -> None:
    # Given a file with a misspelled property and an unknown type
    text = "pluginDefaults:\n  - type: Log\n    values: {mesage: hi}\n  - type: Lgo\n"

    # When it is read
    with pytest.raises(FlowValidationError) as refused:
        read_defaults(text, "defaults.yaml")

    # Then each problem is located in the file
    lines = [str(d) for d in refused.value.diagnostics]
    assert lines[0].startswith("defaults.yaml:3:") and "unknown property 'mesage' of Log" in lines[0]
    assert lines[1].startswith("defaults.yaml:4:") and "unknown task type 'Lgo'" in lines[1]


def test_a_revision_records_the_defaults_it_was_loaded_with() -> None:
    # Given a flow loaded with its namespaces' defaults
    inherited = settings(company_team=[log("team")], company=[log("company", forced=True)])
    flow = load_flow(FLOW.format(own=""), "f.yaml", lambda namespace: inherited)

    # When the revision records them and they are read back
    recorded = recorded_of(flow)

    # Then they are the same, in the same order
    assert from_record(recorded) == tuple(inherited)
    assert recorded == as_recorded(inherited)
    assert [item["namespace"] for item in recorded] == ["company.team", "company"]


def test_a_stored_setting_that_no_longer_validates_is_a_located_problem_not_a_crash() -> None:
    # Given a namespace setting naming a task type this version does not know (stored by another one)
    def inherited(namespace: str) -> Sequence[NamespaceDefaults]:
        return from_settings([("company", [{"type": "Gone", "values": {}}])])

    # When a flow of the namespace is loaded
    with pytest.raises(FlowValidationError) as refused:
        load_flow(FLOW.format(own=""), "f.yaml", inherited)

    # Then the problem is located at its `namespace` and says how to repair the setting
    [problem] = refused.value.diagnostics
    assert str(problem).startswith("f.yaml:2:1: namespace: its namespace's plugin defaults are invalid")
    assert "`strato namespaces defaults`" in str(problem)
