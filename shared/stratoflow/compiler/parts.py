"""Big flows: a block of tasks too large for one state machine is cut into parts, each a state machine
of its own that the block's machine starts with `states:startExecution.sync:2` (as a Subflow does).

A part is not a Subflow: it runs the same execution. It receives the whole state payload (the
execution's reference and the loop scope), so its task runs are recorded, and read (`outputs.t`), as in
one machine; its final payload becomes the caller's (OutputPath `$.Output`). How the part ended is left
in `$.partEnd`, and a Choice routes on it as one machine would have:

    <first>.part (Task: start part N, wait) ─► <first>.partEnd (Choice)
        "next"  ─► the state after the block
        "error" ─► the block's failure target (the part's Catch already wrote `$.error`)
        "exit"  ─► the block's ExitExecution target (an Exit task ran)
        "raise" ─► a Fail re-raising `$.error` (the block had no failure target: the error propagates)

Parts are wanted when one definition, measured as sent, would pass Step Functions' 1 MB, or when one
execution's history would pass the budget (`budget.machine_events`: every state once, branches
included; inline loops are held to their own 15,000 events at run time). `compiler.flow.lower_flow`
lowers a flow once as usual and, only when it does not fit, again with a `Splitter`: flows that fit
compile exactly as before.

How blocks are cut: the top-level block is cut into consecutive groups of tasks that each fit a part.
A group of one task that does not fit alone (a Parallel of long branches) has its child blocks (each
branch, a Sequential's tasks, ...) outlined into parts in turn. Parts carry no `Name`: Step Functions
names each start, so a part inside a loop or a retried branch starts again without a name clash.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stratoflow.compiler.asl import (
    START_EXECUTION_SYNC,
    ChoiceState,
    FailState,
    PassState,
    Retrier,
    TaskState,
    dump_state,
)
from stratoflow.compiler.budget import machine_events
from stratoflow.compiler.builder import Builder, Names, Scope
from stratoflow.placeholders import part_placeholder

if TYPE_CHECKING:
    from stratoflow.flow.task import Task

MAX_DEFINITION_BYTES = 1_048_576
"""Step Functions' limit on one state machine definition, as sent."""
PLACEHOLDER_ROOM = 150
"""What a `${Placeholder}` may grow to once the deployer puts an ARN in its place (a Lambda function
ARN is at most 122 characters, a state machine version ARN 149)."""
ONE_MACHINE_BYTES = 1_000_000
"""A flow whose definition, as sent, passes this is cut into parts (a margin under the limit for the
difference between the longest ARNs counted here and the deployer's own)."""
PART_BYTES = 900_000
"""A part's definition, as sent, stays under this: room for the part's own end states and for the
difference between tasks measured alone and lowered together."""
PART_EVENTS = 10_000
"""History events a part's states may add, each run once: 25,000 per execution, of which inline loops
may use 15,000 (see README "Large loops")."""
SMALL_BLOCK_BYTES = 16 * 1024
"""A block under this (and under SMALL_BLOCK_EVENTS) stays inline even where blocks are outlined: a
part's start costs more than it saves."""
SMALL_BLOCK_EVENTS = 200
PART_END = "$.partEnd"

# What Step Functions answers when it cannot start a child execution for a moment.
_START_ERRORS = [
    "StepFunctions.ExecutionLimitExceededException",
    "StepFunctions.SdkClientException",
    "StepFunctions.AWSStepFunctionsException",
]
_START_RETRIER = Retrier(
    error_equals=_START_ERRORS,
    interval_seconds=2,
    max_attempts=6,
    backoff_rate=2.0,
    max_delay_seconds=60,
    jitter_strategy="FULL",
)


@dataclass(frozen=True)
class Size:
    """A definition's (or some states') size as sent and the history events its states add once each."""

    sent: int
    events: int

    def __add__(self, other: Size) -> Size:
        return Size(self.sent + other.sent, self.events + other.events)

    def fits(self, sent: int | None = None, events: int | None = None) -> bool:
        """Within `sent` bytes and `events` (a part's budget by default)."""
        return self.sent <= (PART_BYTES if sent is None else sent) and self.events <= (
            PART_EVENTS if events is None else events
        )


def measure_definition(definition: Mapping[str, object]) -> Size:
    """The size of a definition as the deployer will send it (placeholders at their longest) and its
    events (`budget.machine_events`)."""
    text = json.dumps(definition, separators=(",", ":"))
    return Size(len(text.encode()) + text.count("${") * PLACEHOLDER_ROOM, machine_events(definition))


def fits_one_machine(definition: Mapping[str, object]) -> bool:
    """Whether a whole flow fits one state machine: then it is not cut into parts."""
    return measure_definition(definition).fits(ONE_MACHINE_BYTES, PART_EVENTS)


