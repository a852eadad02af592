"""Task outputs as the expression context sees them: loaded from the store on first access.

`outputs.extract.rows` reads the task run of `extract`; inside loops, `outputs.t[v1][v2].x` walks the
values of the enclosing ForEach iterations. Outputs too large for a state payload or a DynamoDB item
are kept in blob storage and replaced by a reference, which this mapping resolves transparently.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import JsonValue

from stratoflow.domain import TaskRun
from stratoflow.errors import NotFoundError
from stratoflow.execution.ids import Scope, loop_value, scope_chain, task_run_id
from stratoflow.flow import Flow
from stratoflow.store.base import BlobStore, ExecutionStore

BLOB_REF = "__stratoflow_blob__"
LARGE_OUTPUT_BYTES = 32 * 1024


def offload_large(outputs: dict[str, JsonValue], blobs: BlobStore, key: str) -> dict[str, JsonValue]:
    """Outputs as they are stored: small ones inline, large ones as a reference to blob storage."""
    data = json.dumps(outputs, separators=(",", ":"), default=str).encode()
    if len(data) <= LARGE_OUTPUT_BYTES:
        return outputs
    return {BLOB_REF: blobs.put(key, data)}


def resolve(outputs: dict[str, JsonValue], blobs: BlobStore | None) -> dict[str, JsonValue]:
    """The outputs as the task returned them (read back from blob storage when kept there)."""
    if set(outputs) == {BLOB_REF}:
        if blobs is None:  # a reader given no blob store (the end of an execution in the cloud)
            raise NotFoundError(f"outputs kept at {outputs[BLOB_REF]} cannot be read here: no blob store")
        loaded: dict[str, Any] = json.loads(blobs.get(str(outputs[BLOB_REF])))
        return loaded
    return outputs


class LoopOutputs(Mapping[str, Any]):
    """`outputs.t[value]`: one level of loop values over task runs of the same task."""

    def __init__(self, runs: list[TaskRun], depth: int, blobs: BlobStore | None):
        self._depth, self._blobs = depth, blobs
        # Indexed once: `outputs.t | values` over a 1,000-item loop must not rescan the runs per key.
        self._by_value: dict[str, list[TaskRun]] = {}
        for run in runs:
            if len(run.scope_values) > depth:
                self._by_value.setdefault(run.scope_values[depth], []).append(run)

    def __getitem__(self, key: str) -> Any:
        key = key if isinstance(key, str) else json.dumps(key)
        runs = self._by_value.get(key)
        if not runs:
            raise KeyError(key)
        if all(len(r.scope_values) == self._depth + 1 for r in runs):
            return resolve(runs[-1].outputs, self._blobs)
        return LoopOutputs(runs, self._depth + 1, self._blobs)

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_value)

    def __len__(self) -> int:
        return len(self._by_value)


LOOPS = frozenset({"ForEach", "EachSequential", "EachParallel", "WaitFor"})


class ExecutionOutputs(Mapping[str, Any]):
    """`outputs`: every task's outputs in one execution, read from the store on first access.

    A task outside loops has one task run whose id is known (deterministic), so it is one read by
    key; a task inside loops has one run per iteration, listed by task id. Inside the same loops,
    `outputs.t[taskrun.value]` (the current iteration's run of a sibling, Kestra's idiom) is one read
    by key too (`IterationOutputs`): a 1,000-item loop does not list the task's runs 1,000 times.
    """

    def __init__(
        self,
        store: ExecutionStore,
        blobs: BlobStore | None,
        execution_id: str,
        flow: Flow,
        scope: Scope = None,
    ):
        self._store, self._blobs, self._execution_id, self._flow = store, blobs, execution_id, flow
        self._scope = scope
        self._cache: dict[str, Any] = {}
        self._listed: dict[str, list[TaskRun]] = {}

    def __getitem__(self, task_id: str) -> Any:
        if task_id in self._cache:
            return self._cache[task_id]
        loops = [p for p in self._flow.task_parents(task_id) if type(p).type_name in LOOPS]
        if not loops:
            run = self._store.get_task_run(self._execution_id, task_run_id(self._execution_id, task_id, None))
            runs = [run] if run is not None and run.outputs else []
        else:
            current = self._current_iteration(task_id, loops)
            if current is not None:
                self._cache[task_id] = current
                return current
            runs = self.loop_runs(task_id)
        if not runs:
            raise KeyError(task_id)
        if all(not r.scope_values for r in runs):
            value: Any = resolve(runs[-1].outputs, self._blobs)
        else:
            value = LoopOutputs(runs, 0, self._blobs)
        self._cache[task_id] = value
        return value

    def loop_runs(self, task_id: str) -> list[TaskRun]:
        """Every run of a task inside loops that has outputs, in creation order (listed once)."""
        if task_id not in self._listed:
            runs = self._store.list_task_runs(self._execution_id, task_id)
            self._listed[task_id] = [r for r in runs if r.outputs]
        return self._listed[task_id]

    def loop_outputs(self, task_id: str) -> LoopOutputs:
        """`outputs.t` over every run of a task inside loops."""
        return LoopOutputs(self.loop_runs(task_id), 0, self._blobs)

    def resolved(self, run: TaskRun) -> dict[str, JsonValue]:
        """A run's outputs, loaded from blob storage when they were kept there."""
        return resolve(run.outputs, self._blobs)

    def _current_iteration(self, task_id: str, loops: list[Any]) -> IterationOutputs | None:
        """`outputs.t` when t runs in ForEach loops that enclose the task being rendered too, and has
        run in the current iterations; None otherwise (the runs are listed)."""
        chain = scope_chain(self._scope)[: len(loops)]
        if [entry.get("taskId") for entry in chain] != [loop.id for loop in loops]:
            return None
        if any(entry.get("value") is None for entry in chain):  # a WaitFor iteration has no value
            return None
        run = self._store.get_task_run(
            self._execution_id, task_run_id(self._execution_id, task_id, chain[-1])
        )
        if run is None or not run.outputs:
            return None
        values = [loop_value(entry["value"]) for entry in chain]
        return IterationOutputs(self, task_id, values, run, ())

    def __iter__(self) -> Iterator[str]:
        return iter([t.id for t in self._flow.all_tasks() if t.id in self])

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, task_id: object) -> bool:
        if not isinstance(task_id, str):
            return False
        try:
            self[task_id]
        except KeyError:
            return False
        return True


