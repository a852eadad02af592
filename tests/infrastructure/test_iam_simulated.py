"""The synthesized stack's IAM, evaluated as AWS evaluates it (what moto cannot show, issue 16).

Every call the platform functions declare (stratoflow/cloud/config/aws_calls.py; a moto run keeps
that list complete) is allowed with the policies the CDK app synthesizes, and the same call outside
the stack's names, or with other condition values, is denied. The roles the deployer writes at run
time (a flow's role, a flow's pipe role) are attacked in tests/security/test_iam_attacks.py.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any

import pytest
from iam_simulator import ACCOUNT, REGION, Request, SimulatedStack, Simulator
from infra_synth import Synthesized

from stratoflow.cloud.config.aws_calls import ADMISSION, DEPLOYER, TASK_RUNNER

ALLOWED, DENIED = "Allowed", "ImplicitlyDenied"
FUNCTIONS = {"deployer": DEPLOYER, "task_runner": TASK_RUNNER, "admission": ADMISSION}


@pytest.fixture(scope="session")
def simulator() -> Simulator:
    return Simulator()


@pytest.fixture(scope="session")
def stack(synth: Synthesized) -> SimulatedStack:
    return SimulatedStack(synth)


def evaluate(simulator: Simulator, requests: list[Request]) -> dict[str, str]:
    results = simulator.evaluate(requests)
    return {
        f"{r.action} {r.resource} {dict(r.context)}": result
        for r, result in zip(requests, results, strict=True)
    }


# --- the platform functions' own calls --------------------------------------------------------------


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_every_call_a_function_makes_is_allowed_by_the_synthesized_policies(
    stack: SimulatedStack, simulator: Simulator, function: str
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
    stack: SimulatedStack, simulator: Simulator, function: str
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
        "platform_layer": f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:other:1",
        "sandbox_code": "arn:aws:s3:::other-assets/code.zip",
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
    stack: SimulatedStack, simulator: Simulator
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
    stack: SimulatedStack, simulator: Simulator
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
