"""The deployer's sandbox step against fake clients: IAM propagation, a Pending function, busy updates,
and when it deletes."""

from __future__ import annotations

import json
from typing import Any

from stratoflow.cloud.config.settings import Settings
from stratoflow.cloud.deploy.deployment import Deployment, FlowTarget
from stratoflow.cloud.deploy.sandboxes import Sandboxes, SandboxStep, sandbox_trust
from stratoflow.flow import load_flow

TARGET = FlowTarget(
    "team.a", "etl", "Stack-team_a-etl", "arn:aws:states:eu-west-1:123456789012:stateMachine:x"
)
SETTINGS = Settings(
    stratoflow_table_name="t",
    stratoflow_data_bucket="d",
    stratoflow_stack_name="Stack",
    stratoflow_task_runner_arn="arn:aws:lambda:eu-west-1:123456789012:function:runner",
    stratoflow_task_runner_role_arn="arn:aws:iam::123456789012:role/runner",
    stratoflow_flow_base_policy_arn="arn:aws:iam::123456789012:policy/base",
    stratoflow_flow_boundary_arn="arn:aws:iam::123456789012:policy/boundary",
    stratoflow_sandbox_code_bucket="assets",
    stratoflow_sandbox_code_key="code.zip",
    stratoflow_platform_layer_arn="arn:aws:lambda:eu-west-1:123456789012:layer:lib:3",
)


class AwsError(Exception):
    def __init__(self, code: str, message: str = ""):
        super().__init__(f"{code}: {message}")
        self.response = {"Error": {"Code": code, "Message": message}}


class Fake:
    """IAM, Lambda and Logs in one: records calls, answers from a script of errors."""

    def __init__(self, failures: dict[str, list[Exception]] | None = None, states: list[str] | None = None):
        self.failures = failures or {}
        self.states = states or ["Active"]
        self.calls: list[str] = []
        self.requests: dict[str, dict[str, Any]] = {}  # the last request of each call
        self.function: dict[str, Any] | None = None

    def _fail(self, name: str) -> None:
        self.calls.append(name)
        queue = self.failures.get(name, [])
        if queue:
            raise queue.pop(0)

    def __getattr__(self, name: str) -> Any:
        def call(**request: Any) -> Any:
            self.requests[name] = request
            self._fail(name)
            if name == "get_role":
                raise AwsError("NoSuchEntity")
            if name == "create_role":
                return {
                    "Role": {
                        "Arn": "arn:aws:iam::123456789012:role/stratoflow/r",
                        "PermissionsBoundary": {
                            "PermissionsBoundaryArn": SETTINGS.stratoflow_flow_boundary_arn
                        },
                    }
                }
            if name == "get_function":
                raise AwsError("ResourceNotFoundException")
            if name == "create_function":
                return {"FunctionArn": "arn:aws:lambda:eu-west-1:123456789012:function:Stack-sbx-1"}
            if name == "get_function_configuration":
                return {"State": self.states.pop(0) if len(self.states) > 1 else self.states[0]}
            if name in ("delete_function", "delete_log_group", "list_role_policies"):
                raise AwsError(
                    "ResourceNotFoundException" if name != "list_role_policies" else "NoSuchEntity"
                )
            return {}

        return call

    def get_paginator(self, name: str) -> Any:
        raise AwsError("NoSuchEntity")


class Clients:
    def __init__(self, fake: Fake):
        self.iam = self.lambda_ = self.logs = fake


def test_a_new_sandbox_waits_for_its_role_to_propagate_and_for_the_function_to_be_active() -> None:
    # Given IAM that has not propagated the new role to Lambda yet, and a function Pending twice
    not_yet = AwsError(
        "InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda."
    )
    fake = Fake(failures={"create_function": [not_yet, not_yet]}, states=["Pending", "Pending", "Active"])
    slept: list[float] = []
    sandboxes = Sandboxes(Clients(fake), SETTINGS, sleep=slept.append)
    # When the sandbox is ensured
    arn = sandboxes.ensure(TARGET, [])
    # Then creation was retried after two waits, then it waited until Active
    assert arn.endswith(":function:Stack-sbx-1")
    assert fake.calls.count("create_function") == 3
    assert fake.calls.count("get_function_configuration") == 3
    assert len(slept) == 4


