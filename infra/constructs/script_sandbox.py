"""What the flows' script sandboxes need from the stack (stratoflow.cloud.deploy.sandboxes).

Script tasks do not run in the task runner, whose role reaches every namespace: the deployer gives
each flow with scripts a function `<StackName>-sbx-<hash>` whose own role holds only the flow's task
statements and its log group, and the task runner invokes it. Here:

- the sandbox handler's code (`functions/script_sandbox`) as an asset, and the platform layer: the
  deployer creates each function from them (it reads the asset, may use the layer);
- the deployer may manage only functions and log groups named `<StackName>-sbx-*`, and pass only the
  sandbox roles (`/stratoflow/<StackName>-flow-*-s`) and only to Lambda; it creates those roles with
  its flow-role grants, conditioned on the boundary;
- the boundary lets a sandbox role write to its own log group (and nothing else is added);
- the task runner may invoke the sandbox functions and nothing more of them;
- the housekeeping function deletes them, with the stack.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from ..config import StratoflowProps
from ..grants import pass_role
from ..nag import acknowledge, wildcard_resource
from ..naming import owned_sandbox_functions_arn, owned_sandbox_log_groups_arn, owned_sandbox_roles_arn
from .containers import Containers
from .flow_role_boundary import FlowRoleBoundary
from .functions import FUNCTIONS_DIR, PlatformFunctions
from .housekeeping import Housekeeping

MANAGE_FUNCTIONS = (
    "lambda:CreateFunction",
    "lambda:UpdateFunctionCode",
    "lambda:UpdateFunctionConfiguration",
    "lambda:GetFunction",
    "lambda:GetFunctionConfiguration",
    "lambda:DeleteFunction",
    "lambda:TagResource",
    "lambda:UntagResource",
    "lambda:ListTags",
)
MANAGE_LOG_GROUPS = (
    "logs:CreateLogGroup",
    "logs:PutRetentionPolicy",
    "logs:DeleteLogGroup",
    "logs:TagResource",
    "logs:TagLogGroup",
)


class ScriptSandboxes(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StratoflowProps,
        functions: PlatformFunctions,
        boundary: FlowRoleBoundary,
        housekeeping: Housekeeping,
        containers: Containers | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.code = s3_assets.Asset(
            self, "Code", path=str(FUNCTIONS_DIR / "script_sandbox"), exclude=["__pycache__", "*.pyc"]
        )
        self.functions_arn = owned_sandbox_functions_arn(self)
        self.log_groups_arn = owned_sandbox_log_groups_arn(self)
        self.roles_arn = owned_sandbox_roles_arn(self)
        self._deployer(config, functions)
        self._task_runner(functions)
        self._boundary(boundary, containers)
        self._housekeeping(housekeeping)

    def _deployer(self, config: StratoflowProps, functions: PlatformFunctions) -> None:
        deployer, role = functions.deployer, functions.roles["deployer"]
        for name, value in {
            "STRATOFLOW_SANDBOX_CODE_BUCKET": self.code.s3_bucket_name,
            "STRATOFLOW_SANDBOX_CODE_KEY": self.code.s3_object_key,
            "STRATOFLOW_PLATFORM_LAYER_ARN": functions.layer.layer_version_arn,
            "STRATOFLOW_SANDBOX_LOG_DAYS": str(config.log_retention_days),
        }.items():
            deployer.add_environment(name, value)
        statements = [
            # Lambda reads the code with the caller's permissions: this one object, by its key.
            iam.PolicyStatement(
                sid="ReadScriptSandboxCode",
                actions=["s3:GetObject"],
                resources=[self.code.bucket.arn_for_objects(self.code.s3_object_key)],
            ),
            iam.PolicyStatement(
                sid="ManageScriptSandboxes", actions=list(MANAGE_FUNCTIONS), resources=[self.functions_arn]
            ),
            # CreateFunction and UpdateFunctionConfiguration read the layer they are given.
            iam.PolicyStatement(
                sid="UsePlatformLayer",
                actions=["lambda:GetLayerVersion"],
                resources=[functions.layer.layer_version_arn],
            ),
            iam.PolicyStatement(
                sid="ManageScriptSandboxLogs",
                actions=list(MANAGE_LOG_GROUPS),
                resources=[self.log_groups_arn],
            ),
            pass_role("PassSandboxRoles", [self.roles_arn], "lambda"),
        ]
        for statement in statements:
            role.add_to_principal_policy(statement)
        acknowledge(
            role,
            "Each flow with script tasks gets a sandbox function '<StackName>-sbx-<hash>', its log group "
            "'/aws/lambda/<StackName>-sbx-<hash>' and its role '/stratoflow/<StackName>-flow-<hash>-s' when "
            "the flow is deployed; the wildcards are those prefixes.",
            wildcard_resource(role, self.functions_arn),
            wildcard_resource(role, self.log_groups_arn),
            wildcard_resource(role, self.roles_arn),
        )

    def _task_runner(self, functions: PlatformFunctions) -> None:
        functions.task_runner.add_environment("STRATOFLOW_SCRIPT_SANDBOXES", "true")
        role = functions.roles["task_runner"]
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="InvokeScriptSandboxes", actions=["lambda:InvokeFunction"], resources=[self.functions_arn]
            )
        )
        acknowledge(
            role,
            "The task runner runs script tasks in their flow's sandbox function, created by the deployer "
            "as '<StackName>-sbx-<hash>': the wildcard is that prefix.",
            wildcard_resource(role, self.functions_arn),
        )

    def _boundary(self, boundary: FlowRoleBoundary, containers: Containers | None) -> None:
        # Every boundary a flow role may get: a sandbox role has its flow's (its namespace's, with grants).
        for policy in (boundary.policy, *boundary.namespace_policies.values()):
            if not isinstance(policy, iam.ManagedPolicy):
                continue  # the operator's own boundary: it must allow this too (README, "Flow roles")
            policy.add_statements(
                iam.PolicyStatement(
                    sid="SandboxLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[self.log_groups_arn, f"{self.log_groups_arn}:*"],
                )
            )
            acknowledge(
                policy,
                "A sandbox function's role writes its own log group '/aws/lambda/<StackName>-sbx-<hash>' "
                "(its inline policy names it exactly); the boundary caps every such group by the stack's "
                "prefix.",
                wildcard_resource(policy, self.log_groups_arn),
                wildcard_resource(policy, f"{self.log_groups_arn}:*"),
            )
            if containers is not None:  # a sandbox role is its flow's containers' task role too
                for statement in containers.sandbox_statements():
                    policy.add_statements(statement)
                acknowledge(
                    policy,
                    "A sandbox role reads its containers' jobs and writes their answers under its flow's "
                    "sandbox folders '<namespace>/<flow>/executions/*/sandbox/*' (its inline policy names "
                    "the flow); the boundary caps them to those folders of every flow.",
                    *(wildcard_resource(policy, arn) for arn in containers.sandbox_object_arns()),
                )

    def _housekeeping(self, housekeeping: Housekeeping) -> None:
        role = housekeeping.role
        statements = [
            iam.PolicyStatement(
                sid="ListScriptSandboxes",
                actions=["lambda:ListFunctions", "logs:DescribeLogGroups"],
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="DeleteScriptSandboxes", actions=["lambda:DeleteFunction"], resources=[self.functions_arn]
            ),
            iam.PolicyStatement(
                sid="DeleteScriptSandboxLogs",
                actions=["logs:DeleteLogGroup"],
                resources=[self.log_groups_arn],
            ),
        ]
        for statement in statements:
            role.add_to_principal_policy(statement)
        acknowledge(
            role,
            "Listing functions and log groups takes no resource; only the flows' sandbox functions and their "
            "log groups, named with the stack's prefix '<StackName>-sbx-', are deleted.",
            wildcard_resource(role, "*"),
            wildcard_resource(role, self.functions_arn),
            wildcard_resource(role, self.log_groups_arn),
        )
