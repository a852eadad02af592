"""The synthesized stack's IAM, evaluated as AWS evaluates it (what moto cannot show, issue 16).

Every call the platform functions declare (stratoflow/cloud/config/aws_calls.py; a moto run keeps
that list complete) is allowed with the policies the CDK app synthesizes, and the same call outside
the stack's names, or with other condition values, is denied. The roles the deployer writes at run
time — a flow's role (its `flow-tasks` policy, the base policy, the boundary) and a flow's pipe role
— are evaluated with the documents the deployer's own code builds.
"""

from __future__ import annotations

import fnmatch
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from infra_synth import Synthesized

sys.path.insert(0, str(Path(__file__).parent))

from iam_simulator import ACCOUNT, PARTITION, REGION, Principal, Request, Simulator, Template

from stratoflow.cloud.config.aws_calls import ADMISSION, DEPLOYER, TASK_RUNNER, AwsCall
from stratoflow.cloud.config.naming import AccountRegion
from stratoflow.cloud.deploy.flow_roles import flow_policy
from stratoflow.cloud.deploy.pipe_roles import pipe_policy, pipe_trust_policy

ALLOWED, DENIED = "Allowed", "ImplicitlyDenied"
FUNCTIONS = {"deployer": DEPLOYER, "task_runner": TASK_RUNNER, "admission": ADMISSION}


@pytest.fixture(scope="session")
def simulator() -> Simulator:
    return Simulator()


@pytest.fixture(scope="session")
def stack(synth: Synthesized) -> Stack:
    return Stack(synth)


class Stack:
    """The synthesized template resolved for one account, with the names the call list refers to."""

    def __init__(self, synth: Synthesized):
        self.synth = synth
        self.template = Template(synth.cfn)
        platform = synth.platform
        resolve = self.template.resolver
        ids = {
            "table": platform.storage.table,
            "data_bucket": platform.storage.data_bucket,
            "flows_bucket": platform.storage.flows_bucket,
            "alert_topic": platform.alerts.topic,
            "state_machine_role": platform.deployer.state_machine_role.role,
            "scheduler_role": platform.triggers.scheduler_role,
            "flow_boundary": platform.deployer.flow_role_boundary.policy,
            "pipe_boundary": platform.triggers.pipe_role_boundary,
            "base_policy": platform.deployer.state_machine_role.base_policy,
            "admission": platform.functions.admission,
            "task_runner": platform.functions.task_runner,
        }
        self.names: dict[str, str] = {"partition": PARTITION, "region": REGION, "account": ACCOUNT}
        self.names["stack"] = synth.stack.stack_name
        for name, construct in ids.items():
            logical_id = synth.logical_id(construct)
            kind = synth.cfn["Resources"][logical_id]["Type"]
            by_arn = kind in ("AWS::IAM::Role", "AWS::Lambda::Function", "AWS::SNS::Topic")
            self.names[name] = resolve.arn(logical_id) if by_arn else resolve.ref(logical_id)
        self.names["schedule_group"] = resolve.ref(synth.logical_id(platform.triggers.schedule_group))

    def role(self, function: str) -> Principal:
        return self.template.role(self.synth.logical_id(self.synth.platform.functions.roles[function]))

    def fill(self, text: str, **names: str) -> str:
        return text.format(**{**self.names, **names})

    def request(self, principal: Principal, call: AwsCall, **names: str) -> Request:
        context = {key: self.fill(value, **names) for key, value in call.context.items()}
        return Request(principal, call.action, self.fill(call.resource, **names), context)

    def managed(self, name: str) -> dict[str, Any]:
        return self.template.managed_policy(self.names[name])


def evaluate(simulator: Simulator, requests: list[Request]) -> dict[str, str]:
    results = simulator.evaluate(requests)
    return {
        f"{r.action} {r.resource} {dict(r.context)}": result
        for r, result in zip(requests, results, strict=True)
    }


