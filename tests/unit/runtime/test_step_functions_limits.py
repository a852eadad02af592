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
