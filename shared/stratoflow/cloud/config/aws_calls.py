"""The AWS calls each platform function makes, as IAM sees them: the list the stack's grants must cover.

Each entry names the boto3 call (service and operation, as botocore names them), the IAM action it
is authorized as (an operation can need more than one: CreateStateMachine also passes a role), a
typical resource and the condition keys the request carries. Two tests keep it true:

- tests/integration/test_aws_calls_recorded_moto.py records every call the deployer, the task
  runner and admission make while flows are deployed, run and deleted on moto, and fails on one
  this list does not name: a new boto3 call must be declared here;
- tests/infrastructure/test_iam_simulated.py evaluates every entry against the synthesized stack's
  policies with an IAM policy simulator, and a neighbour outside the stack's names for each: a
  declared call the stack does not grant fails there.

Resources are templates: `{partition}`, `{region}`, `{account}`, `{stack}` and the names of the
stack's resources (`{table}`, `{data_bucket}`, `{flows_bucket}`, `{alert_topic}`, `{schedule_group}`,
`{state_machine_role}`, `{scheduler_role}`, `{flow_boundary}`, `{pipe_boundary}`, `{base_policy}`,
`{admission}`, `{task_runner}`, `{log_group}`, `{platform_layer}`, `{sandbox_code}`) filled from the
stack.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class AwsCall:
    service: str  # botocore's service name ("stepfunctions")
    operation: str  # botocore's operation name ("CreateStateMachine")
    action: str  # the IAM action it is authorized as ("states:CreateStateMachine")
    resource: str  # a typical resource, as a template
    context: Mapping[str, str] = field(default_factory=dict)
    # False where the Service Authorization Reference lists no resource type but AWS authorizes the
    # call against a resource anyway, so a policy simulator (which follows the reference) cannot
    # evaluate it: tests check the grant's statement instead.
    simulated: bool = True


_SM = "arn:{partition}:states:{region}:{account}:stateMachine:{stack}-team_a-orders"
_EXECUTION = "arn:{partition}:states:{region}:{account}:execution:{stack}-team_a-orders:0b7c"
_ALARM = "arn:{partition}:cloudwatch:{region}:{account}:alarm:{stack}-team_a-orders-ExecutionsFailed"
_RULE = "arn:{partition}:events:{region}:{account}:rule/{stack}-orders-placed-1a2b3c4d"
_PIPE = "arn:{partition}:pipes:{region}:{account}:pipe/{stack}-orders-inbox-1a2b3c4d"
_SCHEDULE = (
    "arn:{partition}:scheduler:{region}:{account}:schedule/{schedule_group}/{stack}-orders-nightly-1a2b"
)
_FLOW_ROLE = "arn:{partition}:iam::{account}:role/stratoflow/{stack}-flow-0123456789abcdef"
_PIPE_ROLE = "arn:{partition}:iam::{account}:role/stratoflow/{stack}-pipe-0123456789abcdef"
# A flow's script sandbox (cloud.deploy.sandboxes): its function, log group and role.
_SANDBOX = "arn:{partition}:lambda:{region}:{account}:function:{stack}-sbx-0123456789abcdef"
_SANDBOX_LOGS = "arn:{partition}:logs:{region}:{account}:log-group:/aws/lambda/{stack}-sbx-0123456789abcdef"
_SANDBOX_ROLE = _FLOW_ROLE + "-s"
_TABLE = "arn:{partition}:dynamodb:{region}:{account}:table/{table}"
_INDEX = _TABLE + "/index/gsi1"
_DATA = "arn:{partition}:s3:::{data_bucket}/team.a/orders/executions/0b7c/outputs/out.json"
_FLOW_FILE = "arn:{partition}:s3:::{flows_bucket}/flows/orders.yaml"
_SANDBOX_OBJECT = (
    "arn:{partition}:s3:::{data_bucket}/team.a/orders/executions/0b7c/5f3a/sandbox/1/out/answer.json"
)

_WITHIN_FLOW_BOUNDARY = {"iam:PermissionsBoundary": "{flow_boundary}"}
_WITHIN_PIPE_BOUNDARY = {"iam:PermissionsBoundary": "{pipe_boundary}"}


def _calls(service: str, prefix: str, resource: str, *operations: str, **context: str) -> tuple[AwsCall, ...]:
    return tuple(AwsCall(service, op, f"{prefix}:{op}", resource, dict(context)) for op in operations)


def _table(*operations: str) -> tuple[AwsCall, ...]:
    calls = _calls("dynamodb", "dynamodb", _TABLE, *(op for op in operations if op != "TransactWriteItems"))
    if "TransactWriteItems" in operations:
        # No IAM action of its own: each write and check of the transaction is authorized as itself.
        calls += tuple(
            AwsCall("dynamodb", "TransactWriteItems", f"dynamodb:{action}", _TABLE)
            for action in ("PutItem", "UpdateItem", "DeleteItem", "ConditionCheckItem")
        )
    return calls


# stratoflow.cloud.deploy: the flow record, state machine, alarms, trigger rules, pipes, schedules, roles.
DEPLOYER: tuple[AwsCall, ...] = (
    *_calls("s3", "s3", _FLOW_FILE, "GetObject"),
    AwsCall("s3", "HeadObject", "s3:GetObject", _FLOW_FILE),
    *_table("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "TransactWriteItems"),
    *_calls(
        "stepfunctions",
        "states",
        _SM,
        "CreateStateMachine",
        "UpdateStateMachine",
        "DeleteStateMachine",
        "DescribeStateMachine",
        "ListStateMachineVersions",
        "TagResource",
    ),
    AwsCall("stepfunctions", "DeleteStateMachineVersion", "states:DeleteStateMachineVersion", _SM + ":3"),
    # CreateStateMachine and UpdateStateMachine pass the shared role or the flow's own to Step Functions.
    AwsCall(
        "stepfunctions",
        "CreateStateMachine",
        "iam:PassRole",
        "{state_machine_role}",
        {"iam:PassedToService": "states.amazonaws.com"},
    ),
    AwsCall(
        "stepfunctions",
        "UpdateStateMachine",
        "iam:PassRole",
        _FLOW_ROLE,
        {"iam:PassedToService": "states.amazonaws.com"},
    ),
    *_calls("cloudwatch", "cloudwatch", _ALARM, "PutMetricAlarm", "DeleteAlarms", "DescribeAlarms"),
    AwsCall(
        "cloudwatch", "PutMetricData", "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "Stratoflow"}
    ),
    *_calls(
        "events",
        "events",
        _RULE,
        "PutRule",
        "DeleteRule",
        "DescribeRule",
        "EnableRule",
        "DisableRule",
        "PutTargets",
        "RemoveTargets",
        "ListTargetsByRule",
        "TagResource",
    ),
    AwsCall("events", "ListRules", "events:ListRules", "*"),
    *_calls(
        "pipes",
        "pipes",
        _PIPE,
        "CreatePipe",
        "UpdatePipe",
        "DeletePipe",
        "DescribePipe",
        "StartPipe",
        "StopPipe",
        "TagResource",
    ),
    AwsCall("pipes", "ListPipes", "pipes:ListPipes", "*"),
    AwsCall(
        "pipes", "CreatePipe", "iam:PassRole", _PIPE_ROLE, {"iam:PassedToService": "pipes.amazonaws.com"}
    ),
    AwsCall(
        "pipes", "UpdatePipe", "iam:PassRole", _PIPE_ROLE, {"iam:PassedToService": "pipes.amazonaws.com"}
    ),
    *_calls(
        "scheduler",
        "scheduler",
        _SCHEDULE,
        "CreateSchedule",
        "UpdateSchedule",
        "DeleteSchedule",
        "GetSchedule",
    ),
    AwsCall("scheduler", "ListSchedules", "scheduler:ListSchedules", "*"),
    AwsCall(
        "scheduler",
        "CreateSchedule",
        "iam:PassRole",
        "{scheduler_role}",
        {"iam:PassedToService": "scheduler.amazonaws.com"},
    ),
    AwsCall("sns", "Publish", "sns:Publish", "{alert_topic}"),
    # The flow's own role (cloud.deploy.flow_roles): written only within the flow-role boundary.
    *_calls(
        "iam",
        "iam",
        _FLOW_ROLE,
        "CreateRole",
        "PutRolePolicy",
        "DeleteRolePolicy",
        "DetachRolePolicy",
        "PutRolePermissionsBoundary",
        **_WITHIN_FLOW_BOUNDARY,
    ),
    AwsCall(
        "iam",
        "AttachRolePolicy",
        "iam:AttachRolePolicy",
        _FLOW_ROLE,
        {**_WITHIN_FLOW_BOUNDARY, "iam:PolicyARN": "{base_policy}"},
    ),
    *_calls(
        "iam",
        "iam",
        _FLOW_ROLE,
        "GetRole",
        "UpdateAssumeRolePolicy",
        "TagRole",
        "ListRolePolicies",
        "ListAttachedRolePolicies",
        "DeleteRole",
    ),
    # The flow's script sandbox (cloud.deploy.sandboxes): a function run by a role of its own, written
    # only within the flow-role boundary and passed only to Lambda, and the function's log group.
    *_calls(
        "lambda",
        "lambda",
        _SANDBOX,
        "CreateFunction",
        "GetFunction",
        "GetFunctionConfiguration",
        "UpdateFunctionConfiguration",
        "UpdateFunctionCode",
        "DeleteFunction",
        "TagResource",
    ),
    AwsCall(
        "lambda",
        "CreateFunction",
        "iam:PassRole",
        _SANDBOX_ROLE,
        {"iam:PassedToService": "lambda.amazonaws.com"},
    ),
    AwsCall(
        "lambda",
        "UpdateFunctionConfiguration",
        "iam:PassRole",
        _SANDBOX_ROLE,
        {"iam:PassedToService": "lambda.amazonaws.com"},
    ),
    # ... which read the platform layer and the sandbox handler's code (an asset of the stack) with the
    # caller's permissions.
    *(
        AwsCall("lambda", op, "lambda:GetLayerVersion", "{platform_layer}")
        for op in ("CreateFunction", "UpdateFunctionConfiguration")
    ),
    *(
        AwsCall("lambda", op, "s3:GetObject", "{sandbox_code}")
        for op in ("CreateFunction", "UpdateFunctionCode")
    ),
    *_calls("logs", "logs", _SANDBOX_LOGS, "CreateLogGroup", "PutRetentionPolicy", "DeleteLogGroup"),
    AwsCall("logs", "CreateLogGroup", "logs:TagResource", _SANDBOX_LOGS),  # it is created with tags
    *_calls(
        "iam",
        "iam",
        _SANDBOX_ROLE,
        "CreateRole",
        "PutRolePolicy",
        "DeleteRolePolicy",
        "PutRolePermissionsBoundary",
        **_WITHIN_FLOW_BOUNDARY,
    ),
    *_calls("iam", "iam", _SANDBOX_ROLE, "GetRole", "TagRole", "ListRolePolicies", "DeleteRole"),
    # The role of the flow's pipes (cloud.deploy.pipe_roles): written only within the pipe-role boundary.
    *_calls(
        "iam",
        "iam",
        _PIPE_ROLE,
        "CreateRole",
        "PutRolePolicy",
        "DeleteRolePolicy",
        "PutRolePermissionsBoundary",
        **_WITHIN_PIPE_BOUNDARY,
    ),
    *_calls(
        "iam",
        "iam",
        _PIPE_ROLE,
        "GetRole",
        "UpdateAssumeRolePolicy",
        "TagRole",
        "ListRolePolicies",
        "DeleteRole",
    ),
)

# stratoflow.execution.runner through cloud.assembly.cloud_task_runner: records, files, callbacks,
# secrets, and the flow's role for its AWS tasks.
TASK_RUNNER: tuple[AwsCall, ...] = (
    *_table("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "BatchWriteItem", "BatchGetItem"),
    AwsCall("dynamodb", "Query", "dynamodb:Query", _INDEX),
    *_calls("s3", "s3", _DATA, "PutObject", "GetObject"),
    AwsCall("s3", "HeadObject", "s3:GetObject", _DATA),
    # The reference lists no resource type for these; AWS authorizes them against the state machine
    # that issued the task token (its AccessDenied names `...:stateMachine:<name>`).
    *(
        AwsCall("stepfunctions", op, f"states:{op}", _SM, simulated=False)
        for op in ("SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat")
    ),
    AwsCall("sts", "AssumeRole", "sts:AssumeRole", _FLOW_ROLE),
    AwsCall(
        "secretsmanager",
        "GetSecretValue",
        "secretsmanager:GetSecretValue",
        "arn:{partition}:secretsmanager:{region}:{account}:secret:stratoflow/team.a/token-AbCdEf",
    ),
    AwsCall("lambda", "Invoke", "lambda:InvokeFunction", "{admission}"),
    # Script tasks run in their flow's sandbox; their files are handed over under the task run's prefix,
    # tagged for the bucket's lifecycle (a PutObject with a tag, and the sandbox's POST, which the
    # runner signs, need s3:PutObjectTagging), and deleted by name after the run.
    AwsCall("lambda", "Invoke", "lambda:InvokeFunction", _SANDBOX),
    AwsCall("s3", "PutObject", "s3:PutObjectTagging", _SANDBOX_OBJECT),
    AwsCall("s3", "DeleteObjects", "s3:DeleteObject", _SANDBOX_OBJECT),
    AwsCall("s3", "ListObjectsV2", "s3:ListBucket", "arn:{partition}:s3:::{data_bucket}"),
)

# cloud.runtime.starter through cloud.assembly.cloud_admission: records and starts.
ADMISSION: tuple[AwsCall, ...] = (
    *_table("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "TransactWriteItems"),
    AwsCall("dynamodb", "Query", "dynamodb:Query", _INDEX),
    AwsCall("stepfunctions", "StartExecution", "states:StartExecution", _SM),
    AwsCall("stepfunctions", "StartExecution", "states:StartExecution", _SM + ":3"),
)

__all__ = ["ADMISSION", "DEPLOYER", "TASK_RUNNER", "AwsCall"]
