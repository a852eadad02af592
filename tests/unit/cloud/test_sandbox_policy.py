"""The script sandbox's own policy and the deploy checks that account for it, without AWS."""

from __future__ import annotations

from stratoflow.cloud.config.naming import AccountRegion, sandbox_function_name, sandbox_role_name
from stratoflow.cloud.deploy.flow_roles import MAX_INLINE_POLICY_CHARS, compact
from stratoflow.cloud.deploy.limits import DeployNames, measure
from stratoflow.cloud.deploy.sandboxes import (
    CONTAINER_POLICY_CHARS,
    SANDBOX_POLICY_CHARS,
    ContainerAccess,
    runs_scripts,
    sandbox_policy,
)
from stratoflow.flow import load_flow

LONGEST_STACK = "S" * 40


def test_the_sandbox_policy_fits_the_room_the_deployer_keeps_for_it_in_the_longest_case() -> None:
    # Given the longest stack name, the longest partition and CDK-length function names
    account = AccountRegion("aws-us-gov", "us-gov-west-1", "123456789012")
    runner = f"arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:{LONGEST_STACK}-TaskRunner0123456789-ABCDEFGHIJKL"
    admission = runner.replace("TaskRunner", "Admission0")
    # When the policy is written
    _, own = sandbox_policy(
        [], account, sandbox_function_name(LONGEST_STACK, "n" * 60, "f" * 60), (runner, admission)
    )
    # Then it fits the reserved room, and the role and function names fit their limits
    assert len(compact(own)) <= SANDBOX_POLICY_CHARS
    assert len(sandbox_role_name(LONGEST_STACK, "n", "f")) == 64
    assert len(sandbox_function_name(LONGEST_STACK, "n", "f")) <= 64


def test_a_container_flows_sandbox_policy_fits_the_room_kept_for_both_in_the_longest_case() -> None:
    # Given the longest names, and a flow with Fargate script tasks (its sandbox folders, the code)
    account = AccountRegion("aws-us-gov", "us-gov-west-1", "123456789012")
    runner = f"arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:{LONGEST_STACK}-TaskRunner0123456789-ABCDEFGHIJKL"
    access = ContainerAccess(
        "b" * 63, "n" * 60, "f" * 60, "cdk-hnb659fds-assets-123456789012-us-gov-west-1", "c" * 64 + ".zip"
    )
    # When the policy is written
    _, own = sandbox_policy(
        [], account, sandbox_function_name(LONGEST_STACK, "n" * 60, "f" * 60), (runner, runner), access
    )
    # Then it fits the room kept for a sandbox with containers
    assert len(compact(own)) <= SANDBOX_POLICY_CHARS + CONTAINER_POLICY_CHARS


def test_the_sandbox_policy_denies_the_platform_functions_and_flow_roles_whatever_the_flow_declares() -> None:
    # Given a flow that declares invoking the task runner
    account = AccountRegion("aws", "eu-west-1", "123456789012")
    runner = "arn:aws:lambda:eu-west-1:123456789012:function:Stack-TaskRunner-1"
    declared = [{"Action": ["lambda:InvokeFunction"], "Resource": [runner]}]
    # When its sandbox policies are written
    tasks, own = sandbox_policy(declared, account, "Stack-sbx-0123", (runner, ""))
    # Then the declared statement is there, and an explicit deny beats it (and any flow role)
    assert tasks["Statement"][0]["Resource"] == [runner]
    denials = {statement["Sid"]: statement for statement in own["Statement"] if statement["Effect"] == "Deny"}
    assert denials["NoPlatformFunctions"]["Resource"] == [runner, f"{runner}:*"]
    assert denials["NoFlowRoles"]["Resource"] == ["arn:aws:iam::123456789012:role/stratoflow/*"]


def _flow(tasks: str) -> str:
    return f"id: wide\nnamespace: tests.sandbox\ntasks:\n{tasks}"


def test_a_script_flow_whose_statements_leave_no_room_for_the_sandbox_policy_is_refused_before_deploying() -> (
    None
):
    # Given uploads of many distinct objects: within IAM's limit alone, not beside the sandbox policy
    uploads = "".join(
        f"  - {{id: put{n}, type: aws.s3.Upload, bucket: lake, key: exports/file-{n:04}.json, content: x}}\n"
        for n in range(95)
    )
    script = "  - {id: sh, type: scripts.Shell, script: 'true'}\n"
    names = DeployNames.example()
    # When the flow is measured with and without a script
    alone = measure(load_flow(_flow(uploads)), names)
    with_script = measure(load_flow(_flow(uploads + script)), names)
    # Then only the flow with a script is refused, naming the room left
    assert not alone.problems, alone.problems
    assert len(with_script.problems) == 1
    assert f"IAM accepts {MAX_INLINE_POLICY_CHARS - SANDBOX_POLICY_CHARS} on one role" in str(
        with_script.problems[0]
    )
    assert runs_scripts(load_flow(_flow(uploads + script))) and not runs_scripts(load_flow(_flow(uploads)))
