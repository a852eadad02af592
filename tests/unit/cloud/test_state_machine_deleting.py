"""DeleteStateMachine is asynchronous on AWS (moto deletes at once): a re-upload soon after a delete
waits, with backoff and a bound, for the machine to be gone, then creates it again."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from stratoflow.cloud.config.settings import Settings
from stratoflow.cloud.deploy.deploy_steps import StateMachineStep, StateMachineStillDeleting
from stratoflow.cloud.deploy.deployment import Deployment, FlowTarget

STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:S-ns-f"
SHARED_ROLE = "arn:aws:iam::123456789012:role/S-StateMachineRole"


def deleting(stub: Stubber, times: int) -> None:
    """The machine stays DELETING for `times` DescribeStateMachine calls (its executions stop)."""
    described = {
        "stateMachineArn": STATE_MACHINE,
        "name": "S-ns-f",
        "status": "DELETING",
        "definition": "{}",
        "roleArn": SHARED_ROLE,
        "type": "STANDARD",
        "creationDate": datetime(2026, 1, 1, tzinfo=UTC),
    }
    for _ in range(times):
        stub.add_response("describe_state_machine", described, {"stateMachineArn": STATE_MACHINE})


def step_and_stub(sleeps: list[float]) -> tuple[StateMachineStep, Stubber]:
    client = boto3.client("stepfunctions", region_name="us-east-1")
    settings = Settings(
        stratoflow_table_name="t", stratoflow_data_bucket="b", stratoflow_state_machine_role_arn=SHARED_ROLE
    )
    step = StateMachineStep(client, settings, sleep=sleeps.append, delete_delays=(1.0, 2.0, 4.0))
    return step, Stubber(client)


def deployment() -> Deployment:
    target = FlowTarget("ns", "f", "S-ns-f", STATE_MACHINE)
    return Deployment(target, flow=None, previous=None, revision=1, definition={"StartAt": "a", "States": {}})


def test_a_reupload_waits_for_the_deleted_machine_to_be_gone_then_creates_it() -> None:
    # Given a state machine still DELETING for two looks, then gone
    sleeps: list[float] = []
    step, stub = step_and_stub(sleeps)
    deleting(stub, 2)
    stub.add_client_error("describe_state_machine", "StateMachineDoesNotExist", "gone")
    created = {"stateMachineArn": STATE_MACHINE, "creationDate": datetime(2026, 1, 1, tzinfo=UTC)}
    stub.add_response("create_state_machine", {**created, "stateMachineVersionArn": f"{STATE_MACHINE}:1"})

    # When the flow is deployed again
    published = deployment()
    with stub:
        step.deploy(published)
        stub.assert_no_pending_responses()

    # Then it waited with backoff (1 s, 2 s) and created a new machine instead of updating a dying one
    assert sleeps == [1.0, 2.0]
    assert published.version_arn == f"{STATE_MACHINE}:1"


def test_the_wait_for_a_deletion_is_bounded_and_says_why() -> None:
    # Given a state machine that stays DELETING (executions still stopping)
    sleeps: list[float] = []
    step, stub = step_and_stub(sleeps)
    deleting(stub, 4)

    # When the flow is deployed again, Then it fails clearly after the last delay (Lambda retries it)
    with stub, pytest.raises(StateMachineStillDeleting, match="still being deleted"):
        step.deploy(deployment())
    assert sleeps == [1.0, 2.0, 4.0]
