"""Acts on control requests for the executions a local platform runs: kills and resumes.

`strato kill` and `strato resume` may run in another process than the one running the execution;
they leave their request in the store and this watcher, polling a few times a second, carries it out.
"""

from __future__ import annotations

import threading

from stratoflow.engine import LocalExecution
from stratoflow.execution.control import CONTROL_NAMESPACE, resume_key
from stratoflow.execution.runner import TaskCallbacks
from stratoflow.states import State
from stratoflow.store.base import ExecutionStore

POLL_SECONDS = 0.2


class ControlWatcher:
    def __init__(self, store: ExecutionStore, callbacks: TaskCallbacks):
        self.store, self.callbacks = store, callbacks
        self._running: dict[str, LocalExecution] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, execution_id: str, running: LocalExecution) -> None:
        with self._lock:
            self._running[execution_id] = running
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="stratoflow-control", daemon=True)
                self._thread.start()

    def forget(self, execution_id: str) -> None:
        with self._lock:
            self._running.pop(execution_id, None)

    def close(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            with self._lock:
                running = dict(self._running)
            for execution_id, execution in running.items():
                self.check(execution_id, execution)

    def check(self, execution_id: str, running: LocalExecution) -> None:
        """Carry out the pending requests of one execution."""
        record = self.store.get_execution(execution_id)
        if record is None:
            return
        if record.state == State.KILLING:
            running.stop(error="Killed", cause="killed by strato kill")
            return
        if not running.waits_for_token():
            return  # no paused task to resume: reading every task run would be wasted (1,000s in a loop)
        for run in self.store.list_task_runs(execution_id):
            if run.state != State.PAUSED or not run.task_token:
                continue
            key = resume_key(execution_id, run.id)
            found, values = self.store.kv_get(CONTROL_NAMESPACE, key)
            if found:
                self.store.kv_delete(CONTROL_NAMESPACE, key)
                self.callbacks.send_success(run.task_token, values)
