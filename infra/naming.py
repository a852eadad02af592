"""Names the stack owns. Everything the deployer creates at run time starts with `<StackName>-`;
the platform's own named resources use `<StackName>.` so that they never fall under that prefix."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from constructs import IConstruct

from stratoflow.cloud.config.naming import (
    FLOW_ROLE_PATH,
    SANDBOX_ROLE_SUFFIX,
    boundary_policy_name,
    flow_role_prefix,
    pipe_role_prefix,
    sandbox_function_prefix,
)


def owned_prefix(scope: IConstruct) -> str:
    """Names that start with this belong to the deployer: state machines, trigger rules, alarms."""
    return f"{Stack.of(scope).stack_name}-"


def platform_name(scope: IConstruct, name: str) -> str:
    """The name of one of the platform's own rules or alarms, outside the deployer's prefix."""
    return f"{Stack.of(scope).stack_name}.{name}"


def owned_state_machines_arn(scope: IConstruct) -> str:
    return _arn(scope, "states", "stateMachine", f"{owned_prefix(scope)}*", ArnFormat.COLON_RESOURCE_NAME)


def owned_executions_arn(scope: IConstruct) -> str:
    return _arn(scope, "states", "execution", f"{owned_prefix(scope)}*", ArnFormat.COLON_RESOURCE_NAME)


def owned_rules_arn(scope: IConstruct) -> str:
    return _arn(scope, "events", "rule", f"{owned_prefix(scope)}*", ArnFormat.SLASH_RESOURCE_NAME)


def owned_custom_bus_rules_arn(scope: IConstruct) -> str:
    """Owned rules on a custom event bus: their ARNs are `rule/<bus>/<name>`, which `rule/<prefix>*`
    does not match."""
    return _arn(scope, "events", "rule", f"*/{owned_prefix(scope)}*", ArnFormat.SLASH_RESOURCE_NAME)


def owned_pipes_arn(scope: IConstruct) -> str:
    """The EventBridge Pipes of SQS triggers (stratoflow.cloud.deploy.pipes)."""
    return _arn(scope, "pipes", "pipe", f"{owned_prefix(scope)}*", ArnFormat.SLASH_RESOURCE_NAME)


def owned_alarms_arn(scope: IConstruct) -> str:
    return _arn(scope, "cloudwatch", "alarm", f"{owned_prefix(scope)}*", ArnFormat.COLON_RESOURCE_NAME)


def flow_roles_path_arn(scope: IConstruct) -> str:
    """`arn:...:iam::<account>:role/stratoflow/`: a flow role's ARN is this followed by its name."""
    return Stack.of(scope).format_arn(
        service="iam", region="", resource="role", resource_name=FLOW_ROLE_PATH.lstrip("/")
    )


def owned_flow_roles_arn(scope: IConstruct) -> str:
    """The roles the deployer creates, one per flow with AWS permissions (stratoflow.cloud.deploy.flow_roles)."""
    name = f"{FLOW_ROLE_PATH.lstrip('/')}{flow_role_prefix(Stack.of(scope).stack_name)}*"
    return Stack.of(scope).format_arn(service="iam", region="", resource="role", resource_name=name)


def owned_sandbox_functions_arn(scope: IConstruct) -> str:
    """The flows' script sandbox functions (stratoflow.cloud.deploy.sandboxes)."""
    name = f"{sandbox_function_prefix(Stack.of(scope).stack_name)}*"
    return _arn(scope, "lambda", "function", name, ArnFormat.COLON_RESOURCE_NAME)


def owned_sandbox_log_groups_arn(scope: IConstruct) -> str:
    """The sandbox functions' log groups, `/aws/lambda/<StackName>-sbx-*` (and their streams)."""
    name = f"/aws/lambda/{sandbox_function_prefix(Stack.of(scope).stack_name)}*"
    return _arn(scope, "logs", "log-group", name, ArnFormat.COLON_RESOURCE_NAME)


def owned_sandbox_roles_arn(scope: IConstruct) -> str:
    """The sandbox functions' roles: flow role names ending with `-s` (a flow role never does)."""
    name = f"{FLOW_ROLE_PATH.lstrip('/')}{flow_role_prefix(Stack.of(scope).stack_name)}*{SANDBOX_ROLE_SUFFIX}"
    return Stack.of(scope).format_arn(service="iam", region="", resource="role", resource_name=name)


def owned_flow_boundaries_arn(scope: IConstruct) -> str:
    """The flow-role boundaries built on an operator's policy (stratoflow.cloud.deploy.flow_boundaries)."""
    name = f"{FLOW_ROLE_PATH.lstrip('/')}{boundary_policy_name(Stack.of(scope).stack_name, '*')}"
    return Stack.of(scope).format_arn(service="iam", region="", resource="policy", resource_name=name)


def owned_pipe_roles_arn(scope: IConstruct) -> str:
    """The roles the deployer creates for the pipes of each flow with SQS triggers (cloud.deploy.pipe_roles)."""
    name = f"{FLOW_ROLE_PATH.lstrip('/')}{pipe_role_prefix(Stack.of(scope).stack_name)}*"
    return Stack.of(scope).format_arn(service="iam", region="", resource="role", resource_name=name)


def state_machine_arn_prefix(scope: IConstruct) -> str:
    """The ARN every owned state machine's ARN starts with (for event pattern `prefix` matching)."""
    return _arn(scope, "states", "stateMachine", owned_prefix(scope), ArnFormat.COLON_RESOURCE_NAME)


def _arn(scope: IConstruct, service: str, resource: str, name: str, arn_format: ArnFormat) -> str:
    return Stack.of(scope).format_arn(
        service=service, resource=resource, resource_name=name, arn_format=arn_format
    )
