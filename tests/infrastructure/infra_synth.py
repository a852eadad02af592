"""Synthesis of the Stratoflow app for tests, and readers of the synthesized template.

Synthesis skips asset bundling (`aws:cdk:bundling-stacks: []`), so no pip and no network; cdk-nag runs
as at deploy time and fails the synthesis on any unacknowledged finding.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Node 20 is what this machine has; jsii's end-of-life warning would only add noise.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from aws_cdk import App, Stack  # noqa: E402
from aws_cdk import aws_s3 as s3  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402
from stratoflow._platform.infra.app import create_app  # noqa: E402
from stratoflow._platform.infra.nag import acknowledge, add_compliance_checks, render_cfn  # noqa: E402

from stratoflow.cdk import Stratoflow, StratoflowProps  # noqa: E402

SKIP_BUNDLING: dict[str, Any] = {"aws:cdk:bundling-stacks": []}
# Every option set away from its default, for the second synthesis.
CUSTOM_CONTEXT = {
    "stackName": "StratoDev",
    "removalPolicy": "destroy",
    "dataRetentionDays": "7",
    "logRetentionDays": "14",
    "alertEmail": "ops@example.com",
    "logLevel": "debug",
    "flowPermissionsBoundaryArn": "arn:aws:iam::123456789012:policy/ops/FlowBoundary",
    "webhookConcurrency": "3",
    "namespaceGrants": '{"team.a": ["arn:aws:s3:::team-a-*"]}',
    "reservedConcurrency": '{"task_runner": 20}',
    "containerSubnets": "subnet-0aaa1111,subnet-0bbb2222",
    "containerSecurityGroups": '["sg-0ccc3333"]',
    "containerAssignPublicIp": "true",
}

# Namespace grants with the stack's own boundaries (the custom synthesis replaces them with the
# operator's): team.a inherits team's, and every namespace "*"'s; lake may use any bucket.
GRANTS_CONTEXT = {
    "namespaceGrants": (
        '{"team.a": ["arn:aws:s3:::team-a-*", "arn:aws:kms:eu-west-1:123456789012:key/aaaa*"], '
        '"team": ["arn:aws:s3:::team-shared/*"], '
        '"lake": ["arn:aws:s3:::*"], "*": ["arn:aws:sqs:eu-west-1:123456789012:shared-*"]}'
    ),
}
# The same grants under an operator's boundary: each boundary is the operator's policy and the
# stack's denials (stratoflow.cloud.deploy.flow_boundaries).
OPERATOR_CONTEXT = {
    **GRANTS_CONTEXT,
    "flowPermissionsBoundaryArn": "arn:aws:iam::123456789012:policy/ops/FlowBoundary",
}


def cdk_json_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    return context


@dataclass
class Synthesized:
    app: App
    stack: Stack
    platform: Stratoflow
    template: Template
    cfn: dict[str, Any]
    outdir: Path

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.cfn["Resources"].items()
            if resource["Type"] == resource_type
        }

    def logical_id(self, construct: Any) -> str:
        resource = construct.node.default_child
        return str(self.stack.resolve(self.stack.get_logical_id(resource)))

    def resource(self, construct: Any) -> dict[str, Any]:
        resource: dict[str, Any] = self.cfn["Resources"][self.logical_id(construct)]
        return resource

    def statements(self, role: Any) -> list[dict[str, Any]]:
        """Every statement of the policies attached to `role` (inline and customer managed), with
        actions always as a list."""
        role_ref = {"Ref": self.logical_id(role)}
        found = []
        policies = {**self.resources("AWS::IAM::Policy"), **self.resources("AWS::IAM::ManagedPolicy")}
        for policy in policies.values():
            if role_ref in policy["Properties"].get("Roles", []):
                for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                    actions = statement["Action"]
                    found.append({**statement, "Action": [actions] if isinstance(actions, str) else actions})
        return found

    def resources_allowed(self, role: Any, action: str) -> list[str]:
        """The resources (rendered as cdk-nag writes them) on which `role` may perform `action`."""
        rendered = []
        for statement in self.statements(role):
            if statement["Effect"] == "Allow" and action in statement["Action"]:
                resources = statement["Resource"]
                for resource in resources if isinstance(resources, list) else [resources]:
                    rendered.append(render_cfn(resource))
        return rendered

    def environment(self, function: Any) -> dict[str, Any]:
        variables: dict[str, Any] = self.resource(function)["Properties"]["Environment"]["Variables"]
        return variables


def synthesize(tmp: Path, **context: Any) -> Synthesized:
    """The repository's app, as `npx cdk deploy` builds it with cdk.json's context and `context`."""
    app, stack = create_app({**cdk_json_context(), **SKIP_BUNDLING, **context}, outdir=str(tmp))
    template = Template.from_stack(stack)
    return Synthesized(app, stack, stack.platform, template, dict(template.to_json()), tmp)


_SYNTHESIZED: dict[str, Synthesized] = {}


def synthesize_once(name: str, tmp: Path, **context: Any) -> Synthesized:
    """`synthesize` once per process for each `name`, whichever test folder asks first (the
    infrastructure tests and the security suite's IAM attacks share it)."""
    if name not in _SYNTHESIZED:
        _SYNTHESIZED[name] = synthesize(tmp, **context)
    return _SYNTHESIZED[name]


def synthesize_in_own_app(
    tmp: Path, stack_name: str, construct_id: str, props: StratoflowProps, **stack_options: Any
) -> Synthesized:
    """The construct in a team's own app: a plain stack of theirs (already holding a bucket of
    their own), no feature flags (an app from an old `cdk init`), and cdk-nag on the whole app."""
    app = App(context=SKIP_BUNDLING, outdir=str(tmp))
    add_compliance_checks(app)
    stack = Stack(app, stack_name, **stack_options)
    own_bucket = s3.Bucket(stack, "OwnBucket", enforce_ssl=True, versioned=True)
    acknowledge(
        own_bucket, "The team's own bucket, not the platform's: its findings are theirs.", "AwsSolutions-S1"
    )
    platform = Stratoflow(stack, construct_id, props)
    app.synth()
    template = Template.from_stack(stack)
    return Synthesized(app, stack, platform, template, dict(template.to_json()), tmp)
