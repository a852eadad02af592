"""Step Functions status changes -> execution records, metrics and Stratoflow's "Execution Finished".

The execution id is the Step Functions execution name (admission names executions so). RUNNING
records RUNNING; SUCCEEDED, FAILED, TIMED_OUT and ABORTED finalize the execution, so one that AWS
stopped or timed out never stays RUNNING (ABORTED -> KILLED, and its running subflows are stopped), then an "Execution Finished" event
(source `stratoflow`) goes to the bus, where flow triggers' rules pick it up. It is published for
every finished status event, duplicates included (at least once); metrics count each execution once.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from stratoflow.cloud.clients import error_code
from stratoflow.cloud.event_models import StatusChange
from stratoflow.cloud.naming import AccountRegion, state_machine_name
from stratoflow.control import subflow_executions
from stratoflow.domain import Execution, TaskRun
from stratoflow.errors import ConflictError
from stratoflow.finalize import finish_execution, first_failure
from stratoflow.states import State

log = logging.getLogger("stratoflow.execution_events")

EVENT_SOURCE = "stratoflow"
FINISHED_DETAIL_TYPE = "Execution Finished"
# EventBridge takes entries up to 256 KiB: outputs larger than this travel only in the execution record.
MAX_DETAIL_BYTES = 200 * 1024
SUCCEEDED_STATES = frozenset({State.SUCCESS, State.WARNING})


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str  # a CloudWatch unit name: "Count", "Milliseconds"
    value: float


@dataclass
class StatusOutcome:
    """What one status change did: the execution as recorded, the metrics and event to emit."""

    execution: Execution | None
    flow: str = ""  # "<namespace>.<flowId>": the metrics' Flow dimension
    metrics: list[Metric] = field(default_factory=list)
    finished: dict[str, Any] | None = None  # the detail of "Execution Finished"
    note: str = ""
    # Queued executions of the flow that the freed concurrency slot let in: RUNNING, to be started.
    promoted: list[Execution] = field(default_factory=list)


def record_status_change(change: StatusChange, store: Any) -> StatusOutcome:
    """Apply a status change to the execution store (no AWS call)."""
    execution: Execution | None = store.get_execution(change.name)
    if execution is None:
        # Started outside admission (a console test run, another tool): not Stratoflow's to record.
        return StatusOutcome(None, note=f"no execution {change.name}: ignored")
    flow = f"{execution.namespace}.{execution.flow_id}"
    if change.status == "RUNNING":
        # Already RUNNING (admission recorded it), or this event arrived after the end: nothing to do.
        with contextlib.suppress(ConflictError):
            execution = store.update_execution(
                execution.id, state=State.RUNNING, expected_states={State.CREATED, State.QUEUED}
            )
        return StatusOutcome(execution, flow, [Metric("ExecutionsStarted", "Count", 1)])
    if not change.finished:
        return StatusOutcome(execution, flow, note=f"status {change.status}: nothing to record")
    was_finished = execution.state.is_terminal
    finished = finish_execution(store, execution.id, change.status, change.engine_error)
    execution = finished.execution
    runs: list[TaskRun] = store.list_task_runs(execution.id)
    metrics = [] if was_finished else _finished_metrics(execution)
    return StatusOutcome(
        execution, flow, metrics, finished_detail(execution, runs), promoted=list(finished.promoted)
    )


def _finished_metrics(execution: Execution) -> list[Metric]:
    name = "ExecutionsSucceeded" if execution.state in SUCCEEDED_STATES else "ExecutionsFailed"
    metrics = [Metric(name, "Count", 1)]
    if execution.end_date is not None:
        duration = (execution.end_date - execution.start_date).total_seconds() * 1000
        metrics.append(Metric("ExecutionDuration", "Milliseconds", max(duration, 0.0)))
    return metrics


def finished_detail(execution: Execution, runs: list[TaskRun]) -> dict[str, Any]:
    """The detail of Stratoflow's "Execution Finished" event."""
    detail: dict[str, Any] = {
        "namespace": execution.namespace,
        "flowId": execution.flow_id,
        "revision": execution.revision,
        "executionId": execution.id,
        "state": str(execution.state),
        "outputs": execution.outputs,
        "error": execution.error,
        "firstFailedTask": first_failed_task(runs),
        "labels": execution.labels,
    }
    if len(json.dumps(detail, default=str).encode()) > MAX_DETAIL_BYTES:
        detail["outputs"] = {}
        detail["outputsTruncated"] = True
    return detail


def first_failed_task(runs: list[TaskRun]) -> str | None:
    """The id of the first task (in creation order) whose failure failed the execution."""
    failed = first_failure(runs)
    return failed.task_id if failed is not None else None


class ExecutionEvents:
    """Records status changes, stops the subflows of killed executions, publishes "Execution Finished".

    The clients are injected; `stack_name` names the subflows' state machines (see cloud.naming).
    """

    def __init__(
        self,
        store: Any,
        events_client: Any,
        bus_name: str = "default",
        stepfunctions: Any = None,
        stack_name: str = "Stratoflow",
    ):
        self.store = store
        self.events = events_client
        self.bus_name = bus_name
        self.stepfunctions = stepfunctions
        self.stack_name = stack_name

    def handle(self, change: StatusChange) -> StatusOutcome:
        outcome = record_status_change(change, self.store)
        if change.status == "ABORTED" and outcome.execution is not None and self.stepfunctions is not None:
            self.stop_subflows(outcome.execution, AccountRegion.from_arn(change.execution_arn))
        if outcome.finished is not None:
            self.publish_finished(outcome.finished, change.execution_arn)
        if outcome.promoted and self.stepfunctions is not None:
            from stratoflow.cloud.starter import Starter

            starter = Starter(self.store, self.stepfunctions)
            for execution in outcome.promoted:
                starter.launch(execution, new=True)
        return outcome

    def stop_subflows(self, execution: Execution, account: AccountRegion) -> list[str]:
        """A killed execution's running subflows are stopped too (their own events then record them)."""
        stopped = []
        for child_id in subflow_executions(self.store, execution.id):
            child: Execution | None = self.store.get_execution(child_id)
            if child is None or child.state.is_terminal:
                continue
            name = state_machine_name(self.stack_name, child.namespace, child.flow_id)
            try:
                self.stepfunctions.stop_execution(
                    executionArn=account.execution_arn(name, child_id),
                    error="ParentKilled",
                    cause=f"parent execution {execution.id} was stopped",
                )
            except Exception as error:
                if error_code(error) != "ExecutionDoesNotExist":
                    raise
                continue
            stopped.append(child_id)
        return stopped

    def publish_finished(self, detail: dict[str, Any], execution_arn: str) -> None:
        response = self.events.put_events(
            Entries=[
                {
                    "Source": EVENT_SOURCE,
                    "DetailType": FINISHED_DETAIL_TYPE,
                    "Detail": json.dumps(detail, default=str),
                    "Resources": [execution_arn],
                    "EventBusName": self.bus_name,
                }
            ]
        )
        if response.get("FailedEntryCount"):
            # Raise so that Lambda retries the status event (finalizing again is a no-op).
            entry = response["Entries"][0]
            raise RuntimeError(
                f"EventBridge refused the event: {entry.get('ErrorCode')} {entry.get('ErrorMessage')}"
            )
        log.info("published %s for %s", FINISHED_DETAIL_TYPE, detail["executionId"])
