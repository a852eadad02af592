"""Distributed Map: each item a child execution with its own history, items read from and results
written to storage through the resource handler (S3 in the cloud, the blob folder locally).

As on Step Functions, the parent's history gets a handful of events for the whole Map Run however
many items it has (the children's events are theirs, each held to the 25,000-event limit), and
child failures beyond the tolerated share fail the Map with `States.ExceedToleratedFailureThreshold`
instead of the first child's error.
"""

from __future__ import annotations

import io
import json
import math
import threading
from collections.abc import Callable
from typing import Any

from stratoflow.engine.branches import MAX_WORKERS_PER_STATE, finish, run_concurrently
from stratoflow.engine.errors import RUNTIME, Cancelled, StateFailure
from stratoflow.engine.machine import Machine, run_machine
from stratoflow.engine.recovery import RecoverableState, Recovery
from stratoflow.engine.resources import TaskCall
from stratoflow.engine.runtime import CancelScope, Run, StateContext
from stratoflow.engine.states import ResultPlacement, selector, template
from stratoflow.engine.validate import READ_OBJECT, WRITE_OBJECTS

TOLERATED_FAILURE = "States.ExceedToleratedFailureThreshold"
MAX_CHILDREN_AT_ONCE = 10_000
"""Step Functions' ceiling on a distributed Map's concurrent child executions."""


class DistributedMapState(RecoverableState):
    kind = "Map"

    def __init__(self, name: str, spec: dict[str, Any], compile_machine: Callable[[dict[str, Any]], Machine]):
        super().__init__(name, spec)
        self.processor = compile_machine(spec["ItemProcessor"])
        self.items_path = selector(spec, "ItemsPath")
        reader = spec.get("ItemReader")
        self.reader = None if reader is None else template(reader, "Parameters")
        self.reader_format = None if reader is None else (reader.get("ReaderConfig") or {}).get("InputType")
        self.batcher = None if spec.get("ItemBatcher") is None else ItemBatcher(spec["ItemBatcher"])
        writer = spec.get("ResultWriter")
        self.writer = None if writer is None else template(writer, "Parameters")
        self.item_selector = template(spec, "ItemSelector")
        self.max_concurrency: int = spec.get("MaxConcurrency", 0)
        self.tolerated_count: int | None = spec.get("ToleratedFailureCount")
        self.tolerated_percentage: float | None = spec.get("ToleratedFailurePercentage")
        self.result_selector = template(spec, "ResultSelector")
        self.placement = ResultPlacement(spec)
        self.recovery = Recovery(spec)

    def _attempt(self, raw: Any, run: Run, scope: CancelScope, entered_id: int, context: StateContext) -> Any:
        data = self.select(self.input_path, raw, context, entered_id)
        items = self._items(data, run, scope, context, entered_id)
        if self.batcher is not None:
            # As on Step Functions, the ItemSelector shapes each item, then the batcher groups them.
            if self.item_selector is not None:
                items = [self._selected(i, v, data, run, context, entered_id) for i, v in enumerate(items)]
            items = self.batcher.batches(self, items, data, context, entered_id)
        map_run = f"{self.name}:{run.name}:{entered_id}"
        run.emit("MapStateStarted", self.name, length=len(items))
        run.emit("MapRunStarted", self.name, mapRunArn=map_run)
        failed = 0
        lock = threading.Lock()

        def child(index: int, group: CancelScope) -> Any:
            nonlocal failed
            value = items[index]
            if self.item_selector is not None and self.batcher is None:
                value = self._selected(index, value, data, run, context, entered_id)
            execution = run.child(f"{map_run}:{index}", value, group)
            try:
                output = self._run_child(execution, value)
            except StateFailure:
                with lock:
                    failed += 1
                return None
            finally:
                execution.root.close()
                with lock:
                    run.transitions += execution.transitions  # billed to the account like the parent's
            return output

        limit = min(self.max_concurrency or MAX_CHILDREN_AT_ONCE, MAX_WORKERS_PER_STATE)
        try:
            results = run_concurrently(run, scope, len(items), limit, child, False)
        except Cancelled:
            run.emit("MapRunAborted", self.name)
            run.emit("MapStateAborted", self.name)
            raise
        if failed > self._tolerated(len(items)):
            cause = f"The Map Run {map_run} failed: {failed} of {len(items)} child executions failed."
            run.emit("MapRunFailed", self.name, error=TOLERATED_FAILURE, cause=cause)
            run.emit("MapStateFailed", self.name, error=TOLERATED_FAILURE, cause=cause)
            raise StateFailure(TOLERATED_FAILURE, cause)
        run.emit("MapRunSucceeded", self.name)
        run.emit("MapStateSucceeded", self.name)
        result: Any = results
        if self.writer is not None:
            location = self.render(self.writer, data, context, entered_id)
            written = self._invoke(run, scope, context, WRITE_OBJECTS, {**location, "Results": results})
            result = {"MapRunArn": map_run, "ResultWriterDetails": written}
        return finish(self, run, raw, result, self.result_selector, self.placement, context, entered_id)

    def _selected(
        self, index: int, value: Any, data: Any, run: Run, context: StateContext, entered_id: int
    ) -> Any:
        """An item as the ItemSelector shapes it (`$$.Map.Item.Index` and `.Value` are the item's)."""
        assert self.item_selector is not None
        item_context = StateContext(run, self.name, context.entered, context.retry_count)
        item_context.map_item = (index, value)
        return self.render(self.item_selector, data, item_context, entered_id)

    def _run_child(self, execution: Run, value: Any) -> Any:
        execution.emit("ExecutionStarted", input=value)
        try:
            output = run_machine(self.processor, value, execution, execution.root)
        except Cancelled:
            if execution.outcome is None:  # the parent stopped: not a failure of this child
                raise
            _status, error, cause = execution.outcome
            execution.emit("ExecutionFailed", error=error, cause=cause)
            raise StateFailure(error or RUNTIME, cause) from None
        except StateFailure as failure:
            execution.emit("ExecutionFailed", error=failure.error, cause=failure.cause)
            raise
        execution.emit("ExecutionSucceeded", output=output)
        return output

    def _items(
        self, data: Any, run: Run, scope: CancelScope, context: StateContext, entered_id: int
    ) -> list[Any]:
        if self.reader is None:
            items = self.select(self.items_path, data, context, entered_id)
        else:
            location = self.render(self.reader, data, context, entered_id)
            text = self._invoke(run, scope, context, READ_OBJECT, location)
            try:
                if self.reader_format == "JSONL":
                    # Line by line: a million lines are not held twice, as text and as a list of lines.
                    items = [json.loads(line) for line in io.StringIO(str(text)) if line.strip()]
                else:
                    items = json.loads(text)
            except (TypeError, ValueError) as error:
                raise self.runtime_failure(
                    entered_id, f"The ItemReader's object is not {self.reader_format}: {error}"
                ) from None
        if not isinstance(items, list):
            raise self.runtime_failure(
                entered_id, f"The items must be a JSON array, got {type(items).__name__}"
            )
        return items

    def _invoke(
        self, run: Run, scope: CancelScope, context: StateContext, resource: str, parameters: Any
    ) -> Any:
        call = TaskCall(
            run.name, run.execution_arn, self.name, context.retry_count, None, scope.event, run.clock
        )
        return run.resources.invoke(resource, parameters, call)

    def _tolerated(self, count: int) -> float:
        """How many children may fail before the Map Run does (none, unless the state says)."""
        allowed: list[float] = []
        if self.tolerated_count is not None:
            allowed.append(self.tolerated_count)
        if self.tolerated_percentage is not None:
            allowed.append(math.floor(count * self.tolerated_percentage / 100))
        return max(allowed) if allowed else 0


