"""The cloud start path: every execution (CLI, schedules, rules, webhooks) starts here.

`{namespace, flowId, inputs, labels, trigger, executionId?}` -> the live revision of the flow ->
`admit` (inputs typed and validated, the execution recorded; a bad input refuses the start and
records nothing) -> StartExecution on the state machine *version* of that revision, named by the
execution id, so the execution runs exactly the revision it was admitted with and a duplicate
delivery of one start (same execution id) starts one execution.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from stratoflow import expressions
from stratoflow.cloud.config.clients import error_code
from stratoflow.cloud.runtime.metrics import milliseconds
from stratoflow.cloud.runtime.scheduled_events import admission_trigger_context, is_scheduled_event
from stratoflow.cloud.runtime.versions import deployed_version
from stratoflow.domain import Execution, FlowRecord
from stratoflow.errors import ConflictError, InputError, StratoflowError
from stratoflow.execution.admission import STARTABLE, admit, execution_input
from stratoflow.execution.deliveries import TriggerSkipped
from stratoflow.execution.flow_retry import FlowRetry, start_retry
from stratoflow.execution.runs import run_name
from stratoflow.flow import Flow, load_flow
from stratoflow.flow.model import flow_variables
from stratoflow.flow.namespace_defaults import recorded_in
from stratoflow.states import State
from stratoflow.store.base import ExecutionStore
from stratoflow.triggers.backfill import ScheduledStart
from stratoflow.triggers.recovery import set_last_fired
from stratoflow.triggers.schedules import parse_instant

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_stepfunctions import SFNClient

log = logging.getLogger("stratoflow.execution.admission")

REFUSED = "REFUSED"
# Step Functions execution names: 1-80 characters; these are safe in ARNs, logs and URLs.
EXECUTION_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


class StartRequest(BaseModel):
    """The admission function's event."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    namespace: str
    flow_id: str = Field(alias="flowId")
    inputs: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    trigger: dict[str, Any] | None = None
    execution_id: str | None = Field(default=None, alias="executionId")
    parent_execution_id: str | None = Field(default=None, alias="parentExecutionId")
    # A flow retry that came due (cloud.runtime.retries): the execution is recorded, start it as it is.
    retry: Literal["CREATE_NEW_EXECUTION", "RETRY_FAILED_TASK"] | None = None
    restarts: int = 0
    # Set only by a Scheduler delivery or a recovered slot, never by the event: a backfill's
    # `trigger.date` (an old slot, or one ahead of time) must not move the trigger's last fired slot.
    _fires_schedule: bool = PrivateAttr(default=False)

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> StartRequest:
        """A start from any source; a schedule's delivery gets its trigger context and deterministic id."""
        scheduled = is_scheduled_event(event)
        if scheduled:
            event = admission_trigger_context(event)
        request = cls.model_validate(event)
        request._fires_schedule = scheduled
        return request

    @classmethod
    def of_slot(cls, namespace: str, flow_id: str, start: ScheduledStart) -> StartRequest:
        """The start of a schedule's slot fired now (a recovered missed slot): it moves the last fired slot."""
        request = cls(
            namespace=namespace,
            flow_id=flow_id,
            inputs=dict(start.inputs),
            labels=dict(start.labels),
            trigger=start.trigger,
            execution_id=start.execution_id,
        )
        request._fires_schedule = True
        return request

    def fired_slot(self) -> tuple[str, datetime] | None:
        """(trigger id, slot instant) of a start that fires a schedule's slot; None for any other start."""
        trigger = self.trigger or {}
        trigger_id, date = trigger.get("id"), trigger.get("date")
        if not self._fires_schedule or trigger.get("type") != "schedule":
            return None
        if not isinstance(trigger_id, str) or not isinstance(date, str):
            return None
        try:
            return trigger_id, parse_instant(date)
        except ValueError:
            return None


