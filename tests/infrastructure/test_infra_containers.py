"""Container-run script tasks (`taskRunner: aws.runner.Fargate`): the ECS platform exists only when
the config names its network, runs ARM64 Fargate, and the state machines may run exactly it."""

from __future__ import annotations

from typing import Any

import pytest
from infra_synth import Synthesized, synthesize
from stratoflow._platform.infra.nag import render_cfn


def _base_policy(synth: Synthesized) -> dict[str, Any]:
    policy = synth.platform.deployer.state_machine_role.base_policy
    return synth.resource(policy)["Properties"]["PolicyDocument"]


def _statement(document: dict[str, Any], sid: str) -> dict[str, Any]:
    return next(s for s in document["Statement"] if s.get("Sid") == sid)


def test_no_container_platform_without_a_network(synth: Synthesized) -> None:
    # Given the stack built from cdk.json (no containerSubnets)
    # When its resources are listed
    # Then there is no cluster, task definition or image, and no container grant to state machines
    assert synth.platform.containers is None
    assert synth.resources("AWS::ECS::Cluster") == {}
    assert synth.resources("AWS::ECS::TaskDefinition") == {}
    assert "RunContainerTasks" not in {s.get("Sid") for s in _base_policy(synth)["Statement"]}


def test_fargate_task_definition_runs_the_entrypoint_on_arm64(custom_synth: Synthesized) -> None:
    # Given the stack with a container network
    containers = custom_synth.platform.containers
    assert containers is not None
    # When its task definition is read
    (definition,) = custom_synth.resources("AWS::ECS::TaskDefinition").values()
    properties = definition["Properties"]
    # Then it is Fargate on ARM64, one `runner` container logging to the stack's log group, with the
    # store's names in its environment and the containers' task role
    assert properties["RequiresCompatibilities"] == ["FARGATE"]
    assert properties["RuntimePlatform"]["CpuArchitecture"] == "ARM64"
    (container,) = properties["ContainerDefinitions"]
    assert container["Name"] == "runner"
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    assert container["LogConfiguration"]["Options"]["awslogs-group"] == {
        "Ref": custom_synth.logical_id(containers.log_group)
    }
    names = {variable["Name"] for variable in container["Environment"]}
    assert {"STRATOFLOW_TABLE_NAME", "STRATOFLOW_DATA_BUCKET", "STRATOFLOW_FLOW_ROLE_PREFIX"} <= names
    assert properties["TaskRoleArn"] == {"Fn::GetAtt": [custom_synth.logical_id(containers.task_role), "Arn"]}
    (cluster,) = custom_synth.resources("AWS::ECS::Cluster").values()
    assert cluster["Properties"]["CapacityProviders"] == ["FARGATE"]
    # nothing costly comes with it: no VPC, no NAT gateway
    assert custom_synth.resources("AWS::EC2::VPC") == {}
    assert custom_synth.resources("AWS::EC2::NatGateway") == {}


