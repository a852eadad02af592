"""Execution control against a deployed stack: `strato kill|restart|replay|resume --remote`.

The store-side requests are the local ones (stratoflow.execution.control); this module adds what Step Functions
must do:

- kill: StopExecution on the current run of the execution and of each running subflow. The
  execution-events function turns the ABORTED status into KILLED and frees the slot; so that a kill
  converges even when that event is late, a run that Step Functions already reports ended is
  finalized here (finalizing twice is a no-op), and the queued executions it lets in are started;
- restart: not RedriveExecution (compiled flows catch every task failure and end in a Fail state,
  so a redrive would re-run only that state): the same revision starts again with the same input
  under a new name (cloud.runtime.runs), and the task runner keeps every task run that succeeded;
- replay: the new execution starts as an admitted one (the flow's concurrency limit applies);
- resume: SendTaskSuccess with the paused task run's token and the typed `onResume` inputs.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stratoflow.cloud.config.clients import error_code
from stratoflow.cloud.config.naming import AccountRegion
from stratoflow.cloud.runtime.runs import run_arn
from stratoflow.cloud.runtime.starter import Starter, StartResponse, start_response
from stratoflow.domain import Execution, TaskRun
from stratoflow.errors import NotFoundError
from stratoflow.execution.admission import should_start
from stratoflow.execution.control import (
    ControlError,
    prepare_replay,
    prepare_restart,
    request_kill,
    resume_inputs,
)
from stratoflow.execution.finalize import finish_execution
from stratoflow.execution.flows import flow_of
from stratoflow.execution.slots import admit_recorded, sweep_slots
from stratoflow.flow import Flow
from stratoflow.states import State
from stratoflow.store.base import ExecutionStore

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_stepfunctions import SFNClient

log = logging.getLogger("stratoflow.execution.control")

KILL_ERROR = "Killed"
KILL_CAUSE = "killed by strato kill"
SETTLE_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Killed:
    """One execution a kill reached, and its state once the kill was carried out."""

    execution_id: str
    state: State
    note: str = ""


class RemoteControl:
    """Kill, restart, replay and resume on a stack; store, clients and starter are injected."""

    def __init__(
        self,
        store: ExecutionStore,
        stepfunctions: SFNClient,
        starter: Starter,
        account: AccountRegion,
        stack_name: str,
        settle_seconds: float = 2.0,
    ):
        self.store = store
        self.stepfunctions = stepfunctions
        self.starter = starter
        self.account = account
        self.stack_name = stack_name
        self.settle_seconds = settle_seconds

    # --- kill -----------------------------------------------------------------------------------

    def kill(self, execution_id: str) -> list[Killed]:
        """Kill an execution and, transitively, its subflows (ControlError when it already ended)."""
        requested = [self._get(each) for each in request_kill(self.store, execution_id)]
        killed = [self._stop(execution) for execution in requested]
        # Executions killed before they started gave their slot back: let queued ones in.
        flows = {(e.namespace, e.flow_id) for e in requested}
        for namespace, flow_id in sorted(flows):
            for promoted in sweep_slots(self.store, namespace, flow_id):
                self.starter.launch(promoted, new=True)
        return killed

    def _stop(self, execution: Execution) -> Killed:
        arn = run_arn(self.account, self.stack_name, execution)
        try:
            self.stepfunctions.stop_execution(executionArn=arn, error=KILL_ERROR, cause=KILL_CAUSE)
        except Exception as error:
            if error_code(error) != "ExecutionDoesNotExist":
                raise
            if execution.state == State.KILLING:
                # Admitted but never started on Step Functions: nothing will report its end.
                return self._finish(execution, "ABORTED", "its run never started")
            return Killed(execution.id, execution.state)
        if execution.state != State.KILLING:
            # Killed before it started; the stop only catches a start that was on its way.
            return Killed(execution.id, execution.state)
        status = self._settled_status(arn)
        if status == "RUNNING":
            return Killed(
                execution.id,
                State.KILLING,
                "Step Functions still reports it RUNNING: its status event will record KILLED",
            )
        return self._finish(execution, status, "")

    def _settled_status(self, arn: str) -> str:
        """The run's status once the stop took effect: at once on AWS; moto records it a moment later."""
        deadline = time.monotonic() + self.settle_seconds
        while True:
            status = str(self.stepfunctions.describe_execution(executionArn=arn)["status"])
            if status != "RUNNING" or time.monotonic() >= deadline:
                return status
            time.sleep(SETTLE_POLL_SECONDS)

    def _finish(self, execution: Execution, status: str, note: str) -> Killed:
        """Record the end Step Functions reports, without waiting for its status event."""
        error = f"{KILL_ERROR}: {KILL_CAUSE}" if status == "ABORTED" else None
        finished = finish_execution(self.store, execution.id, status, error)
        for promoted in finished.promoted:
            self.starter.launch(promoted, new=True)
        return Killed(execution.id, finished.execution.state, note)

    # --- restart, replay --------------------------------------------------------------------------

    def restart(self, execution_id: str) -> StartResponse:
        """Run a FAILED or KILLED execution again from its failed task runs, as a new run of it."""
        self._get(execution_id)
        execution = prepare_restart(self.store, execution_id)
        if not should_start(execution):  # queued for one of its flow's concurrency slots
            return start_response(execution, new=True)
        return self._launch(execution)

    def replay(self, execution_id: str, from_task_id: str) -> StartResponse:
        """A new execution linked to `execution_id` that starts at `from_task_id`."""
        flow = self._flow(self._get(execution_id))
        replay = admit_recorded(
            self.store, flow, prepare_replay(self.store, flow, execution_id, from_task_id)
        )
        if not should_start(replay):  # queued for a slot, or refused by the concurrency limit
            return start_response(replay, new=True)
        return self._launch(replay)

    def _launch(self, execution: Execution) -> StartResponse:
        response: StartResponse = self.starter.launch(execution, new=True)
        if response.state == str(State.FAILED) and response.error:
            raise ControlError(f"execution {execution.id} {response.error}")
        return response

    # --- resume ---------------------------------------------------------------------------------

    def resume(self, execution_id: str, inputs: dict[str, Any]) -> TaskRun:
        """Complete the paused task's waiting state with its typed `onResume` inputs."""
        flow = self._flow(self._get(execution_id))
        paused, values = resume_inputs(self.store, flow, execution_id, inputs)
        assert paused.task_token is not None  # resume_inputs finds only runs with a token
        try:
            self.stepfunctions.send_task_success(taskToken=paused.task_token, output=json.dumps(values))
        except Exception as error:
            if error_code(error) in ("TaskTimedOut", "InvalidToken", "TaskDoesNotExist"):
                raise ControlError(
                    f"execution {execution_id}: task '{paused.task_id}' is not waiting any more "
                    f"({error_code(error)}): nothing to resume"
                ) from None
            raise
        return paused

    # --- records --------------------------------------------------------------------------------

    def _get(self, execution_id: str) -> Execution:
        execution: Execution | None = self.store.get_execution(execution_id)
        if execution is None:
            raise NotFoundError(f"execution {execution_id} does not exist on stack {self.stack_name}")
        return execution

    def _flow(self, execution: Execution) -> Flow:
        record = self.store.get_flow(execution.namespace, execution.flow_id, execution.revision)
        if record is None:
            raise ControlError(
                f"flow {execution.namespace}.{execution.flow_id} revision {execution.revision} "
                "is not on the stack any more"
            )
        return flow_of(record)
