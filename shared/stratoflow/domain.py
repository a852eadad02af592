"""The records Stratoflow keeps: flows, executions, task runs and their logs.

These are the store's vocabulary: the SQLite and DynamoDB stores persist exactly these models, and
the CLI, the task runner and the engines exchange them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from stratoflow.states import State


def utcnow() -> datetime:
    return datetime.now(UTC)


class Record(BaseModel):
    """Base of stored records: camelCase on the wire (as Kestra's API), snake_case in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class FlowRecord(Record):
    """One deployed revision of a flow: its source and compiled definition."""

    namespace: str
    flow_id: str
    revision: int
    source: str
    source_hash: str
    status: str = "DEPLOYED"  # DEPLOYED | INVALID | DELETED
    errors: list[str] = Field(default_factory=list)
    definition: dict[str, Any] | None = None
    # A flow too large for one state machine: its parts' definitions (`stratoflow.compiler.parts`).
    parts: list[dict[str, Any]] = Field(default_factory=list)
    # The namespace plugin defaults it was compiled with (`flow.namespace_defaults.as_recorded`): its
    # tasks run with them, whatever the namespace sets later.
    namespace_defaults: list[dict[str, Any]] = Field(default_factory=list)
    created: datetime = Field(default_factory=utcnow)


class Execution(Record):
    id: str
    namespace: str
    flow_id: str
    revision: int
    state: State = State.CREATED
    inputs: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)
    trigger: dict[str, Any] | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    parent_execution_id: str | None = None
    original_execution_id: str | None = None  # replay/retry: the execution this one was made from
    # Times the execution was restarted; in the cloud its current Step Functions execution is the
    # restart's (see `execution.runs.run_name`).
    restarts: int = 0
    error: str | None = None
    # The state an Exit task asked the execution to end in (it wins over the engine's verdict).
    exit_state: State | None = None
    # Admitted under a flow revision with a concurrency limit, so it may hold a slot. False: its end
    # has no slot to free (and skips that write); None: unknown (not admitted), its end tries anyway.
    concurrency_limited: bool | None = None
    # Admitted under a flow revision with `sla`: its end checks them. False spares that end the read of
    # its flow; None: unknown (not admitted), the end reads the flow to know.
    has_sla: bool | None = None
    start_date: datetime = Field(default_factory=utcnow)
    end_date: datetime | None = None
    state_history: list[StateChange] = Field(default_factory=list)
    # Ids of the SECRET inputs: every view of the execution shows them masked.
    secret_inputs: list[str] | None = None
    # Names of the secrets `secret()` returned in any task run of the execution (never their values):
    # each task run resolves them again, so a value read by one task is masked in all the others.
    secret_names: list[str] | None = None


class StateChange(Record):
    state: State
    date: datetime = Field(default_factory=utcnow)


class Attempt(Record):
    state: State
    start_date: datetime = Field(default_factory=utcnow)
    end_date: datetime | None = None
    error: str | None = None


class TaskRun(Record):
    """One instance of a task in an execution: one per task, per loop iteration."""

    id: str
    execution_id: str
    task_id: str
    task_type: str = ""
    parent_task_run_id: str | None = None
    value: str | None = None  # the loop value (always a string) when inside ForEach
    iteration: int | None = None
    # Loop values of every enclosing ForEach, outermost first: addresses outputs.t[v1][v2].
    scope_values: list[str] = Field(default_factory=list)
    # Enclosing loop iterations as `loopTaskId#iteration`: with the task id, what the run's id derives from.
    scope_path: list[str] = Field(default_factory=list)
    # A loop's iterations started (ForEach: its values; WaitFor: as of its last check): its end derives
    # their task-run ids from it and reads them by key, strongly consistent. None before a loop starts.
    iterations: int | None = None
    state: State = State.CREATED
    attempts: list[Attempt] = Field(default_factory=list)
    outputs: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    # Callback token of a Step Functions state waiting on this task run (Pause, Dag dependencies).
    task_token: str | None = None
    seq: int = 0  # creation order: the store's clock at the first save, in microseconds (ties: by id)
    start_date: datetime = Field(default_factory=utcnow)
    end_date: datetime | None = None


class LogEntry(Record):
    execution_id: str
    task_run_id: str | None = None
    task_id: str | None = None
    attempt: int | None = None
    level: str = "INFO"
    message: str
    timestamp: datetime = Field(default_factory=utcnow)


Execution.model_rebuild()
