"""The flow metrics Stratoflow publishes, as plain data: the Lambda handlers emit them as CloudWatch EMF.

Namespace `Stratoflow`. Dimensions stay low-cardinality: `Flow` ("<namespace>.<flowId>") and, for task
runs, `TaskType` (the canonical type name, `Log` whatever alias the flow wrote); execution, task-run
and attempt ids travel as EMF metadata (searchable in the log line, never a dimension).

| metric | unit | dimensions | when |
| --- | --- | --- | --- |
| ExecutionsStarted | Count | Flow | Step Functions reports the execution RUNNING (per status event) |
| ExecutionsSucceeded / Failed / Killed | Count | Flow | the execution ends (WARNING is a success) |
| ExecutionDuration | Milliseconds | Flow | the execution ends: its state machine's run time |
| QueueWait | Milliseconds | Flow | an execution starts: time since it was admitted |
| TaskRunsSucceeded / Failed / Killed / Skipped | Count | Flow, TaskType | a task run ends (or its execution's end closes it) |
| TaskDuration | Milliseconds | Flow, TaskType | a task run ends (not skipped): all its attempts |
| TaskFailures | Count | Flow | a task attempt fails (retried ones included) |
| SlaMissed | Count | Flow, Sla; Flow; none | an SLA of the flow is missed (see stratoflow.execution.sla) |

SlaMissed is published under three dimension sets: (Flow, Sla) says which SLA, (Flow) is what the
flow's alarm watches (the deployer's), and the stack-wide total (no dimension) is what the platform's
alarm watches (infra monitoring), so a flow's alarm needs no list of its SLAs' ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stratoflow.domain import Execution, TaskRun
from stratoflow.flow.registry import canonical_name
from stratoflow.states import State

# The handlers publish into POWERTOOLS_METRICS_NAMESPACE, which the stack sets to this name.
NAMESPACE = "Stratoflow"
SUCCEEDED_STATES = frozenset({State.SUCCESS, State.WARNING})
# Executions stopped before their end (killed, cancelled) are neither successes nor failures.
STOPPED_STATES = frozenset({State.KILLED, State.CANCELLED})


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str  # a CloudWatch unit name: "Count", "Milliseconds"
    value: float


def milliseconds(start: datetime, end: datetime) -> float:
    return max((end - start).total_seconds() * 1000, 0.0)


def outcome_metric(prefix: str, state: State) -> str:
    """`<prefix>Succeeded` (WARNING included), `<prefix>Killed` (cancelled included) or `<prefix>Failed`."""
    if state in SUCCEEDED_STATES:
        return f"{prefix}Succeeded"
    return f"{prefix}Killed" if state in STOPPED_STATES else f"{prefix}Failed"


def execution_end_metrics(
    execution: Execution, started: datetime | None = None, stopped: datetime | None = None
) -> list[Metric]:
    """The outcome and duration of an execution that ended.

    The duration runs from `started` to `stopped` (the state machine's own dates, when the status
    event has them: the time it ran, without its wait in a queue), else over the record's dates.
    """
    metrics = [Metric(outcome_metric("Executions", execution.state), "Count", 1)]
    end = stopped or execution.end_date
    if end is not None:
        metrics.append(
            Metric("ExecutionDuration", "Milliseconds", milliseconds(started or execution.start_date, end))
        )
    return metrics


def task_type_dimension(task_run: TaskRun) -> str:
    """The canonical task type (an alias such as io.kestra.plugin.core.log.Log counts as `Log`)."""
    return canonical_name(task_run.task_type) or task_run.task_type or "unknown"


def task_run_end_metrics(task_run: TaskRun) -> list[Metric]:
    """The outcome of a task run that ended, and its duration (first attempt's start to its end)."""
    if task_run.state == State.SKIPPED:
        return [Metric("TaskRunsSkipped", "Count", 1)]
    metrics = [Metric(outcome_metric("TaskRuns", task_run.state), "Count", 1)]
    if task_run.end_date is not None:
        duration = milliseconds(task_run.start_date, task_run.end_date)
        metrics.append(Metric("TaskDuration", "Milliseconds", duration))
    return metrics


@dataclass(frozen=True)
class MetricSet:
    """One EMF document: these metrics under exactly these dimensions, with ids as metadata."""

    dimensions: dict[str, str]
    metrics: list[Metric]
    metadata: dict[str, Any]


SLA_MISSED = "SlaMissed"


def sla_missed_metric_sets(flow: str, sla_ids: list[str], execution_id: str) -> list[MetricSet]:
    """One SlaMissed per missed SLA, under each of its dimension sets (see the table above)."""
    sets: list[MetricSet] = []
    for sla_id in sla_ids:
        metadata = {"executionId": execution_id, "slaId": sla_id}
        for dimensions in ({"Flow": flow, "Sla": sla_id}, {"Flow": flow}, {}):
            sets.append(MetricSet(dimensions, [Metric(SLA_MISSED, "Count", 1)], metadata))
    return sets


def task_run_metric_sets(flow: str, task_runs: list[TaskRun]) -> list[MetricSet]:
    """The metrics of task runs that ended (by the runner, or closed by their execution's end)."""
    return [
        MetricSet(
            {"Flow": flow, "TaskType": task_type_dimension(run)},
            task_run_end_metrics(run),
            {
                "executionId": run.execution_id,
                "taskRunId": run.id,
                "taskId": run.task_id,
                "attempts": len(run.attempts),
            },
        )
        for run in task_runs
    ]
