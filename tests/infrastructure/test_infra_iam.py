"""Least privilege: what each role may do, and that the deployer stays inside the stack's names."""

from __future__ import annotations

from typing import Any

import pytest
from infra_synth import Synthesized
from stratoflow._platform.infra.nag import render_cfn

ARN = "arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>:{resource}"
STATE_MACHINES = ARN.format(service="states", resource="stateMachine:Stratoflow-*")
EXECUTIONS = ARN.format(service="states", resource="execution:Stratoflow-*")
RULES = ARN.format(service="events", resource="rule/Stratoflow-*")
# Rules of EventBridge triggers on a custom bus: rule/<bus>/<name>.
CUSTOM_BUS_RULES = ARN.format(service="events", resource="rule/*/Stratoflow-*")
ALARMS = ARN.format(service="cloudwatch", resource="alarm:Stratoflow-*")
SCHEDULES = ARN.format(service="scheduler", resource="schedule/Stratoflow/*")
FLOW_ROLES = "arn:<AWS::Partition>:iam::<AWS::AccountId>:role/stratoflow/Stratoflow-flow-*"
PIPE_ROLES = "arn:<AWS::Partition>:iam::<AWS::AccountId>:role/stratoflow/Stratoflow-pipe-*"


def _arn_of(synth: Synthesized, construct: Any) -> str:
    return f"<{synth.logical_id(construct)}.Arn>"


def _trust(synth: Synthesized, role: Any) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = synth.resource(role)["Properties"]["AssumeRolePolicyDocument"][
        "Statement"
    ]
    return statements


def _role(synth: Synthesized, name: str) -> Any:
    return synth.platform.functions.roles[name]


def test_deployer_manages_only_what_the_stack_owns(synth: Synthesized) -> None:
    deployer = _role(synth, "deployer")
    owned = {
        "states:CreateStateMachine": STATE_MACHINES,
        "states:UpdateStateMachine": STATE_MACHINES,
        "states:DeleteStateMachine": STATE_MACHINES,
        "states:PublishStateMachineVersion": STATE_MACHINES,
        "states:TagResource": STATE_MACHINES,
        "scheduler:CreateSchedule": SCHEDULES,
        "scheduler:UpdateSchedule": SCHEDULES,
        "scheduler:DeleteSchedule": SCHEDULES,
        "events:PutRule": [RULES, CUSTOM_BUS_RULES],
        "events:PutTargets": [RULES, CUSTOM_BUS_RULES],
        "events:DeleteRule": [RULES, CUSTOM_BUS_RULES],
        "events:RemoveTargets": [RULES, CUSTOM_BUS_RULES],
        "events:TagResource": [RULES, CUSTOM_BUS_RULES],
        "cloudwatch:PutMetricAlarm": ALARMS,
        "cloudwatch:DeleteAlarms": ALARMS,
        "cloudwatch:TagResource": ALARMS,
    }
    for action, resource in owned.items():
        expected = resource if isinstance(resource, list) else [resource]
        assert sorted(synth.resources_allowed(deployer, action)) == sorted(expected), action


def test_deployer_passes_only_the_stacks_roles_each_to_its_service(synth: Synthesized) -> None:
    platform = synth.platform
    passes = [
        statement
        for statement in synth.statements(_role(synth, "deployer"))
        if "iam:PassRole" in statement["Action"]
    ]
    by_role = {
        render_cfn(statement["Resource"]): statement["Condition"]["StringEquals"]["iam:PassedToService"]
        for statement in passes
    }

    assert all(statement["Action"] == ["iam:PassRole"] for statement in passes)
    assert by_role == {
        _arn_of(synth, platform.deployer.state_machine_role.role): "states.amazonaws.com",
        _arn_of(synth, platform.triggers.scheduler_role): "scheduler.amazonaws.com",
        PIPE_ROLES: "pipes.amazonaws.com",
        FLOW_ROLES: "states.amazonaws.com",
        # Each script flow's sandbox role, to its sandbox function alone
        f"{FLOW_ROLES}-s": "lambda.amazonaws.com",
    }


