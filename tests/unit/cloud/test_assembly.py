"""The cloud's composition root: what each platform function runs, wired from its settings and clients."""

from __future__ import annotations

from typing import Any

from stratoflow.cloud.assembly import (
    cloud_admission,
    cloud_control,
    cloud_deployer,
    cloud_execution_events,
    cloud_task_runner,
    cloud_webhooks,
)
from stratoflow.cloud.config.clients import AwsClients
from stratoflow.cloud.config.settings import Settings
from stratoflow.cloud.runtime.flow_credentials import FlowRoleCredentials
from stratoflow.store.dynamo import DynamoExecutionStore


class Client:
    """A client nobody calls: building the objects sends no request."""

    def __init__(self, service: str) -> None:
        self.service = service

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"{self.service}.{name} called while building")


def clients() -> AwsClients:
    return AwsClients(**{service: Client(service) for service in AwsClients.SERVICES})


SETTINGS = Settings(
    stratoflow_table_name="table",
    stratoflow_data_bucket="data",
    stratoflow_stack_name="S",
    stratoflow_history_days=30,
    stratoflow_task_runner_role_arn="arn:aws:iam::123456789012:role/runner",
    stratoflow_flow_base_policy_arn="arn:aws:iam::123456789012:policy/base",
    stratoflow_flow_boundary_arn="arn:aws:iam::123456789012:policy/boundary",
    stratoflow_flow_role_prefix="arn:aws:iam::123456789012:role/stratoflow/",
)


def test_the_deployer_runs_every_step_in_the_lambdas_order() -> None:
    # Given settings with flow roles
    # When the deployer is built
    deployer = cloud_deployer(SETTINGS, clients())

    # Then its steps are the role, the state machine, the unused role's removal, alarms and triggers
    assert [step.name for step in deployer.steps] == [
        "flow role",
        "state machine",
        "unused flow role",
        "alarms",
        "trigger rules",
        "trigger pipes",
        "schedules",
    ]


def test_admission_starts_and_fires_sla_timers_on_one_store_of_the_stacks_table() -> None:
    # Given the clients of the admission function
    given = clients()

    # When it is built
    admission = cloud_admission(SETTINGS, given)

    # Then the starter and the SLA timers share one DynamoDB store; timers go to the given Scheduler
    store = admission.starter.store
    assert isinstance(store, DynamoExecutionStore) and admission.sla_timers.store is store
    assert admission.starter.stepfunctions is given.stepfunctions
    assert admission.sla_timers.scheduler is given.scheduler


def test_the_task_runner_runs_aws_tasks_with_their_flows_role_through_the_given_sts_client() -> None:
    # Given the clients of the task-runner function
    given = clients()

    # When it is built with STRATOFLOW_FLOW_ROLE_PREFIX set
    runner = cloud_task_runner(SETTINGS, given)

    # Then AWS tasks assume their flow's role with the given STS client; outputs go to the data bucket
    assert isinstance(runner.credentials, FlowRoleCredentials)
    assert runner.credentials._client() is given.sts
    assert runner.blobs.bucket == "data"  # type: ignore[attr-defined]
    assert runner.callbacks.client is given.stepfunctions  # type: ignore[union-attr]


def test_execution_events_retry_and_time_slas_on_the_same_store() -> None:
    events = cloud_execution_events(SETTINGS, clients())

    assert events.retries is not None and events.sla_timers is not None
    assert events.retries.starter.store is events.store and events.sla_timers.store is events.store


def test_the_webhooks_and_the_clis_control_are_built_from_the_same_root() -> None:
    given = clients()
    webhooks = cloud_webhooks(SETTINGS, given)
    control = cloud_control(
        webhooks.store, "arn:aws:lambda:eu-west-1:123456789012:function:admission", "S", given
    )

    assert control.stepfunctions is given.stepfunctions and control.starter.store is webhooks.store
    assert (control.account.region, control.account.account) == ("eu-west-1", "123456789012")
