"""Lowering of the flowables whose body is their child tasks: blocks (Sequential, AllowFailure),
branches (Parallel, If, Switch, Dag) and loops (ForEach, EachSequential, EachParallel)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stratoflow.compiler.asl import (
    DATA_BUCKET,
    DISCARD,
    READ_OBJECT,
    WRITE_OBJECTS,
    ChoiceState,
    MapState,
    ParallelState,
)
from stratoflow.compiler.budget import iteration_events
from stratoflow.compiler.builder import Builder, Scope
from stratoflow.compiler.frame import Flowable
from stratoflow.compiler.timeouts import race, timed_block
from stratoflow.flow.task import Task
from stratoflow.storage_layout import map_results_prefix

if TYPE_CHECKING:
    # Types only: importing the task families would build their models at every compile.
    from stratoflow.tasks.flowable import (
        AllowFailure,
        Dag,
        EachParallel,
        EachSequential,
        ForEach,
        If,
        Parallel,
        Sequential,
        Switch,
    )
    from stratoflow.tasks.working_directory import WorkingDirectory

    Loop = ForEach | EachSequential | EachParallel


def lower_sequential(
    builder: Builder, task: Sequential | WorkingDirectory, scope: Scope, next_: str | None
) -> str:
    frame = Flowable(builder, task, scope, next_)
    body = timed_block(frame, task.tasks)
    frame.emit_end()
    return frame.emit_start(body)


def lower_allow_failure(builder: Builder, task: AllowFailure, scope: Scope, next_: str | None) -> str:
    frame = Flowable(builder, task, scope, next_)
    body = timed_block(frame, task.tasks)
    frame.emit_end()
    return frame.emit_start(body)


# What a Parallel's branch ends with: the gathered result of all branches is held to the 256 KiB
# payload limit even when ResultPath discards it, and a whole state (loop values in its scope) per
# branch passes it at a few dozen branches. The records hold what the branches did.
BRANCH_END = "$.execution.id"


def _branch_definition(builder: Builder, tasks: list[Task], scope: Scope) -> dict[str, Any] | None:
    branch = builder.branch()
    entry = branch.lower_block(tasks, Scope(scope_path=scope.scope_path), None)
    if entry is None:
        return None
    branch.end_with(BRANCH_END)
    return branch.definition(entry)


def lower_parallel(builder: Builder, task: Parallel, scope: Scope, next_: str | None) -> str:
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
                catch=frame.catchers(),
                next=frame.end,
            ),
        )
    else:
        # ASL Parallel has no concurrency limit: a Map over branch numbers does, with a Choice per branch.
        processor = builder.branch()
        dispatch = builder.names.claim(f"{task.id}.branch")
        entries = [processor.lower_block([child], Scope(scope_path="$.scope"), None) for child in children]
        rules = [
            {"Variable": "$.branch", "NumericEquals": index, "Next": entry}
            for index, entry in enumerate(entries[:-1])
        ]
        # The last branch is the Default: a Choice always needs one (moto fails without it).
        processor.add(dispatch, ChoiceState(choices=rules, default=entries[-1]))
        processor.end_with("$.branch")
        item_selector = {
            "execution.$": "$.execution",
            "scope.$": scope.scope_path,
            "branch.$": "$$.Map.Item.Value",
        }
        name = _inline_map(frame, "$.eval.result.branches", item_selector, processor, dispatch, concurrent)
    frame.emit_end()
    return frame.emit_start(race(frame, name))


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
            catch=frame.catchers(),
            next=frame.end,
        ),
    )
    return name


def lower_each(builder: Builder, task: Loop, scope: Scope, next_: str | None) -> str:
    frame = Flowable(builder, task, scope, next_)
    max_concurrency = task.iterations_at_once
    processor = _loop_body(builder, task)
    if processor is None:
        frame.emit_end()
        return frame.emit_start(frame.end)
    body, entry = processor
    item_selector = {
        "execution.$": "$.execution",
        "scope": {
            "taskId": task.id,
            "value.$": "$$.Map.Item.Value",
            "iteration.$": "$$.Map.Item.Index",
            # Set when the values are too large for the payload: then `value` is an index into them.
            "valuesUri.$": "$.eval.result.valuesUri",
            # Iterations of this loop and the inline loops around it that share one history.
            "inlineItems.$": "$.eval.result.inlineItems",
            "parent.$": scope.scope_path,
        },
    }
    inline = _inline_map(frame, "$.eval.result.values", item_selector, body, entry, max_concurrency)
    # The same body again, as child executions: the start call picks it when the loop's iterations
    # would spend too much of one execution's 25,000 history events (stratoflow.execution.runner.flowables).
    warnings = len(builder.warnings)
    children, child_entry = _loop_body(builder, task) or (body, entry)
    del builder.warnings[warnings:]  # the second lowering repeats the first one's warnings
    distributed = _distributed_map(frame, item_selector, children, child_entry, max_concurrency)
    frame.emit_end()
    children_entry = race(frame, distributed)
    rules = [{"Variable": "$.eval.result.distributed", "BooleanEquals": True, "Next": children_entry}]
    per_item = iteration_events(body.definition(entry))
    return frame.emit_start(race(frame, inline), choices=rules, extra={"eventsPerItem": per_item})


def _loop_body(builder: Builder, task: Loop) -> tuple[Builder, str] | None:
    """A loop's tasks as an item processor whose iterations end with their index only."""
    processor = builder.branch()
    entry = processor.lower_block(task.tasks, Scope(scope_path="$.scope"), None)
    if entry is None:
        return None
    processor.end_with("$.scope.iteration")
    return processor, entry


