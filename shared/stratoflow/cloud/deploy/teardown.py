"""What deleting the stack must not leave behind: every resource the deployer created for it.

CloudFormation deletes only what the template holds. The deployer creates, per flow, a state machine,
alarms, EventBridge rules (on the default bus and on the custom buses event triggers name), pipes,
IAM roles (the flow's, its pipes'), and for a flow with scripts a sandbox function with its log group
and role, all named with the stack's prefix `<StackName>-` (stratoflow.cloud.config.naming); the
stack's housekeeping custom resource (functions/housekeeping) calls `remove_deployed_resources` when
the stack is deleted, so `cdk destroy` leaves nothing of them. Schedules need nothing here: they live
in the stack's schedule group, and deleting the group deletes them.

Found by name, not by the flow records: a record lost or never written (a deployment that failed
halfway) still leaves a named resource to find. The prefix has no hyphen before its own, so stack
`Stratoflow` never takes `StratoflowDev-...` (infra/config.py refuses such stack names).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stratoflow.cloud.config.clients import AwsClients, error_code
from stratoflow.cloud.config.naming import (
    FLOW_ROLE_PATH,
    boundary_policy_name,
    flow_role_prefix,
    pipe_role_prefix,
    sandbox_function_prefix,
)

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_pipes import EventBridgePipesClient
    from mypy_boto3_stepfunctions import SFNClient

log = logging.getLogger(__name__)

# Gone already (a retirement that ran meanwhile, a second delete request): nothing to do.
MISSING = frozenset(
    {"ResourceNotFoundException", "NoSuchEntity", "StateMachineDoesNotExist", "NotFoundException"}
)
ALARMS_PER_CALL = 100  # DeleteAlarms takes at most 100 names
# The stack's status while CloudFormation deletes it; any other means the custom resource alone is
# being removed (an update of the template), and the flows must stay deployed.
DELETING = "DELETE_IN_PROGRESS"


@dataclass
class Teardown:
    """What `remove_deployed_resources` deleted and what it could not, as `<kind> <name>`."""

    deleted: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


Deletion = tuple[str, Callable[[], object]]  # ("<kind> <name>", the call that deletes it)


def stack_is_being_deleted(cloudformation: CloudFormationClient, stack_id: str) -> bool:
    """True while CloudFormation deletes the stack (not when an update removes the custom resource)."""
    (stack,) = cloudformation.describe_stacks(StackName=stack_id)["Stacks"]
    return str(stack["StackStatus"]) == DELETING


def remove_deployed_resources(stack_name: str, clients: AwsClients) -> Teardown:
    """Delete what the deployer created for `stack_name`: triggers first, so that nothing starts an
    execution meanwhile, then state machines, alarms, script sandboxes and the flows' roles. Every deletion is tried;
    the ones that failed are reported, not raised."""
    prefix = f"{stack_name}-"
    teardown = Teardown()
    found: list[Iterator[Deletion]] = [
        _rules(clients.events, prefix),
        _pipes(clients.pipes, prefix),
        _state_machines(clients.stepfunctions, prefix),
        _alarms(clients.cloudwatch, prefix),
        _sandbox_functions(clients.lambda_, sandbox_function_prefix(stack_name)),
        _sandbox_log_groups(clients.logs, sandbox_function_prefix(stack_name)),
        # Flow roles, the script sandboxes' roles (named under the same prefix), the pipes' roles.
        _flow_roles(clients.iam, (flow_role_prefix(stack_name), pipe_role_prefix(stack_name))),
        # Boundaries built on an operator's policy that a template update left to roles (the custom
        # resource that wrote them deletes the others): once the roles are gone, IAM lets them go.
        _flow_boundaries(clients.iam, boundary_policy_name(stack_name, "")),
    ]
    for deletions in found:
        try:
            listed = list(deletions)  # listed whole first: deleting while paginating can skip a page
        except Exception as error:  # the resources of this kind are unknown
            teardown.failed.append(f"listing: {error}")
            continue
        for label, delete in listed:
            _delete(label, delete, teardown)
    return teardown


def _delete(label: str, delete: Callable[[], object], teardown: Teardown) -> None:
    try:
        delete()
    except Exception as error:
        if error_code(error) in MISSING:
            return
        log.warning("could not delete %s: %s", label, error)
        teardown.failed.append(f"{label}: {error}")
        return
    log.info("deleted %s", label)
    teardown.deleted.append(label)


def _rules(events: EventBridgeClient, prefix: str) -> Iterator[Deletion]:
    for bus in _pages(events.list_event_buses, "EventBuses"):
        for rule in _pages(events.list_rules, "Rules", NamePrefix=prefix, EventBusName=bus["Name"]):
            yield f"rule {bus['Name']}/{rule['Name']}", _rule_deletion(events, bus["Name"], rule["Name"])


def _pages(method: Callable[..., Any], key: str, **request: Any) -> Iterator[dict[str, Any]]:
    """The items of a listing that boto3 has no paginator for (EventBridge's: NextToken by hand)."""
    while True:
        page = method(**request)
        yield from page.get(key, [])
        if not page.get("NextToken"):
            return
        request["NextToken"] = page["NextToken"]


def _rule_deletion(events: EventBridgeClient, bus: str, name: str) -> Callable[[], None]:
    def delete() -> None:
        # A rule with targets cannot be deleted.
        targets = events.list_targets_by_rule(Rule=name, EventBusName=bus)["Targets"]
        if targets:
            events.remove_targets(Rule=name, EventBusName=bus, Ids=[target["Id"] for target in targets])
        events.delete_rule(Name=name, EventBusName=bus)

    return delete


def _pipes(pipes: EventBridgePipesClient, prefix: str) -> Iterator[Deletion]:
    for page in pipes.get_paginator("list_pipes").paginate(NamePrefix=prefix):
        for pipe in page["Pipes"]:
            yield f"pipe {pipe['Name']}", _call(pipes.delete_pipe, Name=pipe["Name"])


def _state_machines(stepfunctions: SFNClient, prefix: str) -> Iterator[Deletion]:
    for page in stepfunctions.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"].startswith(prefix):
                # Its versions and aliases go with it; running executions are stopped by Step Functions.
                arn = machine["stateMachineArn"]
                yield (
                    f"state machine {machine['name']}",
                    _call(stepfunctions.delete_state_machine, stateMachineArn=arn),
                )


def _alarms(cloudwatch: CloudWatchClient, prefix: str) -> Iterator[Deletion]:
    names = [
        alarm["AlarmName"]
        for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix=prefix)
        for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]
    ]
    for start in range(0, len(names), ALARMS_PER_CALL):
        batch = names[start : start + ALARMS_PER_CALL]
        yield f"alarms {', '.join(batch)}", _call(cloudwatch.delete_alarms, AlarmNames=batch)


