"""The state-graph builder: unique state names, runner calls, catch routing, and the dispatch of
each task to its lowering through the one table it is given (`stratoflow.compiler.lowering.LOWERERS`).

A flow is lowered block by block, from the last task to the first, so that each task knows the state
that follows it. A `Scope` says where a failure inside the block goes: the `Next` of a Catch, or
nowhere (the error propagates out of the enclosing Parallel branch or Map iteration, whose own Catch
takes it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from pydantic import JsonValue

from stratoflow.compiler.asl import (
    DISCARD,
    LAMBDA_INVOKE,
    LAMBDA_INVOKE_CALLBACK,
    AslJson,
    Catcher,
    FailState,
    Retrier,
    State,
    StateBase,
    TaskState,
    dump_state,
)
from stratoflow.compiler.payloads import payload_template
from stratoflow.compiler.retry import PLATFORM_RETRIER
from stratoflow.errors import CompileError
from stratoflow.flow.retry import Retry
from stratoflow.flow.task import Task

TASK_RUNNER = "${TaskRunnerFunctionArn}"
MAX_STATE_NAME = 80


@dataclass(frozen=True)
class Scope:
    """Where the tasks of one block read their loop scope from, and where their failures go."""

    scope_path: str = "$.scope"
    on_error: str | None = None
    on_exit: str | None = None

    def with_error(self, on_error: str | None) -> Scope:
        return replace(self, on_error=on_error)


@dataclass
class Names:
    """State names are unique across the whole state machine (nested branches included)."""

    used: set[str] = field(default_factory=set)

    def claim(self, base: str) -> str:
        name = base if len(base) <= MAX_STATE_NAME else _shorten(base)
        candidate, n = name, 2
        while candidate in self.used:
            suffix = f"~{n}"
            candidate = name[: MAX_STATE_NAME - len(suffix)] + suffix
            n += 1
        self.used.add(candidate)
        return candidate


def _shorten(name: str) -> str:
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[: MAX_STATE_NAME - 9]}~{digest}"


class BlockSplitter(Protocol):
    """Lowers the blocks of a flow too large for one state machine (`compiler.parts.Splitter`)."""

    def lower_block(self, builder: Builder, tasks: list[Task], scope: Scope, next_: str | None) -> str | None:
        """The block's entry state: its tasks lowered here, or cut into parts started from here."""


# Lowers one task: (builder, task, scope, next state) -> the task's entry state. The task is `Any`
# because the table holds one function per task family, each typed with the classes its key names.
Lowerer = Callable[["Builder", Any, Scope, "str | None"], str]


