"""The rules of FLOW_LANGUAGE.md, proven by running compiled flows on the local engine."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from stratoflow.errors import InputError
from stratoflow.local import LocalPlatform
from stratoflow.local.platform import LocalCallbacks
from stratoflow.states import State
from tests.unit.runtime.conftest import RunFlow, by_task

HEADER = """
id: f
namespace: tests
"""


def test_hello_succeeds_with_outputs(run_flow: RunFlow) -> None:
    # Given a flow with an input default, a Log, a Return and a flow output
    outcome = run_flow(
        HEADER
        + """
inputs:
  - id: name
    type: STRING
    defaults: World
tasks:
  - id: greet
    type: Log
    message: "Hello {{ inputs.name }}"
  - id: ret
    type: Return
    format: "{{ inputs.name | upper }}"
outputs:
  - id: shout
    type: STRING
    value: "{{ outputs.ret.value }}"
""",
        {"name": "ada"},
    )
    # Then
    assert outcome.execution.state == State.SUCCESS
    assert outcome.execution.outputs == {"shout": "ADA"}
    assert [r.task_id for r in outcome.task_runs] == ["greet", "ret"]
    assert all(r.state == State.SUCCESS and len(r.attempts) == 1 for r in outcome.task_runs)


def test_foreach_creates_a_task_run_per_iteration_child_and_addresses_outputs_by_value(
    run_flow: RunFlow,
) -> None:
    outcome = run_flow(
        HEADER
        + """
tasks:
  - id: each
    type: ForEach
    values: ["a", "b", 3]
    tasks:
      - id: double
        type: Return
        format: "{{ taskrun.value }}{{ taskrun.value }}"
      - id: log
        type: Log
        message: "{{ outputs.double[taskrun.value].value }}"
  - id: pick
    type: Return
    format: "{{ outputs.double['b'].value }}-{{ outputs.double['3'].value }}"
"""
    )
    assert outcome.execution.state == State.SUCCESS
    runs = by_task(outcome)
    assert len(runs["each"]) == 1
    assert [r.value for r in runs["double"]] == ["a", "b", "3"]
    assert [r.iteration for r in runs["double"]] == [0, 1, 2]
    assert all(r.parent_task_run_id == runs["each"][0].id for r in runs["double"] + runs["log"])
    assert len(outcome.task_runs) == 1 + 3 * 2 + 1
    assert runs["pick"][0].outputs == {"value": "bb-33"}


def test_nested_loops_address_outputs_with_both_values(run_flow: RunFlow) -> None:
    outcome = run_flow(
        HEADER
        + """
tasks:
  - id: outer
    type: ForEach
    values: ["x", "y"]
    tasks:
      - id: inner
        type: ForEach
        values: [1, 2]
        tasks:
          - id: pair
            type: Return
            format: "{{ parent.taskrun.value }}{{ taskrun.value }}"
  - id: read
    type: Return
    format: "{{ outputs.pair['y']['2'].value }}"
"""
    )
    assert outcome.execution.state == State.SUCCESS
    assert by_task(outcome)["read"][0].outputs == {"value": "y2"}
    assert len(by_task(outcome)["pair"]) == 4


def test_retry_adds_attempts_to_the_same_task_run(run_flow: RunFlow) -> None:
    outcome = run_flow(
        HEADER
        + """
tasks:
  - id: flaky
    type: Fail
    condition: "{{ taskrun.attemptsCount < 3 }}"
    retry:
      type: constant
      interval: PT1S
      maxAttempts: 3
"""
    )
    assert outcome.execution.state == State.SUCCESS
    (flaky,) = outcome.task_runs
    assert flaky.state == State.SUCCESS
    assert [a.state for a in flaky.attempts] == [State.RETRYING, State.RETRYING, State.SUCCESS]


def test_retries_exhausted_fail_the_execution(run_flow: RunFlow) -> None:
    outcome = run_flow(
        HEADER
        + """
