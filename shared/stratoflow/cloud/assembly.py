"""The cloud's one composition root: what each platform function runs, built from its settings.

Every Lambda handler calls one function here at import time and only adapts its event; the cloud CLI
and the cloud simulation build their objects here too, with the clients they already hold. Without
clients passed in, they are `LazyAwsClients`: a handler's INIT imports no boto3 and no client exists
until its first request needs one.

Each function imports what it builds in its own body, on purpose: a handler's INIT then loads only
its own function's modules (admission no compiler and no task runner, the task runner no admission,
the webhook no Step Functions code), which is the cold-start budget `bench/cold_start.py` measures.
Only small leaves that import nothing heavy (the stores' adapters, settings, secrets) are imported
here for all; the task runner's callbacks, flow credentials, pause events and script sandboxes'
invoker come with it (`cloud.runtime.task_runner`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from stratoflow.cloud.config.clients import AwsClients
from stratoflow.cloud.config.lazy import ADAPTIVE_RETRIES, LazyAwsClients
from stratoflow.cloud.config.naming import AccountRegion
from stratoflow.cloud.config.secrets import configured_secrets
from stratoflow.cloud.config.settings import Settings
from stratoflow.store.dynamo import DynamoExecutionStore
from stratoflow.store.s3 import S3BlobStore

if TYPE_CHECKING:
    from stratoflow.cloud.deploy.deployer import Deployer
    from stratoflow.cloud.runtime.control import RemoteControl
    from stratoflow.cloud.runtime.events import ExecutionEvents
    from stratoflow.cloud.runtime.sla_timer import SlaTimers
    from stratoflow.cloud.runtime.starter import Starter
    from stratoflow.execution.runner import TaskRunner
    from stratoflow.triggers.webhooks import Webhooks


def cloud_store(settings: Settings, clients: AwsClients) -> DynamoExecutionStore:
    """The DynamoDB execution store of the stack's table."""
    return DynamoExecutionStore(
        settings.stratoflow_table_name,
        client=clients.dynamodb,
        history_days=settings.stratoflow_history_days,
        flow_blobs=S3BlobStore(settings.stratoflow_data_bucket, client=clients.s3),
    )


def cloud_deployer(settings: Settings, clients: AwsClients | None = None) -> Deployer:
    """The deployer with every step: flow role, state machine, alarms, trigger rules, pipes, schedules."""
    # Deferred: the compiler and the deploy pipeline, for the deployer function alone.
    from stratoflow.cloud.deploy import deploy_steps, deployer, pipes, rules, schedules

    clients = clients or LazyAwsClients(retries=ADAPTIVE_RETRIES)
    store = cloud_store(settings, clients)
    steps = [
        *deploy_steps.default_steps(clients, settings),
        rules.RulesStep(clients.events, settings),
        pipes.PipesStep(clients.pipes, settings, iam=clients.iam),
        schedules.SchedulesStep(clients.scheduler, settings, store, clients.stepfunctions),
    ]
    return deployer.Deployer(store, settings, clients, steps=steps)


@dataclass(frozen=True)
class AdmissionFunction:
    """What the admission function runs: the start path, and the SLA timers that fire into it."""

    starter: Starter
    sla_timers: SlaTimers


def cloud_admission(settings: Settings, clients: AwsClients | None = None) -> AdmissionFunction:
    # Deferred: admission (flow loading, inputs, concurrency), which the task runner never loads.
    from stratoflow.cloud.runtime import sla_timer, starter

    clients = clients or LazyAwsClients()
    store = cloud_store(settings, clients)
    return AdmissionFunction(
        starter.Starter(store, clients.stepfunctions),
        sla_timer.SlaTimers(store, clients.scheduler, settings),
    )


def cloud_execution_events(settings: Settings, clients: AwsClients | None = None) -> ExecutionEvents:
    """Status changes -> records, with flow retries started or scheduled and SLA timers (dis)armed."""
    # Deferred: the end of an execution (finalize, flow retries, alerts), for this function alone.
    from stratoflow.cloud.runtime import events, retries, sla_timer, starter

    clients = clients or LazyAwsClients()
    store = cloud_store(settings, clients)
    return events.ExecutionEvents(
        store,
        clients.events,
        settings.stratoflow_event_bus_name,
        stepfunctions=clients.stepfunctions,
        stack_name=settings.stratoflow_stack_name,
        retries=retries.CloudRetries(
            starter.Starter(store, clients.stepfunctions), clients.scheduler, settings
        ),
        sns=clients.sns,
        alert_topic_arn=settings.stratoflow_alert_topic_arn,
        sla_timers=sla_timer.SlaTimers(store, clients.scheduler, settings),
        blobs=S3BlobStore(settings.stratoflow_data_bucket, client=clients.s3),
    )


def cloud_task_runner(settings: Settings, clients: AwsClients | None = None) -> TaskRunner:
    """The task runner on the stack's table and data bucket; AWS tasks run with their flow's role."""
    # Deferred: the runner, the task types, the expression engine and the script sandboxes' invoker,
    # for the task-runner function.
    from stratoflow.cloud.runtime.task_runner import task_runner

    clients = clients or LazyAwsClients()
    return task_runner(settings, clients, cloud_store(settings, clients))


def cloud_webhooks(settings: Settings, clients: AwsClients | None = None) -> Webhooks:
    """Webhook requests checked here, their starts sent to the admission function."""
    # Deferred: the webhook rules, for the webhook function alone.
    from stratoflow.triggers.webhooks import Webhooks, admission_start

    clients = clients or LazyAwsClients()
    store = cloud_store(settings, clients)
    start = admission_start(clients.lambda_, settings.stratoflow_admission_arn, store)
    return Webhooks(store, start, secrets=configured_secrets())


def cloud_control(
    store: DynamoExecutionStore, admission_arn: str, stack_name: str, clients: AwsClients | None = None
) -> RemoteControl:
    """Kill, restart, replay and resume on a deployed stack (`strato ... --remote`); the account and
    region of its state machines are those of its admission function."""
    # Deferred: the cloud CLI's control commands alone need them.
    from stratoflow.cloud.runtime import control, starter

    stepfunctions = (clients or AwsClients()).stepfunctions
    account = AccountRegion.from_arn(admission_arn)
    return control.RemoteControl(
        store, stepfunctions, starter.Starter(store, stepfunctions), account, stack_name
    )