class StartResponse(BaseModel):
    """What admission answers: the execution and its state, or REFUSED with the reason."""

    model_config = ConfigDict(populate_by_name=True)

    execution_id: str | None = Field(default=None, alias="executionId")
    state: str
    namespace: str
    flow_id: str = Field(alias="flowId")
    revision: int | None = None
    execution_arn: str | None = Field(default=None, alias="executionArn")
    new: bool = False
    error: str | None = None
    input: str | None = None  # the refused input, when an input was the reason
    # Milliseconds from admission to StartExecution, when this call started it (the QueueWait metric).
    queue_wait_ms: float | None = Field(default=None, exclude=True)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Starter:
    """Admits and starts executions; the store and the Step Functions client are injected."""

    def __init__(self, store: ExecutionStore, stepfunctions: SFNClient):
        self.store = store
        self.stepfunctions = stepfunctions
        self._flows: dict[tuple[str, str, int], Flow] = {}  # a container parses each revision once

    def start(self, request: StartRequest) -> StartResponse:
        if request.execution_id is not None and not EXECUTION_ID.match(request.execution_id):
            return _refuse(
                request, f"execution id {request.execution_id!r}: use 1-80 letters, digits, '-' or '_'"
            )
        if request.retry is not None and request.execution_id is not None:
            return self._start_retry(request, request.retry, request.execution_id)
        record = self.store.get_flow(request.namespace, request.flow_id)
        if record is None:
            return _refuse(request, f"flow {request.namespace}.{request.flow_id} is not deployed")
        try:
            flow = self._flow(record)
        except StratoflowError as error:
            return _refuse(request, str(error))
        return self._admit(request, flow, record.revision, record.source_hash, None)

    def _start_retry(self, request: StartRequest, behavior: str, execution_id: str) -> StartResponse:
        """A flow retry whose interval passed: its execution was recorded when it was planned."""
        retry = delivered_retry(self.store, behavior, execution_id, request.restarts)
        if retry is None:
            return _refuse(request, f"execution {execution_id} does not exist")
        current = self.store.get_execution(execution_id) or retry.execution
        return self.start_retry(retry) or start_response(current, False)

    def start_retry(self, retry: FlowRetry) -> StartResponse | None:
        """Start a flow retry's execution now (after the concurrency limit): the response, or None when
        nothing must run (killed, started already, restarted by hand, queued for a slot)."""
        execution = start_retry(self.store, retry)
        if execution is None:
            return None
        return self.launch(execution, new=True)

    def start_revision(
        self, request: StartRequest, flow: Flow, revision: int, version_arn: str
    ) -> StartResponse:
        """Start on a revision being deployed (not live yet): its flow and state machine version given."""
        return self._admit(request, flow, revision, None, version_arn)

    def _admit(
        self,
        request: StartRequest,
        flow: Flow,
        revision: int,
        source_hash: str | None,
        version_arn: str | None,
    ) -> StartResponse:
        try:
            inputs = request.inputs
            if request.trigger and request.trigger.get("type") == "schedule":
                # A schedule's inputs may use `trigger.date` & co., as every trigger's may.
                inputs = render_trigger_variables(
                    flow, str(request.trigger.get("id")), inputs, request.trigger
                )
            execution, new = admit(
                self.store,
                flow,
                revision,
                inputs,
                labels=request.labels,
                trigger=request.trigger,
                execution_id=request.execution_id,
                parent_execution_id=request.parent_execution_id,
            )
        except InputError as error:
            return _refuse(request, str(error), error.input_id)
        except TriggerSkipped as skipped:
            # A slot its conditions skip is done with: missed-schedule recovery must not replay it.
            if request.execution_id is not None:
                self._record_fired(request, request.execution_id)
            return _refuse(request, str(skipped))
        except StratoflowError as error:  # a disabled flow, a trigger delivery that starts nothing, ...
            return _refuse(request, str(error))
        self._record_fired(request, execution.id)
        if execution.state not in STARTABLE:
            # Queued for a concurrency slot, or refused by the flow's concurrency limit.
            return start_response(execution, new)
        return self.launch(execution, new, source_hash, version_arn)

    def _record_fired(self, request: StartRequest, execution_id: str) -> None:
        """A schedule's slot was admitted: missed-schedule recovery resumes after it."""
        slot = request.fired_slot()
        if slot is None:
            return
        try:
            set_last_fired(self.store, request.namespace, request.flow_id, slot[0], slot[1], execution_id)
        except ConflictError as error:  # the start matters more than the bookkeeping: keep going
            log.warning("could not record the last fired slot of %s: %s", slot[0], error)

    def launch(
        self,
        execution: Execution,
        new: bool = True,
        source_hash: str | None = None,
        version_arn: str | None = None,
    ) -> StartResponse:
        """StartExecution for a recorded execution (just admitted, or promoted from the queue).

        Idempotent: the execution id is the Step Functions execution name (`<id>_r<n>` after a
        restart, see cloud.runtime.runs), so starting an execution that already runs (a duplicate delivery)
        starts nothing new.
        """
        version = version_arn
        if version is None:
            if source_hash is None:
                record = self.store.get_flow(execution.namespace, execution.flow_id, execution.revision)
                source_hash = record.source_hash if record is not None else ""
            version = deployed_version(
                self.store, execution.namespace, execution.flow_id, execution.revision, source_hash
            )
        if version is None:
            return self._fail(
                execution, new, "its revision has no deployed state machine version (redeploy the flow)"
            )
        waited: float | None = None
        try:
            response = self.stepfunctions.start_execution(
                stateMachineArn=version,
                name=run_name(execution.id, execution.restarts),
                input=json.dumps(execution_input(execution)),
            )
        except Exception as error:
            if error_code(error) != "ExecutionAlreadyExists":
                return self._fail(execution, new, f"Step Functions refused to start it: {error}")
            arn = None  # it ran already: an earlier delivery of this start
        else:
            arn = str(response["executionArn"])
            if execution.restarts == 0:  # a restart's record was created long before: no queue wait
                waited = milliseconds(execution.start_date, datetime.now(UTC))
        try:
            execution = self.store.update_execution(
                execution.id, state=State.RUNNING, expected_states={State.CREATED}
            )
        except ConflictError:
            # RUNNING already (promoted, or a duplicate delivery), or the status events got there first.
            execution = self.store.get_execution(execution.id) or execution
        log.info("started %s.%s execution %s", execution.namespace, execution.flow_id, execution.id)
        started = start_response(execution, new, arn)
        started.queue_wait_ms = waited
        return started

    def _flow(self, record: FlowRecord) -> Flow:
        key = (record.namespace, record.flow_id, record.revision)
        if key not in self._flows:
            name, inherited = f"{record.namespace}.{record.flow_id}", recorded_in(record.namespace_defaults)
            flow = load_flow(record.source, name, inherited)
            self._flows[key] = flow.model_copy(update={"revision": record.revision})
        return self._flows[key]

    def _fail(self, execution: Execution, new: bool, reason: str) -> StartResponse:
        """The execution was recorded but could not start: it ends FAILED, saying why.

        A duplicate delivery (`new` False) of an execution that may already run is left as it is.
        """
        message = f"could not start: {reason}"
        log.error("execution %s %s", execution.id, message)
        try:
            failed = self.store.update_execution(
                execution.id,
                state=State.FAILED,
                error=message,
                end_date=datetime.now(UTC),
                expected_states=STARTABLE if new else {State.CREATED},
            )
        except ConflictError:
            failed = self.store.get_execution(execution.id) or execution
        response = start_response(failed, new)
        response.error = message
        return response


