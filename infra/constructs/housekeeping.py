"""Housekeeping: when the stack is deleted, remove what the deployer created for it.

(Its function also answers the custom resource of an operator's flow-role boundaries:
operator_boundary.OperatorBoundaries, through `service_token`.)

A custom resource, through a Lambda-backed `Provider`, whose Delete runs functions/housekeeping
(stratoflow.cloud.deploy.teardown): the flows' state machines, alarms, trigger rules, pipes and roles,
found by the stack's prefix. It is deleted before the stack's flow policies and roles (it depends on
them), so IAM lets those go once the flows' roles are gone.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import CustomResource, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct, IConstruct

from ..config import StratoflowProps
from ..grants import acknowledge_tracing
from ..nag import acknowledge, wildcard_resource
from ..naming import (
    owned_alarms_arn,
    owned_custom_bus_rules_arn,
    owned_flow_boundaries_arn,
    owned_flow_roles_arn,
    owned_pipe_roles_arn,
    owned_pipes_arn,
    owned_rules_arn,
    owned_state_machines_arn,
)
from .functions import FUNCTIONS_DIR, HANDLER, RUNTIME, PlatformFunctions

# The listings take no resource ARN (or only "*"): what is deleted is narrowed by name below.
LIST_ACTIONS = (
    "events:ListEventBuses",
    "events:ListRules",
    "pipes:ListPipes",
    "states:ListStateMachines",
    "cloudwatch:DescribeAlarms",
    "iam:ListRoles",
    "iam:ListPolicies",
)


class Housekeeping(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StratoflowProps,
        functions: PlatformFunctions,
        deleted_after: Sequence[IConstruct] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        log_group = logs.LogGroup(
            self, "Logs", retention=config.log_retention, removal_policy=config.removal_policy
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Stratoflow housekeeping: delete what the deployer created when the stack is deleted",
        )
        log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            description="Deletes the deployer's resources (flows) when the stack is deleted",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=lambda_.Code.from_asset(
                str(FUNCTIONS_DIR / "housekeeping"), exclude=["__pycache__", "*.pyc"]
            ),
            layers=[functions.layer],
            timeout=Duration.minutes(10),
            memory_size=256,
            role=self.role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                "POWERTOOLS_SERVICE_NAME": "stratoflow-housekeeping",
                "LOG_LEVEL": config.log_level,
                "STRATOFLOW_STACK_NAME": stack.stack_name,
            },
        )
        acknowledge(
            self.function,
            "Python 3.12 on purpose: the layer's wheels are built for CPython 3.12 (as the platform's functions).",
            "AwsSolutions-L1",
        )
        acknowledge_tracing(self.role)
        self._grant_deletes()
        provider = self._provider(config)
        self.service_token = provider.service_token
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=provider.service_token,
            resource_type="Custom::StratoflowHousekeeping",
        )
        self.delete_after(*deleted_after)

    def delete_after(self, *constructs: IConstruct) -> None:
        """Delete the deployer's resources before these (the policies and roles they use)."""
        for construct in constructs:
            self.resource.node.add_dependency(construct)

    def _grant_deletes(self) -> None:
        stack = Stack.of(self)
        rules = [owned_rules_arn(self), owned_custom_bus_rules_arn(self)]
        owned = {
            "ReadStackStatus": (["cloudformation:DescribeStacks"], [stack.stack_id]),
            "ListDeployedResources": (list(LIST_ACTIONS), ["*"]),
            "DeleteTriggerRules": (
                ["events:ListTargetsByRule", "events:RemoveTargets", "events:DeleteRule"],
                rules,
            ),
            "DeleteTriggerPipes": (["pipes:DeletePipe"], [owned_pipes_arn(self)]),
            "DeleteStateMachines": (["states:DeleteStateMachine"], [owned_state_machines_arn(self)]),
            "DeleteAlarms": (["cloudwatch:DeleteAlarms"], [owned_alarms_arn(self)]),
            "DeleteFlowRoles": (
                [
                    "iam:ListRolePolicies",
                    "iam:ListAttachedRolePolicies",
                    "iam:DeleteRolePolicy",
                    "iam:DetachRolePolicy",
                    "iam:DeleteRole",
                ],
                [owned_flow_roles_arn(self), owned_pipe_roles_arn(self)],
            ),
            # An operator's boundaries that an update left to roles (operator_boundary).
            "DeleteFlowBoundaries": (
                ["iam:ListPolicyVersions", "iam:DeletePolicyVersion", "iam:DeletePolicy"],
                [owned_flow_boundaries_arn(self)],
            ),
        }
        for sid, (actions, resources) in owned.items():
            self.role.add_to_principal_policy(
                iam.PolicyStatement(sid=sid, actions=actions, resources=resources)
            )
        acknowledge(
            self.role,
            "Listing state machines, alarms, rules, pipes and roles takes no resource; what is deleted is "
            "only what is named with the stack's prefix '<StackName>-' (the deployer's own resources).",
            *sorted(
                {wildcard_resource(self, arn) for _, arns in owned.values() for arn in arns if "*" in arn}
            ),
        )

    def _provider(self, config: StratoflowProps) -> cr.Provider:
        """CDK's provider framework (it answers CloudFormation for the function), with a role and a log
        group of ours: no AWS managed policy, logs only to its own group."""
        log_group = logs.LogGroup(
            self, "ProviderLogs", retention=config.log_retention, removal_policy=config.removal_policy
        )
        role = iam.Role(
            self,
            "ProviderRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Stratoflow housekeeping: CDK's custom-resource provider framework",
        )
        log_group.grant_write(role)
        provider = cr.Provider(
            self, "Provider", on_event_handler=self.function, role=role, log_group=log_group
        )
        acknowledge(
            role,
            "CDK's custom-resource provider framework invokes the housekeeping function (the ':*' is "
            "the qualifier), nothing else.",
            wildcard_resource(self, f"{self.function.function_arn}:*"),
        )
        return provider
