"""DynamoDB requests and capacity units of the task runner's actions, as the current code issues them.

Read from `stratoflow.execution.runner` and `stratoflow.store.dynamo` (one table; GSIs gsi1 and gsi2 key only the
execution item and project its keys, `flowId` and `state`; gsi3, the list of every namespace by month,
projects `namespace` and is written once, when the execution is created):

| step | requests | units |
| --- | --- | --- |
| every call | GetItem execution, GetItem task run | 1 RRU each (strongly consistent, < 4 KB) |
| each save of a task run (RUNNING, its end) | UpdateItem task run (`seq` set on insert) | 1 WRU per KB |
| `outputs.x` of a task outside loops | GetItem of its task run (deterministic id) | 1 RRU |
| `outputs.x` of a task inside a loop | Query of the execution's task runs, filtered by task | all task runs read so far |
| a loop's start (ForEach) | UpdateItem task run: the iterations it starts | 1 WRU per KB |
| a loop's end | BatchGetItem of its children (ids from body tasks x iterations) | 1 RRU per child |
| another flowable's end | BatchGetItem of its children (their ids are known) | 1 RRU per child task |
| logs | BatchWriteItem (25 items per request) | 1 WRU per line |
| execution state change | UpdateItem execution | 1 + 1 gsi1 (`state`) + 2 gsi2 (key moves) |
| other execution update (outputs) | UpdateItem execution | 1 WRU per KB: no projected attribute moves |

A process that read the execution (every task-runner call does) knows it exists and its namespace, so
a task run's first save and a state change need no read first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from stratoflow.cost.assumptions import Assumptions

LOG_BATCH = 25
# Writes of the index entries when an execution's `state` changes: gsi1 rewrites its entry (it projects
# `state`), gsi2 deletes the old entry and puts the new one (`state` is in its key). Index entries are
# a few hundred bytes: 1 WRU each, whatever the execution's size.
STATE_CHANGE_INDEX_WRITES = 3
CREATE_INDEX_WRITES = 3  # the execution's put adds one entry to each index
BATCH_GET = 100  # keys per BatchGetItem


@dataclass(frozen=True)
class Refs:
    """The distinct tasks whose outputs a template reads: by key (outside loops) or by a Query."""

    single: int = 0
    looped: int = 0


@dataclass
class DynamoUsage:
    """Requests and capacity units; floats, because loop estimates average over iterations."""

    read_requests: float = 0.0
    read_units: float = 0.0
    write_requests: float = 0.0
    write_units: float = 0.0
    log_write_requests: float = 0.0
    log_write_units: float = 0.0

    def add(self, other: DynamoUsage, times: float = 1.0) -> None:
        self.read_requests += other.read_requests * times
        self.read_units += other.read_units * times
        self.write_requests += other.write_requests * times
        self.write_units += other.write_units * times
        self.log_write_requests += other.log_write_requests * times
        self.log_write_units += other.log_write_units * times

    @property
    def all_write_units(self) -> float:
        return self.write_units + self.log_write_units

    @property
    def all_write_requests(self) -> float:
        return self.write_requests + self.log_write_requests


class DynamoModel:
    """Adds the DynamoDB traffic of one runner action to a usage."""

    def __init__(self, assumptions: Assumptions):
        self.a = assumptions

    # --- primitive requests -------------------------------------------------------------------

    def get(self, usage: DynamoUsage, kb: float) -> None:
        usage.read_requests += 1
        usage.read_units += max(1, math.ceil(kb / 4))

    def query(self, usage: DynamoUsage, task_runs: float) -> None:
        """A Query of the execution's task-run partition: it reads every task run, whatever the filter."""
        usage.read_requests += 1
        usage.read_units += max(1, math.ceil(task_runs * self.a.task_run_item_kb / 4))

    def write_task_run(self, usage: DynamoUsage) -> None:
        """One save of a task run: no index keys it (a loop's end reads its children by key)."""
        usage.write_requests += 1
        usage.write_units += max(1, math.ceil(self.a.task_run_item_kb))

    def batch_get(self, usage: DynamoUsage, items: float, kb: float) -> None:
        """Strongly consistent BatchGetItem: each item at least 1 RRU."""
        if items <= 0:
            return
        usage.read_requests += math.ceil(items / BATCH_GET)
        usage.read_units += items * max(1, math.ceil(kb / 4))

    def write_execution(self, usage: DynamoUsage, state_change: bool) -> None:
        usage.write_requests += 1
        usage.write_units += max(1, math.ceil(self.a.execution_item_kb))
        if state_change:
            usage.write_units += STATE_CHANGE_INDEX_WRITES

    def outputs(self, usage: DynamoUsage, refs: Refs, runs_before: float) -> None:
        """`outputs.x` in templates: one read per task referenced (runner.outputs.ExecutionOutputs)."""
        for _ in range(refs.single):
            self.get(usage, self.a.task_run_item_kb)
        for _ in range(refs.looped):
            self.query(usage, runs_before)

    def logs(self, usage: DynamoUsage, lines: float) -> None:
        if lines <= 0:
            return
        usage.log_write_requests += math.ceil(lines / LOG_BATCH)
        usage.log_write_units += lines * max(1, math.ceil(self.a.log_item_kb))

    # --- runner actions -----------------------------------------------------------------------

    def _call(self, usage: DynamoUsage, with_task_run: bool = True) -> None:
        self.get(usage, self.a.execution_item_kb)
        if with_task_run:
            self.get(usage, self.a.task_run_item_kb)

    def run(self, refs: Refs, runs_before: float, log_lines: float, failed: int) -> DynamoUsage:
        """A runnable task: `failed` failed attempts (each retried), then one that succeeds."""
        usage = DynamoUsage()
        for attempt in range(failed + 1):
            self._call(usage)
            self.write_task_run(usage)  # RUNNING (the first save inserts it)
            self.outputs(usage, refs, runs_before)
            self.write_task_run(usage)  # SUCCESS, or the failed attempt
            self.logs(usage, log_lines + (1 if attempt < failed else 0))  # a failure logs its error
        return usage

    def start(self, refs: Refs, runs_before: float, saves_outputs: bool) -> DynamoUsage:
        """A flowable task's start: its task run, and what its structure needs (values, condition)."""
        usage = DynamoUsage()
        self._call(usage)
        self.write_task_run(usage)  # RUNNING
        self.outputs(usage, refs, runs_before)
        if saves_outputs:  # If's evaluationResult, Switch's value, Subflow's state, ForEach's iterations
            self.write_task_run(usage)
        return usage

    def end(self, children: float) -> DynamoUsage:
        """A flowable task's end: its `children`'s states, read by key (a loop's ids derive from its
        body tasks and iterations), then its own."""
        usage = DynamoUsage()
        self._call(usage)
        self.batch_get(usage, children, self.a.task_run_item_kb)
        self.write_task_run(usage)
        return usage

    def check(self, refs: Refs, runs_before: float) -> DynamoUsage:
        """A WaitFor round: condition rendered, iteration count saved."""
        usage = DynamoUsage()
        self._call(usage)
        self.outputs(usage, refs, runs_before)
        self.write_task_run(usage)
        return usage

    def pause(self) -> DynamoUsage:
        usage = DynamoUsage()
        self._call(usage)
        self.write_task_run(usage)
        self.write_execution(usage, state_change=True)  # PAUSED (namespace known from the call's read)
        return usage

    def flow_outputs(self, refs: Refs, runs_before: float) -> DynamoUsage:
        usage = DynamoUsage()
        self._call(usage, with_task_run=False)
        self.outputs(usage, refs, runs_before)
        self.write_execution(usage, state_change=False)
        return usage

    def per_execution(self, task_runs: float, limited: bool = False) -> DynamoUsage:
        """The cloud's start and end of an execution, outside its Task states.

        Admission (`stratoflow.cloud.runtime.starter`): the live revision (flow head + revision), the execution
        put, a slot when the flow has a concurrency limit, its version ARN (KV), RUNNING. The
        status-change events (`stratoflow.cloud.runtime.events`), each in a container that has not seen the
        execution: RUNNING finds it RUNNING already (a failed conditional write); the end finalizes it
        (read, task runs listed, final state; for a limited flow the slot released and the queue
        checked) and lists the task runs again for the "Execution Finished" detail.
        """
        usage = DynamoUsage()
        execution_kb = self.a.execution_item_kb
        self.get(usage, 1.0)  # flow head
        self.get(usage, 1.0)  # flow revision (its source: a few KB at most)
        usage.write_requests += 1  # PutItem of the execution, with an entry in each index
        usage.write_units += max(1, math.ceil(execution_kb)) + CREATE_INDEX_WRITES
        if limited:
            self.slot_write(usage)  # take a slot
        self.get(usage, 1.0)  # the state machine version (KV)
        self.write_execution(usage, state_change=True)  # RUNNING
        # RUNNING status event: read, then a conditional write that fails (still billed, no index).
        self.get(usage, execution_kb)
        usage.write_requests += 1
        usage.write_units += max(1, math.ceil(execution_kb))
        # End status event.
        self.get(usage, execution_kb)
        self.get(usage, execution_kb)  # finalize reads it again
        self.query(usage, task_runs)  # closes unfinished task runs
        self.write_execution(usage, state_change=True)
        if limited:  # an execution admitted without a limit has no slot: nothing to release
            self.slot_write(usage)  # release
            self.get(usage, 1.0)  # the live flow head and revision: the limit now
            self.get(usage, 1.0)
            self.get(usage, 0.1)  # the slot holders
            self.query_items(usage, 0, 0.1)  # the queue (empty: nothing waits)
        self.query(usage, task_runs)  # the finished event's first failed task
        return usage

    def slot_write(self, usage: DynamoUsage) -> None:
        """A conditional UpdateItem of the flow's slot item (one small item)."""
        usage.write_requests += 1
        usage.write_units += 1

    def query_items(self, usage: DynamoUsage, items: float, kb: float) -> None:
        usage.read_requests += 1
        usage.read_units += max(1, math.ceil(items * kb / 4))
