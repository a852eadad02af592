"""Builds what each platform function runs, from its settings: one place for the cloud wiring.

Without clients passed in, each function's clients are `LazyAwsClients`: a handler builds its objects
at import time, and no boto3 client exists until its first request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stratoflow.cloud.config.clients import AwsClients
from stratoflow.cloud.config.lazy import ADAPTIVE_RETRIES, LazyAwsClients
from stratoflow.cloud.config.settings import Settings
from stratoflow.cloud.runtime.starter import Starter

if TYPE_CHECKING:  # each function imports only what it builds (the admission one: no compiler)
    from stratoflow.cloud.deploy.deployer import Deployer
    from stratoflow.cloud.runtime.events import ExecutionEvents


def cloud_store(settings: Settings, clients: AwsClients) -> Any:
    """The DynamoDB execution store of the stack's table."""
    from stratoflow.store.dynamo import DynamoExecutionStore

    return DynamoExecutionStore(
        settings.stratoflow_table_name, client=clients.dynamodb, history_days=settings.stratoflow_history_days
    )


def cloud_deployer(settings: Settings, clients: AwsClients | None = None) -> Deployer:
    """The deployer with every step: state machine, alarms, trigger rules and pipes, schedules."""
    from stratoflow.cloud.deploy.deploy_steps import default_steps
    from stratoflow.cloud.deploy.deployer import Deployer
    from stratoflow.cloud.deploy.pipes import PipesStep
    from stratoflow.cloud.deploy.rules import RulesStep
    from stratoflow.cloud.deploy.schedules import SchedulesStep

    clients = clients or LazyAwsClients(retries=ADAPTIVE_RETRIES)
    store = cloud_store(settings, clients)
    steps = [
        *default_steps(clients, settings),
        RulesStep(clients.events, settings),
        PipesStep(clients.pipes, settings),
        SchedulesStep(clients.scheduler, settings, store, clients.stepfunctions),
    ]
    return Deployer(store, settings, clients, steps=steps)


def cloud_starter(settings: Settings, clients: AwsClients | None = None) -> Starter:
    clients = clients or LazyAwsClients()
    return Starter(cloud_store(settings, clients), clients.stepfunctions)


def cloud_sla_timers(settings: Settings, clients: AwsClients | None = None) -> Any:
    """What admission runs when an SLA timer fires (cloud.runtime.sla_timer)."""
    from stratoflow.cloud.runtime.sla_timer import SlaTimers

    clients = clients or LazyAwsClients()
    return SlaTimers(cloud_store(settings, clients), clients.scheduler, settings)


def cloud_execution_events(settings: Settings, clients: AwsClients | None = None) -> ExecutionEvents:
    from stratoflow.cloud.runtime.events import ExecutionEvents
    from stratoflow.cloud.runtime.retries import CloudRetries
    from stratoflow.cloud.runtime.sla_timer import SlaTimers

    clients = clients or LazyAwsClients()
    store = cloud_store(settings, clients)
    return ExecutionEvents(
        store,
        clients.events,
        settings.stratoflow_event_bus_name,
        stepfunctions=clients.stepfunctions,
        stack_name=settings.stratoflow_stack_name,
        retries=CloudRetries(Starter(store, clients.stepfunctions), clients.scheduler, settings),
        sns=clients.sns,
        alert_topic_arn=settings.stratoflow_alert_topic_arn,
        sla_timers=SlaTimers(store, clients.scheduler, settings),
    )
