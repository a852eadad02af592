"""A flow that would pass Step Functions' limits fails locally too, the way it would on AWS."""

from __future__ import annotations

import pytest

from stratoflow.execution.runner import flowables
from tests.unit.runtime.conftest import RunFlow

FOREACH = """
id: wide
namespace: tests
inputs:
  - id: count
    type: INT
tasks:
  - id: each
    type: ForEach
    values: "{{ range(1, inputs.count) }}"
    concurrencyLimit: 0
    tasks:
      - id: one
        type: Return
        format: "{{ taskrun.value }}"
      - id: two
        type: Return
        format: "{{ taskrun.value }}"
      - id: three
        type: Return
        format: "{{ taskrun.value }}"
"""


def test_history_events_are_counted_for_every_local_execution(run_flow: RunFlow) -> None:
    # When a ForEach of 10 items runs
    outcome = run_flow(FOREACH, {"count": 10})

    # Then the engine counted its events as Step Functions does: 5 per Lambda task and 2 per iteration
    assert str(outcome.execution.state) == "SUCCESS"
    assert outcome.result.history_events > 10 * (3 * 5 + 2)


def test_a_foreach_past_the_inline_budget_runs_its_iterations_as_child_executions(run_flow: RunFlow) -> None:
    # Given a ForEach whose three-task iterations need 17 events each: 1,500 items inline would pass
    # 25,000 (moto measured the limit near 1,470 for this shape)
    # When it runs
    outcome = run_flow(FOREACH, {"count": 1500})

    # Then it succeeds as a distributed Map: each item a child execution with its own history
    assert str(outcome.execution.state) == "SUCCESS", outcome.execution.error
    runs = [run for run in outcome.task_runs if run.task_id == "three"]
    assert len(runs) == 1500
    assert {run.value for run in runs} == {str(i) for i in range(1, 1501)}
    assert outcome.result.history_events < 100


def test_a_small_foreach_stays_inline(run_flow: RunFlow) -> None:
    outcome = run_flow(FOREACH, {"count": 100})

    # 100 items x 17 events stay in the execution's own history (cheaper, faster to start)
    assert str(outcome.execution.state) == "SUCCESS"
    assert outcome.result.history_events > 100 * 17


NESTED = """
id: nested
namespace: tests
tasks:
  - id: outer
    type: ForEach
    values: "{{ range(1, 12) }}"
    concurrencyLimit: 0
    tasks:
      - id: inner
        type: ForEach
        values: "{{ range(1, 12) }}"
        concurrencyLimit: 0
        tasks:
          - id: leaf
            type: Return
            format: "{{ parent.taskrun.value }}.{{ taskrun.value }}"
  - id: pick
    type: Return
    format: "{{ outputs.leaf['7']['9'].value }}"
"""


def test_nested_loops_count_their_iterations_together(
    run_flow: RunFlow, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a budget of 500 events and 12 x 12 iterations: the outer loop alone (12 x ~31) fits, each
    # inner loop alone (12 x 7) fits, but together they would add 144 x 7 events to one history
    monkeypatch.setattr(flowables, "LOOP_EVENT_BUDGET", 500)
    outcome = run_flow(NESTED)

    # Then the outer loop stays inline and the inner loops, seeing its items, run as child executions
    assert str(outcome.execution.state) == "SUCCESS", outcome.execution.error
    assert len([run for run in outcome.task_runs if run.task_id == "leaf"]) == 144
    assert outcome.task_runs[-1].outputs == {"value": "7.9"}
    assert outcome.result.history_events < 12 * 60


LONG_VALUES = """
id: long_values
namespace: tests
inputs:
  - id: count
    type: INT
tasks:
  - id: each
    type: ForEach
    values: '{{ range(1, inputs.count) | jq(''map(tostring + ("-" * 300))'') | first }}'
    concurrencyLimit: 0
    tasks:
      - id: size
        type: Return
        format: "{{ taskrun.value | length }}"
  - id: last
    type: Return
    format: "{{ outputs.size[inputs.count ~ ('-' * 300)].value }}"
"""


def test_a_foreach_over_more_values_than_a_payload_holds_succeeds(run_flow: RunFlow) -> None:
    # Given 1,200 values of ~300 characters: ~370 KB as JSON, and a gathered Map result that was
    # 1,200 x ~500 bytes before iterations ended with their index only
    # When
    outcome = run_flow(LONG_VALUES, {"count": 1200})

    # Then every iteration saw its own value, and no state payload came near the limit
    assert str(outcome.execution.state) == "SUCCESS", outcome.execution.error
    sizes = [run for run in outcome.task_runs if run.task_id == "size"]
    assert len(sizes) == 1200
    assert {run.value[:5] for run in sizes} >= {"1----", "600--", "1200-"}
    assert outcome.task_runs[-1].outputs == {"value": 304}
    assert outcome.result.largest_payload < 16 * 1024