def _distributed_map(
    frame: Flowable, item_selector: dict[str, Any], processor: Builder, start: str, max_concurrency: int
) -> str:
    """A loop whose iterations are child executions: values read from storage, results written there."""
    name = frame.builder.names.claim(f"{frame.task.id}.children")
    frame.builder.add(
        name,
        MapState(
            item_reader={
                "Resource": READ_OBJECT,
                "ReaderConfig": {"InputType": "JSON"},
                "Parameters": {"Bucket.$": "$.eval.result.items.bucket", "Key.$": "$.eval.result.items.key"},
            },
            item_selector=item_selector,
            item_processor={
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                **processor.definition(start),
            },
            max_concurrency=max_concurrency,
            # The iterations' indexes would pass 256 KiB past ~40,000 items: written to storage instead
            # (static parameters: moto reads paths here from the results, AWS from the state input).
            result_writer={
                "Resource": WRITE_OBJECTS,
                "Parameters": {"Bucket": DATA_BUCKET, "Prefix": map_results_prefix(frame.builder.namespace)},
            },
            result_path=DISCARD,
            catch=frame.catchers(),
            next=frame.end,
        ),
    )
    return name


def lower_if(builder: Builder, task: If, scope: Scope, next_: str | None) -> str:
    frame = Flowable(builder, task, scope, next_)
    then_entry = timed_block(frame, task.then)
    else_entry = timed_block(frame, task.else_ or [])
    frame.emit_end()
    rules = [{"Variable": "$.eval.result.branch", "StringEquals": "then", "Next": then_entry}]
    return frame.emit_start(else_entry, choices=rules)


def lower_switch(builder: Builder, task: Switch, scope: Scope, next_: str | None) -> str:
    frame = Flowable(builder, task, scope, next_)
    rules = []
    for index, tasks in enumerate(task.cases.values()):
        entry = timed_block(frame, tasks)
        rules.append({"Variable": "$.eval.result.branch", "StringEquals": f"case{index}", "Next": entry})
    default_entry = timed_block(frame, task.defaults or [])
    frame.emit_end()
    return frame.emit_start(default_entry, choices=rules)


def lower_dag(builder: Builder, task: Dag, scope: Scope, next_: str | None) -> str:
    frame = Flowable(builder, task, scope, next_)
    branches = []
    for node in task.tasks:
        if node.task.disabled:
            continue
        branch = builder.branch()
        entry = branch.lower_block([node.task], Scope(scope_path=scope.scope_path), None)
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
        branch.end_with(BRANCH_END)
        branches.append(branch.definition(entry))
    name = builder.names.claim(f"{task.id}.parallel")
    builder.add(
        name,
        ParallelState(branches=branches, result_path=DISCARD, catch=frame.catchers(), next=frame.end),
    )
    frame.emit_end()
    return frame.emit_start(race(frame, name))
