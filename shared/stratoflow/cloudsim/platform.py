"""The cloud simulation: a flow through the deployed code path, on moto, in one process.

Inside `CloudSimulation()`: the stack's resources exist on moto (flows and data buckets, the table,
the alerts topic, the state machine role, the flow roles' policies); an upload to the flows bucket
runs the deployer's logic with the S3 event EventBridge would deliver (a flow with AWS tasks gets its
own role); the admission and task-runner Lambda functions are answered in-process by their real logic
(DynamoDB and S3 stores, AWS tasks with the flow's assumed role); executions run on moto's ASL
interpreter, those with loops on Stratoflow's engine driving moto's services (`cloudsim.engine_runs`);
their status events feed the execution-events logic. The pipes of SQS triggers are
created on moto's Pipes; `deliver_queue_messages()` runs them once (`cloudsim.pipes`). `strato run FLOW
--cloud-sim` is `run_flow` on a fresh simulation.

Subflows cannot run here: moto 5.2.5 does not implement `states:startExecution` inside a state
machine, so `run_flow` refuses a flow that uses Subflow or ForEachItem (whose ItemBatcher moto's
parser rejects too) with SubflowNotSupported, instead of failing half-way. Wait and Retry intervals are real seconds on moto.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3

from stratoflow.cloud.assembly import (
    cloud_admission,
    cloud_deployer,
    cloud_execution_events,
    cloud_task_runner,
)
from stratoflow.cloud.config.clients import AwsClients
from stratoflow.cloud.config.naming import sandbox_function_prefix
from stratoflow.cloud.deploy.pipes import pipe_prefix
from stratoflow.cloud.deploy.registry import DeploymentRegistry, Verdict
from stratoflow.cloud.runtime.event_models import FlowObjectEvent, StatusChange
from stratoflow.cloud.runtime.events import StatusOutcome
from stratoflow.cloud.runtime.queue_batches import admission_request
from stratoflow.cloud.runtime.script_sandbox import LambdaScriptSandboxes
from stratoflow.cloud.runtime.sla_timer import REQUEST_KEY as SLA_REQUEST
from stratoflow.cloud.runtime.starter import REFUSED, StartResponse
from stratoflow.cloudsim.containers import SimulatedContainers
from stratoflow.cloudsim.delivery import START_PARAMS, FlowUploads, StatusEvents, start_latest_versions
from stratoflow.cloudsim.engine_runs import EngineRuns
from stratoflow.cloudsim.pipes import PipeDelivery, QueuePipes
from stratoflow.cloudsim.sandboxes import LoopbackS3, SubprocessSandboxes
from stratoflow.cloudsim.stack import ACCOUNT, ADMISSION, TASK_RUNNER, atomic_dynamodb_client, create_stack
from stratoflow.cloudsim.stepfunctions import moto_stepfunctions
from stratoflow.domain import Execution, TaskRun
from stratoflow.errors import FlowValidationError, StratoflowError
from stratoflow.flow import load_flow

log = logging.getLogger("stratoflow.cloudsim")
# How long the simulation's end waits for functions still running: a killed task run's stop takes a
# read of the record (every 2 s) and a poll of the stop URL (every 0.5 s); room for a loaded machine.
DRAIN_SECONDS = 30.0


class SubflowNotSupported(StratoflowError):
    """The flow starts subflows, which moto cannot run."""


class DeployRefused(StratoflowError):
    """The deployer refused the flow; carries its verdict (errors with file and line)."""

    def __init__(self, verdict: Verdict):
        self.verdict = verdict
        super().__init__("\n".join(verdict.errors) or verdict.message)


class StartRefused(StratoflowError):
    """Admission refused the start (an invalid input, a disabled flow)."""

    def __init__(self, response: StartResponse):
        self.response = response
        super().__init__(response.error or "the start was refused")


@dataclass
class SimulatedRun:
    """A finished execution of the simulation, shaped as `strato run` reports a local one."""

    execution: Execution
    task_runs: list[TaskRun]
    execution_arn: str
    history_events: int
    """The events of the execution's history on moto's interpreter (the local engine counts the same)."""


class CloudSimulation:
    """The stack's code path on moto; use as a context manager (it owns the moto mock)."""

    def __init__(self, stack_name: str = "Stratoflow", quiet: bool = True):
        self.stack_name = stack_name
        self.quiet = quiet
        self._moto: Any = None
        self.loopback_s3: LoopbackS3 | None = None

    def __enter__(self) -> CloudSimulation:
        self._moto = moto_stepfunctions(quiet=self.quiet)
        sfn = self._moto.__enter__()
        try:
            self._wire(sfn)
        except BaseException:
            self._stop_loopback()
            self._moto.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        # Task runs killed at the execution's end may still be stopping their scripts (see wait_idle);
        # an interrupted simulation (Ctrl-C, a failure) ends at once.
        if kind is None and not self.lambdas.wait_idle(DRAIN_SECONDS):
            log.warning("functions still running after %s s: the simulation ends anyway", DRAIN_SECONDS)
        self.status_events.stop()
        self.status_events.unfollow_starts()
        boto3._get_default_session().events.unregister(START_PARAMS, self._to_latest)
        self.uploads.uninstall()
        self.containers.uninstall()
        self._engine_runs.__exit__(kind, error, traceback)
        self._stop_loopback()
        self._moto.__exit__(kind, error, traceback)

    def _stop_loopback(self) -> None:
        if self.loopback_s3 is not None:
            self.loopback_s3.stop()
            self.loopback_s3 = None

    def _wire(self, sfn: Any) -> None:
        self.stack = create_stack(self.stack_name)
        self.settings = self.stack.settings
        # Before any client exists: clients copy the session's event handlers when they are created.
        self.uploads = FlowUploads(self.settings.stratoflow_flows_bucket, self._deliver_object_event)
        self.uploads.install()
        self.clients = AwsClients(
            dynamodb=atomic_dynamodb_client(),
            stepfunctions=boto3.client("stepfunctions"),
            s3=boto3.client("s3"),
            cloudwatch=boto3.client("cloudwatch"),
            sns=boto3.client("sns"),
            events=boto3.client("events"),
            pipes=boto3.client("pipes"),
            scheduler=self._schedule_group(),
            sts=boto3.client("sts"),
        )
        # Clients created later (a CLI's restart, replay or promotion) start version ARNs too.
        self._to_latest = start_latest_versions(self.clients.stepfunctions)
        boto3._get_default_session().events.register(START_PARAMS, self._to_latest)
        # The functions as the stack's handlers build them (cloud.assembly), on the simulated stack.
        self.deployer = cloud_deployer(self.settings, self.clients)
        self.store = self.deployer.store
        self.registry = DeploymentRegistry(self.store)
        self.queue_pipes = QueuePipes(
            self.clients.pipes, boto3.client("sqs"), boto3.client("lambda"), pipe_prefix(self.settings)
        )
        admission = cloud_admission(self.settings, self.clients)
        self.starter, self.sla_timers = admission.starter, admission.sla_timers
        self.execution_events = cloud_execution_events(self.settings, self.clients)
        self.runner = cloud_task_runner(self.settings, self.clients)
        self.blobs = self.runner.blobs
        self.lambdas = sfn.lambdas
        self.lambdas.functions[TASK_RUNNER] = lambda event, _context: self.runner.handle(event)
        self.lambdas.functions[ADMISSION] = lambda event, _context: self.admit(event)
        # Script tasks run in their flow's sandbox function: here a process with only its role's credentials.
        self.sandboxes = SubprocessSandboxes(boto3.client("lambda"), self.clients.sts)
        self.lambdas.prefixes[sandbox_function_prefix(self.stack_name)] = self.sandboxes
        # ...which reaches the data bucket only through the URLs of its job, over HTTP.
        self.loopback_s3 = LoopbackS3()
        if isinstance(self.runner.sandboxes, LambdaScriptSandboxes):
            self.runner.sandboxes = self.loopback_s3.signing(self.runner.sandboxes)
        # Container-run script tasks: moto's ECS runs no container; the simulation runs the container's
        # program as a process with its task role (the flow's sandbox role), over the loopback S3.
        self.containers = SimulatedContainers(self.clients.sts, self.loopback_s3.endpoint)
        self.containers.install()
        # Loops run on Stratoflow's engine, on moto's services (cloudsim.engine_runs says why).
        self.engine_runs = EngineRuns(self.lambdas.functions, self.clients.s3)
        self._engine_runs = self.engine_runs.installed()
        self._engine_runs.__enter__()
        self.status_events = StatusEvents(self.clients.stepfunctions, self._deliver_status_event)
        self.status_events.follow_starts(self.clients.stepfunctions)
        self.status_events.start()

    def _schedule_group(self) -> Any:
        """The Scheduler client, with the stack's schedule group made and named in the settings (moto
        stores schedules and never fires them: deliver one's Input to `admit` to play it)."""
        scheduler = boto3.client("scheduler")
        scheduler.create_schedule_group(Name=self.stack_name)
        self.settings = self.settings.model_copy(
            update={
                "stratoflow_schedule_group": self.stack_name,
                "stratoflow_scheduler_role_arn": f"arn:aws:iam::{ACCOUNT}:role/{self.stack_name}-SchedulerRole",
            }
        )
        return scheduler

    # --- the functions, as EventBridge and Lambda invoke them --------------------------------------

    def _deliver_object_event(self, event: dict[str, Any]) -> Verdict:
        return self.deployer.handle(FlowObjectEvent.from_eventbridge(event))

    def _deliver_status_event(self, event: dict[str, Any]) -> StatusOutcome:
        return self.execution_events.handle(StatusChange.from_eventbridge(event))

    def admit(self, event: dict[str, Any] | list[Any]) -> dict[str, Any]:
        """The admission function: starts the execution, and follows its status events (or applies
        an SLA timer that fired)."""
        if isinstance(event, dict) and SLA_REQUEST in event:
            request_ = event[SLA_REQUEST]
            _, miss = self.sla_timers.fire(str(request_["executionId"]), str(request_["slaId"]))
            return {"executionId": request_["executionId"], "slaMissed": miss is not None}
        request, batch = admission_request(event)
        response = self.starter.start(request)
        if response.execution_arn:
            self.status_events.track(response.execution_arn)
        return batch.reply(response) if batch else response.to_json()

    def deliver_queue_messages(self) -> list[PipeDelivery]:
        """What the SQS triggers' pipes deliver now: one poll of each running pipe."""
        return self.queue_pipes.deliver()

    # --- what a user does ------------------------------------------------------------------------

    def upload(self, key: str, source: str) -> Verdict:
        """Put a flow file in the flows bucket; returns the deployer's verdict on it."""
        s3 = self.clients.s3
        before = len(self.uploads.results)
        s3.put_object(Bucket=self.settings.stratoflow_flows_bucket, Key=key, Body=source.encode())
        verdict: Verdict = self.uploads.results[before]
        return verdict

    def delete(self, key: str) -> Verdict:
        before = len(self.uploads.results)
        self.clients.s3.delete_object(Bucket=self.settings.stratoflow_flows_bucket, Key=key)
        verdict: Verdict = self.uploads.results[before]
        return verdict

    def start(
        self, namespace: str, flow_id: str, inputs: dict[str, Any] | None = None, **fields: Any
    ) -> StartResponse:
        """Start through the admission function (Lambda Invoke, answered in-process)."""
        payload = {"namespace": namespace, "flowId": flow_id, "inputs": inputs or {}, **fields}
        response = boto3.client("lambda").invoke(
            FunctionName=self.settings.stratoflow_admission_arn, Payload=json.dumps(payload).encode()
        )
        document = json.loads(response["Payload"].read())
        if response.get("FunctionError"):
            raise StratoflowError(
                f"admission failed: {document.get('errorType')}: {document.get('errorMessage')}"
            )
        return StartResponse.model_validate(document)

    def wait(self, execution_arn: str, timeout: float | None = 60.0) -> SimulatedRun:
        """Wait until the execution ended and its final status event was recorded (None: however long
        it takes)."""
        if not self.status_events.wait(execution_arn, timeout):
            raise TimeoutError(f"execution {execution_arn} did not finish within {timeout} s")
        if self.status_events.errors:
            raise self.status_events.errors[0]
        name = execution_arn.rsplit(":", 1)[1]
        execution = self.store.get_execution(name)
        if execution is None:
            raise StratoflowError(f"execution {name} has no record")
        return SimulatedRun(
            execution, self.store.list_task_runs(name), execution_arn, self._history_events(execution_arn)
        )

    def _history_events(self, execution_arn: str) -> int:
        counted = self.engine_runs.history_events(execution_arn)
        if counted is not None:  # run by the engine: its count, which moto's history does not list
            return counted
        pages = self.clients.stepfunctions.get_paginator("get_execution_history")
        return sum(len(page["events"]) for page in pages.paginate(executionArn=execution_arn))

    def run_flow(
        self, path: Path, inputs: dict[str, Any] | None = None, timeout: float | None = 120.0
    ) -> SimulatedRun:
        """Upload a flow file, start it through admission and wait for its recorded end."""
        source = path.read_text(encoding="utf-8")
        refuse_subflows(source, str(path))
        verdict = self.upload(path.name, source)
        if verdict.status != "DEPLOYED":
            raise DeployRefused(verdict)
        record = self.store.get_flow(verdict.namespace, verdict.flow_id)
        if record is not None and record.parts:
            raise SubflowNotSupported(
                f"{path}: the flow is too large for one state machine and runs as {len(record.parts)} parts "
                "(child state machines), which the cloud simulation cannot run: moto 5.2.5 does not "
                "implement states:startExecution inside a state machine. It deployed; run it locally "
                "(`strato run FLOW`) or on a deployed stack."
            )
        response = self.start(verdict.namespace, verdict.flow_id, inputs or {})
        if response.state == REFUSED:
            raise StartRefused(response)
        if response.execution_arn is None:
            raise StratoflowError(f"execution {response.execution_id} did not start: {response.error}")
        return self.wait(response.execution_arn, timeout)


def refuse_subflows(source: str, file: str) -> None:
    """Raise SubflowNotSupported when a (valid) flow uses Subflow; an invalid one is the deployer's to report."""
    try:
        flow = load_flow(source, file)
    except FlowValidationError:
        return
    subflows = [task.id for task in flow.all_tasks() if type(task).type_name == "Subflow"]
    if subflows:
        raise SubflowNotSupported(
            f"{file}: task(s) {', '.join(subflows)} start subflows, which the cloud simulation cannot run: "
            "moto 5.2.5 does not implement states:startExecution inside a state machine. Run the flow "
            "locally (`strato run FLOW --flows-dir DIR`) or on a deployed stack."
        )
    batched = [task.id for task in flow.all_tasks() if type(task).type_name == "ForEachItem"]
    if batched:
        raise SubflowNotSupported(
            f"{file}: ForEachItem task(s) {', '.join(batched)} cannot run in the cloud simulation: moto "
            "5.2.6's interpreter refuses a Map's ItemBatcher, reads no JSONL ItemReader, and does not "
            "implement states:startExecution inside a state machine. Run the flow locally (`strato run "
            "FLOW --flows-dir DIR`) or on a deployed stack."
        )
