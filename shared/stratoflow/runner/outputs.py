"""Task outputs as the expression context sees them: loaded from the store on first access.

`outputs.extract.rows` reads the task run of `extract`; inside loops, `outputs.t[v1][v2].x` walks the
values of the enclosing ForEach iterations. Outputs too large for a state payload or a DynamoDB item
are kept in blob storage and replaced by a reference, which this mapping resolves transparently.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from stratoflow.domain import TaskRun
from stratoflow.runner.ids import task_run_id
from stratoflow.store.base import BlobStore, ExecutionStore

BLOB_REF = "__stratoflow_blob__"
LARGE_OUTPUT_BYTES = 32 * 1024


def offload_large(outputs: dict[str, Any], blobs: BlobStore, key: str) -> dict[str, Any]:
    """Outputs as they are stored: small ones inline, large ones as a reference to blob storage."""
    data = json.dumps(outputs, separators=(",", ":"), default=str).encode()
    if len(data) <= LARGE_OUTPUT_BYTES:
        return outputs
    return {BLOB_REF: blobs.put(key, data)}


def resolve(outputs: dict[str, Any], blobs: BlobStore) -> dict[str, Any]:
    if set(outputs) == {BLOB_REF}:
        loaded: dict[str, Any] = json.loads(blobs.get(outputs[BLOB_REF]))
        return loaded
    return outputs


class LoopOutputs(Mapping[str, Any]):
    """`outputs.t[value]`: one level of loop values over task runs of the same task."""

    def __init__(self, runs: list[TaskRun], depth: int, blobs: BlobStore):
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
    key; a task inside loops has one run per iteration, listed by task id.
    """

    def __init__(self, store: ExecutionStore, blobs: BlobStore, execution_id: str, flow: Any):
        self._store, self._blobs, self._execution_id, self._flow = store, blobs, execution_id, flow
        self._cache: dict[str, Any] = {}

    def __getitem__(self, task_id: str) -> Any:
        if task_id in self._cache:
            return self._cache[task_id]
        if not any(type(parent).type_name in LOOPS for parent in self._flow.task_parents(task_id)):
            run = self._store.get_task_run(self._execution_id, task_run_id(self._execution_id, task_id, None))
            runs = [run] if run is not None and run.outputs else []
        else:
            runs = [r for r in self._store.list_task_runs(self._execution_id, task_id) if r.outputs]
        if not runs:
            raise KeyError(task_id)
        if all(not r.scope_values for r in runs):
            value: Any = resolve(runs[-1].outputs, self._blobs)
        else:
            value = LoopOutputs(runs, 0, self._blobs)
        self._cache[task_id] = value
        return value

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
