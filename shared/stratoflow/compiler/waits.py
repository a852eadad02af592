"""Lowering of the flowables that wait: for a duration (Sleep, Pause with a delay), for `strato
resume` (Pause), for a condition (WaitFor, a loop with an interval) or for a child execution (Subflow)."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from typing import TYPE_CHECKING

from stratoflow.compiler.asl import (
    DISCARD,
    START_EXECUTION,
    START_EXECUTION_SYNC,
    Catcher,
    ChoiceState,
    ParallelState,
    PassState,
    Retrier,
    SucceedState,
    TaskState,
    WaitState,
)
from stratoflow.compiler.builder import Builder, Scope
from stratoflow.compiler.frame import SKIP_RULE_VARIABLE, Flowable, timeout_seconds_of
from stratoflow.compiler.retry import PLATFORM_RETRIER, retriers
from stratoflow.compiler.timeouts import timed_loop
from stratoflow.flow.task import Task

if TYPE_CHECKING:
    # Types only: importing the task families would build their models at every compile.
    from stratoflow.tasks.flowable import WaitFor
    from stratoflow.tasks.native import ForEachItem, Pause, Sleep, Subflow


def state_machine_placeholder(namespace: str, flow_id: str) -> str:
    """The `${...}` placeholder standing for another flow's state machine ARN."""
    return "${StateMachine." + namespace + "." + flow_id + "}"


def _wait_seconds(value: timedelta) -> int:
    return max(0, math.ceil(value.total_seconds()))


def lower_sleep(builder: Builder, task: Sleep, scope: Scope, next_: str | None) -> str:
    return _lower_delay(builder, task, task.duration, scope, next_)


def _lower_delay(
    builder: Builder, task: Task, delay: timedelta | str, scope: Scope, next_: str | None
) -> str:
    """A wait for `delay` (a duration, or an expression the start call renders to seconds)."""
    frame = Flowable(builder, task, scope, next_)
    wait = builder.names.claim(f"{task.id}.wait")
    if isinstance(delay, str):  # an expression: the start call renders it to seconds
        builder.add(wait, WaitState(seconds_path="$.eval.result.seconds", next=frame.end))
    elif task.timeout is not None and task.timeout < delay:
        # It would outlast its timeout: it waits until the timeout, then fails as a timed-out task
        # does (allowFailure and `errors` apply), on Step Functions and the local engine alike.
        timed_out = builder.names.claim(f"{task.id}.timedOut")
        builder.add(wait, WaitState(seconds=_wait_seconds(task.timeout), next=timed_out))
        builder.add(
            timed_out,
            PassState(result=_timeout_error(task, task.timeout), result_path="$.error", next=frame.fail),
        )
    else:
        builder.add(wait, WaitState(seconds=_wait_seconds(delay), next=frame.end))
    frame.emit_end()
    start = frame.emit_start(wait)
    if not builder.is_referenced(frame.end):  # it always times out (and is never skipped)
        del builder.states[frame.end]
    return start


def _timeout_error(task: Task, timeout: timedelta) -> dict[str, str]:
    # The words of a runnable task's timeout (runner.run_with_timeout).
    message = f"task '{task.id}' timed out after {timeout} (timeout {_wait_seconds(timeout)}s)"
    return {"Error": "States.Timeout", "Cause": json.dumps({"errorMessage": message})}


def lower_pause(builder: Builder, task: Pause, scope: Scope, next_: str | None) -> str:
    if task.delay is not None:
        return _lower_delay(builder, task, task.delay, scope, next_)
    frame = Flowable(builder, task, scope, next_)
    wait = builder.names.claim(f"{task.id}.paused")
    builder.runner_call(
        wait,
        "pause",
        task.id,
        frame.body_scope,
        frame.end,
        result_path="$.eval",
        callback=True,
        timeout=timeout_seconds_of(task.timeout),
        comment="waits for `strato resume`",
    )
    frame.emit_end(extra={"resume.$": "$.eval"})
    return frame.emit_start(wait)


def child_execution(
    task: Subflow | ForEachItem,
    catch: list[Catcher] | None,
    next_: str | None,
    *,
    timed: bool = True,
    output_path: str | None = None,
) -> TaskState:
    """The Task state that starts the task's flow (and waits for it with `wait`); `timed`: the task's
    timeout bounds that wait (a ForEachItem's bounds all its batches instead)."""
    return TaskState(
        resource=START_EXECUTION_SYNC if task.wait else START_EXECUTION,
        parameters={
            "StateMachineArn": state_machine_placeholder(task.namespace, task.flow_id),
            "Name.$": "$.eval.result.name",
            "Input.$": "$.eval.result.input",
        },
        result_path=DISCARD,
        # Waiting for the child is the task: its timeout bounds the wait (the child is then stopped).
        timeout_seconds=timeout_seconds_of(task.timeout) if task.wait and timed else None,
        retry=[PLATFORM_RETRIER],
        catch=catch,
        next=next_,
        end=True if next_ is None else None,
        output_path=output_path,
    )


