"""Step Functions status changes -> execution records, metrics and Stratoflow's "Execution Finished".

The execution id is the Step Functions execution name (admission names executions so). RUNNING
records RUNNING; SUCCEEDED, FAILED, TIMED_OUT and ABORTED finalize the execution, so one that AWS
stopped or timed out never stays RUNNING (ABORTED -> KILLED, and its running subflows are stopped), then an "Execution Finished" event
(source `stratoflow`) goes to the bus, where flow triggers' rules pick it up. It is published for
every finished status event, duplicates included (at least once); the end's metrics count each
execution once (ExecutionsStarted counts RUNNING status events: EventBridge's rare duplicate delivery
of one counts twice, as nothing tells it from the first once the starter recorded RUNNING).
A FAILED execution whose flow has a `retry` is retried (cloud.runtime.retries). A restarted execution runs
under another Step Functions name (cloud.runtime.runs): events of the run it replaced are ignored.
A flow's MAX_DURATION SLAs with behavior NONE get their timers when it runs, removed at its end
(cloud.runtime.sla_timer); the SLAs its end finds missed are returned for the SlaMissed metric.
An execution that ends FAILED sends one message to the stack's alerts topic (once, as its metrics)
naming the flow, the execution and the first failed task with its error (cloud.runtime.alerts).
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from stratoflow.cloud.config.clients import error_code
from stratoflow.cloud.config.naming import AccountRegion
from stratoflow.cloud.runtime.alerts import execution_failed_alert, publish_alert
from stratoflow.cloud.runtime.event_models import StatusChange
from stratoflow.cloud.runtime.metrics import Metric, execution_end_metrics
from stratoflow.cloud.runtime.retries import CloudRetries
from stratoflow.cloud.runtime.runs import run_arn
from stratoflow.cloud.runtime.sla_timer import SlaTimers
from stratoflow.cloud.runtime.starter import Starter
from stratoflow.domain import Execution, TaskRun
from stratoflow.errors import ConflictError
from stratoflow.execution.finalize import finish_execution, first_failure
from stratoflow.execution.flow_retry import FlowRetry
from stratoflow.execution.lineage import subflow_executions
from stratoflow.execution.runs import run_name
from stratoflow.states import State
from stratoflow.store.base import BlobStore, ExecutionStore

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_stepfunctions import SFNClient

log = logging.getLogger("stratoflow.execution_events")

EVENT_SOURCE = "stratoflow"
FINISHED_DETAIL_TYPE = "Execution Finished"
# EventBridge takes entries up to 256 KiB: outputs larger than this travel only in the execution record.
MAX_DETAIL_BYTES = 200 * 1024


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
    # The flow's `retry` of a FAILED execution: started or scheduled by the handler.
    retry: FlowRetry | None = None
    runs: list[TaskRun] = field(default_factory=list)  # a finished execution's task runs
    # This event recorded the end: not a duplicate, nor a later event of an end recorded already.
    first_end: bool = False
    sla_missed: list[str] = field(default_factory=list)  # ids of the SLAs the end found missed


def execution_of(change: StatusChange, store: ExecutionStore) -> tuple[Execution | None, str]:
    """The execution whose *current* run the change is about, or None with the reason to ignore it."""
    stale: Execution | None = None
    for candidate in dict.fromkeys((change.execution_id, change.name)):
        execution: Execution | None = store.get_execution(candidate)
        if execution is None:
            continue
        if run_name(execution.id, execution.restarts) == change.name:
            return execution, ""
        stale = stale or execution
    if stale is not None:
        # A late event of a run that a restart replaced: the current run's events tell the story.
        return None, f"{change.name} is an earlier run of execution {stale.id}: ignored"
    # Started outside admission (a console test run, another tool): not Stratoflow's to record.
    return None, f"no execution {change.name}: ignored"


def record_status_change(
    change: StatusChange, store: ExecutionStore, blobs: BlobStore | None = None
) -> StatusOutcome:
    """Apply a status change to the execution store (no AWS call but reading large outputs from
    `blobs`, which an EXECUTION_ASSERTION SLA may read)."""
    execution, note = execution_of(change, store)
    if execution is None:
        return StatusOutcome(None, note=note)
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
    ran = change.stop_date - change.start_date if change.start_date and change.stop_date else None
    finished = finish_execution(store, execution.id, change.status, change.engine_error, ran=ran, blobs=blobs)
    execution = finished.execution
    runs: list[TaskRun] = store.list_task_runs(execution.id)
    metrics = [] if was_finished else execution_end_metrics(execution, change.start_date, change.stop_date)
    return StatusOutcome(
        execution,
        flow,
        metrics,
        finished_detail(execution, runs),
        promoted=list(finished.promoted),
        retry=finished.retry,
        runs=runs,
        first_end=not was_finished,
        sla_missed=list(finished.sla_missed),
    )


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
        # What the rule of a Flow trigger on PAUSED names its start by: the end is occurrence `<id>`,
        # pause 0 (its pauses are `<id>-p<n>`, execution.occurrences.paused_event_detail).
        "occurrence": execution.id,
        "pause": 0,
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

    The clients are injected; `stack_name` names the subflows' state machines (see cloud.config.naming).
    Failure alerts go to `alert_topic_arn` through `sns` (nothing is sent without a topic).
    """

    def __init__(
        self,
        store: ExecutionStore,
        events_client: EventBridgeClient,
        bus_name: str = "default",
        stepfunctions: SFNClient | None = None,
        stack_name: str = "Stratoflow",
        retries: CloudRetries | None = None,
        sns: SNSClient | None = None,
        alert_topic_arn: str = "",
        sla_timers: SlaTimers | None = None,
        blobs: BlobStore | None = None,
    ):
        self.store = store
        self.events = events_client
        self.bus_name = bus_name
        self.stepfunctions = stepfunctions
        self.stack_name = stack_name
        # Carries out flow retries (cloud.runtime.retries.CloudRetries); without one they start at once.
        self.retries = retries
        self.sns = sns
        self.alert_topic_arn = alert_topic_arn
        # Arms and disarms the timers of MAX_DURATION SLAs with behavior NONE (cloud.runtime.sla_timer).
        self.sla_timers = sla_timers
        # Where task outputs over 32 KiB are kept: an SLA's assertion at the end may read them.
        self.blobs = blobs

    def handle(self, change: StatusChange) -> StatusOutcome:
        outcome = record_status_change(change, self.store, self.blobs)
        if self.sla_timers is not None and outcome.execution is not None:
            if change.status == "RUNNING" and not outcome.execution.state.is_terminal:
                self.sla_timers.arm(outcome.execution, change.start_date or datetime.now(UTC))
            elif outcome.first_end:
                self.sla_timers.disarm(outcome.execution)
        # A timeout (a MAX_DURATION SLA) stops the run as an abort does: its children go with it.
        stopped = change.status in ("ABORTED", "TIMED_OUT")
        if stopped and outcome.execution is not None and self.stepfunctions is not None:
            self.stop_subflows(outcome.execution, AccountRegion.from_arn(change.execution_arn))
        if outcome.finished is not None:
            self.publish_finished(outcome.finished, change.execution_arn)
        if outcome.promoted and self.stepfunctions is not None:
            starter = Starter(self.store, self.stepfunctions)
            for execution in outcome.promoted:
                started = starter.launch(execution, new=True)
                if started.queue_wait_ms is not None:  # promoted executions are of the same flow
                    outcome.metrics.append(Metric("QueueWait", "Milliseconds", started.queue_wait_ms))
        ended = outcome.execution
        # A failure the flow's `retry` retries is not final: the retry alerts if it fails too.
        if outcome.first_end and outcome.retry is None and ended is not None and ended.state == State.FAILED:
            self.alert_failed(ended, outcome.runs, change.execution_arn)
        if outcome.retry is not None and self.stepfunctions is not None:
            self._retries().carry_out(outcome.retry)
        return outcome

    def alert_failed(self, execution: Execution, runs: list[TaskRun], execution_arn: str) -> None:
        """Tell the alerts topic which execution failed, where and why; never fails the event.

        A retry of the status event would not send it (the end is recorded by then), so an error here
        is logged, not raised: the rest of the event's work (retries, promotions) matters more.
        """
        if self.sns is None or not self.alert_topic_arn:
            return
        subject, message = execution_failed_alert(
            execution, first_failure(runs), execution_arn, self.stack_name
        )
        try:
            publish_alert(self.sns, self.alert_topic_arn, subject, message)
        except Exception:
            log.exception("could not publish the failure alert of execution %s", execution.id)

    def _retries(self) -> CloudRetries:
        if self.retries is None:
            self.retries = CloudRetries(Starter(self.store, self._stepfunctions()))
        return self.retries

    def _stepfunctions(self) -> SFNClient:
        if self.stepfunctions is None:  # the assembly always gives one; a test of the events alone may not
            raise RuntimeError(
                "execution events need a Step Functions client to stop subflows and start retries"
            )
        return self.stepfunctions

    def stop_subflows(self, execution: Execution, account: AccountRegion) -> list[str]:
        """A killed execution's running subflows are stopped too (their own events then record them)."""
        stopped = []
        for child_id in subflow_executions(self.store, execution.id):
            child: Execution | None = self.store.get_execution(child_id)
            if child is None or child.state.is_terminal:
                continue
            try:
                self._stepfunctions().stop_execution(
                    executionArn=run_arn(account, self.stack_name, child),
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