tasks:
  - id: broken
    type: Fail
    errorMessage: boom
    retry:
      type: exponential
      interval: PT1S
      maxInterval: PT10S
      maxAttempts: 2
  - id: never
    type: Log
    message: not reached
"""
    )
    assert outcome.execution.state == State.FAILED
    assert [r.task_id for r in outcome.task_runs] == ["broken"]
    assert len(outcome.task_runs[0].attempts) == 2
    assert "boom" in (outcome.execution.error or "")


def test_allow_failure_ends_the_execution_warning(run_flow: RunFlow) -> None:
    outcome = run_flow(
        HEADER
        + """
tasks:
  - id: shaky
    type: Fail
    allowFailure: true
  - id: after
    type: Log
    message: still runs
"""
    )
    assert outcome.execution.state == State.WARNING
    runs = by_task(outcome)
    assert runs["shaky"][0].state == State.WARNING
    assert runs["after"][0].state == State.SUCCESS


def test_run_if_false_skips_and_a_broken_run_if_fails(run_flow: RunFlow) -> None:
    skipped = run_flow(
        HEADER
        + """
tasks:
  - id: maybe
    type: Log
    message: hi
    runIf: "{{ 1 == 2 }}"
  - id: loop
    type: ForEach
    values: [1]
    runIf: "false"
    tasks:
      - id: inside
        type: Log
        message: no
"""
    )
    assert skipped.execution.state == State.SUCCESS
    assert [(r.task_id, r.state) for r in skipped.task_runs] == [
        ("maybe", State.SKIPPED),
        ("loop", State.SKIPPED),
    ]

    broken = run_flow(
        HEADER
        + """
tasks:
  - id: maybe
    type: Log
    message: hi
    runIf: "{{ outputs.nothing.value }}"
"""
    )
    assert broken.execution.state == State.FAILED
    assert broken.task_runs[0].state == State.FAILED
    assert "nothing" in (broken.task_runs[0].error or "")


def test_errors_run_and_the_execution_still_fails_then_finally_runs(run_flow: RunFlow) -> None:
    outcome = run_flow(
        HEADER
        + """
tasks:
  - id: ok
    type: Log
    message: first
  - id: bad
    type: Fail
    errorMessage: it broke
errors:
  - id: alert
    type: Return
    format: "{{ errorLogs()[0].message }}"
finally:
  - id: cleanup
    type: Log
    message: always
"""
    )
    assert outcome.execution.state == State.FAILED
    runs = by_task(outcome)
    assert runs["bad"][0].state == State.FAILED
    assert "it broke" in runs["alert"][0].outputs["value"]
    assert runs["cleanup"][0].state == State.SUCCESS


def test_finally_runs_after_success(run_flow: RunFlow) -> None:
    outcome = run_flow(
        HEADER
        + """
tasks:
  - id: ok
    type: Log
    message: first
finally:
  - id: cleanup
    type: Log
    message: always
"""
    )
    assert outcome.execution.state == State.SUCCESS
    assert [r.task_id for r in outcome.task_runs] == ["ok", "cleanup"]


def test_undefined_variable_fails_the_task_naming_it(run_flow: RunFlow) -> None:
    outcome = run_flow(
        HEADER
        + """
tasks:
  - id: ret
    type: Return
    format: "{{ vars.missing }}"
"""
    )
    assert outcome.execution.state == State.FAILED
    assert "missing" in (outcome.task_runs[0].error or "")


def test_null_coalescing_operators(run_flow: RunFlow) -> None:
    outcome = run_flow(
        HEADER
        + """
variables:
  nothing: null
tasks:
  - id: ret
    type: Return
    format: "{{ vars.nothing ?? 'a' }}-{{ vars.nope ??? 'b' }}-{{ vars.nothing ??? 'c' }}"
"""
    )
    assert outcome.execution.state == State.SUCCESS
    assert outcome.task_runs[0].outputs["value"] in ("a-b-", "a-b-None", "a-b-null")


@pytest.mark.parametrize(("condition", "branch"), [("0", "no"), ("false", "no"), ("", "no"), ("yes", "yes")])
def test_if_follows_kestra_truthiness(run_flow: RunFlow, condition: str, branch: str) -> None:
    outcome = run_flow(
        HEADER
        + f"""
