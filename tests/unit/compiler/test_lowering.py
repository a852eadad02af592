"""The compiler's output, state by state: what Step Functions will run."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from stratoflow.compiler import check_definition, compile_flow, substitute
from stratoflow.errors import CompileError
from stratoflow.flow import load_flow
from stratoflow.flow.retry import Retry


def compile_yaml(tasks: str, extra: str = "") -> Any:
    source = (
        "id: f\nnamespace: tests\n"
        + textwrap.dedent(extra)
        + "tasks:\n"
        + textwrap.indent(textwrap.dedent(tasks), "  ")
    )
    return compile_flow(load_flow(source, "flow.yaml"))


def states_of(definition: dict[str, Any]) -> dict[str, Any]:
    """Every state, nested branches and Map processors included."""
    found: dict[str, Any] = {}
    for name, state in definition["States"].items():
        found[name] = state
        for branch in state.get("Branches", []):
            found.update(states_of(branch))
        if "ItemProcessor" in state:
            found.update(states_of(state["ItemProcessor"]))
    return found


def test_a_runnable_task_invokes_the_task_runner_with_a_reference_payload() -> None:
    compiled = compile_yaml("- id: hello\n  type: Log\n  message: hi\n")
    state = compiled.definition["States"]["hello"]
    assert state["Resource"] == "arn:aws:states:::lambda:invoke"
    assert state["Parameters"]["FunctionName"] == "${TaskRunnerFunctionArn}"
    assert state["Parameters"]["Payload"] == {
        "action": "run",
        "taskId": "hello",
        "execution.$": "$.execution",
        "scope.$": "$.scope",
    }
    assert state["ResultPath"] is None
    assert compiled.placeholders == ["TaskRunnerFunctionArn"]


def test_lambda_service_errors_are_always_retried_first() -> None:
    compiled = compile_yaml("- id: hello\n  type: Log\n  message: hi\n")
    first = compiled.definition["States"]["hello"]["Retry"][0]
    assert "Lambda.ServiceException" in first["ErrorEquals"]
    assert "Lambda.TooManyRequestsException" in first["ErrorEquals"]


@pytest.mark.parametrize(
    ("retry", "expected"),
    [
        (
            "{type: constant, interval: PT5S, maxAttempts: 3}",
            {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 5, "MaxAttempts": 2, "BackoffRate": 1.0},
        ),
        (
            "{type: exponential, interval: PT2S, maxInterval: PT1M, delayFactor: 3, maxAttempts: 5}",
            {
                "ErrorEquals": ["States.ALL"],
                "IntervalSeconds": 2,
                "MaxAttempts": 4,
                "BackoffRate": 3.0,
                "MaxDelaySeconds": 60,
            },
        ),
        (
            "{type: random, minInterval: PT1S, maxInterval: PT10S, maxAttempts: 2}",
            {
                "ErrorEquals": ["States.ALL"],
                "IntervalSeconds": 10,
                "MaxAttempts": 1,
                "BackoffRate": 1.0,
                "JitterStrategy": "FULL",
            },
        ),
    ],
)
def test_kestra_retry_maps_to_asl_retry(retry: str, expected: dict[str, Any]) -> None:
    compiled = compile_yaml(f"- id: t\n  type: Log\n  message: hi\n  retry: {retry}\n")
    rules = compiled.definition["States"]["t"]["Retry"]
    assert rules[1] == {"ErrorEquals": ["ExitExecution", "RetriesExhausted", "TaskSkipped"], "MaxAttempts": 0}
    assert rules[2] == expected


def test_sub_second_retry_intervals_round_up_with_a_warning() -> None:
    compiled = compile_yaml(
        "- id: t\n  type: Log\n  message: hi\n  retry: {type: constant, interval: PT0.2S, maxAttempts: 2}\n"
    )
    assert compiled.definition["States"]["t"]["Retry"][2]["IntervalSeconds"] == 1
    assert any("rounded up to 1s" in w for w in compiled.warnings)


def test_timeout_becomes_timeout_seconds_with_a_backstop_after_the_runners_own() -> None:
    compiled = compile_yaml("- id: t\n  type: Log\n  message: hi\n  timeout: PT90S\n")
    assert compiled.definition["States"]["t"]["TimeoutSeconds"] == 100


def test_foreach_is_a_map_with_the_concurrency_limit_and_a_loop_scope() -> None:
    compiled = compile_yaml(
        """
        - id: each
          type: ForEach
          values: [1, 2]
          concurrencyLimit: 0
          tasks:
            - id: child
              type: Log
              message: "{{ taskrun.value }}"
        """
    )
    state = compiled.definition["States"]["each.map"]
    assert state["Type"] == "Map"
    assert state["MaxConcurrency"] == 0
    assert state["ItemsPath"] == "$.eval.result.values"
    assert state["ItemSelector"]["scope"] == {
        "taskId": "each",
        "value.$": "$$.Map.Item.Value",
        "iteration.$": "$$.Map.Item.Index",
        "valuesUri.$": "$.eval.result.valuesUri",
        "inlineItems.$": "$.eval.result.inlineItems",
        "parent.$": "$.scope",
    }
    # Each iteration ends with its index only: the Map's gathered result stays small however large
    # the values (Step Functions holds it to the 256 KiB payload limit even when it is discarded)
    child = state["ItemProcessor"]["States"]["child"]
    assert (child["End"], child["OutputPath"]) == (True, "$.scope.iteration")
    assert "child" in state["ItemProcessor"]["States"]
    assert state["Catch"][-1]["Next"] == "each.fail"


def test_foreach_can_run_its_iterations_as_child_executions() -> None:
    compiled = compile_yaml(
        """
        - id: each
          type: ForEach
          values: "{{ range(1, 10) }}"
          concurrencyLimit: 4
          tasks:
            - id: child
              type: Log
              message: "{{ taskrun.value }}"
        """
    )
    states = compiled.definition["States"]

    # The start call is told what one iteration costs in history events (a Task is 5, +2 an iteration)
    assert states["each"]["Parameters"]["Payload"]["eventsPerItem"] == 7
    # and its answer skips a finished run (a replay's copy), or picks the inline Map or the distributed one
    assert states["each.choice"]["Choices"] == [
        {"Variable": "$.eval.result.skip", "BooleanEquals": True, "Next": "flow.succeeded"},
        {"Variable": "$.eval.result.distributed", "BooleanEquals": True, "Next": "each.children"},
    ]
    assert states["each.choice"]["Default"] == "each.map"
    children = states["each.children"]
    assert children["ItemProcessor"]["ProcessorConfig"] == {
        "Mode": "DISTRIBUTED",
        "ExecutionType": "STANDARD",
    }
    assert children["ItemReader"]["Parameters"] == {
        "Bucket.$": "$.eval.result.items.bucket",
        "Key.$": "$.eval.result.items.key",
    }
    assert children["ResultWriter"] == {
        "Resource": "arn:aws:states:::s3:putObject",
        # under the flow's namespace: a flow role may write and read only its own namespace's results
        "Parameters": {"Bucket": "${DataBucketName}", "Prefix": "map-results/tests"},
    }
    assert (children["MaxConcurrency"], children["ResultPath"]) == (4, None)
    assert children["ItemSelector"] == states["each.map"]["ItemSelector"]
    # The body is lowered again under its own state names, and its warnings are not repeated
    assert set(children["ItemProcessor"]["States"]).isdisjoint(states["each.map"]["ItemProcessor"]["States"])
    assert len(compiled.warnings) == len(set(compiled.warnings))


def test_parallel_with_a_limit_becomes_a_map_over_branches() -> None:
    compiled = compile_yaml(
        """
        - id: fan
          type: Parallel
          concurrent: 2
          tasks:
            - {id: a, type: Log, message: a}
            - {id: b, type: Log, message: b}
            - {id: c, type: Log, message: c}
        """
    )
    state = compiled.definition["States"]["fan.map"]
    assert state["MaxConcurrency"] == 2
    dispatch = state["ItemProcessor"]["States"][state["ItemProcessor"]["StartAt"]]
    assert [rule["Next"] for rule in dispatch["Choices"]] == ["a", "b"]
    assert dispatch["Default"] == "c"


def test_parallel_without_a_limit_is_a_parallel_state() -> None:
    compiled = compile_yaml(
        """
        - id: fan
          type: Parallel
          tasks:
            - {id: a, type: Log, message: a}
            - {id: b, type: Log, message: b}
        """
    )
    state = compiled.definition["States"]["fan.parallel"]
    assert state["Type"] == "Parallel"
    assert [b["StartAt"] for b in state["Branches"]] == ["a", "b"]


def test_if_is_a_choice_on_the_evaluated_branch() -> None:
    compiled = compile_yaml(
        """
        - id: check
          type: If
          condition: "{{ true }}"
          then: [{id: yes, type: Log, message: y}]
          else: [{id: no, type: Log, message: n}]
        """
    )
    choice = compiled.definition["States"]["check.choice"]
    assert choice["Choices"] == [
        {"Variable": "$.eval.result.skip", "BooleanEquals": True, "Next": "flow.succeeded"},
        {"Variable": "$.eval.result.branch", "StringEquals": "then", "Next": "yes"},
    ]
    assert choice["Default"] == "no"


def test_sleep_is_a_wait_state_and_pause_without_delay_a_callback() -> None:
    compiled = compile_yaml(
        """
        - id: nap
          type: Sleep
          duration: PT2M
        - id: approve
          type: Pause
          timeout: PT1H
        """
    )
    states = compiled.definition["States"]
    assert states["nap.wait"] == {"Type": "Wait", "Seconds": 120, "Next": "nap.end"}
    paused = states["approve.paused"]
    assert paused["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert paused["Parameters"]["Payload"]["taskToken.$"] == "$$.Task.Token"
    assert paused["TimeoutSeconds"] == 3600


def test_subflow_starts_the_child_state_machine_synchronously() -> None:
    compiled = compile_yaml(
        """
        - id: call
          type: Subflow
          namespace: team.data
          flowId: child
        - id: fire
          type: Subflow
          namespace: team.data
          flowId: other
          wait: false
        """
    )
    states = compiled.definition["States"]
    assert states["call.execution"]["Resource"] == "arn:aws:states:::states:startExecution.sync:2"
    assert states["call.execution"]["Parameters"]["StateMachineArn"] == "${StateMachine.team.data.child}"
    assert states["fire.execution"]["Resource"] == "arn:aws:states:::states:startExecution"
    assert "StateMachine.team.data.child" in compiled.placeholders


def test_disabled_tasks_are_left_out() -> None:
    compiled = compile_yaml(
        """
        - {id: a, type: Log, message: a}
        - {id: b, type: Log, message: b, disabled: true}
        """
    )
    assert "b" not in states_of(compiled.definition)
    assert compiled.definition["States"]["a"]["Next"] == "flow.succeeded"


def test_errors_and_finally_shape_the_end_of_the_flow() -> None:
    compiled = compile_yaml(
        "- {id: a, type: Log, message: a}\n",
        extra="""
        errors:
          - {id: alert, type: Log, message: failed}
        finally:
          - {id: cleanup, type: Log, message: done}
        """,
    )
    states = compiled.definition["States"]
    assert states["a"]["Catch"][-1] == {
        "ErrorEquals": ["States.ALL"],
        "Next": "flow.failure",
        "ResultPath": "$.error",
    }
    assert states["flow.failure"]["Next"] == "alert"
    assert states["alert"]["Next"] == "cleanup"
    assert states["a"]["Next"] == "cleanup"
    assert states["flow.end"]["Choices"] == [
        {"Variable": "$.failed", "IsPresent": True, "Next": "flow.failed"}
    ]


def test_long_task_ids_give_state_names_within_80_characters() -> None:
    long_id = "t" * 100
    compiled = compile_yaml(
        f"""
        - id: {long_id}
          type: Sequential
          tasks:
            - {{id: inner, type: Log, message: x}}
        """
    )
    names = states_of(compiled.definition)
    assert all(len(name) <= 80 for name in names)
    assert len(names) == len(set(names))


def test_check_definition_reports_dangling_targets_and_substitute_requires_every_placeholder() -> None:
    broken = {"StartAt": "a", "States": {"a": {"Type": "Pass", "Next": "missing"}}}
    assert any("missing" in problem for problem in check_definition(broken))
    compiled = compile_yaml("- {id: a, type: Log, message: a}\n")
    with pytest.raises(CompileError, match="TaskRunnerFunctionArn"):
        substitute(compiled.definition, {})
    arn = "arn:aws:lambda:eu-west-1:123456789012:function:runner"
    done = substitute(compiled.definition, {"TaskRunnerFunctionArn": arn})
    assert done["States"]["a"]["Parameters"]["FunctionName"] == arn


def test_a_retry_bounded_only_by_duration_lets_step_functions_retry_up_to_the_ceiling() -> None:
    # Given a retry with maxDuration and no maxAttempts
    compiled = compile_yaml(
        "- id: t\n  type: Log\n  message: hi\n  retry: {type: exponential, interval: PT1S, maxDuration: PT1M}\n"
    )

    # When compiled, Then Step Functions may retry until the runner stops at maxDuration
    rule = compiled.definition["States"]["t"]["Retry"][2]
    assert rule["MaxAttempts"] == Retry.ATTEMPTS_CEILING - 1
    assert rule["BackoffRate"] == 2.0  # Kestra's default delayFactor, read from the model