def test_state_machines_may_run_the_task_definition_and_pass_only_its_roles(
    custom_synth: Synthesized,
) -> None:
    # Given the stack with a container network
    containers = custom_synth.platform.containers
    assert containers is not None
    document = _base_policy(custom_synth)
    # When the base policy every flow's state machine holds is read
    run = _statement(document, "RunContainerTasks")
    passed = _statement(document, "PassContainerRoles")
    # Then RunTask is allowed on the stack's task definition family, on its cluster only, and
    # PassRole on the task and execution roles, to ECS tasks only
    assert run["Action"] == "ecs:RunTask"
    assert ":task-definition/" in render_cfn(run["Resource"])
    assert run["Condition"]["ArnEquals"]["ecs:cluster"] == {
        "Fn::GetAtt": [
            custom_synth.stack.resolve(custom_synth.stack.get_logical_id(containers.cluster)),
            "Arn",
        ]
    }
    assert passed["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
    assert {"Fn::GetAtt": [custom_synth.logical_id(containers.task_role), "Arn"]} in passed["Resource"]
    assert len(passed["Resource"]) == 2


def test_the_task_role_records_task_runs_like_the_task_runner(custom_synth: Synthesized) -> None:
    # Given the containers' task role
    containers = custom_synth.platform.containers
    assert containers is not None
    role = containers.task_role
    # When what it may do is read
    # Then it writes the table and the data bucket, and assumes the flows' own roles
    assert custom_synth.resources_allowed(role, "dynamodb:PutItem")
    assert custom_synth.resources_allowed(role, "s3:PutObject")
    assert any("/stratoflow/" in arn for arn in custom_synth.resources_allowed(role, "sts:AssumeRole"))


def test_the_deployer_knows_the_container_platform(custom_synth: Synthesized) -> None:
    # Given the stack with a container network
    environment = custom_synth.environment(custom_synth.platform.functions.deployer)
    # When the deployer's settings are read
    # Then it has the cluster, the task definition's family, the network and the task role
    assert environment["STRATOFLOW_CONTAINER_SUBNETS"] == "subnet-0aaa1111,subnet-0bbb2222"
    assert environment["STRATOFLOW_CONTAINER_SECURITY_GROUPS"] == "sg-0ccc3333"
    assert environment["STRATOFLOW_CONTAINER_PUBLIC_IP"] == "ENABLED"
    for name in ("CLUSTER_ARN", "TASK_DEFINITION", "ROLE_ARN"):
        assert environment[f"STRATOFLOW_CONTAINER_{name}"]


def test_state_machines_may_follow_and_stop_only_the_clusters_tasks(custom_synth: Synthesized) -> None:
    # Given the stack with a container network
    document = _base_policy(custom_synth)
    # When the statements `ecs:runTask.sync` needs after RunTask are read
    follow = _statement(document, "FollowContainerTasks")
    events = _statement(document, "ContainerTaskEvents")
    # Then DescribeTasks/StopTask reach the cluster's tasks only, and the managed events rule is the
    # one Step Functions keeps for ECS tasks
    assert sorted(follow["Action"]) == ["ecs:DescribeTasks", "ecs:StopTask"]
    assert ":task/" in render_cfn(follow["Resource"])
    assert sorted(events["Action"]) == ["events:DescribeRule", "events:PutRule", "events:PutTargets"]
    assert render_cfn(events["Resource"]).endswith(":rule/StepFunctionsGetEventsForECSTaskRule")


@pytest.fixture(scope="module")
def own_boundary_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """A stack with containers and the stack's own flow-role boundary (custom_synth replaces it)."""
    return synthesize(
        tmp_path_factory.mktemp("cdk-containers"),
        containerSubnets="subnet-0aaa1111",
        containerSecurityGroups="sg-0ccc3333",
    )


def test_the_flow_role_boundary_lets_flow_roles_run_containers(own_boundary_synth: Synthesized) -> None:
    # Given the permissions boundary every flow role is created with
    boundary = own_boundary_synth.platform.deployer.flow_role_boundary.policy
    document = own_boundary_synth.resource(boundary)["Properties"]["PolicyDocument"]
    # When its statements are read
    sids = {statement.get("Sid") for statement in document["Statement"]}
    # Then it allows what the base policy grants for containers (a boundary caps the flow role)
    assert {"RunContainerTasks", "FollowContainerTasks", "ContainerTaskEvents", "PassContainerRoles"} <= sids


def test_the_container_has_the_task_runners_settings(custom_synth: Synthesized) -> None:
    # Given the task-runner Lambda's settings and the container's
    containers = custom_synth.platform.containers
    assert containers is not None
    lambda_settings = custom_synth.environment(custom_synth.platform.functions.task_runner)
    (definition,) = custom_synth.resources("AWS::ECS::TaskDefinition").values()
    (container,) = definition["Properties"]["ContainerDefinitions"]
    container_settings = {variable["Name"]: variable["Value"] for variable in container["Environment"]}
    # When they are compared
    # Then the container records task runs with the same settings, except Powertools' (Lambda's alone),
    # the script sandboxes (a container is the script's own: a Lambda sandbox stops at 15 minutes) and
    # the bus Pause tasks publish on (only script tasks run in containers)
    lambda_only = {name for name in lambda_settings if name.startswith("POWERTOOLS_")} | {
        "STRATOFLOW_SCRIPT_SANDBOXES",
        "STRATOFLOW_EVENT_BUS_NAME",
    }
    assert {name: lambda_settings[name] for name in set(lambda_settings) - lambda_only} == container_settings