tasks:
  - id: check
    type: If
    condition: "{condition}"
    then:
      - id: "yes"
        type: Log
        message: then
    else:
      - id: "no"
        type: Log
        message: else
"""
    )
    assert outcome.execution.state == State.SUCCESS
    assert [r.task_id for r in outcome.task_runs] == ["check", branch]
    assert by_task(outcome)["check"][0].outputs == {"evaluationResult": condition == "yes"}


def test_switch_routes_by_value_defaults_and_fails_without_match(run_flow: RunFlow) -> None:
    source = (
        HEADER
        + """
inputs:
  - id: kind
    type: STRING
tasks:
  - id: route
    type: Switch
    value: "{{ inputs.kind }}"
    cases:
      csv:
        - id: csv
          type: Log
          message: csv
      json:
        - id: json
          type: Log
          message: json
"""
    )
    matched = run_flow(source, {"kind": "json"})
    assert [r.task_id for r in matched.task_runs] == ["route", "json"]
    unmatched = run_flow(source, {"kind": "xml"})
    assert unmatched.execution.state == State.FAILED
    assert "xml" in (unmatched.task_runs[0].error or "")


def test_parallel_runs_every_child_and_concurrent_limit_is_honoured(run_flow: RunFlow) -> None:
    for concurrent in (0, 1):
        outcome = run_flow(
            HEADER
            + f"""
tasks:
  - id: fan
    type: Parallel
    concurrent: {concurrent}
    tasks:
      - id: a
        type: Return
        format: A
      - id: b
        type: Return
        format: B
      - id: c
        type: Sequential
        tasks:
          - id: c1
            type: Return
            format: C
  - id: join
    type: Return
    format: "{{{{ outputs.a.value }}}}{{{{ outputs.b.value }}}}{{{{ outputs.c1.value }}}}"
"""
        )
        assert outcome.execution.state == State.SUCCESS, concurrent
        assert by_task(outcome)["join"][0].outputs == {"value": "ABC"}
        fan = by_task(outcome)["fan"][0]
        assert {r.task_id for r in outcome.task_runs if r.parent_task_run_id == fan.id} == {"a", "b", "c"}


def test_parallel_failure_fails_the_parent_and_the_execution(run_flow: RunFlow) -> None:
    outcome = run_flow(
        HEADER
        + """
tasks:
  - id: fan
    type: Parallel
    tasks:
      - id: bad
        type: Fail
      - id: good
        type: Log
        message: fine
"""
    )
    assert outcome.execution.state == State.FAILED
    assert by_task(outcome)["fan"][0].state == State.FAILED


def test_sequential_errors_handle_inside_and_the_scope_still_fails(run_flow: RunFlow) -> None:
    outcome = run_flow(
        HEADER
        + """
tasks:
  - id: seq
    type: Sequential
    tasks:
      - id: bad
        type: Fail
    errors:
      - id: local-handler
        type: Log
        message: handled
"""
    )
    assert outcome.execution.state == State.FAILED
    runs = by_task(outcome)
    assert runs["local-handler"][0].state == State.SUCCESS
    assert runs["seq"][0].state == State.FAILED


def test_allow_failure_scope_ends_warning(run_flow: RunFlow) -> None:
    outcome = run_flow(
        HEADER
        + """
tasks:
  - id: tolerant
    type: AllowFailure
    tasks:
      - id: bad
        type: Fail
  - id: after
    type: Log
    message: continues
"""
    )
    assert outcome.execution.state == State.WARNING
    runs = by_task(outcome)
    assert runs["tolerant"][0].state == State.WARNING
    assert runs["bad"][0].state == State.FAILED
    assert runs["after"][0].state == State.SUCCESS


def test_plugin_defaults_and_legacy_type_names(run_flow: RunFlow) -> None:
    outcome = run_flow(
        HEADER
        + """