def _sandbox_functions(lambda_: LambdaClient, prefix: str) -> Iterator[Deletion]:
    for page in lambda_.get_paginator("list_functions").paginate():
        for function in page["Functions"]:
            if function["FunctionName"].startswith(prefix):
                name = function["FunctionName"]
                yield f"function {name}", _call(lambda_.delete_function, FunctionName=name)


def _sandbox_log_groups(logs: CloudWatchLogsClient, prefix: str) -> Iterator[Deletion]:
    for page in logs.get_paginator("describe_log_groups").paginate(
        logGroupNamePrefix=f"/aws/lambda/{prefix}"
    ):
        for group in page["logGroups"]:
            name = group["logGroupName"]
            yield f"log group {name}", _call(logs.delete_log_group, logGroupName=name)


def _flow_roles(iam: IAMClient, prefix: tuple[str, ...]) -> Iterator[Deletion]:
    """The flows' roles (their sandboxes' too) and the roles of their pipes."""
    for page in iam.get_paginator("list_roles").paginate(PathPrefix=FLOW_ROLE_PATH):
        for role in page["Roles"]:
            if role["RoleName"].startswith(prefix):
                yield f"role {role['RoleName']}", _role_deletion(iam, role["RoleName"])


def _role_deletion(iam: IAMClient, name: str) -> Callable[[], None]:
    def delete() -> None:
        # IAM deletes a role only without policies; the stack's base policy and boundary are deleted
        # after this (they cannot be while a role uses them).
        for page in iam.get_paginator("list_role_policies").paginate(RoleName=name):
            for policy in page["PolicyNames"]:
                iam.delete_role_policy(RoleName=name, PolicyName=policy)
        for listed in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name):
            for attached in listed["AttachedPolicies"]:
                iam.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
        iam.delete_role(RoleName=name)

    return delete


def _flow_boundaries(iam: IAMClient, prefix: str) -> Iterator[Deletion]:
    for page in iam.get_paginator("list_policies").paginate(Scope="Local", PathPrefix=FLOW_ROLE_PATH):
        for policy in page["Policies"]:
            if policy["PolicyName"].startswith(prefix):
                yield f"policy {policy['PolicyName']}", _policy_deletion(iam, policy["Arn"])


def _policy_deletion(iam: IAMClient, arn: str) -> Callable[[], None]:
    def delete() -> None:
        for version in iam.list_policy_versions(PolicyArn=arn)["Versions"]:
            if not version["IsDefaultVersion"]:
                iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
        iam.delete_policy(PolicyArn=arn)

    return delete


def _call(method: Callable[..., object], **request: Any) -> Callable[[], object]:
    return lambda: method(**request)
