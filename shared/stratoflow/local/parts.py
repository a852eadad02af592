"""The parts of a big flow on the local engine: `states:startExecution.sync:2` of `${FlowPart.<n>}` runs
part n of the execution's own revision on a nested engine, as Step Functions runs it as a child
execution (see `stratoflow.compiler.parts`).

A part is not a Stratoflow execution: it runs the caller's execution (the payload it receives names
it), so nothing is admitted or recorded for it. Its engine counts its own transitions and history
events, as Step Functions counts a child execution's; the results are kept for `strato run --json`.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from stratoflow.engine import (
    Clock,
    ExecutionResult,
    LocalEngine,
    LocalExecution,
    Resources,
    TaskCall,
    TaskError,
)
from stratoflow.errors import NotFoundError
from stratoflow.store.base import ExecutionStore


class FlowParts:
    """Runs the parts of big flows for one local platform."""

    def __init__(
        self,
        store: ExecutionStore,
        resources: Callable[[], Resources],
        clock: Clock,
        track: Callable[[str, LocalExecution | None], None],
    ) -> None:
        """`track(name, running)` makes a running part reachable by `strato resume` and stops (None: done)."""
        self._store = store
        self._resources = resources
        self._clock = clock
        self._track = track
        self._definitions: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.results: dict[str, list[ExecutionResult]] = defaultdict(list)
        """What each part run of an execution counted, by execution id, in the order they ended."""

    def invoke(self, number: int, parameters: Any, call: TaskCall) -> dict[str, Any]:
        payload = parameters.get("Input")
        reference = payload.get("execution") if isinstance(payload, dict) else None
        if not isinstance(reference, dict):
            raise TaskError("States.Runtime", "a flow part was started without the execution's reference")
        execution_id = str(reference["id"])
        definition = self._definition(
            str(reference["namespace"]), str(reference["flowId"]), int(reference["revision"]), number
        )
        engine = LocalEngine(definition, self._resources(), self._clock)
        running = engine.start(payload, name=f"{execution_id}-part{number}-{call.state_name}")
        name = running.name
        self._track(name, running)
        # The caller's attempt ended first (the execution was stopped, a sibling branch failed): the
        # part stops with it, as Step Functions stops a `.sync` child.
        threading.Thread(target=_stop_when_abandoned, args=(call, running), daemon=True).start()
        try:
            result = running.wait()
        finally:
            self._track(name, None)
        with self._lock:
            self.results[execution_id].append(result)
        if call.clock.virtual:  # the caller waited for the part all its (virtual) time
            call.clock.sleep(
                max(0.0, (result.stop_date - result.start_date).total_seconds()), threading.Event()
            )
        if not result.succeeded:
            cause = {"Status": result.status, "Error": result.error, "Cause": result.cause}
            raise TaskError("States.TaskFailed", json.dumps(cause))
        return {
            "ExecutionArn": f"local:{name}",
            "Name": name,
            "Status": result.status,
            "Output": result.output,
        }

    def _definition(self, namespace: str, flow_id: str, revision: int, number: int) -> dict[str, Any]:
        key = (namespace, flow_id, revision)
        with self._lock:
            parts = self._definitions.get(key)
        if parts is None:
            record = self._store.get_flow(namespace, flow_id, revision)
            if record is None:
                raise NotFoundError(f"flow {namespace}.{flow_id} revision {revision} is not deployed")
            parts = record.parts
            with self._lock:
                self._definitions[key] = parts
        if not 1 <= number <= len(parts):
            raise TaskError(
                "States.Runtime", f"flow {namespace}.{flow_id} revision {revision} has no part {number}"
            )
        return parts[number - 1]


def _stop_when_abandoned(call: TaskCall, running: LocalExecution) -> None:
    call.cancelled.wait()
    running.stop(error="Killed", cause=f"its caller {call.state_name} stopped waiting for it")