def test_no_role_may_pass_roles_but_the_deployer_and_retries_the_scheduler_role(synth: Synthesized) -> None:
    deployer_policy_roles = {"Ref": synth.logical_id(_role(synth, "deployer"))}
    events_policy_roles = {"Ref": synth.logical_id(_role(synth, "execution_events"))}
    # Housekeeping deletes the flows' roles (tests/infrastructure/test_infra_housekeeping.py)
    housekeeping_roles = {"Ref": synth.logical_id(synth.platform.housekeeping.role)}
    for logical_id, policy in synth.resources("AWS::IAM::Policy").items():
        if deployer_policy_roles in policy["Properties"]["Roles"]:
            continue
        if housekeeping_roles in policy["Properties"]["Roles"]:
            assert synth.resources_allowed(synth.platform.housekeeping.role, "iam:PassRole") == []
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if events_policy_roles in policy["Properties"]["Roles"] and actions == ["iam:PassRole"]:
                # Delayed flow retries are one-time schedules: only the scheduler role, to Scheduler.
                assert statement["Resource"] == {
                    "Fn::GetAtt": [synth.logical_id(synth.platform.triggers.scheduler_role), "Arn"]
                }
                assert statement["Condition"] == {
                    "StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}
                }
                continue
            assert not any(action.startswith("iam:") for action in actions), logical_id


def test_deployer_wildcard_resource_is_only_for_listing(synth: Synthesized) -> None:
    statements = [s for s in synth.statements(_role(synth, "deployer")) if s["Resource"] == "*"]
    unscoped = [statement["Action"] for statement in statements]
    assert sorted(action for actions in unscoped for action in actions) == sorted(
        [
            "cloudwatch:PutMetricData",
            "events:ListRules",
            "pipes:ListPipes",
            "scheduler:ListSchedules",
            "xray:PutTelemetryRecords",
            "xray:PutTraceSegments",
        ]
    )
    # ... and metric data (the "did not run" windows) only in Stratoflow's namespace
    (metrics,) = [s for s in statements if "cloudwatch:PutMetricData" in s["Action"]]
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": "Stratoflow"}}


