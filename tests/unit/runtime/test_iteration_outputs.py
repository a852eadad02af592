"""`outputs.t[taskrun.value]` inside loops: the current iteration's run is read by key, not by listing
every run of the task (a Query over the execution's partition on DynamoDB), with the same values."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from stratoflow.local import LocalPlatform
from stratoflow.states import State
from tests.unit.runtime.conftest import RunFlow, by_task

HEADER = """
id: loops
namespace: tests
"""


@pytest.fixture
def listings(platform: LocalPlatform, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str | None]]:
    """The task ids the runner listed task runs for (None: all of them)."""
    calls: list[str | None] = []
    original = platform.store.list_task_runs

    def counting(execution_id: str, task_id: str | None = None) -> Any:
        calls.append(task_id)
        return original(execution_id, task_id)

    monkeypatch.setattr(platform.store, "list_task_runs", counting)
    yield calls


def test_a_sibling_of_the_current_iteration_is_read_by_key(
    run_flow: RunFlow, listings: list[str | None]
) -> None:
    outcome = run_flow(
        HEADER
        + """
tasks:
  - id: each
    type: ForEach
    values: ["a", "b", "c"]
    tasks:
      - id: extract
        type: Return
        format: "{{ taskrun.value }}-rows"
      - id: load
        type: Return
        format: "{{ outputs.extract[taskrun.value].value }} loaded"
  - id: report
    type: Return
    format: "{{ outputs.load | length }}: {{ outputs.load['b'].value }}"
"""
    )
    assert outcome.execution.state == State.SUCCESS
    runs = by_task(outcome)
    assert [r.outputs["value"] for r in runs["load"]] == ["a-rows loaded", "b-rows loaded", "c-rows loaded"]
    assert runs["report"][0].outputs == {"value": "3: b-rows loaded"}
    # The loop's iterations listed nothing of `extract`; the report (outside the loop) listed `load` once
    assert "extract" not in listings
    assert listings.count("load") == 1


def test_another_iteration_or_the_whole_map_still_reads_every_run(run_flow: RunFlow) -> None:
    outcome = run_flow(
        HEADER
        + """
tasks:
  - id: each
    type: ForEach
    values: ["a", "b"]
    tasks:
      - id: extract
        type: Return
        format: "{{ taskrun.value }}"
      - id: look
        type: Return
        format: "{{ outputs.extract['a'].value }} {{ outputs.extract | length }} {{ outputs.extract[taskrun.value].value }}"
"""
    )
    # In iteration b, `extract['a']` is the first iteration's, and the map has both runs so far
    assert [r.outputs["value"] for r in by_task(outcome)["look"]] == ["a 1 a", "a 2 b"]


def test_nested_loops_read_the_current_pair_by_key(run_flow: RunFlow, listings: list[str | None]) -> None:
    outcome = run_flow(
        HEADER
        + """
tasks:
  - id: outer
    type: ForEach
    values: ["x", "y"]
    tasks:
      - id: head
        type: Return
        format: "{{ taskrun.value }}!"
      - id: inner
        type: ForEach
        values: [1, 2]
        tasks:
          - id: pair
            type: Return
            format: "{{ parent.taskrun.value }}{{ taskrun.value }}"
          - id: use
            type: Return
            format: "{{ outputs.pair[parent.taskrun.value][taskrun.value].value }} {{ outputs.head[parent.taskrun.value].value }}"
"""
    )
    assert outcome.execution.state == State.SUCCESS
    assert [r.outputs["value"] for r in by_task(outcome)["use"]] == ["x1 x!", "x2 x!", "y1 y!", "y2 y!"]
    assert "pair" not in listings and "head" not in listings


def test_a_sibling_that_has_not_run_in_this_iteration_is_undefined(run_flow: RunFlow) -> None:
    outcome = run_flow(
        HEADER
        + """
tasks:
  - id: each
    type: ForEach
    values: ["a", "b"]
    tasks:
      - id: early
        type: Return
        format: "{{ outputs.late is defined }}"
      - id: late
        type: Return
        format: "done"
"""
    )
    # In iteration a nothing of `late` exists; in b, a's run makes `outputs.late` defined (as before)
    assert [r.outputs["value"] for r in by_task(outcome)["early"]] == [False, True]