class ItemBatcher:
    """A distributed Map's ItemBatcher: consecutive items grouped into one child's input,
    `{"BatchInput": ..., "Items": [...]}`, up to `MaxItemsPerBatch` items and (as JSON) up to
    `MaxInputBytesPerBatch` bytes; each limit given as a number or as a path into the state's input."""

    def __init__(self, spec: dict[str, Any]):
        self.spec = spec
        self.batch_input = template(spec, "BatchInput")

    def _limit(
        self, state: DistributedMapState, name: str, data: Any, context: StateContext, entered_id: int
    ) -> int:
        if name in self.spec:
            return int(self.spec[name])
        path = self.spec.get(f"{name}Path")
        if path is None:
            return 0
        value = state.select(selector({"Path": path}, "Path"), data, context, entered_id)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise state.runtime_failure(
                entered_id, f"{name}Path {path} must give a positive integer, got {value!r}"
            )
        return value

    def batches(
        self, state: DistributedMapState, items: list[Any], data: Any, context: StateContext, entered_id: int
    ) -> list[Any]:
        max_items = self._limit(state, "MaxItemsPerBatch", data, context, entered_id)
        max_bytes = self._limit(state, "MaxInputBytesPerBatch", data, context, entered_id)
        shared = (
            None if self.batch_input is None else state.render(self.batch_input, data, context, entered_id)
        )
        batches: list[Any] = []
        current: list[Any] = []
        size = 0
        for item in items:
            item_size = len(json.dumps(item, separators=(",", ":")).encode()) + 1 if max_bytes else 0
            full = (max_items and len(current) >= max_items) or (max_bytes and size + item_size > max_bytes)
            if current and full:
                batches.append(current)
                current, size = [], 0
            current.append(item)
            size += item_size
        if current:
            batches.append(current)
        return [
            {"BatchInput": shared, "Items": batch} if shared is not None else {"Items": batch}
            for batch in batches
        ]