pluginDefaults:
  - type: io.kestra.plugin.core.debug.Return
    values:
      format: from-defaults
tasks:
  - id: legacy
    type: io.kestra.core.tasks.debugs.Return
  - id: own
    type: Return
    format: mine
"""
    )
    assert outcome.execution.state == State.SUCCESS
    runs = by_task(outcome)
    assert runs["legacy"][0].outputs == {"value": "from-defaults"}
    assert runs["own"][0].outputs == {"value": "mine"}


def test_subflow_runs_the_child_and_exposes_its_outputs(run_flow: RunFlow) -> None:
    child = """
id: child
namespace: tests
inputs:
  - id: n
    type: INT
tasks:
  - id: square
    type: Return
    format: "{{ inputs.n * inputs.n }}"
outputs:
  - id: result
    type: INT
    value: "{{ outputs.square.value }}"
"""
    outcome = run_flow(
        HEADER
        + """
tasks:
  - id: call
    type: Subflow
    namespace: tests
    flowId: child
    inputs:
      n: 7
  - id: use
    type: Return
    format: "{{ outputs.call.outputs.result }}"
""",
        others=(child,),
    )
    assert outcome.execution.state == State.SUCCESS
    runs = by_task(outcome)
    assert runs["call"][0].outputs["state"] == "SUCCESS"
    assert runs["use"][0].outputs == {"value": 49}


def test_dag_runs_tasks_after_their_dependencies(run_flow: RunFlow) -> None:
    outcome = run_flow(
        HEADER
        + """
tasks:
  - id: dag
    type: Dag
    tasks:
      - task:
          id: load
          type: Return
          format: "{{ outputs.left.value }}+{{ outputs.right.value }}"
        dependsOn: [left, right]
      - task:
          id: left
          type: Return
          format: L
        dependsOn: [extract]
      - task:
          id: extract
          type: Return
          format: E
      - task:
          id: right
          type: Return
          format: R
        dependsOn: [extract]
"""
    )
    assert outcome.execution.state == State.SUCCESS
    runs = by_task(outcome)
    assert runs["load"][0].outputs == {"value": "L+R"}
    order = [r.task_id for r in sorted(outcome.task_runs, key=lambda r: r.end_date or r.start_date)]
    assert order.index("extract") < order.index("left") < order.index("load")


def test_wait_for_repeats_until_the_condition(run_flow: RunFlow) -> None:
    outcome = run_flow(
        HEADER
        + """
tasks:
  - id: poll
    type: WaitFor
    condition: "{{ outputs.count.value >= 2 }}"
    checkFrequency:
      interval: PT1S
      maxIterations: 10
    tasks:
      - id: count
        type: Return
        format: "{{ taskrun.iteration }}"
"""
    )
    assert outcome.execution.state == State.SUCCESS
    assert [r.outputs["value"] for r in by_task(outcome)["count"]] == [0, 1, 2]


def test_exit_ends_the_execution_with_its_state(run_flow: RunFlow) -> None:
    outcome = run_flow(
        HEADER
        + """
tasks:
  - id: stop
    type: Exit
    state: WARNING
  - id: never
    type: Log
    message: no
"""
    )
    assert outcome.execution.state == State.WARNING
    assert [r.task_id for r in outcome.task_runs] == ["stop"]


def test_sleep_waits_on_the_clock(run_flow: RunFlow) -> None:
    outcome = run_flow(
        HEADER
        + """
tasks:
  - id: nap
    type: Sleep
    duration: PT1H
"""
    )
    assert outcome.execution.state == State.SUCCESS
    assert outcome.task_runs[0].state == State.SUCCESS


def test_missing_required_input_is_refused_before_anything_runs(run_flow: RunFlow) -> None:
    with pytest.raises(InputError, match="count"):
        run_flow(
            HEADER
            + """
inputs:
  - id: count
    type: INT
tasks:
  - id: t
    type: Log
    message: x
