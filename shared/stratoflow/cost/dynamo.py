"""DynamoDB requests and capacity units of the task runner's actions, as the current code issues them.

Read from `stratoflow.runner` and `stratoflow.store.dynamo` (one table; GSIs gsi1 and gsi2 project ALL
and key only the execution item):

| step | requests | units |
| --- | --- | --- |
| every call | GetItem execution, GetItem task run | 1 RRU each (strongly consistent, < 4 KB) |
| first save of a task run | GetItem `seq` projection, UpdateItem execution `taskRunSeq`, PutItem task run | 1 RRU; 1 + 2 GSI WRU; 1 WRU |
| later saves | UpdateItem task run | 1 WRU per KB |
| `outputs.x` in a template | Query of the execution's task runs, filtered by task | all task runs read so far |
| a flowable's end | Query of every task run (children's state) | idem |
| logs | BatchWriteItem (25 items per request) | 1 WRU per line |
| execution state change | UpdateItem execution (+ GetItem of its namespace in a new process) | 1 + 1 gsi1 + 2 gsi2 (key moves) |
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from stratoflow.cost.assumptions import Assumptions

LOG_BATCH = 25
EXECUTION_GSIS = 2  # gsi1 and gsi2 both project ALL: every write of the execution item writes both


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
        usage.write_requests += 1
        usage.write_units += max(1, math.ceil(self.a.task_run_item_kb))

    def write_execution(self, usage: DynamoUsage, state_change: bool) -> None:
        usage.write_requests += 1
        per_copy = max(1, math.ceil(self.a.execution_item_kb))
        # A state change moves gsi2's key: DynamoDB deletes the old index entry and puts the new one.
        usage.write_units += per_copy * (1 + EXECUTION_GSIS + (1 if state_change else 0))

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

    def _first_save(self, usage: DynamoUsage) -> None:
        self.get(usage, self.a.task_run_item_kb)  # the `seq` projection: is it there already?
        self.write_execution(usage, state_change=False)  # taskRunSeq counter
        usage.write_requests += 1  # PutItem of the new task run
        usage.write_units += max(1, math.ceil(self.a.task_run_item_kb))

    def run(
        self, refs: int, runs_before: float, log_lines: float, failed: int, new_run: bool = True
    ) -> DynamoUsage:
        """A runnable task: `failed` failed attempts (each retried), then one that succeeds."""
        usage = DynamoUsage()
        for attempt in range(failed + 1):
            self._call(usage)
            if attempt == 0 and new_run:
                self._first_save(usage)  # RUNNING
            else:
                self.write_task_run(usage)  # RUNNING, a new attempt
            for _ in range(refs):
                self.query(usage, runs_before)
            self.write_task_run(usage)  # SUCCESS, or the failed attempt
            self.logs(usage, log_lines + (1 if attempt < failed else 0))  # a failure logs its error
        return usage

    def start(self, refs: int, runs_before: float, saves_outputs: bool, new_run: bool = True) -> DynamoUsage:
        """A flowable task's start: its task run, and what its structure needs (values, condition)."""
        usage = DynamoUsage()
        self._call(usage)
        if new_run:
            self._first_save(usage)
        else:
            self.write_task_run(usage)
        for _ in range(refs):
            self.query(usage, runs_before)
        if saves_outputs:  # If's evaluationResult, Switch's value, WaitFor's and Subflow's state
            self.write_task_run(usage)
        return usage

    def end(self, runs_before: float) -> DynamoUsage:
        """A flowable task's end: its children's states (a Query of every task run), then its own."""
        usage = DynamoUsage()
        self._call(usage)
        self.query(usage, runs_before)
        self.write_task_run(usage)
        return usage

    def check(self, refs: int, runs_before: float) -> DynamoUsage:
        """A WaitFor round: condition rendered, iteration count saved."""
        usage = DynamoUsage()
        self._call(usage)
        for _ in range(refs):
            self.query(usage, runs_before)
        self.write_task_run(usage)
        return usage

    def pause(self) -> DynamoUsage:
        usage = DynamoUsage()
        self._call(usage)
        self.write_task_run(usage)
        self.get(usage, self.a.execution_item_kb)  # the namespace, for gsi2's key
        self.write_execution(usage, state_change=True)
        return usage

    def flow_outputs(self, refs: int, runs_before: float) -> DynamoUsage:
        usage = DynamoUsage()
        self._call(usage, with_task_run=False)
        for _ in range(refs):
            self.query(usage, runs_before)
        self.write_execution(usage, state_change=False)
        return usage

    def per_execution(self, task_runs: float, limited: bool = False) -> DynamoUsage:
        """The cloud's start and end of an execution, outside its Task states.

        Admission (`stratoflow.cloud.starter`): the live revision (flow head + revision), the execution
        put, its version ARN (KV), RUNNING. The status-change events (`stratoflow.cloud.events`), each
        in a container that has not seen the execution: RUNNING finds it RUNNING already (a failed
        conditional write); the end finalizes it (read, task runs listed, final state, slot released)
        and lists the task runs again for the "Execution Finished" detail.
        """
        usage = DynamoUsage()
        execution_kb = self.a.execution_item_kb
        self.get(usage, 1.0)  # flow head
        self.get(usage, 1.0)  # flow revision (its source: a few KB at most)
        usage.write_requests += 1  # PutItem of the execution, with both GSIs
        usage.write_units += max(1, math.ceil(execution_kb)) * (1 + EXECUTION_GSIS)
        if limited:
            self.transaction(usage, items=2)  # take a slot: counter + slot item
        self.get(usage, 1.0)  # the state machine version (KV)
        self.write_execution(usage, state_change=True)  # RUNNING (namespace known: it just wrote it)
        # RUNNING status event: read, namespace, a conditional write that fails (still billed, no GSI).
        self.get(usage, execution_kb)
        self.get(usage, execution_kb)
        usage.write_requests += 1
        usage.write_units += max(1, math.ceil(execution_kb))
        # End status event.
        self.get(usage, execution_kb)
        self.get(usage, execution_kb)  # finalize reads it again
        self.query(usage, task_runs)  # closes unfinished task runs
        self.get(usage, execution_kb)  # namespace
        self.write_execution(usage, state_change=True)
        self.transaction(usage, items=2)  # release the slot (tried even without a limit: it fails)
        self.query(usage, task_runs)  # the finished event's first failed task
        return usage

    def transaction(self, usage: DynamoUsage, items: int) -> None:
        """TransactWriteItems: 2 WRU per item (per KB), billed even when a condition cancels it."""
        usage.write_requests += 1
        usage.write_units += 2 * items
