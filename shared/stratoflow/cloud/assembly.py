"""Builds what each platform function runs, from its settings: one place for the cloud wiring."""

from __future__ import annotations

from typing import Any

from stratoflow.cloud.clients import AwsClients
from stratoflow.cloud.deployer import Deployer
from stratoflow.cloud.events import ExecutionEvents
from stratoflow.cloud.settings import Settings
from stratoflow.cloud.starter import Starter


def cloud_store(settings: Settings, clients: AwsClients) -> Any:
    """The DynamoDB execution store of the stack's table."""
    from stratoflow.store.dynamo import DynamoExecutionStore

    return DynamoExecutionStore(settings.stratoflow_table_name, client=clients.dynamodb)


def cloud_deployer(settings: Settings, clients: AwsClients | None = None) -> Deployer:
    """The deployer with every step: state machine, alarms, trigger rules, schedules."""
    from stratoflow.cloud.deploy_steps import default_steps
    from stratoflow.cloud.rules import RulesStep
    from stratoflow.cloud.schedules import SchedulesStep

    clients = clients or AwsClients()
    store = cloud_store(settings, clients)
    steps = [
        *default_steps(clients, settings),
        RulesStep(clients.events, settings),
        SchedulesStep(clients.scheduler, settings, store, clients.stepfunctions),
    ]
    return Deployer(store, settings, clients, steps=steps)


def cloud_starter(settings: Settings, clients: AwsClients | None = None) -> Starter:
    clients = clients or AwsClients()
    return Starter(cloud_store(settings, clients), clients.stepfunctions)


def cloud_execution_events(settings: Settings, clients: AwsClients | None = None) -> ExecutionEvents:
    clients = clients or AwsClients()
    return ExecutionEvents(
        cloud_store(settings, clients),
        clients.events,
        settings.stratoflow_event_bus_name,
        stepfunctions=clients.stepfunctions,
        stack_name=settings.stratoflow_stack_name,
    )
