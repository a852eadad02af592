"""Container-run script tasks at deployment: the stack's Fargate platform fills their states, a
stack without one refuses them, and Kestra's Docker runner is refused everywhere in the cloud."""

from __future__ import annotations

from dataclasses import replace

from stratoflow.cloud.config.naming import sandbox_role_name
from stratoflow.cloud.deploy.containers import ContainerStack
from stratoflow.cloud.deploy.limits import DeployNames, measure
from stratoflow.flow import load_flow

FARGATE_FLOW = """id: long
namespace: tests.containers
tasks:
  - id: crunch
    type: scripts.Commands
    commands: [make]
    timeout: PT2H
    taskRunner: {type: aws.runner.Fargate, cpu: 2, memory: 4096}
"""

DOCKER_FLOW = """id: docker
namespace: tests.containers
tasks:
  - id: boxed
    type: io.kestra.plugin.scripts.python.Script
    script: print(1)
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      pullPolicy: ALWAYS
"""

STACK = ContainerStack(
    cluster_arn="arn:aws:ecs:eu-west-1:111122223333:cluster/Strato-Cluster",
    task_definition="StratoContainersTaskDefinition",
    subnets="subnet-0aaa,subnet-0bbb",
    security_groups="sg-0ccc",
    assign_public_ip=True,
)


def test_the_stacks_container_platform_is_substituted_into_the_run_task_state() -> None:
    # Given a two-hour script on Fargate and a stack with a container network
    names = replace(DeployNames.example(), containers=STACK)

    # When it is measured for deployment
    measured = measure(load_flow(FARGATE_FLOW, "long.yaml"), names, "long.yaml")

    # Then it is accepted, and its state runs the stack's task definition on its cluster and network,
    # as the flow's own sandbox role
    assert measured.problems == [] and measured.definition is not None
    [branch] = measured.definition["States"]["crunch"]["Branches"]
    parameters = branch["States"]["crunch.run"]["Parameters"]
    role = sandbox_role_name(names.stack_name, "tests.containers", "long")
    assert parameters["Overrides"]["TaskRoleArn"] == f"arn:aws:iam::123456789012:role/stratoflow/{role}"
    assert parameters["Cluster"] == STACK.cluster_arn
    assert parameters["TaskDefinition"] == "StratoContainersTaskDefinition"
    network = parameters["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["Subnets.$"] == "States.StringSplit('subnet-0aaa,subnet-0bbb', ',')"
    assert network["SecurityGroups.$"] == "States.StringSplit('sg-0ccc', ',')"
    assert network["AssignPublicIp"] == "ENABLED"


def test_a_stack_without_a_container_network_refuses_a_container_task_where_its_runner_is() -> None:
    # Given a stack built without containerSubnets
    names = replace(DeployNames.example(), containers=ContainerStack())

    # When the Fargate flow is measured
    measured = measure(load_flow(FARGATE_FLOW, "long.yaml"), names, "long.yaml")

    # Then it is refused at the task's taskRunner, naming the stack setting
    [problem] = measured.problems
    assert (problem.line, problem.path) == (8, "tasks[0].taskRunner")
    assert "containerSubnets" in problem.message
    assert measured.definition is None


def test_the_docker_runner_is_refused_in_the_cloud_naming_the_fargate_runner() -> None:
    # Given a script with Kestra's Docker runner
    # When it is measured for any stack (what `strato validate` and the deployer do)
    measured = measure(load_flow(DOCKER_FLOW, "docker.yaml"), DeployNames.example(), "docker.yaml")

    # Then it is refused at its taskRunner, naming aws.runner.Fargate
    [problem] = measured.problems
    assert (problem.line, problem.column, problem.path) == (7, 5, "tasks[0].taskRunner")
    assert "aws.runner.Fargate" in problem.message and "Docker" in problem.message


def test_validate_accepts_a_fargate_flow_against_the_example_stack() -> None:
    # Given the example stack `strato validate` measures with
    # When the Fargate flow is measured
    measured = measure(load_flow(FARGATE_FLOW, "long.yaml"), DeployNames.example(), "long.yaml")

    # Then nothing is refused: every container placeholder has a value
    assert measured.problems == []