class ExistingRole(Fake):
    """A sandbox role created before the stack had containers: trusted by Lambda alone."""

    def __getattr__(self, name: str) -> Any:
        if name != "get_role":
            return super().__getattr__(name)

        def get_role(**request: Any) -> Any:
            self.calls.append(name)
            return {
                "Role": {
                    "Arn": "arn:aws:iam::123456789012:role/stratoflow/r",
                    "PermissionsBoundary": {"PermissionsBoundaryArn": SETTINGS.stratoflow_flow_boundary_arn},
                    "AssumeRolePolicyDocument": sandbox_trust(),
                }
            }

        return get_role

    def update_assume_role_policy(self, **request: Any) -> None:
        self.calls.append("update_assume_role_policy")
        self.trust = json.loads(request["PolicyDocument"])


def test_a_flow_with_container_scripts_has_its_sandbox_role_trusted_by_ecs_tasks_of_the_account() -> None:
    # Given a Lambda-only sandbox role, redeployed for a flow that now has a Fargate script task
    fake = ExistingRole()
    # When the sandbox is ensured for containers
    Sandboxes(Clients(fake), SETTINGS, sleep=lambda _: None).ensure(TARGET, [], containers=True)
    # Then its trust gains ECS's tasks of this account only (the container's task role), Lambda kept
    assert fake.calls.count("update_assume_role_policy") == 1
    principals = [statement["Principal"] for statement in fake.trust["Statement"]]
    assert principals == [{"Service": "lambda.amazonaws.com"}, {"Service": "ecs-tasks.amazonaws.com"}]
    assert fake.trust["Statement"][1]["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_without_containers_a_sandbox_roles_trust_is_left_alone() -> None:
    # Given the same role on a stack without containers
    fake = ExistingRole()
    # When the sandbox is ensured
    Sandboxes(Clients(fake), SETTINGS, sleep=lambda _: None).ensure(TARGET, [])
    # Then IAM's trust is not rewritten
    assert "update_assume_role_policy" not in fake.calls


def _deployment(source: str, previous: str | None) -> Deployment:
    return Deployment(
        target=TARGET,
        flow=load_flow(source),
        previous=load_flow(previous) if previous else None,
        revision=2,
        definition={},
    )


SCRIPT = "id: etl\nnamespace: team.a\ntasks:\n  - {id: sh, type: scripts.Shell, script: 'true'}\n"
PLAIN = "id: etl\nnamespace: team.a\ntasks:\n  - {id: log, type: Log, message: hi}\n"


def test_the_step_deletes_a_sandbox_only_when_the_live_revision_may_have_one() -> None:
    # Given a flow without scripts whose live revision had none, then one whose live revision had one
    quiet, dropped = Fake(), Fake()
    # When each is deployed
    SandboxStep(Sandboxes(Clients(quiet), SETTINGS)).deploy(_deployment(PLAIN, PLAIN))
    SandboxStep(Sandboxes(Clients(dropped), SETTINGS)).deploy(_deployment(PLAIN, SCRIPT))
    # Then the first made no call at all, the second deleted the function, its log group and role
    assert quiet.calls == []
    assert dropped.calls[:2] == ["delete_function", "delete_log_group"]


def test_with_namespace_grants_a_sandbox_role_gets_its_namespaces_boundary() -> None:
    # Given a stack whose namespace grants give team (and so team.a) a boundary of its own
    team = "arn:aws:iam::123456789012:policy/boundary-team"
    settings = SETTINGS.model_copy(update={"stratoflow_namespace_boundaries": f'{{"team": "{team}"}}'})
    fake = Fake()

    # When team.a's sandbox is created
    Sandboxes(Clients(fake), settings, sleep=lambda _: None).ensure(TARGET, [])

    # Then its role is capped by team's boundary, as the flow's role is, not by the stack's
    assert fake.requests["create_role"]["PermissionsBoundary"] == team
    assert fake.requests["put_role_permissions_boundary"]["PermissionsBoundary"] == team
