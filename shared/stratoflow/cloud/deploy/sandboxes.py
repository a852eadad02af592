"""Each flow's script sandbox: a Lambda function whose own role holds only what the flow's tasks declare.

A flow with script tasks (`scripts.*`, `aws.cli.AwsCLI`) gets, before its state machine:

- the role `/stratoflow/<StackName>-flow-<hash>-s`, trusted by Lambda (and, for a flow with Fargate
  script tasks, by ECS's tasks: it is their task role), with the inline policy
  `flow-tasks` (the statements its tasks declare, as the flow role has), `sandbox` (write to its own
  log group; explicitly never invoke the task runner or admission, nor assume a flow role) and the
  flow role's permissions boundary (with namespace grants, its namespace's). Not the flow role
  itself; with Fargate script tasks also its own flow's sandbox folders in the data bucket and the
  sandbox's code (`ContainerAccess`). Not the flow role itself: that one holds the base policy (invoke the task runner, start executions), which script
  code must not hold — a script that could invoke the task runner could ask it to act for any flow. The denials hold even when a flow declares such a
  call (an `aws.lambda.Invoke` naming the task runner): its scripts still cannot make it;
- the log group `/aws/lambda/<function>`, with the stack's retention;
- the function `<StackName>-sbx-<hash>`: the sandbox handler (`functions/script_sandbox`, an asset of
  the stack: `STRATOFLOW_SANDBOX_CODE_BUCKET`/`_KEY`) on the platform layer, 15 minutes, run by that
  role. The task runner invokes it for every script task of the flow (`cloud.runtime.script_sandbox`).

A revision without script tasks deletes them; retiring the flow deletes them after the state machine
(the step runs before it on deploy, so a new revision's scripts find their sandbox ready). Every call
is safe to repeat. Function per flow, not per namespace: the flow role is per flow (the permissions
its tasks declare), and a namespace's flows do not share them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stratoflow.cloud.config.clients import error_code
from stratoflow.cloud.config.naming import (
    FLOW_ROLE_PATH,
    AccountRegion,
    sandbox_function_name,
    sandbox_role_name,
)
from stratoflow.cloud.config.settings import Settings
from stratoflow.cloud.deploy.deployment import Deployment, FlowTarget, Retirement
from stratoflow.cloud.deploy.flow_roles import (
    FLOW_TASKS_POLICY,
    boundary_for,
    compact,
    flow_policy,
    parse_boundaries,
    policy_document,
)
from stratoflow.flow import Flow
from stratoflow.storage_layout import SANDBOX_FOLDER
from stratoflow.tasks.scripts.tasks import ScriptTask

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_iam.type_defs import RoleTypeDef
    from mypy_boto3_lambda.type_defs import FunctionCodeTypeDef

    from stratoflow.cloud.config.clients import AwsClients

log = logging.getLogger("stratoflow.deployer")

SANDBOX_POLICY = "sandbox"
# The most the `sandbox` policy takes (IAM counts every inline policy of a role against one limit):
# the deployer refuses, before any call, a flow whose statements would not fit beside it.
SANDBOX_POLICY_CHARS = 1536
# What the `sandbox` policy takes more for a flow with Fargate script tasks (`ContainerAccess`).
CONTAINER_POLICY_CHARS = 768
RUNTIME = "python3.12"  # the platform functions' runtime: the layer's wheels are built for it
HANDLER = "handler.lambda_handler"
TIMEOUT_SECONDS = 900  # Lambda's most: a script may run as long as its task runner waits
CODE_TAG = "stratoflow:code"
# A role IAM has just created reaches Lambda within seconds; until then CreateFunction refuses it.
ROLE_DELAYS = (1.0, 2.0, 4.0, 8.0, 8.0, 8.0)
# A function being updated refuses the next update (ResourceConflictException) for a moment.
UPDATE_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 8.0)
_LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def sandbox_trust(account: str = "", containers: bool = False) -> dict[str, Any]:
    """Lambda, and for a flow with Fargate script tasks ECS's tasks of this account: the container runs
    with this role as its task role (`Overrides.TaskRoleArn`), never with the flow role's."""
    if not containers:
        return _LAMBDA_TRUST
    ecs = {
        "Effect": "Allow",
        "Principal": {"Service": "ecs-tasks.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": account}},
    }
    return {**_LAMBDA_TRUST, "Statement": [*_LAMBDA_TRUST["Statement"], ecs]}


def runs_containers(flow: Flow) -> bool:
    """Whether any enabled script task of the flow runs in a Fargate container."""
    return any(
        isinstance(task, ScriptTask) and not task.disabled and task.container() is not None
        for task in flow.all_tasks()
    )