def lower_subflow(builder: Builder, task: Subflow, scope: Scope, next_: str | None) -> str:
    frame = Flowable(builder, task, scope, next_)
    policy = retriers(task.retry, task.id, builder.warnings)
    if len(policy) > 1:
        return _lower_retried_subflow(builder, task, scope, frame, policy)
    call = builder.names.claim(f"{task.id}.execution")
    builder.add(call, child_execution(task, frame.catchers(), frame.end))
    frame.emit_end()
    return frame.emit_start(call)


def _lower_retried_subflow(
    builder: Builder, task: Subflow, scope: Scope, frame: Flowable, policy: list[Retrier]
) -> str:
    """A Subflow with `retry`: each attempt is a new child execution, so the retry repeats the start
    call (which admits the attempt's child) and the child together: one Parallel branch, retried.

        <id> (Parallel; Retry: the task's; Catch -> <id>.fail) -> <id>.end
          <id>.attempt (runner "start") -> <id>.choice (skip?) -> <id>.execution | <id>.skipped
    """
    branch = builder.branch()
    inner = Scope(scope_path=scope.scope_path)  # no Catch inside: a failure leaves the branch
    attempt = builder.names.claim(f"{task.id}.attempt")
    choice = builder.names.claim(f"{task.id}.choice")
    skipped = builder.names.claim(f"{task.id}.skipped")
    execution = builder.names.claim(f"{task.id}.execution")
    branch.runner_call(
        attempt,
        "start",
        task.id,
        inner,
        choice,
        result_path="$.eval",
        select_result=True,
        comment="Subflow: start an attempt (a new child execution)",
    )
    branch.add(
        choice,
        ChoiceState(
            choices=[{"Variable": SKIP_RULE_VARIABLE, "BooleanEquals": True, "Next": skipped}],
            default=execution,
        ),
    )
    branch.add(skipped, SucceedState())
    branch.add(execution, child_execution(task, None, None))
    builder.add(
        frame.start,
        ParallelState(
            branches=[branch.definition(attempt)],
            result_path=DISCARD,
            retry=policy,
            catch=frame.catchers(),
            next=frame.end,
        ),
    )
    frame.emit_end()
    return frame.start


def lower_wait_for(builder: Builder, task: WaitFor, scope: Scope, next_: str | None) -> str:
    frame = Flowable(builder, task, scope, next_)
    slot = f"$.loop{builder.next_id()}"

    def loop(into: Builder, calls: Scope, done: str) -> str:
        """Body, check, Choice and interval, in `into`; `done` follows the last iteration."""
        check = into.names.claim(f"{task.id}.check")
        again = into.names.claim(f"{task.id}.again")
        wait = into.names.claim(f"{task.id}.interval")
        loop_scope = Scope(scope_path=f"{slot}.result.scope", on_error=calls.on_error, on_exit=calls.on_exit)
        entry = into.lower_block(task.tasks, loop_scope, check) or check
        into.runner_call(
            check,
            "check",
            task.id,
            calls,
            again,
            extra={"loop.$": f"{slot}.result"},
            result_path=slot,
            select_result=True,
            comment="evaluates the condition and the loop's bounds",
        )
        into.add(
            again,
            ChoiceState(
                choices=[{"Variable": f"{slot}.result.done", "BooleanEquals": True, "Next": done}],
                default=wait,
            ),
        )
        into.add(wait, WaitState(seconds_path=f"{slot}.result.interval", next=entry))
        return entry

    # With a timeout the whole loop races it (a Parallel: Step Functions has no timeout on a loop).
    body = loop(builder, frame.body_scope, frame.end) if task.timeout is None else timed_loop(frame, loop)
    frame.emit_end()
    # The start call's result is the first iteration's scope: store it where the body reads it.
    builder.runner_call(
        frame.start,
        "start",
        task.id,
        scope,
        body,
        result_path=slot,
        select_result=True,
        comment="WaitFor: start",
    )
    if frame.can_skip:
        # runIf/allowFailure skip for a loop: the start result carries `skip`.
        skip = builder.names.claim(f"{task.id}.choice")
        builder.add(
            skip,
            ChoiceState(
                choices=[
                    {"Variable": f"{slot}.result.skip", "BooleanEquals": True, "Next": frame.next_or_end()}
                ],
                default=body,
            ),
        )
        builder.states[frame.start] = builder.states[frame.start].model_copy(update={"next": skip})
    return frame.start
