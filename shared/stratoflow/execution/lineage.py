"""Lineage across executions: the `system.correlationId` label, and an execution's chain.

Every execution carries `system.correlationId`, the id of the execution at the root of its chain
(its own id at the root), as Kestra's do. It is carried to the executions an execution causes: its
Subflows' children, the executions its end starts through Flow triggers, its replays and flow-level
retries. So `strato executions list --label system.correlationId=<root>` lists a whole chain, and
`strato executions show` names an execution's parent, children and root.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import JsonValue

from stratoflow.domain import Execution, TaskRun
from stratoflow.execution.flows import flow_of
from stratoflow.flow import registry
from stratoflow.states import State
from stratoflow.store.base import ExecutionStore

CORRELATION_ID = "system.correlationId"
BATCH_NAMESPACE = uuid.UUID("0b7e1c55-8f43-4d8e-a1f6-3c2d9e6b5a71")


def correlation_of(execution: Execution) -> str:
    """The id of the root of an execution's chain (its own id when it is the root, or older)."""
    return execution.labels.get(CORRELATION_ID) or execution.id


def start_correlation(execution_id: str, labels: dict[str, str], trigger: dict[str, JsonValue] | None) -> str:
    """The correlation id of a new execution: the one its starter passed, else its upstream's (a Flow
    trigger's `trigger.labels`), else its own id."""
    given = labels.get(CORRELATION_ID)
    if given:
        return given
    upstream = (trigger or {}).get("labels")
    if isinstance(upstream, dict) and (trigger or {}).get("executionId"):
        return str(upstream.get(CORRELATION_ID) or trigger["executionId"])  # type: ignore[index]
    return execution_id


@dataclass
class Chain:
    """Where an execution sits among the executions that share its correlation id."""

    execution: Execution
    root: Execution | None
    parent: Execution | None
    children: list[Execution] = field(default_factory=list)


def subflow_executions(store: ExecutionStore, execution_id: str) -> list[str]:
    """Executions started by the Subflow and ForEachItem tasks of an execution (a Subflow's id is on
    its task run; a ForEachItem's batches' are derived, and listed when they were admitted)."""
    runs = store.list_task_runs(execution_id)
    found = [
        str(run.outputs["executionId"])
        for run in runs
        if registry.canonical_name(run.task_type) == "Subflow" and run.outputs.get("executionId")
    ]
    batched = [run for run in runs if registry.canonical_name(run.task_type) == "ForEachItem"]
    execution = store.get_execution(execution_id) if batched else None
    for run in batched if execution is not None else []:
        assert execution is not None
        count = run.outputs.get("numberOfBatches")
        if not isinstance(count, int):
            continue
        anew = execution.restarts > 0 and _restarts_anew(store, execution, run)
        ids = [batch_execution_id(execution, run.id, iteration, anew) for iteration in range(count)]
        found.extend(i for i in ids if store.get_execution(i) is not None)
    return found


def batch_execution_id(execution: Execution, task_run_id: str, iteration: int, anew: bool) -> str:
    """The execution a ForEachItem batch starts: derived, so a repeated batch call admits it once. A
    restart of the parent keeps it (RETRY_FAILED restarts it if it failed) or, `anew`
    (NEW_EXECUTION), names another one."""
    key = f"{execution.id}/{task_run_id}/batch-{iteration}"
    if execution.restarts and anew:
        key = f"{key}/restart-{execution.restarts}"
    return str(uuid.uuid5(BATCH_NAMESPACE, key))


def _restarts_anew(store: ExecutionStore, execution: Execution, run: TaskRun) -> bool:
    record = store.get_flow(execution.namespace, execution.flow_id, execution.revision)
    task = flow_of(record).find_task(run.task_id) if record is not None else None
    return getattr(task, "restart_behavior", None) == "NEW_EXECUTION"


def chain_of(store: ExecutionStore, execution: Execution) -> Chain:
    """The execution's root (by correlation id), parent and Subflow children, as recorded."""
    root_id = correlation_of(execution)
    root = execution if root_id == execution.id else store.get_execution(root_id)
    parent = store.get_execution(execution.parent_execution_id) if execution.parent_execution_id else None
    children = [c for c in (store.get_execution(i) for i in subflow_executions(store, execution.id)) if c]
    return Chain(execution, root, parent, children)


# `--label` looks at this many of the newest executions that match the other filters: the stores index
# executions by flow and state, not by label.
LABEL_SCAN = 1000


def labelled(
    store: ExecutionStore,
    labels: dict[str, str],
    limit: int,
    *,
    namespace: str | None = None,
    flow_id: str | None = None,
    state: State | None = None,
    since: datetime | None = None,
) -> list[Execution]:
    """The newest executions (among the newest `LABEL_SCAN` matching the filters) carrying all `labels`."""
    scan = limit if not labels else max(limit, LABEL_SCAN)
    scanned = store.list_executions(namespace, flow_id, state, since, limit=scan)
    if not labels:
        return scanned
    matching = [e for e in scanned if all(e.labels.get(k) == v for k, v in labels.items())]
    return matching[:limit]