class IterationOutputs(Mapping[str, Any]):
    """`outputs.t[v1][v2]...` of a task in the loops being rendered: the keys of the current iterations
    lead to the run already read; any other key, or listing the keys, reads every run of the task.

    When a loop's values repeat, `outputs.t[v]` in an iteration of value v is that iteration's run
    (listing every run, the last one of that value wins).
    """

    def __init__(
        self, outputs: ExecutionOutputs, task_id: str, values: list[str], run: TaskRun, path: tuple[str, ...]
    ):
        self._outputs = outputs
        self._task_id = task_id
        self._values = values  # the current iteration's value in each loop, outermost first
        self._run = run  # the task's run in the current iterations
        self._path = path  # the keys taken so far

    def __getitem__(self, key: str) -> Any:
        key = key if isinstance(key, str) else json.dumps(key)
        depth = len(self._path)
        if key == self._values[depth]:
            if depth + 1 == len(self._values):
                return self._outputs.resolved(self._run)
            return IterationOutputs(self._outputs, self._task_id, self._values, self._run, (*self._path, key))
        return self._every()[key]

    def _every(self) -> Any:
        """This level of `outputs.t` over every run of the task."""
        level: Any = self._outputs.loop_outputs(self._task_id)
        for key in self._path:
            level = level[key]
        return level

    def __iter__(self) -> Iterator[str]:
        return iter(self._every())

    def __len__(self) -> int:
        return len(self._every())