@dataclass(frozen=True)
class ContainerAccess:
    """What a flow's containers read and write with its sandbox role: its own flow's sandbox folders
    in the data bucket (a job and its files in, the answer out), and the sandbox's code zip.

    Why the role, not presigned URLs as for the sandbox function: a URL the task runner signs lives
    no longer than the runner's own session, and a container script may run for hours; ECS serves
    the task role's credentials to the container and renews them for as long as it runs."""

    bucket: str
    namespace: str
    flow_id: str
    code_bucket: str = ""
    code_key: str = ""

    def statements(self, partition: str) -> list[dict[str, Any]]:
        folders = f"arn:{partition}:s3:::{self.bucket}/{self.namespace}/{self.flow_id}/executions/*/{SANDBOX_FOLDER}/*"
        statements: list[dict[str, Any]] = [
            {
                "Sid": "ReadOwnSandboxJobs",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [folders],
            },
            {
                "Sid": "WriteOwnSandboxAnswers",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:PutObjectTagging"],
                "Resource": [folders.removesuffix("*") + "*/out/*"],
            },
        ]
        if self.code_bucket and self.code_key:
            code = f"arn:{partition}:s3:::{self.code_bucket}/{self.code_key}"
            statements.append(
                {"Sid": "ReadSandboxCode", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [code]}
            )
        return statements


def runs_scripts(flow: Flow) -> bool:
    """Whether any enabled task of the flow runs a command in a sandbox."""
    return any(isinstance(task, ScriptTask) and not task.disabled for task in flow.all_tasks())


def log_group_name(function_name: str) -> str:
    return f"/aws/lambda/{function_name}"