def test_no_statement_grants_a_whole_service(synth: Synthesized) -> None:
    for logical_id, policy in synth.resources("AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not any(action == "*" or action.endswith(":*") for action in actions), logical_id


def test_state_machine_role(synth: Synthesized) -> None:
    platform = synth.platform
    role = platform.deployer.state_machine_role.role
    (trust,) = _trust(synth, role)

    assert trust["Principal"] == {"Service": "states.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert render_cfn(trust["Condition"]["ArnLike"]["aws:SourceArn"]) == STATE_MACHINES
    task_runner, admission = (
        _arn_of(synth, platform.functions.task_runner),
        _arn_of(synth, platform.functions.admission),
    )
    assert sorted(synth.resources_allowed(role, "lambda:InvokeFunction")) == sorted(
        [task_runner, f"{task_runner}:*", admission, f"{admission}:*"]
    )
    assert synth.resources_allowed(role, "states:StartExecution") == [STATE_MACHINES]
    assert synth.resources_allowed(role, "states:DescribeExecution") == [EXECUTIONS]
    assert synth.resources_allowed(role, "states:StopExecution") == [EXECUTIONS]
    sync_rule = ARN.format(
        service="events", resource="rule/StepFunctionsGetEventsForStepFunctionsExecutionRule"
    )
    for action in ("events:PutTargets", "events:PutRule", "events:DescribeRule"):
        assert synth.resources_allowed(role, action) == [sync_rule]
    for action in ("xray:PutTraceSegments", "logs:CreateLogDelivery", "logs:PutResourcePolicy"):
        assert synth.resources_allowed(role, action) == ["*"]


def test_scheduler_role_only_invokes_admission(synth: Synthesized) -> None:
    platform = synth.platform
    role = platform.triggers.scheduler_role
    (trust,) = _trust(synth, role)
    admission = _arn_of(synth, platform.functions.admission)

    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert trust["Condition"]["ArnLike"] == {
        "aws:SourceArn": {"Fn::GetAtt": [synth.logical_id(platform.triggers.schedule_group), "Arn"]}
    }
    assert sorted(synth.resources_allowed(role, "lambda:InvokeFunction")) == [admission, f"{admission}:*"]
    assert synth.resources_allowed(role, "sqs:SendMessage") == [
        _arn_of(synth, platform.triggers.dead_letter_queue)
    ]
    assert {action for statement in synth.statements(role) for action in statement["Action"]} == {
        "lambda:InvokeFunction",
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
    }


def test_only_admission_execution_events_and_state_machines_start_executions(synth: Synthesized) -> None:
    platform = synth.platform
    policies = {**synth.resources("AWS::IAM::Policy"), **synth.resources("AWS::IAM::ManagedPolicy")}
    starters = {
        logical_id
        for logical_id, policy in policies.items()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "states:StartExecution" in statement["Action"]
    }
    # Admission starts new executions; execution events starts recorded ones (promoted from the queue,
    # flow retries); the state machines' base policy (repeated by the flow roles' boundary) subflows.
    for name in ("admission", "execution_events"):
        assert synth.resources_allowed(_role(synth, name), "states:StartExecution") == [STATE_MACHINES]
    base = synth.logical_id(platform.deployer.state_machine_role.base_policy)
    boundary = synth.logical_id(platform.deployer.flow_role_boundary.policy)
    # The console starts, restarts and replays executions (test_infra_console.py).
    console = synth.logical_id(platform.console.function.role.node.find_child("DefaultPolicy"))
    assert {base, boundary, console} <= starters and len(starters - {base, boundary, console}) == 2, starters
    assert synth.resources_allowed(platform.deployer.state_machine_role.role, "states:StartExecution")


def test_task_runner_completes_waiting_states_of_the_stack_only(synth: Synthesized) -> None:
    for action in ("states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"):
        assert synth.resources_allowed(_role(synth, "task_runner"), action) == [STATE_MACHINES]


@pytest.mark.parametrize("name", ["task_runner", "webhook"])  # the webhook: keys given as secret('NAME')
def test_only_the_task_runner_and_webhook_read_the_flow_secrets_prefix(synth: Synthesized, name: str) -> None:
    role = _role(synth, name)
    assert synth.resources_allowed(role, "secretsmanager:GetSecretValue") == [
        ARN.format(service="secretsmanager", resource="secret:stratoflow/*")
    ]
    assert synth.resources_allowed(role, "ssm:GetParameter") == [
        ARN.format(service="ssm", resource="parameter/stratoflow/*")
    ]
    for other in ("deployer", "admission", "execution_events"):
        assert synth.resources_allowed(_role(synth, other), "secretsmanager:GetSecretValue") == []


def test_execution_events_publishes_on_the_default_bus(synth: Synthesized) -> None:
    role = _role(synth, "execution_events")

    assert synth.resources_allowed(role, "events:PutEvents") == [
        ARN.format(service="events", resource="event-bus/default")
    ]
    assert synth.resources_allowed(role, "states:StopExecution") == [EXECUTIONS]


@pytest.mark.parametrize(
    ("name", "writes_table", "data_bucket_access"),
    [
        ("task_runner", True, "write"),
        ("deployer", True, None),
        ("admission", True, "write"),
        ("execution_events", True, None),
        ("webhook", False, None),
    ],
)
def test_storage_access_per_function(
    synth: Synthesized, name: str, writes_table: bool, data_bucket_access: str | None
) -> None:
    storage = synth.platform.storage
    role = _role(synth, name)
    table = _arn_of(synth, storage.table)
    data_bucket = _arn_of(synth, storage.data_bucket)

    assert table in synth.resources_allowed(role, "dynamodb:Query")
    assert (table in synth.resources_allowed(role, "dynamodb:PutItem")) is writes_table
    assert (f"{data_bucket}/*" in synth.resources_allowed(role, "s3:PutObject")) is (
        data_bucket_access == "write"
    )
    flows_bucket = _arn_of(synth, storage.flows_bucket)
    assert (f"{flows_bucket}/*" in synth.resources_allowed(role, "s3:GetObject*")) is (name == "deployer")
    assert f"{flows_bucket}/*" not in synth.resources_allowed(role, "s3:PutObject")


def test_functions_write_logs_only_to_their_own_group(synth: Synthesized) -> None:
    for name, function in synth.platform.functions.by_name.items():
        group = synth.resource(function)["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert synth.resources_allowed(_role(synth, name), "logs:PutLogEvents") == [f"<{group}.Arn>"]
    assert not [
        role
        for role in synth.resources("AWS::IAM::Role").values()
        if role["Properties"].get("ManagedPolicyArns")
    ]


def test_rules_of_the_stack_may_invoke_admission(synth: Synthesized) -> None:
    admission = {"Fn::GetAtt": [synth.logical_id(synth.platform.functions.admission), "Arn"]}
    permissions = [
        permission["Properties"]
        for permission in synth.resources("AWS::Lambda::Permission").values()
        if permission["Properties"]["FunctionName"] == admission
    ]

    assert all(p["Principal"] == "events.amazonaws.com" for p in permissions)
    assert all(p["SourceAccount"] == {"Ref": "AWS::AccountId"} for p in permissions)
    assert sorted(render_cfn(p["SourceArn"]) for p in permissions) == sorted([RULES, CUSTOM_BUS_RULES])
