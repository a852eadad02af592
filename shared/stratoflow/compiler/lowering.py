"""Lowering: each task type -> ASL states, dispatched through one table on the canonical type name.

Every flowable task follows the same pattern, so that its task run is recorded like Kestra's:

    <id>            runner "start": creates the parent task run, evaluates what the structure needs
                    (ForEach values, If condition, Switch value, runIf) and returns it
    <id>.choice     (If/Switch, or when runIf / allowFailure can skip the body)
    ...body...      children, whose failures go to <id>.fail
    <id>.end        runner "end": the parent task run ends SUCCESS or WARNING (from its children)
    <id>.fail       runner "end" with the error: FAILED (re-raised to the enclosing scope) or WARNING
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from stratoflow.compiler.asl import (
    DISCARD,
    START_EXECUTION,
    START_EXECUTION_SYNC,
    ChoiceState,
    MapState,
    ParallelState,
    TaskState,
    WaitState,
)
from stratoflow.compiler.builder import Builder, Scope
from stratoflow.compiler.retry import PLATFORM_RETRIER, retriers
from stratoflow.tasks.base import RunnableTask, Task

Lowerer = Callable[[Builder, Any, Scope, "str | None"], str]
SKIP_RULE_VARIABLE = "$.eval.result.skip"


def state_machine_placeholder(namespace: str, flow_id: str) -> str:
    """The `${...}` placeholder standing for another flow's state machine ARN."""
    return "${StateMachine." + namespace + "." + flow_id + "}"


def lower_block(builder: Builder, tasks: list[Task], scope: Scope, next_: str | None) -> str | None:
    """Lower tasks that run one after another; returns the entry state (or `next_` when all are disabled)."""
    entry = next_
    for task in reversed([t for t in tasks if not t.disabled]):
        entry = lower_task(builder, task, scope, entry)
    return entry


def lower_task(builder: Builder, task: Task, scope: Scope, next_: str | None) -> str:
    lowerer = LOWERERS.get(type(task).type_name)
    if lowerer is not None:
        return lowerer(builder, task, scope, next_)
    native = getattr(task, "lower_native", None)
    if native is not None:
        result: str = native(builder, scope, next_)
        return result
    if isinstance(task, RunnableTask):
        return lower_runnable(builder, task, scope, next_)
    raise TypeError(f"no lowering for task type {type(task).type_name}")


# Step Functions' own timeout is a backstop a little after the task's: the runner enforces `timeout`
# itself so that it can record the timed-out attempt (a state timed out by Step Functions cannot).
TIMEOUT_BACKSTOP_SECONDS = 10


def timeout_seconds(task: Task) -> int | None:
    if task.timeout is None:
        return None
    return max(1, math.ceil(task.timeout.total_seconds())) + TIMEOUT_BACKSTOP_SECONDS


def lower_runnable(builder: Builder, task: Task, scope: Scope, next_: str | None) -> str:
    return builder.runner_call(
        builder.names.claim(task.id),
        "run",
        task.id,
        scope,
        next_,
        retry=retriers(task.retry, task.id, builder.warnings),
        timeout=timeout_seconds(task),
        comment=f"{type(task).type_name}",
    )


class Flowable:
    """The start/end/fail frame shared by every flowable task."""

    def __init__(self, builder: Builder, task: Task, scope: Scope, next_: str | None):
        self.builder, self.task, self.scope, self.next = builder, task, scope, next_
        names = builder.names
        self.start = names.claim(task.id)
        self.end = names.claim(f"{task.id}.end")
        self.fail = names.claim(f"{task.id}.fail")
        self.can_skip = task.run_if is not None or task.allow_failure
        self.body_scope = scope.with_error(self.fail)

    def emit_start(self, body_entry: str, *, choices: list[dict[str, Any]] | None = None) -> str:
        """The start call, then a Choice that routes to the body (or a branch, or past a skip)."""
        rules = list(choices or [])
        if self.can_skip:
            rules.insert(
                0, {"Variable": SKIP_RULE_VARIABLE, "BooleanEquals": True, "Next": self.next_or_end()}
            )
        after_start = body_entry
        if rules:
            after_start = self.builder.names.claim(f"{self.task.id}.choice")
            self.builder.add(after_start, ChoiceState(choices=rules, default=body_entry))
        self.builder.runner_call(
            self.start,
            "start",
            self.task.id,
            self.scope,
            after_start,
            result_path="$.eval",
            select_result=True,
            comment=f"{type(self.task).type_name}: start",
        )
        return self.start

    def next_or_end(self) -> str:
        """Where a skip goes: the next state, or (at the very end of a branch) the end call itself."""
        return self.next if self.next is not None else self.end

    def emit_end(self, extra: dict[str, Any] | None = None) -> None:
        self.builder.runner_call(
            self.end, "end", self.task.id, self.scope, self.next, extra=extra, comment="end"
        )
        if not self.builder.is_referenced(self.fail):
            return  # nothing in the body can fail (a Sleep): no failure path to emit
        self.builder.runner_call(
            self.fail,
            "end",
            self.task.id,
            self.scope,
            self.next,
            extra={"error.$": "$.error"},
            comment="failed: FAILED is re-raised, WARNING continues",
        )