@dataclass
class Splitter:
    """Outlines blocks into parts while a flow is lowered; `parts[n - 1]` is part n's definition."""

    parts: list[dict[str, Any]] = field(default_factory=list)
    _depth: int = 0
    # Depths of `lower_block` calls whose blocks are outlined: 1 (the flow's main tasks) at first,
    # then the child blocks of a task too large for a part.
    _outlined: set[int] = field(default_factory=lambda: {1})

    def lower_block(self, builder: Builder, tasks: list[Task], scope: Scope, next_: str | None) -> str | None:
        self._depth += 1
        try:
            if self._depth not in self._outlined:
                return builder.lower_inline(tasks, scope, next_)
            return self._outline(builder, tasks, scope, next_)
        finally:
            self._depth -= 1

    def _outline(self, builder: Builder, tasks: list[Task], scope: Scope, next_: str | None) -> str | None:
        sizes = [_measure(builder, task, scope) for task in tasks]
        total = sum(sizes, Size(0, 0))
        if total.fits(SMALL_BLOCK_BYTES, SMALL_BLOCK_EVENTS):
            return builder.lower_inline(tasks, scope, next_)
        entry = next_
        for group in reversed(_groups(tasks, sizes)):
            if len(group) == 1 and not _measure(builder, group[0], scope).fits():
                entry = self._oversized(builder, group[0], scope, entry)
            else:
                entry = self._part(builder, group, scope, entry)
        return entry

    def _oversized(self, builder: Builder, task: Task, scope: Scope, next_: str | None) -> str | None:
        """A task too large for a part (a Parallel of long branches) stays where it is, its own blocks
        (each branch, a Sequential's tasks, ...) outlined in turn."""
        self._outlined.add(self._depth + 1)
        try:
            return builder.lower_inline([task], scope, next_)
        finally:
            self._outlined.discard(self._depth + 1)

    def _part(self, builder: Builder, tasks: list[Task], scope: Scope, next_: str | None) -> str:
        """Lower `tasks` into a new part; returns the caller's entry state (the part's start)."""
        part = builder.branch()
        first = tasks[0].id
        names = builder.names
        end = {kind: names.claim(f"{first}.part.{kind}") for kind in ("next", "error", "exit", "raise")}
        for kind, name in end.items():
            part.add(name, PassState(result=kind, result_path=PART_END, end=True))
        on_error = end["error"] if scope.on_error is not None else end["raise"]
        inner = Scope(scope_path=scope.scope_path, on_error=on_error, on_exit=end["exit"])
        start = part.lower_inline(tasks, inner, end["next"]) or end["next"]
        for name in [n for n in ("error", "exit", "raise") if not part.is_referenced(end[n])]:
            del part.states[end[name]]
        self.parts.append(part.definition(start, comment=f"part {len(self.parts) + 1}: from task {first}"))
        return self._caller(builder, first, len(self.parts), scope, next_)

    def _caller(self, builder: Builder, first: str, number: int, scope: Scope, next_: str | None) -> str:
        names = builder.names
        start = names.claim(f"{first}.part")
        route = names.claim(f"{first}.partEnd")
        builder.add(
            start,
            TaskState(
                comment=f"runs part {number} of the flow (tasks from {first}) as a child execution",
                resource=START_EXECUTION_SYNC,
                parameters={"StateMachineArn": part_placeholder(number), "Input.$": "$"},
                output_path="$.Output",
                retry=[_START_RETRIER],
                catch=builder.catchers(scope),
                next=route,
            ),
        )
        choices: list[dict[str, Any]] = []
        if scope.on_error is not None:
            choices.append({"Variable": PART_END, "StringEquals": "error", "Next": scope.on_error})
        else:
            reraise = names.claim(f"{first}.partRaise")
            builder.add(reraise, FailState(error_path="$.error.Error", cause_path="$.error.Cause"))
            choices.append({"Variable": PART_END, "StringEquals": "raise", "Next": reraise})
        on_exit = scope.on_exit or builder.rethrow_exit()
        choices.append({"Variable": PART_END, "StringEquals": "exit", "Next": on_exit})
        if next_ is None:  # the end of a branch or an iteration: a Pass, so `Builder.end_with` applies
            next_ = builder.add(names.claim(f"{first}.partDone"), PassState(end=True))
        builder.add(route, ChoiceState(choices=choices, default=next_))
        return start


def _measure(builder: Builder, task: Task, scope: Scope) -> Size:
    """The size of `task` lowered alone, in one machine (nothing outlined)."""
    scratch = Builder(
        Names(), [], retry_of=builder.retry_of, lowerers=builder.lowerers, namespace=builder.namespace
    )
    inner = Scope(scope_path=scope.scope_path, on_error="e", on_exit="x")
    scratch.lower_inline([task], inner, "n")
    states = {name: dump_state(state) for name, state in scratch.states.items()}
    return measure_definition({"States": states})


def _groups(tasks: list[Task], sizes: list[Size]) -> list[list[Task]]:
    """Consecutive groups of tasks, each within a part's budget (a task larger alone is a group alone)."""
    groups: list[list[Task]] = []
    current: list[Task] = []
    used = Size(0, 0)
    for task, size in zip(tasks, sizes, strict=True):
        if current and not (used + size).fits():
            groups.append(current)
            current, used = [], Size(0, 0)
        current.append(task)
        used = used + size
    if current:
        groups.append(current)
    return groups
