"""The flows' script sandboxes, as the stack prepares them: the code and layer the deployer creates them
from, what the deployer may do to them (only `<StackName>-sbx-*`, roles passed only to Lambda), the task
runner's right to invoke them and nothing more, the boundary's log statement, and the housekeeping."""

from __future__ import annotations

import json
from typing import Any

from infra_synth import Synthesized
from stratoflow._platform.infra.nag import render_cfn

SANDBOXES = "arn:<AWS::Partition>:lambda:<AWS::Region>:<AWS::AccountId>:function:{stack}-sbx-*"
LOG_GROUPS = "arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/lambda/{stack}-sbx-*"
SANDBOX_ROLES = "arn:<AWS::Partition>:iam::<AWS::AccountId>:role/stratoflow/{stack}-flow-*-s"


def _by_sid(synth: Synthesized, role: Any) -> dict[str, dict[str, Any]]:
    return {statement["Sid"]: statement for statement in synth.statements(role) if "Sid" in statement}


def test_the_deployer_gets_the_code_the_layer_and_the_retention_of_sandboxes(synth: Synthesized) -> None:
    platform = synth.platform
    environment = synth.environment(platform.functions.deployer)
    code = platform.script_sandboxes.code
    assert environment["STRATOFLOW_SANDBOX_CODE_BUCKET"] == synth.stack.resolve(code.s3_bucket_name)
    assert environment["STRATOFLOW_SANDBOX_CODE_KEY"] == synth.stack.resolve(code.s3_object_key)
    assert environment["STRATOFLOW_PLATFORM_LAYER_ARN"] == {"Ref": synth.logical_id(platform.functions.layer)}
    assert environment["STRATOFLOW_SANDBOX_LOG_DAYS"] == "30"
    assert synth.environment(platform.functions.task_runner)["STRATOFLOW_SCRIPT_SANDBOXES"] == "true"


def test_the_deployer_manages_only_the_stacks_sandboxes_and_passes_their_roles_only_to_lambda(
    synth: Synthesized,
) -> None:
    stack = synth.stack.stack_name
    role = synth.platform.functions.roles["deployer"]
    statements = _by_sid(synth, role)
    assert [render_cfn(r) for r in [statements["ManageScriptSandboxes"]["Resource"]]] == [
        SANDBOXES.format(stack=stack)
    ]
    assert render_cfn(statements["ManageScriptSandboxLogs"]["Resource"]) == LOG_GROUPS.format(stack=stack)
    passing = statements["PassSandboxRoles"]
    assert render_cfn(passing["Resource"]) == SANDBOX_ROLES.format(stack=stack)
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}
    # The code: one object by its key, never the assets bucket
    code = json.dumps(statements["ReadScriptSandboxCode"]["Resource"])
    assert "*" not in code and code.endswith('.zip"]]}')
    assert statements["ReadScriptSandboxCode"]["Action"] == ["s3:GetObject"]
    # No other statement lets it create functions or pass roles to Lambda
    for statement in synth.statements(role):
        if "lambda:CreateFunction" in statement["Action"]:
            assert statement["Sid"] == "ManageScriptSandboxes"
        if (
            "iam:PassRole" in statement["Action"]
            and statement.get("Condition", {}).get("StringEquals", {}).get("iam:PassedToService")
            == "lambda.amazonaws.com"
        ):
            assert statement["Sid"] == "PassSandboxRoles"


def test_the_task_runner_may_invoke_the_sandboxes_and_do_nothing_else_to_them(synth: Synthesized) -> None:
    stack = synth.stack.stack_name
    role = synth.platform.functions.roles["task_runner"]
    assert SANDBOXES.format(stack=stack) in synth.resources_allowed(role, "lambda:InvokeFunction")
    for action in ("lambda:CreateFunction", "lambda:UpdateFunctionCode", "iam:PassRole"):
        assert SANDBOXES.format(stack=stack) not in synth.resources_allowed(role, action)


def test_the_boundary_lets_a_sandbox_role_write_only_the_sandboxes_log_groups(synth: Synthesized) -> None:
    stack = synth.stack.stack_name
    boundary = synth.resource(synth.platform.deployer.flow_role_boundary.policy)
    (logs,) = [
        s for s in boundary["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid") == "SandboxLogs"
    ]
    assert logs["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert [render_cfn(r) for r in logs["Resource"]] == [
        LOG_GROUPS.format(stack=stack),
        LOG_GROUPS.format(stack=stack) + ":*",
    ]


def test_the_housekeeping_deletes_the_sandboxes_with_the_stack(synth: Synthesized) -> None:
    stack = synth.stack.stack_name
    role = synth.platform.housekeeping.role
    assert synth.resources_allowed(role, "lambda:DeleteFunction") == [SANDBOXES.format(stack=stack)]
    assert synth.resources_allowed(role, "logs:DeleteLogGroup") == [LOG_GROUPS.format(stack=stack)]