def lower_sequential(builder: Builder, task: Any, scope: Scope, next_: str | None) -> str:
    frame = Flowable(builder, task, scope, next_)
    body_scope = frame.body_scope
    if task.errors:
        handlers = lower_block(builder, task.errors, body_scope, frame.fail)
        body_scope = scope.with_error(handlers)
    body = lower_block(builder, task.tasks, body_scope, frame.end) or frame.end
    frame.emit_end()
    return frame.emit_start(body)


def lower_allow_failure(builder: Builder, task: Any, scope: Scope, next_: str | None) -> str:
    frame = Flowable(builder, task, scope, next_)
    body = lower_block(builder, task.tasks, frame.body_scope, frame.end) or frame.end
    frame.emit_end()
    return frame.emit_start(body)


def _branch_definition(builder: Builder, tasks: list[Task], scope: Scope) -> dict[str, Any] | None:
    branch = builder.branch()
    entry = lower_block(branch, tasks, Scope(scope_path=scope.scope_path), None)
    if entry is None:
        return None
    return branch.definition(entry)


def _outer_catch(builder: Builder, frame: Flowable) -> list[Any] | None:
    return builder.catchers(frame.body_scope)


def lower_parallel(builder: Builder, task: Any, scope: Scope, next_: str | None) -> str:
    frame = Flowable(builder, task, scope, next_)
    children = [t for t in task.tasks if not t.disabled]
    concurrent = task.concurrent or 0
    if not children:
        frame.emit_end()
        return frame.emit_start(frame.end)
    if concurrent == 0 or concurrent >= len(children):
        branches = [_branch_definition(builder, [child], scope) for child in children]
        name = builder.names.claim(f"{task.id}.parallel")
        builder.add(
            name,
            ParallelState(
                branches=[b for b in branches if b is not None],
                result_path=DISCARD,
                catch=_outer_catch(builder, frame),
                next=frame.end,
            ),
        )
    else:
        # ASL Parallel has no concurrency limit: a Map over branch numbers does, with a Choice per branch.
        processor = builder.branch()
        dispatch = builder.names.claim(f"{task.id}.branch")
        entries = [lower_block(processor, [child], Scope(scope_path="$.scope"), None) for child in children]
        rules = [
            {"Variable": "$.branch", "NumericEquals": index, "Next": entry}
            for index, entry in enumerate(entries[:-1])
        ]
        # The last branch is the Default: a Choice always needs one (moto fails without it).
        processor.add(dispatch, ChoiceState(choices=rules, default=entries[-1]))
        item_selector = {
            "execution.$": "$.execution",
            "scope.$": scope.scope_path,
            "branch.$": "$$.Map.Item.Value",
        }
        name = _inline_map(frame, "$.eval.result.branches", item_selector, processor, dispatch, concurrent)
    frame.emit_end()
    return frame.emit_start(name)


def _inline_map(
    frame: Flowable,
    items_path: str,
    item_selector: dict[str, Any],
    processor: Builder,
    start: str,
    max_concurrency: int,
) -> str:
    """The Map state of a flowable: items from its start call, failures to its fail call."""
    name = frame.builder.names.claim(f"{frame.task.id}.map")
    frame.builder.add(
        name,
        MapState(
            items_path=items_path,
            item_selector=item_selector,
            item_processor={"ProcessorConfig": {"Mode": "INLINE"}, **processor.definition(start)},
            max_concurrency=max_concurrency,
            result_path=DISCARD,
            catch=_outer_catch(frame.builder, frame),
            next=frame.end,
        ),
    )
    return name


def lower_each(builder: Builder, task: Any, scope: Scope, next_: str | None) -> str:
    frame = Flowable(builder, task, scope, next_)
    type_name = type(task).type_name
    if type_name == "EachSequential":
        max_concurrency = 1
    elif type_name == "EachParallel":
        max_concurrency = task.concurrent or 0
    else:
        max_concurrency = task.concurrency_limit
    processor = builder.branch()
    entry = lower_block(processor, task.tasks, Scope(scope_path="$.scope"), None)
    if entry is None:
        frame.emit_end()
        return frame.emit_start(frame.end)
    item_selector = {
        "execution.$": "$.execution",
        "scope": {
            "taskId": task.id,
            "value.$": "$$.Map.Item.Value",
            "iteration.$": "$$.Map.Item.Index",
            "parent.$": scope.scope_path,
        },
    }
    name = _inline_map(frame, "$.eval.result.values", item_selector, processor, entry, max_concurrency)
    frame.emit_end()
    return frame.emit_start(name)


def lower_if(builder: Builder, task: Any, scope: Scope, next_: str | None) -> str:
    frame = Flowable(builder, task, scope, next_)
    then_entry = lower_block(builder, task.then, frame.body_scope, frame.end) or frame.end
    else_entry = lower_block(builder, task.else_ or [], frame.body_scope, frame.end) or frame.end
    frame.emit_end()
    rules = [{"Variable": "$.eval.result.branch", "StringEquals": "then", "Next": then_entry}]
    return frame.emit_start(else_entry, choices=rules)


