"""Kestra syntax that real flows use (issue 19), run end to end on the local platform."""

from __future__ import annotations

from stratoflow.states import State
from tests.unit.runtime.conftest import RunFlow, by_task

HEADER = """
id: f
namespace: company.team
"""


def test_deprecated_debug_echo_switch_with_empty_defaults_equals_and_tenant_id(run_flow: RunFlow) -> None:
    # Given a Kestra-shaped flow with the deprecated Echo, an empty `defaults:` and Pebble's `equals`
    outcome = run_flow(
        HEADER
        + """
tasks:
  - id: hello
    type: io.kestra.plugin.core.debug.Echo
    format: "tenant {{ flow.tenantId }}"
  - id: route
    type: io.kestra.plugin.core.flow.Switch
    value: "{{ flow.namespace equals 'company.team' }}"
    cases:
      "true":
        - id: matched
          type: io.kestra.plugin.core.debug.Return
          format: "{{ flow.tenantId }}"
    defaults:
"""
    )

    # Then
    assert outcome.execution.state == State.SUCCESS
    runs = by_task(outcome)
    assert runs["matched"][0].outputs == {"value": "main"}
    assert runs["route"][0].outputs == {"value": "true"}


def test_errors_on_a_flowable_nested_in_a_flowable_run_when_its_body_fails(run_flow: RunFlow) -> None:
    # Given a Parallel with `errors` inside a ForEach (Kestra allows `errors` on every flowable)
    outcome = run_flow(
        HEADER
        + """
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: [a]
    tasks:
      - id: par
        type: io.kestra.plugin.core.flow.Parallel
        tasks:
          - {id: boom, type: Fail, errorMessage: "bad {{ taskrun.value }}"}
        errors:
          - {id: handler, type: Return, format: "handled {{ taskrun.value }}"}
  - {id: never, type: Log, message: not reached}
errors:
  - {id: top, type: Log, message: top}
"""
    )

    # Then the handler ran inside the loop, the failure still went on to the flow's errors
    runs = by_task(outcome)
    assert outcome.execution.state == State.FAILED
    assert [r.state for r in runs["par"]] == [State.FAILED]
    assert runs["handler"][0].state == State.SUCCESS
    assert runs["handler"][0].outputs == {"value": "handled a"}
    assert runs["top"][0].state == State.SUCCESS
    assert "never" not in runs


def test_allow_warning_ends_a_warning_task_run_success(run_flow: RunFlow) -> None:
    # Given a task that fails its first attempt, retried with warningOnRetry (its run ends WARNING)
    flaky = """
  - id: {id}
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{{{ taskrun.attemptsCount == 1 }}}}"
    allowWarning: {allow}
    retry: {{type: constant, interval: PT1S, maxAttempts: 2, warningOnRetry: true}}
"""

    # When one run has allowWarning and the other has not
    lenient = run_flow(HEADER + "tasks:\n" + flaky.format(id="lenient", allow="true"))
    strict = run_flow(
        HEADER.replace("id: f", "id: g") + "tasks:\n" + flaky.format(id="strict", allow="false")
    )

    # Then
    [run] = by_task(lenient)["lenient"]
    assert (run.state, len(run.attempts), lenient.execution.state) == (State.SUCCESS, 2, State.SUCCESS)
    [run] = by_task(strict)["strict"]
    assert (run.state, len(run.attempts), strict.execution.state) == (State.WARNING, 2, State.WARNING)


def test_labels_from_an_expression_giving_a_map_or_a_json_string(run_flow: RunFlow) -> None:
    # Given Kestra's Labels task fed by an expression (a map) and by a JSON string
    outcome = run_flow(
        HEADER
        + """
tasks:
  - id: meta
    type: Return
    format: '{"team": "data", "tier": 1}'
  - id: from_json
    type: io.kestra.plugin.core.execution.Labels
    labels: "{{ outputs.meta.value }}"
  - id: from_map
    type: io.kestra.plugin.core.execution.Labels
    labels: "{{ {'source': flow.id} }}"
"""
    )

    # Then
    assert outcome.execution.state == State.SUCCESS
    assert outcome.execution.labels == {
        "team": "data",
        "tier": "1",
        "source": "f",
        "system.correlationId": outcome.execution.id,  # every execution's (lineage)
    }


def test_pause_duration_as_an_expression_resumes_by_itself(run_flow: RunFlow) -> None:
    # Given Kestra 1.x's Pause: a pauseDuration from an input, behavior RESUME
    outcome = run_flow(
        HEADER
        + """
inputs:
  - {id: wait, type: DURATION, defaults: PT10M}
tasks:
  - id: hold
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: "{{ inputs.wait }}"
    behavior: RESUME
  - {id: after, type: Return, format: resumed}
"""
    )

    # Then (the virtual clock skipped the ten minutes)
    runs = by_task(outcome)
    assert outcome.execution.state == State.SUCCESS
    assert runs["after"][0].outputs == {"value": "resumed"}
    assert (outcome.result.stop_date - outcome.result.start_date).total_seconds() >= 600


