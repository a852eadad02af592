"""The frame every flowable task is lowered in, so that its task run is recorded like Kestra's:

<id>            runner "start": creates the parent task run, evaluates what the structure needs
                (ForEach values, If condition, Switch value, runIf) and returns it
<id>.choice     (If/Switch, or when runIf / allowFailure can skip the body)
...body...      children, whose failures go to <id>.fail
<id>.end        runner "end": the parent task run ends SUCCESS or WARNING (from its children)
<id>.fail       runner "end" with the error: FAILED (re-raised to the enclosing scope) or WARNING
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import timedelta

from stratoflow.compiler.asl import AslJson, Catcher, ChoiceState
from stratoflow.compiler.builder import Builder, Scope
from stratoflow.flow.task import Task
from stratoflow.flow.task_lists import FlowableTask

SKIP_RULE_VARIABLE = "$.eval.result.skip"


def timeout_seconds_of(value: timedelta | None) -> int | None:
    return None if value is None else max(1, math.ceil(value.total_seconds()))


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
        # Sleep, Pause, Subflow and the native AWS tasks use the frame too, without an `errors` list.
        handlers = [t for t in task.errors if not t.disabled] if isinstance(task, FlowableTask) else []
        if handlers:
            # The body's failures run `errors` first; a failure of those goes straight to the fail call.
            entry = builder.lower_block(handlers, self.body_scope, self.fail)
            self.body_scope = scope.with_error(entry)

    def emit_start(
        self,
        body_entry: str,
        *,
        choices: Sequence[Mapping[str, object]] = (),
        extra: AslJson | None = None,
    ) -> str:
        """The start call, then a Choice that routes to the body (or a branch, or past a skip)."""
        rules = [dict(rule) for rule in choices]
        # A skip answer carries no branch, loop or dispatch fields, so whenever rules read those, the
        # skip rule comes first: a finished run copied by a replay (or restart) skips like a runIf.
        if self.can_skip or rules:
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
            extra=extra,
            result_path="$.eval",
            select_result=True,
            comment=f"{type(self.task).type_name}: start",
        )
        return self.start

    def next_or_end(self) -> str:
        """Where a skip goes: the next state, or (at the very end of a branch) the end call itself."""
        return self.next if self.next is not None else self.end

    def catchers(self) -> list[Catcher] | None:
        """The Catch of a state that runs the body as one (Parallel, Map, a child execution)."""
        return self.builder.catchers(self.body_scope)

    def emit_end(self, extra: AslJson | None = None) -> None:
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
