"""IAM is eventually consistent: a role or policy seconds old is refused for a while. The deployer and
the first task run of a freshly deployed flow retry the refusals that mean "not propagated yet",
bounded and with backoff; any other refusal fails at once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from stratoflow.cloud.deploy.deploy_steps import StateMachineStep
from stratoflow.cloud.runtime.flow_credentials import FlowRoleCredentials
from tests.unit.cloud.test_flow_roles import (
    FLOW_ROLE,
    STATE_MACHINE,
    created,
    deployment,
    new_state_machine,
    settings,
)

LOG_POLICY_NOT_YET = "The state machine IAM Role is not authorized to access the Log Destination"


class PropagatingSts:
    """STS that refuses AssumeRole of a new role with AccessDenied for its first `refusals` calls."""

    def __init__(self, refusals: int, code: str = "AccessDenied"):
        self.refusals = refusals
        self.code = code
        self.calls = 0

    def assume_role(self, **request: Any) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.refusals:
            message = f"User: task-runner is not authorized to perform: sts:AssumeRole on resource: {request['RoleArn']}"
            raise ClientError({"Error": {"Code": self.code, "Message": message}}, "AssumeRole")
        expires = datetime(2030, 1, 1, tzinfo=UTC)
        return {
            "Credentials": {
                "AccessKeyId": "ASIA",
                "SecretAccessKey": "s",
                "SessionToken": "t",
                "Expiration": expires,
            }
        }


def provider(sts: PropagatingSts, sleeps: list[float]) -> FlowRoleCredentials:
    return FlowRoleCredentials(
        "arn:aws:iam::1:role/stratoflow/", "S", sts, sleep=sleeps.append, delays=(0.5, 1.0, 2.0)
    )


def test_the_first_task_run_waits_for_a_seconds_old_flow_role() -> None:
    # Given STS refuses the new role twice (IAM has not propagated it)
    sts, sleeps = PropagatingSts(refusals=2), []

    # When the first AWS task of the flow asks for its credentials
    credentials = provider(sts, sleeps).for_flow("ns", "f", "exec-1")

    # Then they come on the third try, after 0.5 s and 1 s
    assert credentials["aws_access_key_id"] == "ASIA"
    assert (sts.calls, sleeps) == (3, [0.5, 1.0])


def test_a_role_that_never_becomes_assumable_fails_after_the_last_delay() -> None:
    sts, sleeps = PropagatingSts(refusals=10), []

    with pytest.raises(ClientError, match="sts:AssumeRole"):
        provider(sts, sleeps).for_flow("ns", "f", "exec-1")
    assert (sts.calls, sleeps) == (4, [0.5, 1.0, 2.0])


def test_other_sts_errors_fail_at_once() -> None:
    sts, sleeps = PropagatingSts(refusals=1, code="RegionDisabledException"), []

    with pytest.raises(ClientError):
        provider(sts, sleeps).for_flow("ns", "f", "exec-1")
    assert (sts.calls, sleeps) == (1, [])


def test_the_deployer_waits_for_a_just_attached_log_delivery_policy() -> None:
    # Given Step Functions refuses the log destination once (the policy was attached seconds ago)
    client, stub = new_state_machine(("AccessDeniedException", LOG_POLICY_NOT_YET))
    created(stub, FLOW_ROLE)
    sleeps: list[float] = []
    step = StateMachineStep(client, settings(), role_delays=(1.0, 2.0), sleep=sleeps.append)

    # When the state machine is deployed
    published = deployment(FLOW_ROLE)
    with stub:
        step.deploy(published)
        stub.assert_no_pending_responses()

    # Then it was created on the second attempt
    assert sleeps == [1.0]
    assert published.version_arn == f"{STATE_MACHINE}:1"