def lower_switch(builder: Builder, task: Any, scope: Scope, next_: str | None) -> str:
    frame = Flowable(builder, task, scope, next_)
    rules = []
    for index, tasks in enumerate(task.cases.values()):
        entry = lower_block(builder, tasks, frame.body_scope, frame.end) or frame.end
        rules.append({"Variable": "$.eval.result.branch", "StringEquals": f"case{index}", "Next": entry})
    default_entry = lower_block(builder, task.defaults or [], frame.body_scope, frame.end) or frame.end
    frame.emit_end()
    return frame.emit_start(default_entry, choices=rules)


def _wait_seconds(value: timedelta) -> int:
    return max(0, math.ceil(value.total_seconds()))


def lower_sleep(builder: Builder, task: Any, scope: Scope, next_: str | None) -> str:
    frame = Flowable(builder, task, scope, next_)
    delay = task.duration if type(task).type_name == "Sleep" else task.delay
    wait = builder.names.claim(f"{task.id}.wait")
    builder.add(wait, WaitState(seconds=_wait_seconds(delay), next=frame.end))
    frame.emit_end()
    return frame.emit_start(wait)


def lower_pause(builder: Builder, task: Any, scope: Scope, next_: str | None) -> str:
    if task.delay is not None:
        return lower_sleep(builder, task, scope, next_)
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


def timeout_seconds_of(value: timedelta | None) -> int | None:
    return None if value is None else max(1, math.ceil(value.total_seconds()))


def lower_subflow(builder: Builder, task: Any, scope: Scope, next_: str | None) -> str:
    frame = Flowable(builder, task, scope, next_)
    call = builder.names.claim(f"{task.id}.execution")
    builder.add(
        call,
        TaskState(
            resource=START_EXECUTION_SYNC if task.wait else START_EXECUTION,
            parameters={
                "StateMachineArn": state_machine_placeholder(task.namespace, task.flow_id),
                "Name.$": "$.eval.result.name",
                "Input.$": "$.eval.result.input",
            },
            result_path=DISCARD,
            retry=[PLATFORM_RETRIER],
            catch=_outer_catch(builder, frame),
            next=frame.end,
        ),
    )
    frame.emit_end()
    return frame.emit_start(call)


def lower_wait_for(builder: Builder, task: Any, scope: Scope, next_: str | None) -> str:
    frame = Flowable(builder, task, scope, next_)
    slot = f"$.loop{builder.next_id()}"
    check = builder.names.claim(f"{task.id}.check")
    again = builder.names.claim(f"{task.id}.again")
    wait = builder.names.claim(f"{task.id}.interval")
    loop_scope = Scope(scope_path=f"{slot}.result.scope", on_error=frame.fail, on_exit=scope.on_exit)
    body = lower_block(builder, task.tasks, loop_scope, check) or check
    builder.runner_call(
        check,
        "check",
        task.id,
        frame.body_scope,
        again,
        extra={"loop.$": f"{slot}.result"},
        result_path=slot,
        select_result=True,
        comment="evaluates the condition and the loop's bounds",
    )
    builder.add(
        again,
        ChoiceState(
            choices=[{"Variable": f"{slot}.result.done", "BooleanEquals": True, "Next": frame.end}],
            default=wait,
        ),
    )
    builder.add(wait, WaitState(seconds_path=f"{slot}.result.interval", next=body))
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


def lower_dag(builder: Builder, task: Any, scope: Scope, next_: str | None) -> str:
    frame = Flowable(builder, task, scope, next_)
    branches = []
    for node in task.tasks:
        if node.task.disabled:
            continue
        branch = builder.branch()
        entry = lower_block(branch, [node.task], Scope(scope_path=scope.scope_path), None)
        if entry is None:
            continue
        if node.depends_on:
            # Waits (without polling) until the runner reports that every dependency has finished.
            gate = builder.names.claim(f"{node.task.id}.dependencies")
            branch.runner_call(
                gate,
                "await",
                node.task.id,
                Scope(scope_path=scope.scope_path),
                entry,
                callback=True,
                comment="waits for: " + ", ".join(node.depends_on),
            )
            entry = gate
        branches.append(branch.definition(entry))
    name = builder.names.claim(f"{task.id}.parallel")
    builder.add(
        name,
        ParallelState(
            branches=branches, result_path=DISCARD, catch=_outer_catch(builder, frame), next=frame.end
        ),
    )
    frame.emit_end()
    return frame.emit_start(name)


LOWERERS: dict[str, Lowerer] = {
    "Sequential": lower_sequential,
    "AllowFailure": lower_allow_failure,
    "Parallel": lower_parallel,
    "ForEach": lower_each,
    "EachSequential": lower_each,
    "EachParallel": lower_each,
    "If": lower_if,
    "Switch": lower_switch,
    "Sleep": lower_sleep,
    "Pause": lower_pause,
    "Subflow": lower_subflow,
    "WaitFor": lower_wait_for,
    "Dag": lower_dag,
}

__all__ = ["LOWERERS", "lower_block", "lower_task", "state_machine_placeholder"]
