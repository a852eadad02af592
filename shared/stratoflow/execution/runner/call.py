"""What an action of the task runner is handed: one call on one task instance, and the runner behind it.

The runner (runner.py) dispatches each call to its action (flowables.py, subflows.py) and the actions
call back into the call (save, fail, finished_ok, ...). The shapes they rely on live here, below both,
as Protocols: the actions never import the runner that dispatches to them, so no module circle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from pydantic import JsonValue

from stratoflow.domain import Execution, TaskRun
from stratoflow.execution.ids import Scope
from stratoflow.execution.runner.context import TaskRunContext
from stratoflow.execution.secrets import SecretSource
from stratoflow.flow import Flow
from stratoflow.flow.run_context import ScriptSandbox
from stratoflow.flow.task import Task
from stratoflow.states import State
from stratoflow.store.base import BlobStore, ExecutionStore


class TaskCallbacks(Protocol):
    """Completes a Step Functions state waiting on a task token (SendTaskSuccess)."""

    def send_success(self, token: str, output: JsonValue) -> None: ...


class Runner(Protocol):
    """The parts of the task runner that an action reads: its stores, secrets and hooks."""

    @property
    def blobs(self) -> BlobStore: ...

    @property
    def callbacks(self) -> TaskCallbacks | None: ...

    @property
    def secrets(self) -> SecretSource: ...

    @property
    def pause_hooks(self) -> list[Callable[[Execution], None]]: ...


class Call(Protocol):
    """One action on one task instance: its task run, its context, and how it ends (runner.Call)."""

    # Set while an attempt runs: its end is saved only from these states (kill_flag.ENDING_FROM).
    ending_from: frozenset[State] | None

    @property
    def runner(self) -> Runner: ...

    @property
    def flow(self) -> Flow: ...

    @property
    def execution(self) -> Execution: ...

    @property
    def task(self) -> Task: ...

    @property
    def scope(self) -> Scope: ...

    @property
    def store(self) -> ExecutionStore: ...

    @property
    def id(self) -> str: ...

    @property
    def task_run(self) -> TaskRun: ...

    def data_key(self, name: str) -> str: ...

    def save(self, **changes: object) -> TaskRun: ...

    def context(self) -> dict[str, JsonValue]: ...

    def run_context(self, attempt: int, sandbox: ScriptSandbox | None = None) -> TaskRunContext: ...

    def sandbox_folder(self, attempt: int) -> str: ...

    def should_skip(self, ctx: TaskRunContext | None = None) -> bool: ...

    def fail(self, message: str, state: State = State.FAILED) -> None: ...

    def finished_ok(self, state: State, outputs: dict[str, JsonValue] | None = None) -> State: ...

    def children_state(self) -> State: ...
