"""The console's backend on a deployed stack: the DynamoDB history, the S3 data bucket, and actions
that go through the stack's own start and control paths (`cloud.runtime.starter`, `cloud.runtime.control`).

A start is admitted and started by the same `Starter` the admission function runs (inputs typed and
validated, concurrency, the state machine version of the live revision); kill, restart, replay and
resume are `RemoteControl`'s, as `strato kill|restart|replay|resume --remote` does them. The Lambda
(functions/console) builds one backend at cold start with lazy clients: no boto3 client exists
before the first request needs one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stratoflow.cloud.config.naming import AccountRegion
from stratoflow.cloud.runtime.control import RemoteControl
from stratoflow.cloud.runtime.starter import REFUSED, Starter, StartResponse
from stratoflow.cloud.runtime.starter import StartRequest as AdmissionRequest
from stratoflow.console.backend import ConsoleActions, StartRequest
from stratoflow.console.uploads import with_uploads
from stratoflow.domain import Execution
from stratoflow.errors import InputError, NotFoundError, StratoflowError
from stratoflow.execution.flows import flow_of
from stratoflow.execution.ids import new_execution_id
from stratoflow.store.base import BlobStore, ExecutionStore


class StartRefused(StratoflowError):
    """Admission refused a start for another reason than an input (a disabled flow, a limit...)."""


class CloudActions(ConsoleActions):
    """Execution control on the stack, through the starter and the remote control it already has."""

    def __init__(self, store: ExecutionStore, blobs: BlobStore, starter: Starter, control: RemoteControl):
        self.store = store
        self.blobs = blobs
        self.starter = starter
        self.control = control

    def start(self, request: StartRequest) -> Execution:
        record = self.store.get_flow(request.namespace, request.flow_id)
        if record is None:
            raise NotFoundError(f"flow {request.namespace}.{request.flow_id} is not deployed")
        execution_id = new_execution_id()

        def admit(values: dict[str, Any]) -> StartResponse:
            admission = AdmissionRequest(
                namespace=request.namespace,
                flow_id=request.flow_id,
                inputs=values,
                labels=dict(request.labels),
                execution_id=execution_id,
            )
            response = self.starter.start(admission)
            if response.state == REFUSED:
                # Raised inside with_uploads, so the files it stored for this start are removed.
                message = response.error or "admission refused the start"
                if response.input is not None:
                    raise InputError(response.input, message.removeprefix(f"input '{response.input}': "))
                raise StartRefused(message)
            return response

        response = with_uploads(
            self.blobs, flow_of(record), execution_id, request.inputs, request.files, admit
        )
        return self._execution(response.execution_id or execution_id)

    def kill(self, execution_id: str) -> list[str]:
        return [killed.execution_id for killed in self.control.kill(execution_id)]

    def restart(self, execution_id: str) -> Execution:
        response = self.control.restart(execution_id)
        return self._execution(response.execution_id or execution_id)

    def replay(self, execution_id: str, from_task_id: str) -> Execution:
        response = self.control.replay(execution_id, from_task_id)
        if response.execution_id is None:  # admission refused it (e.g. the flow's concurrency limit)
            raise StartRefused(response.error or f"the replay of {execution_id} was refused")
        return self._execution(response.execution_id)

    def resume(self, execution_id: str, inputs: Mapping[str, Any]) -> Execution:
        self.control.resume(execution_id, dict(inputs))
        return self._execution(execution_id)

    def _execution(self, execution_id: str) -> Execution:
        execution = self.store.get_execution(execution_id)
        if execution is None:  # recorded by admission a moment ago: only a deleted table loses it
            raise NotFoundError(f"execution {execution_id} does not exist")
        return execution


class CloudConsoleBackend:
    """The console over one stack: its table, its data bucket and its Step Functions runs."""

    def __init__(
        self,
        store: ExecutionStore,
        blobs: BlobStore,
        stepfunctions: Any,
        account: AccountRegion,
        stack_name: str,
    ) -> None:
        self._store = store
        self._blobs = blobs
        starter = Starter(store, stepfunctions)
        # A kill returns once Step Functions reports the run stopped (at once on AWS), never waiting
        # long inside an API request.
        control = RemoteControl(store, stepfunctions, starter, account, stack_name, settle_seconds=1.0)
        self._actions = CloudActions(store, blobs, starter, control)

    @property
    def store(self) -> ExecutionStore:
        return self._store

    @property
    def blobs(self) -> BlobStore:
        return self._blobs

    @property
    def actions(self) -> ConsoleActions:
        return self._actions
