"""Container-run script tasks (`taskRunner: aws.runner.Fargate`): the ECS platform exists only when
the config names its network, runs ARM64 Fargate, and the state machines may run exactly it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from infra_synth import Synthesized, synthesize
from stratoflow._platform.infra.constructs.containers import BOOTSTRAP, IMAGE
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


def test_fargate_task_definition_runs_a_stock_image_whose_bootstrap_fetches_the_sandbox(
    custom_synth: Synthesized,
) -> None:
    # Given the stack with a container network
    containers = custom_synth.platform.containers
    assert containers is not None
    # When its task definition is read
    (definition,) = custom_synth.resources("AWS::ECS::TaskDefinition").values()
    properties = definition["Properties"]
    # Then it is Fargate on ARM64, one `sandbox` container of a pinned public Python image (nothing
    # built: no image asset), not root, whose command is the bootstrap, told where the layer's asset is
    assert properties["RequiresCompatibilities"] == ["FARGATE"]
    assert properties["RuntimePlatform"]["CpuArchitecture"] == "ARM64"
    (container,) = properties["ContainerDefinitions"]
    assert container["Name"] == "sandbox"
    assert container["Image"] == IMAGE and IMAGE.startswith("public.ecr.aws/docker/library/python:3.12.")
    assert container["Command"] == ["python", "-c", BOOTSTRAP] and container["User"] == "1000:1000"
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    assert container["LogConfiguration"]["Options"]["awslogs-group"] == {
        "Ref": custom_synth.logical_id(containers.log_group)
    }
    names = {variable["Name"] for variable in container["Environment"]}
    assert names == {
        "STRATOFLOW_CODE_BUCKET",
        "STRATOFLOW_CODE_KEY",
        "AWS_REGION",
        "PYTHONUNBUFFERED",
        "HOME",
    }
    (cluster,) = custom_synth.resources("AWS::ECS::Cluster").values()
    assert cluster["Properties"]["CapacityProviders"] == ["FARGATE"]
    # nothing costly comes with it: no VPC, no NAT gateway, and no image to build
    assert custom_synth.resources("AWS::EC2::VPC") == {}
    assert custom_synth.resources("AWS::EC2::NatGateway") == {}
    assert not list(custom_synth.outdir.glob("asset.*/Dockerfile"))


def test_the_task_definitions_own_task_role_may_do_nothing(custom_synth: Synthesized) -> None:
    # Given the containers' task role (every RunTask overrides it with the flow's sandbox role)
    containers = custom_synth.platform.containers
    assert containers is not None
    role = custom_synth.resource(containers.task_role)
    # When the policies attached to it are listed
    attached = [
        policy
        for policy in custom_synth.resources("AWS::IAM::Policy").values()
        if {"Ref": custom_synth.logical_id(containers.task_role)} in policy["Properties"].get("Roles", [])
    ]
    # Then there are none, inline or managed
    assert attached == []
    assert "ManagedPolicyArns" not in role["Properties"] and "Policies" not in role["Properties"]


def test_state_machines_may_run_the_task_definition_and_pass_only_their_flows_sandbox_role(
    custom_synth: Synthesized,
) -> None:
    # Given the stack with a container network
    containers = custom_synth.platform.containers
    assert containers is not None
    document = _base_policy(custom_synth)
    # When the base policy every flow's state machine holds is read
    run = _statement(document, "RunContainerTasks")
    passed = _statement(document, "PassContainerRoles")
    own = _statement(document, "PassOwnSandboxRole")
    # Then RunTask is allowed on the stack's task definition family, on its cluster only; PassRole on
    # the task definition's two roles, and on a sandbox role only when it carries the flow role's own
    # namespace and flow tags, to ECS tasks only
    assert run["Action"] == "ecs:RunTask"
    assert ":task-definition/" in render_cfn(run["Resource"])
    assert run["Condition"]["ArnEquals"]["ecs:cluster"] == {
        "Fn::GetAtt": [
            custom_synth.stack.resolve(custom_synth.stack.get_logical_id(containers.cluster)),
            "Arn",
        ]
    }
    assert passed["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
    assert len(passed["Resource"]) == 2
    assert render_cfn(own["Resource"]).endswith("-flow-*-s") and ":role/stratoflow/" in render_cfn(
        own["Resource"]
    )
    assert own["Condition"] == {
        "StringEquals": {
            "iam:PassedToService": "ecs-tasks.amazonaws.com",
            "iam:ResourceTag/stratoflow:namespace": "${aws:PrincipalTag/stratoflow:namespace}",
            "iam:ResourceTag/stratoflow:flow": "${aws:PrincipalTag/stratoflow:flow}",
        }
    }


def test_the_deployer_knows_the_container_platform(custom_synth: Synthesized) -> None:
    # Given the stack with a container network
    environment = custom_synth.environment(custom_synth.platform.functions.deployer)
    # When the deployer's settings are read
    # Then it has the cluster, the task definition's family, the network and the sandbox's code
    # (which each flow's sandbox role may read)
    assert environment["STRATOFLOW_CONTAINER_SUBNETS"] == "subnet-0aaa1111,subnet-0bbb2222"
    assert environment["STRATOFLOW_CONTAINER_SECURITY_GROUPS"] == "sg-0ccc3333"
    assert environment["STRATOFLOW_CONTAINER_PUBLIC_IP"] == "ENABLED"
    assert "STRATOFLOW_CONTAINER_ROLE_ARN" not in environment
    for name in ("CLUSTER_ARN", "TASK_DEFINITION", "CODE_BUCKET", "CODE_KEY"):
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


def test_the_container_downloads_the_layer_the_sandbox_functions_run(custom_synth: Synthesized) -> None:
    # Given the container's settings and the platform layer
    (definition,) = custom_synth.resources("AWS::ECS::TaskDefinition").values()
    (container,) = definition["Properties"]["ContainerDefinitions"]
    settings = {variable["Name"]: variable["Value"] for variable in container["Environment"]}
    layer = custom_synth.resource(custom_synth.platform.functions.layer)
    # When the code the container downloads is compared with the layer's
    # Then it is the same asset object
    assert settings["STRATOFLOW_CODE_BUCKET"] == layer["Properties"]["Content"]["S3Bucket"]
    assert settings["STRATOFLOW_CODE_KEY"] == layer["Properties"]["Content"]["S3Key"]


def test_the_boundary_lets_sandbox_roles_reach_only_sandbox_folders_and_the_code(
    own_boundary_synth: Synthesized,
) -> None:
    # Given the permissions boundary every flow role and sandbox role is created with
    boundary = own_boundary_synth.platform.deployer.flow_role_boundary.policy
    document = own_boundary_synth.resource(boundary)["Properties"]["PolicyDocument"]
    # When its container statements are read
    jobs, answers, code = (
        _statement(document, sid) for sid in ("ContainerJobs", "ContainerAnswers", "ContainerCode")
    )
    # Then reads reach the sandbox folders (and the code object), writes only their `out/` folders
    assert render_cfn(jobs["Resource"]).endswith("/*/executions/*/sandbox/*")
    assert render_cfn(answers["Resource"]).endswith("/*/executions/*/sandbox/*/out/*")
    assert sorted(answers["Action"]) == ["s3:PutObject", "s3:PutObjectTagging"]
    assert code["Action"] == "s3:GetObject" and json.dumps(code["Resource"]).endswith('.zip"]]}')
