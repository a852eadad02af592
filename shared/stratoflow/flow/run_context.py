"""What a runnable task sees while it runs: the contract between task types and the task runner,
written in the language so that `RunnableTask.run` can name it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol, TypeVar, overload

from pydantic import JsonValue

from stratoflow.sandbox_call import ScriptAnswer, ScriptJob

T = TypeVar("T")


class FlowCredentials(Protocol):
    """Credentials for the AWS tasks of one flow, as boto3 client keyword arguments (in the cloud:
    `stratoflow.cloud.runtime.flow_credentials`, the flow's own role)."""

    def for_flow(self, namespace: str, flow_id: str, execution_id: str) -> dict[str, str]: ...


class ScriptSandbox(Protocol):
    """Where a script task's command runs when it must not run in the task runner: in the cloud, the
    flow's sandbox function (`stratoflow.cloud.runtime.script_sandbox`), bound to one task run. The
    answer's files are inline; it is the sandbox's word, to be checked like any input. `run` stops the
    command, raising TaskStopped, when a check the calling thread installed with
    `process.stopped_when` gives a reason, as a command run in this process would."""

    def run(self, job: ScriptJob) -> ScriptAnswer: ...


class ScriptSandboxes(Protocol):
    """Gives the sandbox of a task run's flow (the cloud's; locally there is none)."""

    def for_task_run(
        self, namespace: str, flow_id: str, execution_id: str, task_run_id: str, attempt: int
    ) -> ScriptSandbox: ...


class RunContext(Protocol):
    """Given to `RunnableTask.run`; implemented by the task runner (`stratoflow.execution.runner`)."""

    @property
    def execution_id(self) -> str: ...

    @property
    def namespace(self) -> str: ...

    @property
    def flow_id(self) -> str: ...

    @property
    def task_run_id(self) -> str: ...

    @property
    def working_dir(self) -> Path | None:
        """The directory the tasks of the enclosing `WorkingDirectory` share; None outside one."""

    @property
    def attempt(self) -> int:
        """1 for the first attempt of the task run."""

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
        """Render expressions inside `value` (strings, and strings nested in lists and dicts); extra
        `variables` (an item being filtered...) are added to the flow's. A map renders to a dict and a
        list to a list; a string to its text, or to the native value of its one `{{ expression }}`."""

    def log(self, level: str, message: str) -> None:
        """Record one log line of this task run (level: TRACE, DEBUG, INFO, WARN, ERROR)."""

    def add_labels(self, labels: dict[str, str]) -> None:
        """Add or replace labels on the execution."""

    def on_stop(self, cancel: Callable[[], None]) -> None:
        """Call `cancel` (from the runner's thread) if the runner abandons this attempt while it runs
        (its timeout, or a flowable's around it, expired): close what the task blocks on (a socket, a
        query) so that its work ends too. At once when the attempt was already abandoned."""

    def check_stopped(self) -> None:
        """Raise TaskStopped once the runner abandoned this attempt (the writes of the context do)."""

    def kv_set(
        self, key: str, value: JsonValue, namespace: str | None = None, ttl_seconds: int | None = None
    ) -> None: ...

    def kv_get(self, key: str, namespace: str | None = None) -> JsonValue:
        """The stored value, or None when the key does not exist."""

    def kv_delete(self, key: str, namespace: str | None = None) -> bool:
        """True when the key existed."""

    def put_file(self, name: str, data: bytes) -> str:
        """Store a file for this task run in blob storage; returns its storage URI."""

    def read_file(self, uri: str) -> bytes: ...

    def delete_file(self, uri: str) -> bool:
        """Delete a stored file of the flow's namespace; True when it existed. Another namespace's
        file raises ValueError."""

    def namespace_files(self) -> dict[str, str]:
        """`{path: storage URI}` of the files stored for the flow's namespace (`strato files put`)."""

    def secret(self, name: str) -> str:
        """A secret's value; registered for masking in logs and outputs."""

    def execution_summary(self, execution_id: str) -> dict[str, JsonValue] | None:
        """`id`, `namespace`, `flowId`, `state`, `startDate`, `endDate` and `taskRuns` (`taskId`,
        `state`, `error`) of this execution, of the one that triggered it, or of one in the same
        namespace; None for any other (or an unknown id)."""

    def aws_credentials(self) -> dict[str, str] | None:
        """Credentials (boto3 client keyword arguments) for AWS tasks that name none: the flow's role
        in the cloud; None for boto3's default chain."""

    def script_sandbox(self) -> ScriptSandbox | None:
        """Where script commands run: the flow's sandbox in the cloud; None runs them in this process
        (locally, as the user running `strato`)."""
