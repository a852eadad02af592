"""What the console's API needs from a platform: its stores and its execution-control actions.

The API (`stratoflow.console.app`) reads the history through the `ExecutionStore` and the
`BlobStore` ports and acts through `ConsoleActions`; it never imports an adapter. The local platform
(`stratoflow.console.local`) and the deployed stack (DynamoDB, S3 and Step Functions, in the cloud
package) each implement this protocol, so one API serves both places.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from stratoflow.domain import Execution
from stratoflow.store.base import BlobStore, ExecutionStore


@dataclass(frozen=True)
class UploadedFile:
    """A FILE input sent with a start: its name as the caller gave it, and its bytes."""

    name: str
    data: bytes


@dataclass(frozen=True)
class StartRequest:
    """A start from the console: raw input values (typed by admission, as the CLI's `--input`),
    uploaded files for FILE inputs, and labels."""

    namespace: str
    flow_id: str
    inputs: Mapping[str, Any] = field(default_factory=dict)
    files: Mapping[str, UploadedFile] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class ConsoleActions(Protocol):
    """Execution control as the console offers it; each raises the library's errors (NotFoundError,
    InputError, ControlError, FlowValidationError...), which the API turns into 4xx answers."""

    def start(self, request: StartRequest) -> Execution:
        """Admit an execution of the live revision (inputs validated as by `strato run`) and run it
        when admission lets it; returns the admitted execution (QUEUED when its flow's limit is met)."""

    def kill(self, execution_id: str) -> list[str]:
        """Kill an execution and its subflows; returns the ids asked to stop."""

    def restart(self, execution_id: str) -> Execution:
        """Continue a FAILED or KILLED execution from its failed task runs."""

    def replay(self, execution_id: str, from_task_id: str) -> Execution:
        """A new execution of the same revision that starts at `from_task_id`."""

    def resume(self, execution_id: str, inputs: Mapping[str, Any]) -> Execution:
        """Resume a paused execution with its `onResume` inputs (typed and validated)."""


@runtime_checkable
class ConsoleBackend(Protocol):
    """Everything the console's API reads and does."""

    @property
    def store(self) -> ExecutionStore: ...

    @property
    def blobs(self) -> BlobStore: ...

    @property
    def actions(self) -> ConsoleActions: ...
