"""Leaf tasks that compile to native Step Functions states instead of a task-runner call:
waiting, pausing, and starting another flow."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, AliasChoices, BeforeValidator, Field, model_validator

from stratoflow.flow.fields import Duration, FlowId, LabelMap, Namespace, StrictModel, located_error
from stratoflow.flow.inputs import InputItem
from stratoflow.flow.registry import kestra_aliases, register
from stratoflow.flow.task import Task
from stratoflow.flow.task_lists import FlowableTask
from stratoflow.tasks.errors import TaskFailed
from stratoflow.tasks.storage import parse_size


def _an_expression(text: str) -> str:
    if "{{" not in text:
        raise ValueError(f"'{text}' is not an ISO-8601 duration (for example PT30S, PT5M) nor an expression")
    return text


def _no_expression(value: Any) -> Any:
    if isinstance(value, str) and "{{" in value:
        raise ValueError(
            "an expression here may use only flow.* (the child flow is fixed when this flow is deployed: "
            "its state machine is named in this one's), and must give a valid id"
        )
    return value


# A duration known only when the task starts (`{{ inputs.wait }}`): rendered then, to ISO-8601 text.
DurationExpression = Annotated[str, AfterValidator(_an_expression)]


@register
class Sleep(Task):
    """Wait for `duration`."""

    type_name: ClassVar[str] = "Sleep"
    compiled_as: ClassVar[str] = "Sleep"
    aliases: ClassVar[tuple[str, ...]] = kestra_aliases("flow", "Sleep", "flows")

    duration: Duration


@register
class Pause(Task):
    """Pause the execution: for `delay` (it resumes by itself), or until resumed, failing when
    `timeout` expires. `onResume` declares the typed inputs a resume may carry."""

    type_name: ClassVar[str] = "Pause"
    compiled_as: ClassVar[str] = "Pause"
    aliases: ClassVar[tuple[str, ...]] = kestra_aliases("flow", "Pause", "flows")
    kestra_gaps: ClassVar[str] = "WARN, FAIL and CANCEL need a fixed `pauseDuration`"

    # Kestra 1.x's `pauseDuration` (a duration, or an expression giving one, rendered when it starts).
    delay: Duration | DurationExpression | None = Field(
        default=None, validation_alias=AliasChoices("delay", "pauseDuration")
    )
    # What happens when `pauseDuration` has passed: RESUME goes on; FAIL fails the task (as `timeout`);
    # WARN waits for a resume the same way, and its timeout ends the task WARNING (the flow goes on);
    # CANCEL ends the task and the execution CANCELLED (no `errors` run, as for an Exit).
    behavior: Literal["RESUME", "FAIL", "WARN", "CANCEL"] = "RESUME"
    on_resume: list[InputItem] = Field(default_factory=list)

    @model_validator(mode="after")
    def _delay_or_timeout(self) -> Pause:
        if self.behavior in ("FAIL", "WARN", "CANCEL"):
            if not isinstance(self.delay, timedelta) or self.timeout is not None:
                raise located_error(
                    ("behavior",),
                    f"behavior {self.behavior} needs 'pauseDuration' as a fixed duration (PT1H), "
                    "without 'timeout'",
                    self.behavior,
                )
            # Waiting for a resume that fails when the duration has passed is what `timeout` does
            # (WARN: the end call turns that timeout into WARNING, CANCEL into the execution's end
            # CANCELLED, see runner.flowables.action_end).
            self.timeout, self.delay = self.delay, None
        if self.delay is not None and self.timeout is not None:
            raise ValueError("set 'delay' (resume by itself) or 'timeout' (wait for a resume), not both")
        if self.delay is not None and self.on_resume:
            raise ValueError("'onResume' needs a manual resume: it cannot be used with 'delay'")
        return self


@register
class Subflow(Task):
    """Start an execution of another flow; outputs `executionId`, `state` and `outputs`."""

    type_name: ClassVar[str] = "Subflow"
    compiled_as: ClassVar[str] = "Subflow"
    aliases: ClassVar[tuple[str, ...]] = (
        *kestra_aliases("flow", "Subflow", "flows"),
        "io.kestra.core.tasks.flows.Flow",
    )

    foreign_outputs: ClassVar[tuple[str, ...]] = ("outputs",)

    # Expressions over `flow.*` (`{{ flow.namespace }}`) are rendered when the flow is loaded (see
    # `stratoflow.flow.rules.render_static_subflows`): the child's state machine is fixed at deploy time.
    namespace: Annotated[Namespace, BeforeValidator(_no_expression)]
    flow_id: Annotated[FlowId, BeforeValidator(_no_expression)]
    inputs: dict[str, Any] = Field(default_factory=dict)
    # Kestra's `outputs` of a Subflow task: expressions rendered when the child ends, in the child's
    # context (`outputs.<id>` names the child's tasks); read as `outputs.<this task>.outputs.<key>`.
    outputs: dict[str, Any] = Field(default_factory=dict)
    labels: LabelMap = Field(default_factory=dict)
    wait: bool = True
    transmit_failed: bool = True
    inherit_labels: bool = False
    revision: int | None = Field(default=None, ge=1)
    # When the parent is restarted and this task runs again: a new child execution, or (RETRY_FAILED)
    # a restart of the failed child, which keeps its successful task runs.
    restart_behavior: Literal["NEW_EXECUTION", "RETRY_FAILED"] = "NEW_EXECUTION"

    @model_validator(mode="after")
    def _transmit_needs_wait(self) -> Subflow:
        if self.transmit_failed and not self.wait and "transmit_failed" in self.model_fields_set:
            raise ValueError(
                "'transmitFailed' needs 'wait: true': a subflow that is not waited for cannot fail the parent"
            )
        if self.outputs and not self.wait:
            raise ValueError("'outputs' needs 'wait: true': they are rendered when the child ends")
        return self


class ItemBatch(StrictModel):
    """How ForEachItem cuts its file into batches: `rows` lines each (Kestra's default: 1), up to
    `bytes` each, or `partitions` batches; lines end with `separator` and are never cut."""

    rows: int | None = Field(default=None, ge=1)
    bytes: str | None = None
    partitions: int | None = Field(default=None, ge=1)
    separator: str = Field(default="\n", min_length=1)
    regex_pattern: Any = None

    @model_validator(mode="after")
    def _one_rule(self) -> ItemBatch:
        if self.regex_pattern is not None:
            raise located_error(
                ("regexPattern",),
                "regexPattern is not supported: batch by 'rows', 'bytes' or 'partitions'",
                self.regex_pattern,
            )
        if sum(rule is not None for rule in (self.rows, self.bytes, self.partitions)) > 1:
            raise ValueError("set one of 'rows', 'bytes' and 'partitions'")
        if self.bytes is not None:
            try:
                parse_size(self.bytes)
            except TaskFailed as error:
                raise located_error(("bytes",), error.message, self.bytes) from None
        elif self.rows is None and self.partitions is None:
            self.rows = 1  # Kestra's default: one line per batch
        return self

    @property
    def byte_limit(self) -> int | None:
        """`bytes` as a number of bytes (None when batches are cut by rows or partitions)."""
        return None if self.bytes is None else parse_size(self.bytes)


@register
class ForEachItem(FlowableTask):
    """Cut the file `items` into batches of lines and start an execution of the flow `flowId` for
    each batch (`{{ taskrun.items }}` is the batch file, `{{ taskrun.iteration }}` its number);
    outputs `numberOfBatches`, `iterations` (child executions by state) and `uri` (their outputs)."""

    type_name: ClassVar[str] = "ForEachItem"
    compiled_as: ClassVar[str] = "ForEachItem"
    aliases: ClassVar[tuple[str, ...]] = kestra_aliases("flow", "ForEachItem", "flows")
    kestra_gaps: ClassVar[str] = (
        "`partitions` cuts the file into that many runs of consecutive lines (Kestra deals lines round "
        "robin); `scheduleDate`, `batch.regexPattern` and `timeout` are refused"
    )
    # The sub-tasks Kestra shows for it, whose outputs flows read (`outputs.<id>_items.iterations`).
    SUB_TASKS: ClassVar[tuple[str, ...]] = ("_split", "_items", "_merge")

    items: str = Field(min_length=1)
    batch: ItemBatch = Field(default_factory=ItemBatch)
    namespace: Annotated[Namespace, BeforeValidator(_no_expression)]
    flow_id: Annotated[FlowId, BeforeValidator(_no_expression)]
    revision: int | None = Field(default=None, ge=1)
    inputs: dict[str, Any] = Field(default_factory=dict)
    labels: LabelMap = Field(default_factory=dict)
    wait: bool = True
    transmit_failed: bool = True
    inherit_labels: bool = False
    schedule_date: Any = None
    # Kestra's default for ForEachItem: a restarted parent restarts the batches' failed executions.
    restart_behavior: Literal["NEW_EXECUTION", "RETRY_FAILED"] = "RETRY_FAILED"

    @model_validator(mode="after")
    def _supported(self) -> ForEachItem:
        if self.schedule_date is not None:
            raise located_error(
                ("scheduleDate",),
                "scheduleDate is not supported: the batches' executions start when the task runs",
                self.schedule_date,
            )
        if self.transmit_failed and not self.wait and "transmit_failed" in self.model_fields_set:
            raise ValueError(
                "'transmitFailed' needs 'wait: true': executions that are not waited for cannot fail the parent"
            )
        return self

    def body_lists(self) -> list[tuple[str, list[Task]]]:
        return []
