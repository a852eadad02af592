"""A flow that would pass Step Functions' limits fails locally too, the way it would on AWS."""

from __future__ import annotations

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


def test_a_foreach_past_25000_history_events_fails_as_on_aws(run_flow: RunFlow) -> None:
    # Given a ForEach whose three-task iterations need 17 events each
    # When it runs over 1,500 items (moto measured the limit near 1,470 for this shape)
    outcome = run_flow(FOREACH, {"count": 1500})

    # Then the execution fails on the history limit, naming it, instead of succeeding locally
    assert str(outcome.execution.state) == "FAILED"
    assert "25,000 history events" in (outcome.execution.error or "")


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