@dataclass
class Builder:
    """Collects the states of one state machine scope (the top level, a branch or a Map processor)."""

    names: Names
    warnings: list[str]
    states: dict[str, State] = field(default_factory=dict)
    counter: list[int] = field(default_factory=lambda: [0])
    _exit: str | None = None
    # The retry policy each task's attempts follow (`Flow.effective_retry`); its own when not set.
    retry_of: Callable[[Task], Retry | None] = lambda task: task.retry
    # Task kind (`Task.compiled_as`) -> its lowering.
    lowerers: Mapping[str, Lowerer] = field(default_factory=dict)
    # Set when the flow is too large for one state machine: blocks are then cut into parts.
    splitter: BlockSplitter | None = None
    # The flow's namespace: its distributed Maps write their results under it (storage_layout).
    namespace: str = ""

    def branch(self) -> Builder:
        """A builder for a nested state machine (Parallel branch, Map processor, part) sharing the names."""
        return Builder(
            self.names,
            self.warnings,
            counter=self.counter,
            retry_of=self.retry_of,
            lowerers=self.lowerers,
            splitter=self.splitter,
            namespace=self.namespace,
        )

    def lower_task(self, task: Task, scope: Scope, next_: str | None) -> str:
        """The states of one task; returns its entry state."""
        lowerer = self.lowerers.get(type(task).compiled_as)
        if lowerer is None:
            raise CompileError(f"task '{task.id}': no lowering for task type {type(task).type_name}")
        return lowerer(self, task, scope, next_)

    def lower_block(self, tasks: list[Task], scope: Scope, next_: str | None) -> str | None:
        """Tasks that run one after another; returns the entry state (`next_` when all are disabled)."""
        live = [t for t in tasks if not t.disabled]
        if self.splitter is not None and live:
            return self.splitter.lower_block(self, live, scope, next_)
        return self.lower_inline(live, scope, next_)

    def lower_inline(self, tasks: list[Task], scope: Scope, next_: str | None) -> str | None:
        """`lower_block` in this state machine, whatever its size."""
        entry = next_
        for task in reversed([t for t in tasks if not t.disabled]):
            entry = self.lower_task(task, scope, entry)
        return entry

    def next_id(self) -> int:
        self.counter[0] += 1
        return self.counter[0]

    def add(self, name: str, state: State) -> str:
        self.states[name] = state
        return name

    def is_referenced(self, name: str) -> bool:
        """True when a state of this builder goes to `name` (Next, Default, a Choice rule or a Catch)."""
        for state in self.states.values():
            data = dump_state(state)
            if data.get("Next") == name or data.get("Default") == name:
                return True
            rules = [*_objects(data.get("Choices")), *_objects(data.get("Catch"))]
            if any(rule.get("Next") == name for rule in rules):
                return True
        return False

    def rethrow_exit(self) -> str:
        """A Fail state that re-raises ExitExecution out of this branch (created once per branch)."""
        if self._exit is None:
            self._exit = self.names.claim("exit.rethrow")
            self.add(self._exit, FailState(error="ExitExecution", cause="An Exit task ended the execution."))
        return self._exit

    def catchers(self, scope: Scope) -> list[Catcher] | None:
        if scope.on_error is None:
            return None
        on_exit = scope.on_exit or self.rethrow_exit()
        return [
            Catcher(error_equals=["ExitExecution"], next=on_exit, result_path="$.exit"),
            Catcher(error_equals=["States.ALL"], next=scope.on_error, result_path="$.error"),
        ]

    def runner_call(
        self,
        name: str,
        action: str,
        task_id: str,
        scope: Scope,
        next_: str | None,
        *,
        extra: AslJson | None = None,
        result_path: str = DISCARD,
        select_result: bool = False,
        retry: list[Retrier] | None = None,
        timeout: int | None = None,
        callback: bool = False,
        comment: str | None = None,
    ) -> str:
        """A Task state that invokes the task runner with one action for one task.

        `extra` holds more fields of the action's call (`stratoflow.runner_call`), keyed as the Payload
        writes them (`error.$` for a path): a field the call does not have is refused here.
        """
        fields: dict[str, Any] = {
            "action": action,
            "taskId": task_id,
            "execution.$": "$.execution",
            "scope.$": scope.scope_path,
        }
        if callback:
            fields["taskToken.$"] = "$$.Task.Token"
        payload = payload_template({**fields, **(extra or {})})
        state = TaskState(
            comment=comment,
            resource=LAMBDA_INVOKE_CALLBACK if callback else LAMBDA_INVOKE,
            parameters={"FunctionName": TASK_RUNNER, "Payload": payload},
            result_selector={"result.$": "$.Payload"} if select_result and not callback else None,
            result_path=result_path,
            timeout_seconds=timeout,
            retry=retry or [PLATFORM_RETRIER],
            catch=self.catchers(scope),
            next=next_,
            end=True if next_ is None else None,
        )
        return self.add(name, state)

    def end_with(self, output_path: str) -> None:
        """Make every state that ends this machine output only `output_path`.

        A Map gathers what each iteration ends with into one result, which Step Functions holds to the
        256 KiB payload limit even when ResultPath discards it: iterations that end with their whole
        payload (the loop value included) fail a loop of a few thousand items.
        """
        for name, state in self.states.items():
            if isinstance(state, StateBase) and state.end:
                self.states[name] = state.model_copy(update={"output_path": output_path})

    def definition(self, start: str, comment: str | None = None) -> AslJson:
        body: AslJson = {}
        if comment:
            body["Comment"] = comment
        body["StartAt"] = start
        body["States"] = {name: dump_state(state) for name, state in self.states.items()}
        return body


def _objects(value: JsonValue) -> list[dict[str, JsonValue]]:
    """The objects of a JSON list (a Choice state's rules, a Catch), none for anything else."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
