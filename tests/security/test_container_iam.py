"""A Fargate script holds its flow's sandbox role and nothing more, as IAM evaluates it (the policy
simulator, not moto): the container's task role is that role, whose policies are the ones the deployer
writes (`flow-tasks`, `sandbox` with the flow's `ContainerAccess`) under the boundary the stack
synthesizes with containers. Each attack is paired with the legitimate call nearest to it, which IAM
must allow, so that no attack passes because everything is denied."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "infrastructure"))

from iam_simulator import ACCOUNT, PARTITION, REGION, Principal, Request, SimulatedStack, Simulator
from infra_synth import synthesize_once

from stratoflow.cloud.config.naming import AccountRegion, sandbox_function_name, sandbox_role_name
from stratoflow.cloud.deploy.sandboxes import ContainerAccess, sandbox_policy

ALLOWED, DENIALS = "Allowed", ("ImplicitlyDenied", "ExplicitlyDenied")
STACK = "Stratoflow"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:stratoflow/team.a/token-AbCdEf"
ROLES = f"arn:aws:iam::{ACCOUNT}:role/stratoflow/"
FLOW_ROLE = f"{ROLES}{STACK}-flow-0123456789abcdef"
OWN_SANDBOX = ROLES + sandbox_role_name(STACK, "team.a", "etl")
OTHER_SANDBOX = ROLES + sandbox_role_name(STACK, "team.b", "payroll")
TO_ECS = {"iam:PassedToService": "ecs-tasks.amazonaws.com"}


def _tags(prefix: str, namespace: str, flow: str) -> dict[str, str]:
    return {f"{prefix}/stratoflow:namespace": namespace, f"{prefix}/stratoflow:flow": flow}


# team.a.etl's flow role (IAM reads its tags from the role: the simulator is told them)
OWN_FLOW = _tags("aws:PrincipalTag", "team.a", "etl")


class Roles:
    def __init__(self, stack: SimulatedStack):
        names = stack.names
        self.table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{names['table']}"
        self.data = f"arn:aws:s3:::{names['data_bucket']}"
        self.task_runner = stack.role("task_runner")
        self.names = names
        deployer = stack.synth.environment(stack.synth.platform.functions.deployer)
        resolve = stack.template.resolver.resolve
        code_bucket = resolve(deployer["STRATOFLOW_CONTAINER_CODE_BUCKET"])
        code_key = resolve(deployer["STRATOFLOW_CONTAINER_CODE_KEY"])
        self.code = f"arn:aws:s3:::{code_bucket}/{code_key}"
        self.other_code = f"arn:aws:s3:::{code_bucket}/other-asset.zip"
        account = AccountRegion(PARTITION, REGION, ACCOUNT)
        access = ContainerAccess(names["data_bucket"], "team.a", "etl", code_bucket, code_key)
        function = sandbox_function_name(STACK, "team.a", "etl")
        _tasks, own = sandbox_policy(
            [], account, function, (names["task_runner"], names["admission"]), access
        )
        boundary = stack.managed("flow_boundary")
        # The container's task role, as the deployer writes it for team.a.etl (no AWS task: no flow-tasks)
        self.container = Principal(OWN_SANDBOX, (own,), boundary)
        base = stack.managed("base_policy")
        self.flow = Principal(FLOW_ROLE, (base,), boundary)
        # A deployer bug (or a tampered role) whose inline policy is `*` on `*`: the boundary holds.
        everything = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
        self.widened_flow = Principal(FLOW_ROLE, (everything, base), boundary)

    def folder(self, namespace: str = "team.a", flow: str = "etl") -> str:
        return f"{self.data}/{namespace}/{flow}/executions/e1/e1-crunch/sandbox/1"


def ask(principal: Principal, action: str, resource: str, context: dict[str, str] | None = None) -> Request:
    return Request(principal, action, resource, context or {})


ATTACKS: dict[str, Callable[[Roles], tuple[Request, Request]]] = {
    "container script reads the table": lambda r: (
        ask(r.container, "dynamodb:GetItem", r.table),
        ask(r.container, "s3:GetObject", f"{r.folder()}/job.json"),
    ),
    "container script writes the table": lambda r: (
        ask(r.container, "dynamodb:PutItem", r.table),
        ask(r.container, "s3:PutObject", f"{r.folder()}/out/reply.json"),
    ),
    "container script reads another flow's sandbox folder": lambda r: (
        ask(r.container, "s3:GetObject", f"{r.folder('team.a', 'billing')}/job.json"),
        ask(r.container, "s3:GetObject", f"{r.folder()}/in/0"),
    ),
    "container script reads another namespace's sandbox folder": lambda r: (
        ask(r.container, "s3:GetObject", f"{r.folder('team.b', 'etl')}/job.json"),
        ask(r.container, "s3:GetObject", f"{r.folder()}/job.json"),
    ),
    "container script writes another flow's answer": lambda r: (
        ask(r.container, "s3:PutObject", f"{r.folder('team.b', 'payroll')}/out/reply.json"),
        ask(r.container, "s3:PutObject", f"{r.folder()}/out/reply.json"),
    ),
    "container script rewrites its own job": lambda r: (
        ask(r.container, "s3:PutObject", f"{r.folder()}/job.json"),
        ask(r.container, "s3:PutObject", f"{r.folder()}/out/files/9-big.csv"),
    ),
    "container script reads its flow's outputs outside the sandbox": lambda r: (
        ask(r.container, "s3:GetObject", f"{r.data}/team.a/etl/executions/e1/e1-crunch/outputs.json"),
        ask(r.container, "s3:GetObject", f"{r.folder()}/job.json"),
    ),
    "container script reads namespace files": lambda r: (
        ask(r.container, "s3:GetObject", f"{r.data}/namespaces/team.a/files/config.yaml"),
        ask(r.container, "s3:GetObject", f"{r.folder()}/job.json"),
    ),
    "container script lists the data bucket": lambda r: (
        ask(r.container, "s3:ListBucket", r.data),
        ask(r.container, "s3:GetObject", f"{r.folder()}/job.json"),
    ),
    "container script reads another asset": lambda r: (
        ask(r.container, "s3:GetObject", r.other_code),
        ask(r.container, "s3:GetObject", r.code),
    ),
    "widened flow role reads the stack's assets": lambda r: (
        ask(r.widened_flow, "s3:GetObject", r.code),
        ask(r.container, "s3:GetObject", r.code),
    ),
    "container script reads a secret": lambda r: (
        ask(r.container, "secretsmanager:GetSecretValue", SECRET),
        ask(r.task_runner, "secretsmanager:GetSecretValue", SECRET),
    ),
    "container script assumes its flow role": lambda r: (
        ask(r.container, "sts:AssumeRole", FLOW_ROLE),
        ask(r.task_runner, "sts:AssumeRole", FLOW_ROLE),
    ),
    "container script assumes another flow's sandbox role": lambda r: (
        ask(r.container, "sts:AssumeRole", OTHER_SANDBOX),
        ask(r.task_runner, "sts:AssumeRole", FLOW_ROLE),
    ),
    "container script invokes the task runner": lambda r: (
        ask(r.container, "lambda:InvokeFunction", r.names["task_runner"]),
        ask(r.flow, "lambda:InvokeFunction", r.names["task_runner"]),
    ),
    "container script passes its own role on": lambda r: (
        ask(r.container, "iam:PassRole", OWN_SANDBOX, TO_ECS),
        ask(
            r.flow,
            "iam:PassRole",
            OWN_SANDBOX,
            {**TO_ECS, **OWN_FLOW, **_tags("iam:ResourceTag", "team.a", "etl")},
        ),
    ),
    "flow role passes another flow's sandbox role to a container": lambda r: (
        ask(
            r.flow,
            "iam:PassRole",
            OTHER_SANDBOX,
            {**TO_ECS, **OWN_FLOW, **_tags("iam:ResourceTag", "team.b", "payroll")},
        ),
        ask(
            r.flow,
            "iam:PassRole",
            OWN_SANDBOX,
            {**TO_ECS, **OWN_FLOW, **_tags("iam:ResourceTag", "team.a", "etl")},
        ),
    ),
    "flow role passes a sandbox role of its namespace's other flow": lambda r: (
        ask(
            r.flow,
            "iam:PassRole",
            ROLES + sandbox_role_name(STACK, "team.a", "billing"),
            {**TO_ECS, **OWN_FLOW, **_tags("iam:ResourceTag", "team.a", "billing")},
        ),
        ask(
            r.flow,
            "iam:PassRole",
            OWN_SANDBOX,
            {**TO_ECS, **OWN_FLOW, **_tags("iam:ResourceTag", "team.a", "etl")},
        ),
    ),
    "flow role passes its sandbox role to Lambda": lambda r: (
        ask(
            r.flow,
            "iam:PassRole",
            OWN_SANDBOX,
            {
                "iam:PassedToService": "lambda.amazonaws.com",
                **OWN_FLOW,
                **_tags("iam:ResourceTag", "team.a", "etl"),
            },
        ),
        ask(
            r.flow,
            "iam:PassRole",
            OWN_SANDBOX,
            {**TO_ECS, **OWN_FLOW, **_tags("iam:ResourceTag", "team.a", "etl")},
        ),
    ),
}


@pytest.fixture(scope="module")
def answers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str]]:
    """Every attack and its legitimate call, evaluated in one simulator run."""
    synth = synthesize_once(
        "containers",
        tmp_path_factory.mktemp("cdk-containers"),
        containerSubnets="subnet-0aaa1111",
        containerSecurityGroups="sg-0ccc3333",
    )
    stack = SimulatedStack(synth)
    roles = Roles(stack)
    data_policy = stack.template.resource_policy(
        "AWS::S3::BucketPolicy", "Bucket", synth.logical_id(synth.platform.storage.data_bucket)
    )
    assert data_policy is not None

    def as_aws_sees_it(request: Request) -> Request:
        """A call on the data bucket is also judged by the bucket's policy, with the role's tags."""
        if not request.resource.startswith(roles.data):
            return request
        tags = OWN_FLOW if request.principal.arn.startswith(ROLES) else {}
        return replace(request, context={**tags, **request.context}, resource_policy=data_policy)

    pairs = {
        name: (as_aws_sees_it(attack), as_aws_sees_it(legitimate))
        for name, (attack, legitimate) in ((name, build(roles)) for name, build in ATTACKS.items())
    }
    results = iter(Simulator().evaluate([request for pair in pairs.values() for request in pair]))
    return {name: (next(results), next(results)) for name in pairs}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_iam_denies_the_container_attack_and_allows_the_legitimate_call_next_to_it(
    answers: dict[str, tuple[str, str]], attack: str
) -> None:
    # Given the request the attack makes and the legitimate call nearest to it, as IAM sees them
    attacked, legitimate = answers[attack]

    # Then IAM denies the attack, and allows the legitimate call
    assert attacked in DENIALS
    assert legitimate == ALLOWED