def sandbox_policy(
    permissions: Sequence[Mapping[str, Any]],
    account: AccountRegion,
    function_name: str,
    platform_functions: Sequence[str] = (),
    containers: ContainerAccess | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two inline policies: the flow's task statements; its own log group, its containers' sandbox
    folders (when it has Fargate script tasks), and the denials."""
    group = (
        f"arn:{account.partition}:logs:{account.region}:{account.account}:log-group:"
        f"{log_group_name(function_name)}"
    )
    statements: list[dict[str, Any]] = [
        {
            "Sid": "OwnLogGroup",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [group, f"{group}:*"],
        },
        *(containers.statements(account.partition) if containers is not None else []),
        {
            # Whatever the flow declares, its scripts never reach another flow's role.
            "Sid": "NoFlowRoles",
            "Effect": "Deny",
            "Action": ["sts:AssumeRole"],
            "Resource": [f"{account.roles_arn()}*"],
        },
    ]
    functions = [arn for base in platform_functions if base for arn in (base, f"{base}:*")]
    if functions:
        statements.append(
            {
                # A forged call to the task runner or admission would act for any flow.
                "Sid": "NoPlatformFunctions",
                "Effect": "Deny",
                "Action": ["lambda:InvokeFunction", "lambda:InvokeAsync"],
                "Resource": functions,
            }
        )
    return flow_policy(permissions, account.partition), {"Version": "2012-10-17", "Statement": statements}


class Sandboxes:
    """Creates, converges and deletes sandbox functions, their roles and log groups."""

    def __init__(
        self,
        clients: AwsClients,
        settings: Settings,
        sleep: Callable[[float], None] = time.sleep,
        role_delays: tuple[float, ...] = ROLE_DELAYS,
        update_delays: tuple[float, ...] = UPDATE_DELAYS,
    ):
        self.iam, self.lambda_, self.logs = clients.iam, clients.lambda_, clients.logs
        self.settings = settings
        self.sleep, self.role_delays, self.update_delays = sleep, role_delays, update_delays

    def names(self, target: FlowTarget) -> tuple[str, str]:
        """(function name, role name) of the flow's sandbox."""
        stack = self.settings.stratoflow_stack_name
        return (
            sandbox_function_name(stack, target.namespace, target.flow_id),
            sandbox_role_name(stack, target.namespace, target.flow_id),
        )

    def ensure(
        self, target: FlowTarget, permissions: Sequence[Mapping[str, Any]], containers: bool = False
    ) -> str:
        """The sandbox exists with the current role, code and settings; its function's ARN. With
        `containers` its role also serves the flow's Fargate script tasks (trusted by ECS's tasks)."""
        function, role = self.names(target)
        account = AccountRegion.from_arn(target.state_machine_arn)
        role_arn = self._ensure_role(role, target, permissions, account, function, containers)
        self._ensure_log_group(function, target)
        return self._ensure_function(function, role_arn, target)

    def delete(self, target: FlowTarget) -> None:
        function, role = self.names(target)
        self._ignore_missing(lambda: self.lambda_.delete_function(FunctionName=function))
        self._ignore_missing(lambda: self.logs.delete_log_group(logGroupName=log_group_name(function)))
        self._ignore_missing(lambda: self._delete_role(role))
        log.info("deleted the script sandbox of %s.%s", target.namespace, target.flow_id)

    # --- the role ------------------------------------------------------------------------------------

    def _ensure_role(
        self,
        name: str,
        target: FlowTarget,
        permissions: Sequence[Mapping[str, Any]],
        account: AccountRegion,
        function: str,
        containers: bool = False,
    ) -> str:
        # The flow role's boundary: with namespace grants, that of the flow's namespace.
        boundary = boundary_for(
            target.namespace,
            parse_boundaries(self.settings.stratoflow_namespace_boundaries),
            self.settings.stratoflow_flow_boundary_arn,
        )
        trust = sandbox_trust(account.account, containers)
        try:
            role = self.iam.get_role(RoleName=name)["Role"]
        except Exception as error:
            if error_code(error) != "NoSuchEntity":
                raise
            role = self._create_role(name, target, boundary, trust)
        else:
            if policy_document(role.get("AssumeRolePolicyDocument")) != trust:  # containers came or went
                self.iam.update_assume_role_policy(RoleName=name, PolicyDocument=compact(trust))
        if (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn") != boundary:
            self.iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=boundary)
        platform = (self.settings.stratoflow_task_runner_arn, self.settings.stratoflow_admission_arn)
        settings = self.settings
        access = None
        if containers:
            access = ContainerAccess(
                settings.stratoflow_data_bucket,
                target.namespace,
                target.flow_id,
                settings.stratoflow_container_code_bucket,
                settings.stratoflow_container_code_key,
            )
        tasks, own = sandbox_policy(permissions, account, function, platform, access)
        self.iam.put_role_policy(RoleName=name, PolicyName=SANDBOX_POLICY, PolicyDocument=compact(own))
        if permissions:
            self.iam.put_role_policy(
                RoleName=name, PolicyName=FLOW_TASKS_POLICY, PolicyDocument=compact(tasks)
            )
        else:  # IAM refuses a policy without statements; a revision that dropped its AWS tasks drops it
            self._ignore_missing(
                lambda: self.iam.delete_role_policy(RoleName=name, PolicyName=FLOW_TASKS_POLICY)
            )
        return str(role["Arn"])

    def _create_role(
        self, name: str, target: FlowTarget, boundary: str, trust: dict[str, Any]
    ) -> RoleTypeDef:
        try:
            role = self.iam.create_role(
                Path=FLOW_ROLE_PATH,
                RoleName=name,
                AssumeRolePolicyDocument=compact(trust),
                PermissionsBoundary=boundary,
                Description=f"Stratoflow script sandbox of {target.namespace}.{target.flow_id}"[:1000],
                Tags=[{"Key": key, "Value": value[:256]} for key, value in target.tags().items()],
            )["Role"]
        except Exception as error:
            if error_code(error) != "EntityAlreadyExists":
                raise
            existing = self.iam.get_role(RoleName=name)["Role"]  # a concurrent deployment
            return existing
        return role

    def _delete_role(self, name: str) -> None:
        for page in self.iam.get_paginator("list_role_policies").paginate(RoleName=name):
            for policy in page["PolicyNames"]:
                self.iam.delete_role_policy(RoleName=name, PolicyName=policy)
        self.iam.delete_role(RoleName=name)

    # --- the log group and the function ---------------------------------------------------------------

    def _ensure_log_group(self, function: str, target: FlowTarget) -> None:
        name = log_group_name(function)
        try:
            self.logs.create_log_group(logGroupName=name, tags=target.tags())
        except Exception as error:
            if error_code(error) != "ResourceAlreadyExistsException":
                raise
        self.logs.put_retention_policy(
            logGroupName=name, retentionInDays=self.settings.stratoflow_sandbox_log_days
        )

    def _configuration(self, role_arn: str) -> dict[str, Any]:
        settings = self.settings
        return {
            "Role": role_arn,
            "Handler": HANDLER,
            "Runtime": RUNTIME,
            "Timeout": TIMEOUT_SECONDS,
            "MemorySize": settings.stratoflow_sandbox_memory_mb,
            "Layers": [settings.stratoflow_platform_layer_arn],
            "Description": "Stratoflow script sandbox: runs the scripts of one flow with its own role",
        }

    def _ensure_function(self, name: str, role_arn: str, target: FlowTarget) -> str:
        settings = self.settings
        code: FunctionCodeTypeDef = {
            "S3Bucket": settings.stratoflow_sandbox_code_bucket,
            "S3Key": settings.stratoflow_sandbox_code_key,
        }
        wanted = self._configuration(role_arn)
        try:
            current = self.lambda_.get_function(FunctionName=name)
        except Exception as error:
            if error_code(error) != "ResourceNotFoundException":
                raise
            created = self._while_role_propagates(
                lambda: self.lambda_.create_function(
                    FunctionName=name,
                    Code=code,
                    Architectures=["arm64"],
                    Tags={**target.tags(), CODE_TAG: settings.stratoflow_sandbox_code_key[:256]},
                    **wanted,
                )
            )
            log.info("created script sandbox %s for %s.%s", name, target.namespace, target.flow_id)
            self._until_active(name)
            return str(created["FunctionArn"])
        configuration = current["Configuration"]
        arn = str(configuration["FunctionArn"])
        if _differs(configuration, wanted):
            self._while_busy(
                lambda: self._while_role_propagates(
                    lambda: self.lambda_.update_function_configuration(FunctionName=name, **wanted)
                )
            )
        if (current.get("Tags") or {}).get(CODE_TAG) != settings.stratoflow_sandbox_code_key[:256]:
            self._while_busy(lambda: self.lambda_.update_function_code(FunctionName=name, **code))
            self.lambda_.tag_resource(
                Resource=arn, Tags={CODE_TAG: settings.stratoflow_sandbox_code_key[:256]}
            )
        return arn

    def _until_active(self, name: str) -> None:
        """A new function is Pending for a moment and refuses invocations: the revision's first run
        must find it Active."""
        for delay in (*self.update_delays, None):
            state = self.lambda_.get_function_configuration(FunctionName=name).get("State", "Active")
            if state != "Pending" or delay is None:
                if state == "Failed":
                    raise RuntimeError(
                        f"the script sandbox {name} could not be created (its state is Failed)"
                    )
                return
            self.sleep(delay)

    def _while_role_propagates(self, call: Callable[[], Any]) -> Any:
        for delay in (*self.role_delays, None):
            try:
                return call()
            except Exception as error:
                new_role = (
                    error_code(error) == "InvalidParameterValueException" and "role" in str(error).lower()
                )
                if delay is None or not new_role:
                    raise
                log.info("the sandbox role is not usable by Lambda yet: again in %s s", delay)
                self.sleep(delay)
        raise AssertionError("unreachable")

    def _while_busy(self, call: Callable[[], Any]) -> Any:
        for delay in (*self.update_delays, None):
            try:
                return call()
            except Exception as error:
                if delay is None or error_code(error) != "ResourceConflictException":
                    raise
                self.sleep(delay)
        raise AssertionError("unreachable")

    @staticmethod
    def _ignore_missing(call: Callable[[], Any]) -> None:
        try:
            call()
        except Exception as error:
            if error_code(error) not in ("ResourceNotFoundException", "NoSuchEntity"):
                raise


def _differs(configuration: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    layers = [layer["Arn"] for layer in configuration.get("Layers", [])]
    return any(
        (layers if key == "Layers" else configuration.get(key)) != value for key, value in wanted.items()
    )


class SandboxStep:
    """Before the state machine: the flow's sandbox when it has script tasks, removed when it has none;
    on retirement (after the state machine) the sandbox goes."""

    name = "script sandbox"

    def __init__(self, sandboxes: Sandboxes):
        self.sandboxes = sandboxes

    def deploy(self, deployment: Deployment) -> None:
        if runs_scripts(deployment.flow):
            self.sandboxes.ensure(deployment.target, deployment.permissions, runs_containers(deployment.flow))
        elif deployment.previous is None or runs_scripts(deployment.previous):
            self.sandboxes.delete(deployment.target)  # the scripts are gone (or the live revision unknown)

    def retire(self, retirement: Retirement) -> None:
        self.sandboxes.delete(retirement.target)


__all__ = [
    "CONTAINER_POLICY_CHARS",
    "SANDBOX_POLICY",
    "SANDBOX_POLICY_CHARS",
    "ContainerAccess",
    "SandboxStep",
    "Sandboxes",
    "log_group_name",
    "runs_containers",
    "runs_scripts",
    "sandbox_policy",
]
