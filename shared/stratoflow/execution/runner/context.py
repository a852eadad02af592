"""What expressions and tasks see while a task runs: the render context and the RunContext."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, overload

from pydantic import JsonValue

from stratoflow.domain import Execution, LogEntry, TaskRun
from stratoflow.execution.ids import Scope, loop_value, scope_chain, scope_values
from stratoflow.execution.masking import mask_text, mask_value
from stratoflow.execution.runner.file_access import check_file_access
from stratoflow.execution.runner.outputs import ExecutionOutputs
from stratoflow.execution.secrets import SecretSource, SecretUnavailable
from stratoflow.expressions import render
from stratoflow.flow import Flow
from stratoflow.flow.fields import SYSTEM_LABEL_PREFIX, is_system_label
from stratoflow.flow.model import flow_variables
from stratoflow.flow.run_context import FlowCredentials, ScriptSandbox
from stratoflow.flow.task import Task
from stratoflow.namespaces import NamespaceGuard
from stratoflow.store.base import BlobStore, ExecutionStore
from stratoflow.store.namespace_files import list_namespace_files
from stratoflow.store.rules import URI_SCHEME
from stratoflow.tasks.errors import TaskFailed, TaskStopped

T = TypeVar("T")

LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")


class Labels(Mapping[str, Any]):
    """`labels` in expressions: Kestra's dotted keys read either way.

    A label key may hold dots (`system.correlationId`). `labels['system.correlationId']` reads it as
    one key, and `labels.system.correlationId` (Kestra's spelling) too: a name that is no key but
    the start of dotted keys gives the labels under it, with the prefix taken off.
    """

    def __init__(self, values: Mapping[str, str]):
        self._values = dict(values)

    def __getitem__(self, key: str) -> Any:
        if key in self._values:
            return self._values[key]
        prefix = f"{key}."
        under = {k[len(prefix) :]: v for k, v in self._values.items() if k.startswith(prefix)}
        if not under:
            raise KeyError(key)
        return Labels(under)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


log = logging.getLogger("stratoflow.execution.runner")


def _cancel(cancel: Callable[[], None]) -> None:
    try:
        cancel()
    except Exception:  # a failed cancel leaves the work abandoned only, which is what happens anyway
        log.debug("cancelling an abandoned attempt's work failed", exc_info=True)


def render_context(
    flow: Flow,
    execution: Execution,
    outputs: ExecutionOutputs,
    task: Task | None = None,
    task_run: TaskRun | None = None,
    scope: Scope = None,
) -> dict[str, JsonValue]:
    """The variables of FLOW_LANGUAGE.md, as Kestra names them."""
    context: dict[str, Any] = {
        "flow": flow_variables(flow.namespace, flow.id, execution.revision),
        "execution": {
            "id": execution.id,
            "startDate": execution.start_date.isoformat(),
            "state": str(execution.state),
            "originalId": execution.original_execution_id or execution.id,
        },
        "inputs": execution.inputs,
        "vars": flow.variables or {},
        "labels": Labels(execution.labels),
        "outputs": outputs,
    }
    if execution.trigger is not None:
        context["trigger"] = execution.trigger
    if task is not None:
        context["task"] = {"id": task.id, "type": task.type}
    if task_run is not None:
        context["taskrun"] = {
            "id": task_run.id,
            "startDate": task_run.start_date.isoformat(),
            "attemptsCount": len(task_run.attempts),
            "value": task_run.value,
            "iteration": task_run.iteration,
            "parentId": task_run.parent_task_run_id,
        }
    chain = [e for e in scope_chain(scope) if e.get("value") is not None]
    if chain:
        # Kestra's `parent` is the enclosing loop's own task run, whose value is the iteration *it* is
        # in: for nested loops, `taskrun.value` is the inner value and `parent.taskrun.value` the outer.
        values: list[str | None] = [None, *(loop_value(e["value"]) for e in chain)]
        parents = [
            {
                "taskrun": {
                    "value": values[depth],
                    "iteration": chain[depth - 1].get("iteration") if depth else None,
                },
                "taskId": chain[depth]["taskId"],
            }
            for depth in reversed(range(len(chain)))
        ]
        context["parents"] = parents
        context["parent"] = parents[0]
        context["_loop_values"] = scope_values(scope)
    return context


@dataclass
class TaskRunContext:
    """The RunContext a runnable task is given (see `stratoflow.flow.run_context`)."""

    store: ExecutionStore
    blobs: BlobStore
    execution: Execution
    task_run: TaskRun
    variables: dict[str, Any]
    attempt: int
    logs: list[LogEntry] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)
    secret_source: SecretSource | None = None
    credentials: FlowCredentials | None = None  # the flow's role in the cloud; None: boto3's default chain
    working_dir: Path | None = None  # the shared directory, inside a WorkingDirectory
    sandbox: ScriptSandbox | None = None  # where script commands run in the cloud; None: this process
    # Set once when the runner abandons the attempt (runner.abandon): why, and what cancels its work.
    _stopped: str | None = field(default=None, init=False, repr=False)
    _on_stop: list[Callable[[], None]] = field(default_factory=list, init=False, repr=False)
    _stop_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def execution_id(self) -> str:
        return self.execution.id

    @property
    def namespace(self) -> str:
        return self.execution.namespace

    @property
    def flow_id(self) -> str:
        return self.execution.flow_id

    @property
    def task_run_id(self) -> str:
        return self.task_run.id

    @overload
    def render(
        self, value: Mapping[str, object], variables: Mapping[str, object] | None = None
    ) -> dict[str, JsonValue]: ...

    @overload
    def render(
        self, value: list[T] | tuple[T, ...], variables: Mapping[str, object] | None = None
    ) -> list[JsonValue]: ...

    @overload
    def render(self, value: object, variables: Mapping[str, object] | None = None) -> JsonValue: ...

    def render(self, value: object, variables: Mapping[str, object] | None = None) -> JsonValue:
        """RunContext.render: a map renders to a dict and a list to a list (expressions.render)."""
        rendered: JsonValue = render(
            value, {**self.variables, **variables} if variables else self.variables, self
        )
        return rendered

    def log(self, level: str, message: str) -> None:
        level = level.upper()
        level = "WARN" if level == "WARNING" else level
        self.logs.append(
            LogEntry(
                execution_id=self.execution.id,
                task_run_id=self.task_run.id,
                task_id=self.task_run.task_id,
                attempt=self.attempt,
                level=level if level in LEVELS else "INFO",
                message=self.mask(message),
            )
        )

    def on_stop(self, cancel: Callable[[], None]) -> None:
        with self._stop_lock:
            stopped = self._stopped is not None
            if not stopped:
                self._on_stop.append(cancel)
        if stopped:  # registered by an abandoned attempt that runs on: cancel its new work at once
            _cancel(cancel)

    def check_stopped(self) -> None:
        reason = self._stopped
        if reason is not None:
            raise TaskStopped(f"the attempt was abandoned: {reason}")

    def stop(self, reason: str) -> None:
        """The runner abandons the attempt: cancel what the task registered, and refuse every write
        the task's thread makes from now on (its result goes nowhere; the runner recorded the end)."""
        with self._stop_lock:
            if self._stopped is not None:
                return
            self._stopped = reason
            cancels, self._on_stop = self._on_stop, []
        for cancel in cancels:
            _cancel(cancel)

    def mask(self, text: str) -> str:
        """`text` with every secret value of the execution (see `stratoflow.execution.masking`) replaced by `******`."""
        return mask_text(text, self.secrets)

    def mask_value(self, value: dict[str, JsonValue]) -> dict[str, JsonValue]:
        """`mask` applied to every string inside outputs (maps and lists, keys included)."""
        return mask_value(value, self.secrets)

    def add_labels(self, labels: dict[str, str]) -> None:
        self.check_stopped()
        forged = sorted(str(k) for k in labels if is_system_label(str(k)))
        if forged:  # a rendered key can name one even when the flow's YAML did not
            raise TaskFailed(
                f"label '{forged[0]}': labels starting with '{SYSTEM_LABEL_PREFIX}' are set by the system"
            )
        merged = {**self.execution.labels, **{str(k): self.mask(str(v)) for k, v in labels.items()}}
        self.execution = self.store.update_execution(self.execution.id, labels=merged)
        self.variables["labels"] = Labels(merged)

    @property
    def guard(self) -> NamespaceGuard:
        return NamespaceGuard(self.store, self.namespace)

    def kv_set(
        self, key: str, value: JsonValue, namespace: str | None = None, ttl_seconds: int | None = None
    ) -> None:
        self.check_stopped()
        target = self.guard.check(namespace or self.namespace, "write", f"kv key '{key}'")
        self.store.kv_set(target, key, value, ttl_seconds)

    def kv_get(self, key: str, namespace: str | None = None) -> JsonValue:
        target = self.guard.check(namespace or self.namespace, "read", f"kv key '{key}'")
        found, value = self.store.kv_get(target, key)
        return value if found else None

    def kv_delete(self, key: str, namespace: str | None = None) -> bool:
        self.check_stopped()
        target = self.guard.check(namespace or self.namespace, "write", f"kv key '{key}'")
        return self.store.kv_delete(target, key)

    def put_file(self, name: str, data: bytes) -> str:
        self.check_stopped()
        key = "/".join(
            [
                self.namespace,
                self.flow_id,
                "executions",
                self.execution.id,
                self.task_run.task_id,
                self.task_run.id,
            ]
        )
        return self.blobs.put(f"{key}/{name}", data)

    def read_file(self, uri: str) -> bytes:
        check_file_access(self.guard, self.store, self.execution, uri)
        return self.blobs.get(uri)

    def delete_file(self, uri: str) -> bool:
        self.check_stopped()
        # Stored files live under `<namespace>/`: a flow deletes only its own namespace's.
        if not uri.startswith(f"{URI_SCHEME}{self.namespace}/"):
            raise ValueError(f"{uri} is not a file of namespace '{self.namespace}'")
        existed = self.blobs.exists(uri)
        if existed:
            self.blobs.delete(uri)
        return existed

    def namespace_files(self) -> dict[str, str]:
        return list_namespace_files(self.blobs, self.namespace)

    def secret(self, name: str) -> str:
        """The secret's value from the source the runner was given (see `stratoflow.execution.secrets`); from
        now on it is masked in this task run's logs, those already written included."""
        if self.secret_source is None:
            raise SecretUnavailable(f"secret '{name}': this task run was given no secret source")
        value = self.secret_source.get(self.namespace, name)
        if value and name not in (self.execution.secret_names or []):
            self.check_stopped()
            # Recorded by name, so every later task run of the execution masks the value too.
            self.execution = self.store.update_execution(self.execution.id, secret_names=[name])
        if value and value not in self.secrets:
            self.secrets.add(value)
            self.logs[:] = [
                entry.model_copy(update={"message": self.mask(entry.message)}) for entry in self.logs
            ]
        return value

    def script_sandbox(self) -> ScriptSandbox | None:
        return self.sandbox

    def aws_credentials(self) -> dict[str, str] | None:
        return (
            None
            if self.credentials is None
            else self.credentials.for_flow(self.namespace, self.flow_id, self.execution_id)
        )

    def execution_summary(self, execution_id: str) -> dict[str, JsonValue] | None:
        found = self.store.get_execution(execution_id)
        trigger = self.execution.trigger or {}
        # Namespaces are isolated: another namespace's execution is visible only to the execution it
        # started through a flow trigger (Kestra's `executionId: "{{ trigger.executionId }}"`).
        visible = found is not None and (
            found.namespace == self.namespace or trigger.get("executionId") == found.id
        )
        if found is None or not visible:
            return None
        runs = self.store.list_task_runs(found.id)
        return {
            "id": found.id,
            "namespace": found.namespace,
            "flowId": found.flow_id,
            "state": str(found.state),
            "startDate": found.start_date.isoformat(),
            "endDate": found.end_date.isoformat() if found.end_date else None,
            "taskRuns": [
                {"taskId": r.task_id, "state": str(r.state), "error": self.mask(r.error) if r.error else None}
                for r in sorted(runs, key=lambda r: r.seq)
            ],
        }

    # RuntimeFunctions, for expressions
    def kv(self, key: str, namespace: str | None = None) -> JsonValue:
        """The value, or None when the key does not exist: `kv()` itself decides whether that is an
        error (`errorOnMissing`)."""
        return self.kv_get(key, namespace)

    def read(self, uri: str) -> str:
        return self.read_file(uri).decode()

    def error_logs(self) -> list[dict[str, JsonValue]]:
        failed = [r for r in self.store.list_task_runs(self.execution.id) if r.state == "FAILED"]
        return [{"taskId": r.task_id, "taskRunId": r.id, "message": r.error or ""} for r in failed]