"""
        )


def test_large_outputs_go_to_blob_storage_and_render_transparently(run_flow: RunFlow) -> None:
    outcome = run_flow(
        HEADER
        + """
tasks:
  - id: big
    type: Return
    format: "{{ range(1, 20000) | join(',') }}"
  - id: size
    type: Return
    format: "{{ outputs.big.value | length }}"
"""
    )
    assert outcome.execution.state == State.SUCCESS
    runs = by_task(outcome)
    assert "__stratoflow_blob__" in runs["big"][0].outputs
    assert runs["size"][0].outputs["value"] > 32 * 1024


def test_labels_and_kv_tasks(run_flow: RunFlow) -> None:
    outcome = run_flow(
        HEADER
        + """
tasks:
  - id: label
    type: Labels
    labels:
      stage: done
  - id: put
    type: io.kestra.plugin.core.kv.Set
    key: counter
    value: 41
  - id: get
    type: Return
    format: "{{ kv('counter') + 1 }}"
"""
    )
    assert outcome.execution.state == State.SUCCESS
    assert outcome.execution.labels["stage"] == "done"
    assert by_task(outcome)["get"][0].outputs == {"value": 42}


def test_failing_flow_output_fails_the_execution(run_flow: RunFlow) -> None:
    outcome = run_flow(
        HEADER
        + """
tasks:
  - id: t
    type: Return
    format: x
outputs:
  - id: broken
    type: STRING
    value: "{{ outputs.t.nope }}"
"""
    )
    assert outcome.execution.state == State.FAILED
    assert "nope" in (outcome.execution.error or "")


def test_pause_without_delay_waits_for_a_resume_with_inputs(tmp_path: Path) -> None:
    # Given a flow that pauses for an approval (real clock: a virtual one would expire the timeout at once)
    platform = LocalPlatform(tmp_path / "home")
    flow, record = platform.deploy_source(
        HEADER
        + """
tasks:
  - id: approve
    type: Pause
    timeout: PT1H
  - id: after
    type: Return
    format: "{{ outputs.approve.onResume.approved }}"
""",
        "flow.yaml",
    )
    execution = platform.admit(flow, record, {})
    running = platform.start(execution)
    # When it is paused and then resumed with an input
    deadline = time.monotonic() + 10
    paused = None
    while paused is None and time.monotonic() < deadline:
        runs = [r for r in platform.store.list_task_runs(execution.id) if r.state == State.PAUSED]
        paused = runs[0] if runs else None
        time.sleep(0.01)
    assert paused is not None and paused.task_token
    platform.callbacks.send_success(paused.task_token, {"approved": True})
    outcome = platform.finish(execution, running)
    # Then the flow goes on with the resume inputs as the Pause task's outputs
    assert outcome.execution.state == State.SUCCESS
    assert by_task(outcome)["after"][0].outputs == {"value": True}
    platform.close()


def test_a_dag_wakes_its_tasks_even_when_they_answer_before_the_start_returns(
    platform: LocalPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a platform slow to register a started execution with its callbacks (a loaded machine:
    # the execution's thread runs its first Dag tasks, which complete each other's waits, meanwhile)
    track = LocalCallbacks.track

    def slow_track(self: LocalCallbacks, name: str, execution: Any) -> None:
        time.sleep(0.3)
        track(self, name, execution)

    monkeypatch.setattr(LocalCallbacks, "track", slow_track)
    flow, record = platform.deploy_source(
        textwrap.dedent(
            HEADER
            + """
tasks:
  - id: dag
    type: Dag
    tasks:
      - task: {id: first, type: Return, format: "1"}
      - task: {id: second, type: Return, format: "2"}
        dependsOn: [first]
"""
        ),
        "flow.yaml",
    )
    # When it runs
    running = platform.start(platform.admit(flow, record, {}))
    # Then no answer is lost: the execution ends (before the fix it waited forever on `second`)
    assert running.wait(timeout=60).status == "SUCCEEDED"