def test_pause_behavior_fail_waits_for_a_resume_and_fails_when_the_duration_passes() -> None:
    from stratoflow.flow import load_flow, validate_text

    text = HEADER + "tasks:\n  - {id: hold, type: Pause, pauseDuration: PT1H, behavior: FAIL}\n"

    [task] = load_flow(text).tasks

    assert (task.timeout.total_seconds(), task.delay) == (3600, None)  # type: ignore[attr-defined, union-attr]
    assert validate_text(text.replace("FAIL", "CANCEL"), "f.yaml") == []
    warn = text.replace("PT1H", "'{{ inputs.d }}'").replace("FAIL", "WARN")
    [problem] = validate_text(warn.replace("tasks:", "inputs: [{id: d, type: DURATION}]\ntasks:"), "f.yaml")
    assert problem.path == "tasks[0].behavior" and "fixed duration" in problem.message


def test_subflow_namespace_and_flow_id_as_expressions_over_flow(run_flow: RunFlow) -> None:
    # Given Kestra's blueprint habit: the child is in the parent's namespace
    child = """
id: f_child
namespace: company.team
tasks:
  - {id: hi, type: Return, format: child}
outputs:
  - {id: said, type: STRING, value: "{{ outputs.hi.value }}"}
"""
    outcome = run_flow(
        HEADER
        + """
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: "{{ flow.namespace }}"
    flowId: "{{ flow.id }}_child"
    wait: true
""",
        others=(child,),
    )

    # Then
    assert outcome.execution.state == State.SUCCESS
    assert by_task(outcome)["call"][0].outputs["outputs"] == {"said": "child"}


def test_a_subflow_expression_reading_more_than_flow_is_refused_at_its_line() -> None:
    from stratoflow.flow import validate_text

    text = HEADER + (
        "inputs: [{id: ns, type: STRING}]\n"
        "tasks:\n  - {id: call, type: Subflow, namespace: '{{ inputs.ns }}', flowId: child}\n"
    )

    [problem] = validate_text(text, "f.yaml")

    assert (problem.line, problem.path) == (6, "tasks[0].namespace")
    assert "may use only flow.*" in problem.message


def test_a_boolean_looking_return_format_is_the_text_kestra_gives(run_flow: RunFlow) -> None:
    # Given YAML booleans where Kestra's reader expects text (it reads them as "true" / "false")
    outcome = run_flow(
        HEADER
        + """
tasks:
  - {id: yes_, type: io.kestra.plugin.core.debug.Return, format: true}
  - {id: quoted, type: Return, format: "false"}
  - {id: said, type: Log, message: false}
  - id: check
    type: If
    condition: true
    then:
      - {id: compared, type: Return, format: "{{ outputs.yes_.value == 'true' }}"}
"""
    )

    # Then
    runs = by_task(outcome)
    assert outcome.execution.state == State.SUCCESS
    assert runs["yes_"][0].outputs == {"value": "true"}
    assert runs["quoted"][0].outputs == {"value": "false"}
    assert runs["compared"][0].outputs == {"value": True}


def test_array_flow_outputs_are_lists_like_int_and_json_outputs_are_converted(run_flow: RunFlow) -> None:
    # Given ARRAY outputs fed by a Return (text, as Kestra's) and by a list expression
    outcome = run_flow(
        HEADER
        + """
tasks:
  - {id: ids, type: Return, format: '["a", "b"]'}
outputs:
  - {id: names, type: ARRAY, value: "{{ outputs.ids.value }}"}
  - {id: numbers, type: ARRAY, itemType: INT, value: "{{ ['1', '2'] }}"}
  - {id: count, type: INT, value: "2"}
"""
    )

    # Then
    assert outcome.execution.state == State.SUCCESS
    assert outcome.execution.outputs == {"names": ["a", "b"], "numbers": [1, 2], "count": 2}


def test_pause_behavior_warn_ends_the_pause_warning_when_the_duration_passes(run_flow: RunFlow) -> None:
    # Given Kestra's Pause with behavior WARN, nobody resuming it
    outcome = run_flow(
        HEADER
        + """
tasks:
  - id: hold
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT1H
    behavior: WARN
  - {id: after, type: Return, format: went on}
"""
    )

    # Then the pause ends WARNING after the hour and the execution goes on
    runs = by_task(outcome)
    assert runs["hold"][0].state == State.WARNING
    assert runs["after"][0].outputs == {"value": "went on"}
    assert outcome.execution.state == State.WARNING


PAUSE_CANCEL = """
tasks:
  - id: hold
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT1H
    behavior: CANCEL
  - {id: after, type: Return, format: went on}
errors:
  - {id: handler, type: Return, format: handled}
"""


def test_pause_behavior_cancel_ends_the_execution_cancelled_when_the_duration_passes(
    run_flow: RunFlow,
) -> None:
    # Given Kestra's Pause with behavior CANCEL, nobody resuming it (the virtual clock lets the hour pass)
    outcome = run_flow(HEADER + PAUSE_CANCEL)

    # Then the pause and the execution end CANCELLED; nothing after it runs, nor the errors tasks
    runs = by_task(outcome)
    assert runs["hold"][0].state == State.CANCELLED
    assert "not resumed within its pauseDuration" in (runs["hold"][0].error or "")
    assert outcome.execution.state == State.CANCELLED
    assert set(runs) == {"hold"}
