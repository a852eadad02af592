"""The console's backend on the local platform: the SQLite history, the blob folder, and actions that
run executions in this process (`strato server`'s platform), in the background.

Kill and resume are recorded as requests, as the CLI records them: the process running the execution
(this one, or a `strato run`) carries them out within a fraction of a second. Restart and replay run
here. A resumed execution whose process has ended continues here, from its paused task.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from stratoflow.console.app import create_app
from stratoflow.console.auth import allow_everyone, token_authorizer
from stratoflow.console.backend import ConsoleActions, StartRequest
from stratoflow.console.uploads import with_uploads
from stratoflow.domain import Execution
from stratoflow.errors import NotFoundError
from stratoflow.execution.admission import admit, should_start
from stratoflow.execution.control import prepare_replay, prepare_restart, request_kill, request_resume
from stratoflow.execution.flows import flow_of
from stratoflow.execution.ids import new_execution_id
from stratoflow.flow import Flow
from stratoflow.local.platform import LocalPlatform
from stratoflow.local.server import StratoServer
from stratoflow.states import State
from stratoflow.store.base import BlobStore, ExecutionStore

if TYPE_CHECKING:
    from fastapi import FastAPI

# (namespace, flow id, typed inputs, labels, execution id) -> the admitted execution, launched when
# admission says so. `strato server` passes its own, which refuses starts while it stops.
Starter = Callable[[str, str, dict[str, Any], dict[str, str], str], Execution]


class LocalActions(ConsoleActions):
    def __init__(self, platform: LocalPlatform, starter: Starter | None = None) -> None:
        self.platform = platform
        self._starter = starter or self._admit_and_launch

    def _live_flow(self, namespace: str, flow_id: str) -> Flow:
        record = self.platform.store.get_flow(namespace, flow_id)
        if record is None:
            raise NotFoundError(f"flow {namespace}.{flow_id} is not deployed")
        return flow_of(record)

    def _flow_of(self, execution_id: str) -> Flow:
        execution = self.platform.store.get_execution(execution_id)
        if execution is None:
            raise NotFoundError(f"execution {execution_id} does not exist")
        return self.platform.runner.flow(execution.namespace, execution.flow_id, execution.revision)

    def _admit_and_launch(
        self, namespace: str, flow_id: str, inputs: dict[str, Any], labels: dict[str, str], execution_id: str
    ) -> Execution:
        record = self.platform.store.get_flow(namespace, flow_id)
        if record is None:
            raise NotFoundError(f"flow {namespace}.{flow_id} is not deployed")
        execution, new = admit(
            self.platform.store,
            flow_of(record),
            record.revision,
            inputs,
            labels=labels,
            execution_id=execution_id,
        )
        if new and should_start(execution):
            self.platform.launch(execution)
        return execution

    def start(self, request: StartRequest) -> Execution:
        flow = self._live_flow(request.namespace, request.flow_id)
        execution_id = new_execution_id()
        return with_uploads(
            self.platform.blobs,
            flow,
            execution_id,
            request.inputs,
            request.files,
            lambda values: self._starter(
                request.namespace, request.flow_id, values, dict(request.labels), execution_id
            ),
        )

    def kill(self, execution_id: str) -> list[str]:
        return request_kill(self.platform.store, execution_id)

    def restart(self, execution_id: str) -> Execution:
        self._flow_of(execution_id)  # the revision it ran must still be readable
        execution = prepare_restart(self.platform.store, execution_id)
        if execution.state != State.QUEUED:  # else it restarts when a running one ends
            self.platform.launch(execution)
        return execution

    def replay(self, execution_id: str, from_task_id: str) -> Execution:
        execution = prepare_replay(
            self.platform.store, self._flow_of(execution_id), execution_id, from_task_id
        )
        self.platform.launch(execution)
        return execution

    def resume(self, execution_id: str, inputs: Mapping[str, Any]) -> Execution:
        request_resume(self.platform.store, self._flow_of(execution_id), execution_id, dict(inputs))
        running_here = execution_id in self.platform.callbacks.running()
        if not running_here and not self.platform.runs_elsewhere(execution_id):
            # The process that paused it has ended: it continues here, from its paused task.
            self.platform.launch(self.platform.resume_here(execution_id))
        execution = self.platform.store.get_execution(execution_id)
        assert execution is not None  # request_resume read it
        return execution


class LocalConsoleBackend:
    """The console over one local platform (its home's history and blob folder)."""

    def __init__(self, platform: LocalPlatform, starter: Starter | None = None) -> None:
        self.platform = platform
        self._actions = LocalActions(platform, starter)

    @property
    def store(self) -> ExecutionStore:
        return self.platform.store

    @property
    def blobs(self) -> BlobStore:
        return self.platform.blobs

    @property
    def actions(self) -> ConsoleActions:
        return self._actions


def server_console(server: StratoServer, token: str | None = None) -> FastAPI:
    """The console of a `strato server`: its platform's history, starts refused while it stops, live
    streams ended when it closes. With `token`, only callers that present it are answered (webhooks
    keep their own keys); without one, everyone who can reach the loopback port may use it."""

    backend = LocalConsoleBackend(server.platform, starter=server.start_by_hand)
    app = create_app(backend, authorize=token_authorizer(token) if token else allow_everyone)
    app.state.closing = server.closing
    return app