def _refuse(request: StartRequest, reason: str, input_id: str | None = None) -> StartResponse:
    log.info("refused a start of %s.%s: %s", request.namespace, request.flow_id, reason)
    return StartResponse(
        state=REFUSED,
        namespace=request.namespace,
        flow_id=request.flow_id,
        error=reason,
        input=input_id,
    )


def render_trigger_variables(
    flow: Flow, trigger_id: str, inputs: dict[str, Any], trigger: dict[str, Any]
) -> dict[str, Any]:
    """Inputs rendered with `trigger.*` and `flow.*`; InputError names an input that fails to render."""

    variables = {
        "trigger": trigger,
        "flow": flow_variables(flow.namespace, flow.id, flow.revision),
    }
    rendered: dict[str, Any] = {}
    for name, value in inputs.items():
        try:
            rendered[name] = expressions.render(value, variables)
        except expressions.ExpressionError as error:
            raise InputError(name, f"trigger '{trigger_id}' could not render it: {error}") from None
    return rendered


def delivered_retry(
    store: ExecutionStore, behavior: str, execution_id: str, restarts: int
) -> FlowRetry | None:
    """The flow retry a schedule delivered to admission (cloud.runtime.retries), or None when its
    execution does not exist."""
    execution = store.get_execution(execution_id)
    if execution is None:
        return None
    planned = execution.model_copy(update={"restarts": restarts})
    return FlowRetry(behavior, planned, attempt=restarts + 2, delay=timedelta(0))


def start_response(execution: Execution, new: bool, arn: str | None = None) -> StartResponse:
    """The reply about a recorded execution (started now when `arn` is given)."""
    return StartResponse(
        execution_id=execution.id,
        state=str(execution.state),
        namespace=execution.namespace,
        flow_id=execution.flow_id,
        revision=execution.revision,
        execution_arn=arn,
        new=new,
        error=execution.error,
    )