# --- the platform functions' own calls --------------------------------------------------------------


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_every_call_a_function_makes_is_allowed_by_the_synthesized_policies(
    stack: Stack, simulator: Simulator, function: str
) -> None:
    # Given the function's role as synthesized, and the calls its code makes
    role = stack.role(function)

    # When each call is evaluated as IAM would
    calls = [call for call in FUNCTIONS[function] if call.simulated]
    results = evaluate(simulator, [stack.request(role, call) for call in calls])

    # Then each one is allowed
    assert {call: result for call, result in results.items() if result != ALLOWED} == {}
    # ... and those a simulator cannot evaluate are granted on exactly their resource's pattern
    for call in FUNCTIONS[function]:
        if not call.simulated:
            statement = next(s for s in role.policies[0]["Statement"] if call.action in _actions(s))
            pattern = statement["Resource"]
            assert _matches(stack.fill(call.resource), pattern), call
            assert not _matches(stack.fill(call.resource, stack="Other"), pattern), call


def _actions(statement: Mapping[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def _matches(resource: str, patterns: str | list[str]) -> bool:
    return any(
        fnmatch.fnmatchcase(resource, p) for p in ([patterns] if isinstance(patterns, str) else patterns)
    )


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_the_same_calls_on_another_stacks_resources_are_denied(
    stack: Stack, simulator: Simulator, function: str
) -> None:
    # Given the function's calls pointed at another stack: its names, table, buckets, roles, policies
    role = stack.role(function)
    other = {
        "stack": "Other",
        "table": "other-table",
        "data_bucket": "other-data",
        "flows_bucket": "other-flows",
        "schedule_group": "Other",
        "state_machine_role": f"arn:aws:iam::{ACCOUNT}:role/OtherRole",
        "scheduler_role": f"arn:aws:iam::{ACCOUNT}:role/OtherSchedulerRole",
        "alert_topic": f"arn:aws:sns:{REGION}:{ACCOUNT}:other",
        "admission": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:other",
        "flow_boundary": f"arn:aws:iam::{ACCOUNT}:policy/Other",
        "pipe_boundary": f"arn:aws:iam::{ACCOUNT}:policy/Other",
        "base_policy": f"arn:aws:iam::{ACCOUNT}:policy/Other",
    }
    # (list calls and metric data take no resource: PutMetricData is held by its namespace instead,
    # tested below)
    # Secrets are named `stratoflow/<namespace>/...` whatever the stack: every stack's task runner reads
    # them (docs/security.md), so they have no "other stack" to point at.
    calls = [
        call
        for call in FUNCTIONS[function]
        if call.simulated and stack.fill(call.resource, **other) != stack.fill(call.resource)
    ]

    # When each is evaluated
    results = evaluate(simulator, [stack.request(role, call, **other) for call in calls])

    # Then none is allowed
    assert {call: result for call, result in results.items() if result == ALLOWED} == {}


def test_the_deployer_writes_roles_only_within_their_boundary_and_passes_each_to_its_service(
    stack: Stack, simulator: Simulator
) -> None:
    # Given the deployer's role, and its real calls with their condition keys changed
    role = stack.role("deployer")
    flow_role = f"arn:aws:iam::{ACCOUNT}:role/stratoflow/Stratoflow-flow-0123456789abcdef"
    pipe_role = f"arn:aws:iam::{ACCOUNT}:role/stratoflow/Stratoflow-pipe-0123456789abcdef"
    requests = {
        # a flow role without the flow boundary, or with the pipe roles' (which allows other things)
        "flow role, no boundary": Request(role, "iam:CreateRole", flow_role),
        "flow role, pipe boundary": Request(
            role, "iam:CreateRole", flow_role, {"iam:PermissionsBoundary": stack.names["pipe_boundary"]}
        ),
        "pipe role, flow boundary": Request(
            role, "iam:PutRolePolicy", pipe_role, {"iam:PermissionsBoundary": stack.names["flow_boundary"]}
        ),
        "attach another policy": Request(
            role,
            "iam:AttachRolePolicy",
            flow_role,
            {
                "iam:PermissionsBoundary": stack.names["flow_boundary"],
                "iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess",
            },
        ),
        "attach to a pipe role": Request(
            role,
            "iam:AttachRolePolicy",
            pipe_role,
            {
                "iam:PermissionsBoundary": stack.names["pipe_boundary"],
                "iam:PolicyARN": stack.names["base_policy"],
            },
        ),
        "pass a flow role to Lambda": Request(
            role, "iam:PassRole", flow_role, {"iam:PassedToService": "lambda.amazonaws.com"}
        ),
        "pass a pipe role to Step Functions": Request(
            role, "iam:PassRole", pipe_role, {"iam:PassedToService": "states.amazonaws.com"}
        ),
        "metric data elsewhere": Request(
            role, "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "AWS/Lambda"}
        ),
        "a role outside /stratoflow/": Request(
            role,
            "iam:CreateRole",
            f"arn:aws:iam::{ACCOUNT}:role/Stratoflow-flow-0123456789abcdef",
            {"iam:PermissionsBoundary": stack.names["flow_boundary"]},
        ),
    }

    # When they are evaluated
    results = simulator.evaluate(list(requests.values()))

    # Then every one is denied
    assert {name: result for name, result in zip(requests, results, strict=True) if result == ALLOWED} == {}


def test_no_function_reads_secrets_or_assumes_roles_outside_what_it_needs(
    stack: Stack, simulator: Simulator
) -> None:
    secret = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:stratoflow/team.a/token-AbCdEf"
    other_secret = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod/db-password-AbCdEf"
    flow_role = f"arn:aws:iam::{ACCOUNT}:role/stratoflow/Stratoflow-flow-0123456789abcdef"
    pipe_role = f"arn:aws:iam::{ACCOUNT}:role/stratoflow/Stratoflow-pipe-0123456789abcdef"
    cases = {
        ("task_runner", "secretsmanager:GetSecretValue", secret): ALLOWED,
        ("task_runner", "secretsmanager:GetSecretValue", other_secret): DENIED,
        ("task_runner", "sts:AssumeRole", flow_role): ALLOWED,
        ("task_runner", "sts:AssumeRole", pipe_role): DENIED,
        ("admission", "secretsmanager:GetSecretValue", secret): DENIED,
        ("admission", "sts:AssumeRole", flow_role): DENIED,
        ("deployer", "secretsmanager:GetSecretValue", secret): DENIED,
        ("deployer", "sts:AssumeRole", flow_role): DENIED,
        (
            "webhook",
            "states:StartExecution",
            f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:Stratoflow-x",
        ): DENIED,
    }
    requests = [Request(stack.role(function), action, resource) for function, action, resource in cases]

    results = simulator.evaluate(requests)

    assert dict(zip(cases, results, strict=True)) == cases


# --- the roles the deployer writes ------------------------------------------------------------------


def flow_role(stack: Stack, permissions: list[Mapping[str, Any]]) -> Principal:
    """A flow's role as the deployer writes it: `flow-tasks`, the base policy, the stack's boundary."""
    return Principal(
        f"arn:aws:iam::{ACCOUNT}:role/stratoflow/Stratoflow-flow-0123456789abcdef",
        (flow_policy(permissions), stack.managed("base_policy")),
        stack.managed("flow_boundary"),
    )


UPLOAD = [{"Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::lake/raw/*"]}]


def test_a_flow_role_reaches_what_its_tasks_declare_and_nothing_of_the_platform(
    stack: Stack, simulator: Simulator
) -> None:
    # Given the role of a flow whose one task uploads to lake/raw/
    role = flow_role(stack, UPLOAD)
    data = stack.names["data_bucket"]
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{stack.names['table']}"
    cases = {
        ("s3:PutObject", "arn:aws:s3:::lake/raw/x.json"): ALLOWED,
        ("lambda:InvokeFunction", stack.names["task_runner"]): ALLOWED,
        # ... nothing else of the bucket it writes, no other bucket
        ("s3:GetObject", "arn:aws:s3:::lake/raw/x.json"): DENIED,
        ("s3:PutObject", "arn:aws:s3:::lake/curated/x.json"): DENIED,
        ("s3:PutObject", "arn:aws:s3:::other-team/raw/x.json"): DENIED,
        # ... no secret of any namespace, not the table, not the data bucket's outputs or namespace files
        (
            "secretsmanager:GetSecretValue",
            f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:stratoflow/team.a/t-AbCdEf",
        ): DENIED,
        (
            "secretsmanager:GetSecretValue",
            f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:stratoflow/team.b/t-AbCdEf",
        ): DENIED,
        ("dynamodb:GetItem", table): DENIED,
        ("dynamodb:PutItem", table): DENIED,
        ("s3:GetObject", f"arn:aws:s3:::{data}/team.b/orders/executions/1/outputs/out.json"): DENIED,
        ("s3:GetObject", f"arn:aws:s3:::{data}/namespaces/team.b/files/config.yaml"): DENIED,
        # ... and cannot start other stacks' state machines or change its own role
        ("states:StartExecution", f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:Other-x"): DENIED,
        ("iam:PutRolePolicy", role.arn): DENIED,
    }

    results = simulator.evaluate([Request(role, action, resource) for action, resource in cases])

    assert dict(zip(cases, results, strict=True)) == cases


def test_the_boundary_caps_a_flow_role_whatever_the_deployer_writes(
    stack: Stack, simulator: Simulator
) -> None:
    # Given a flow role whose inline policy a deployer bug made `*` on `*`
    role = flow_role(stack, [{"Action": ["*"], "Resource": ["*"]}])
    cases = {
        # Then the boundary still refuses what the task library never needs
        (
            "secretsmanager:GetSecretValue",
            f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:stratoflow/team.b/t-AbCdEf",
        ): DENIED,
        ("iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/x"): DENIED,
        ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/admin"): DENIED,
        ("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/admin"): DENIED,
        ("kms:Decrypt", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234"): DENIED,
        # ... and keeps what it allows to the task library's services
        ("s3:GetObject", "arn:aws:s3:::any/x"): ALLOWED,
    }

    results = simulator.evaluate([Request(role, action, resource) for action, resource in cases])

    assert dict(zip(cases, results, strict=True)) == cases


def test_a_flow_role_passes_roles_to_ecs_tasks_only(stack: Stack, simulator: Simulator) -> None:
    role = flow_role(
        stack, [{"Action": ["iam:PassRole"], "Resource": [f"arn:aws:iam::{ACCOUNT}:role/etl-task"]}]
    )
    task_role = f"arn:aws:iam::{ACCOUNT}:role/etl-task"
    requests = [
        Request(role, "iam:PassRole", task_role, {"iam:PassedToService": "ecs-tasks.amazonaws.com"}),
        Request(role, "iam:PassRole", task_role, {"iam:PassedToService": "lambda.amazonaws.com"}),
    ]

    assert simulator.evaluate(requests) == [ALLOWED, DENIED]


QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders"
PIPE = f"{PARTITION}:pipes:{REGION}:{ACCOUNT}:pipe/Stratoflow-orders-inbox-1a2b3c4d"


def pipe_role(stack: Stack, policy: dict[str, Any] | None = None) -> Principal:
    """A flow's pipe role as the deployer writes it: `pipe-queues` on its one queue, the pipe boundary."""
    return Principal(
        f"arn:aws:iam::{ACCOUNT}:role/stratoflow/Stratoflow-pipe-0123456789abcdef",
        (policy or pipe_policy([QUEUE], stack.names["admission"]),),
        stack.managed("pipe_boundary"),
    )


def test_a_pipe_role_reads_only_its_declared_queue_and_starts_only_admission(
    stack: Stack, simulator: Simulator
) -> None:
    role = pipe_role(stack)
    cases = {
        ("sqs:ReceiveMessage", QUEUE): ALLOWED,
        ("sqs:DeleteMessage", QUEUE): ALLOWED,
        ("sqs:GetQueueAttributes", QUEUE): ALLOWED,
        ("lambda:InvokeFunction", stack.names["admission"]): ALLOWED,
        # an undeclared queue of the same account, sending, purging, another function
        ("sqs:ReceiveMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:payroll"): DENIED,
        ("sqs:SendMessage", QUEUE): DENIED,
        ("sqs:PurgeQueue", QUEUE): DENIED,
        ("lambda:InvokeFunction", stack.names["task_runner"]): DENIED,
    }

    results = simulator.evaluate([Request(role, action, resource) for action, resource in cases])

    assert dict(zip(cases, results, strict=True)) == cases


def test_the_pipe_boundary_caps_a_pipe_role_whatever_the_deployer_writes(
    stack: Stack, simulator: Simulator
) -> None:
    # Given a pipe role whose inline policy a deployer bug made `*` on `*`
    role = pipe_role(
        stack, {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    )
    via_sqs = {"kms:ViaService": f"sqs.{REGION}.amazonaws.com"}
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234"
    # The key's default policy: the account's IAM policies decide (KMS needs a key policy that allows).
    key_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    requests = {
        "send to a queue": Request(role, "sqs:SendMessage", QUEUE),
        "a queue of another region": Request(
            role, "sqs:ReceiveMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders"
        ),
        "start a state machine": Request(
            role, "states:StartExecution", f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:Stratoflow-x"
        ),
        "decrypt directly": Request(role, "kms:Decrypt", key, resource_policy=key_policy),
        "decrypt through SQS": Request(role, "kms:Decrypt", key, via_sqs, resource_policy=key_policy),
    }

    results = dict(zip(requests, simulator.evaluate(list(requests.values())), strict=True))

    # Then only decryption through SQS (the key's own policy decides) passes the boundary
    assert results == {name: DENIED for name in requests} | {"decrypt through SQS": ALLOWED}


def test_only_the_flows_own_pipes_may_assume_its_pipe_role(simulator: Simulator) -> None:
    # Given the trust policy of a flow's pipe role, for its one pipe
    account = AccountRegion(PARTITION, REGION, ACCOUNT)
    trust = pipe_trust_policy(account, ["Stratoflow-orders-inbox-1a2b3c4d"])
    service = Principal("pipes.amazonaws.com", ())
    role = f"arn:aws:iam::{ACCOUNT}:role/stratoflow/Stratoflow-pipe-0123456789abcdef"

    def assume(source_arn: str, source_account: str = ACCOUNT) -> Request:
        context = {"aws:SourceArn": source_arn, "aws:SourceAccount": source_account}
        return Request(service, "sts:AssumeRole", role, context, resource_policy=trust)

    requests = [
        assume(account.pipe_arn("Stratoflow-orders-inbox-1a2b3c4d")),
        assume(account.pipe_arn("Stratoflow-other-inbox-5e6f7a8b")),
        assume(f"arn:aws:pipes:{REGION}:999999999999:pipe/Stratoflow-orders-inbox-1a2b3c4d", "999999999999"),
    ]

    assert simulator.evaluate(requests) == [ALLOWED, DENIED, DENIED]


# --- a boundary per namespace (namespace grants) ------------------------------------------------------


def test_a_namespace_boundary_keeps_a_flow_role_within_its_namespaces_grants(
    grants_synth: Synthesized, simulator: Simulator
) -> None:
    # Given the stack with grants (team.a: team-a-*, team: team-shared/*, "*": shared-* queues), and
    # flow roles whose inline policy a deployer bug made `*` on `*`, each with its namespace's boundary
    template = Template(grants_synth.cfn)
    boundary = grants_synth.platform.deployer.flow_role_boundary
    resolve = template.resolver
    base = template.managed_policy(
        resolve.ref(grants_synth.logical_id(grants_synth.platform.deployer.state_machine_role.base_policy))
    )
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}

    def role(policy: Any) -> Principal:
        document = template.managed_policy(resolve.ref(grants_synth.logical_id(policy)))
        return Principal(
            f"arn:aws:iam::{ACCOUNT}:role/stratoflow/Stratoflow-flow-0123456789abcdef",
            (everything, base),
            document,
        )

    team_a, team, other = (
        role(boundary.namespace_policies["team.a"]),
        role(boundary.namespace_policies["team"]),
        role(boundary.policy),
    )
    shared_queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:shared-orders"
    cases = {
        (id(team_a), "s3:GetObject", "arn:aws:s3:::team-a-lake/x"): ALLOWED,
        (id(team_a), "s3:GetObject", "arn:aws:s3:::team-shared/x"): ALLOWED,  # its parent's
        (id(team_a), "sqs:SendMessage", shared_queue): ALLOWED,  # everyone's
        (id(team_a), "s3:GetObject", "arn:aws:s3:::team-b-lake/x"): DENIED,
        (id(team_a), "sqs:SendMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:payroll"): DENIED,
        (id(team), "s3:GetObject", "arn:aws:s3:::team-shared/x"): ALLOWED,
        (id(team), "s3:GetObject", "arn:aws:s3:::team-a-lake/x"): DENIED,  # a child's is not its own
        (id(other), "sqs:SendMessage", shared_queue): ALLOWED,
        (id(other), "s3:GetObject", "arn:aws:s3:::team-shared/x"): DENIED,
        # ... and the base policy still works under every boundary
        (
            id(other),
            "lambda:InvokeFunction",
            resolve.arn(grants_synth.logical_id(grants_synth.platform.functions.task_runner)),
        ): ALLOWED,
    }
    principals = {id(p): p for p in (team_a, team, other)}

    results = simulator.evaluate(
        [Request(principals[who], action, resource) for who, action, resource in cases]
    )

    assert dict(zip(cases, results, strict=True)) == cases
