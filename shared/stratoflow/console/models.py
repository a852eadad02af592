"""The console API's documents: pydantic models, so the OpenAPI document describes every answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class Document(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True)


class Problem(Document):
    """Every error answer: what went wrong, in one line."""

    message: str


class Namespaces(Document):
    namespaces: list[str]


class FlowSummary(Document):
    namespace: str
    flow_id: str
    revision: int | None = Field(description="the live revision; None when the flow was never valid")
    latest_revision: int
    status: str = Field(description="DEPLOYED, INVALID (its last upload) or DELETED")
    errors: list[str] = Field(default_factory=list)
    description: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    trigger_types: list[str] = Field(default_factory=list)
    updated: datetime


class FlowList(Document):
    flows: list[FlowSummary]


class InputSpec(Document):
    """A typed input, as the start form shows it."""

    id: str
    type: str
    required: bool
    default: Any = None
    description: str | None = None
    display_name: str | None = None
    values: list[str] | None = Field(default=None, description="the choices of SELECT and MULTISELECT")
    item_type: str | None = Field(default=None, description="ARRAY items' type")


class FireTime(Document):
    local: str
    utc: str | None
    dst: Literal["skipped", "repeated"] | None = Field(
        description="skipped: DST jumps over this local time (no run); repeated: it runs once (first)"
    )


class TriggerInfo(Document):
    id: str
    type: str
    disabled: bool
    cron: str | None = None
    timezone: str | None = None
    next_fires: list[FireTime] = Field(default_factory=list)
    scheduler_error: str | None = None


class TaskInfo(Document):
    id: str
    type: str
    on_resume: list[InputSpec] = Field(default_factory=list, description="a Pause's onResume inputs")


class FlowDetail(FlowSummary):
    source: str
    inputs: list[InputSpec]
    triggers: list[TriggerInfo]
    tasks: list[TaskInfo] = Field(description="every task, nested ones included, depth-first")


class RevisionInfo(Document):
    revision: int
    status: str
    created: datetime
    source_hash: str


class RevisionList(Document):
    revisions: list[RevisionInfo]


class RevisionSource(RevisionInfo):
    source: str


class TopologyNode(Document):
    id: str
    type: str
    kind: Literal["task", "group", "start", "end", "failure"]
    group: str | None = Field(default=None, description="the flowable group this node is drawn in")


class TopologyEdge(Document):
    source: str
    target: str
    kind: Literal["next", "branch", "error", "finally"]
    label: str | None = None


class Topology(Document):
    nodes: list[TopologyNode]
    edges: list[TopologyEdge]


class ValidateRequest(Document):
    source: str = Field(max_length=1_000_000)
    file: str = "flow.yaml"


class DiagnosticView(Document):
    line: int
    column: int
    path: str
    message: str
    severity: Literal["error", "warning"]
    text: str = Field(description="the located one-line form: FILE:LINE:COL: path: message")


class ValidateResponse(Document):
    valid: bool
    diagnostics: list[DiagnosticView]


class ExecutionSummary(Document):
    id: str
    namespace: str
    flow_id: str
    revision: int
    state: str
    labels: dict[str, str]
    start_date: datetime
    end_date: datetime | None
    duration_ms: int | None
    error: str | None
    parent_execution_id: str | None
    original_execution_id: str | None


class ExecutionPage(Document):
    executions: list[ExecutionSummary]
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page; None at the end")


class StateChangeView(Document):
    state: str
    date: datetime


class ExecutionDetail(ExecutionSummary):
    inputs: dict[str, Any] = Field(description="SECRET inputs masked")
    outputs: dict[str, Any]
    trigger: dict[str, Any] | None
    restarts: int
    state_history: list[StateChangeView]
    children: list[str] = Field(description="executions its Subflow tasks started")
    correlation_id: str = Field(
        description="`system.correlationId`: the root of its chain (list it by this label)"
    )


class AttemptView(Document):
    state: str
    start_date: datetime
    end_date: datetime | None
    error: str | None


class TaskRunView(Document):
    id: str
    task_id: str
    task_type: str
    parent_task_run_id: str | None
    value: str | None = Field(description="the loop value, inside ForEach")
    iteration: int | None
    scope_values: list[str]
    state: str
    attempts: list[AttemptView]
    outputs: dict[str, Any]
    error: str | None
    start_date: datetime
    end_date: datetime | None


class TaskRunList(Document):
    task_runs: list[TaskRunView]


class LogLine(Document):
    cursor: str = Field(description="pass as `after` to read the lines after this one")
    task_id: str | None
    task_run_id: str | None
    attempt: int | None
    level: str
    message: str
    timestamp: datetime


class LogPage(Document):
    logs: list[LogLine]
    next_cursor: str | None = Field(description="the cursor of the last line read (also when filtered out)")


class StoredFile(Document):
    uri: str
    name: str
    size: int | None = None


class FileList(Document):
    files: list[StoredFile]


class StartJson(Document):
    inputs: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)


class ReplayRequest(Document):
    from_task: str = Field(min_length=1)


class ResumeRequest(Document):
    inputs: dict[str, Any] = Field(default_factory=dict)


class KillResponse(Document):
    killed: list[str]
