"""IAM as AWS evaluates it, for the synthesized stack: policies with their CloudFormation references
resolved to one concrete account, and requests evaluated by `@cloud-copilot/iam-simulate` (node,
`iam_simulate.mjs`; installed from package-lock.json by `make install-dev`).

moto stores policies and enforces none; cdk-nag reads them and evaluates none. This evaluates the
identity policies, resource policies, permissions boundaries and condition keys of a request the
way AWS does, so a test can assert that a real call is allowed and that its neighbours are not.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stratoflow.cloud.config.aws_calls import AwsCall

PARTITION, REGION, ACCOUNT = "aws", "eu-west-1", "123456789012"
SCRIPT = Path(__file__).with_name("iam_simulate.mjs")
REPO_ROOT = Path(__file__).resolve().parents[2]
PSEUDO = {
    "AWS::Partition": PARTITION,
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "Stratoflow",
}
# Per resource type: (the property naming it, what Ref returns, the ARN); `{n}` is the physical name.
_TYPES: dict[str, tuple[str, str, str]] = {
    "AWS::Lambda::Function": ("FunctionName", "{n}", "arn:{p}:lambda:{r}:{a}:function:{n}"),
    "AWS::Lambda::LayerVersion": (
        "LayerName",
        "arn:{p}:lambda:{r}:{a}:layer:{n}:1",
        "arn:{p}:lambda:{r}:{a}:layer:{n}:1",
    ),
    "AWS::S3::Bucket": ("BucketName", "{n}", "arn:{p}:s3:::{n}"),
    "AWS::DynamoDB::Table": ("TableName", "{n}", "arn:{p}:dynamodb:{r}:{a}:table/{n}"),
    "AWS::IAM::Role": ("RoleName", "{n}", "arn:{p}:iam::{a}:role/{n}"),
    "AWS::IAM::ManagedPolicy": (
        "ManagedPolicyName",
        "arn:{p}:iam::{a}:policy/{n}",
        "arn:{p}:iam::{a}:policy/{n}",
    ),
    "AWS::SQS::Queue": ("QueueName", "https://sqs.{r}.amazonaws.com/{a}/{n}", "arn:{p}:sqs:{r}:{a}:{n}"),
    "AWS::SNS::Topic": ("TopicName", "arn:{p}:sns:{r}:{a}:{n}", "arn:{p}:sns:{r}:{a}:{n}"),
    "AWS::Logs::LogGroup": ("LogGroupName", "{n}", "arn:{p}:logs:{r}:{a}:log-group:{n}:*"),
    "AWS::KMS::Key": ("", "{n}", "arn:{p}:kms:{r}:{a}:key/{n}"),
    "AWS::Scheduler::ScheduleGroup": ("Name", "{n}", "arn:{p}:scheduler:{r}:{a}:schedule-group/{n}"),
    "AWS::Events::Rule": ("Name", "{n}", "arn:{p}:events:{r}:{a}:rule/{n}"),
    "AWS::Cognito::UserPool": ("", "{r}_{n}", "arn:{p}:cognito-idp:{r}:{a}:userpool/{r}_{n}"),
    "AWS::ApiGatewayV2::Api": ("", "{n}", "arn:{p}:apigateway:{r}::/apis/{n}"),
    "AWS::CloudFront::Distribution": ("", "{n}", "arn:{p}:cloudfront::{a}:distribution/{n}"),
    "AWS::ECS::Cluster": ("ClusterName", "{n}", "arn:{p}:ecs:{r}:{a}:cluster/{n}"),
    "AWS::ECS::TaskDefinition": (
        "Family",
        "arn:{p}:ecs:{r}:{a}:task-definition/{n}:1",
        "arn:{p}:ecs:{r}:{a}:task-definition/{n}:1",
    ),
}


class SimulatorError(AssertionError):
    """The simulator refused a request or a policy (an unknown action, a resource of the wrong type)."""


class Resolver:
    """Resolves Ref, Fn::GetAtt, Fn::Join and Fn::Sub of a template to one concrete account."""

    def __init__(self, cfn: Mapping[str, Any]):
        self.resources: Mapping[str, Any] = cfn["Resources"]

    def name(self, logical_id: str) -> str:
        resource = self.resources[logical_id]
        prop = _TYPES.get(resource["Type"], ("",))[0]
        named = resource.get("Properties", {}).get(prop) if prop else None
        if isinstance(named, str):
            return named
        if named is not None:
            return str(self.resolve(named))
        return f"stratoflow-{logical_id.lower()}"

    def _format(self, template: str, logical_id: str) -> str:
        return template.format(p=PARTITION, r=REGION, a=ACCOUNT, n=self.name(logical_id))

    def ref(self, logical_id: str) -> str:
        if logical_id in PSEUDO:
            return PSEUDO[logical_id]
        kind = self.resources[logical_id]["Type"]
        return self._format(_TYPES[kind][1] if kind in _TYPES else "{n}", logical_id)

    def arn(self, logical_id: str) -> str:
        kind = self.resources[logical_id]["Type"]
        if kind not in _TYPES:
            raise KeyError(f"no ARN known for {kind} ({logical_id})")
        return self._format(_TYPES[kind][2], logical_id)

    def get_att(self, logical_id: str, attribute: str) -> str:
        if attribute == "Arn":
            return self.arn(logical_id)
        if attribute == "StreamArn":
            return f"{self.arn(logical_id)}/stream/2026-01-01T00:00:00.000"
        if attribute in ("QueueName", "TopicName", "Name"):
            return self.name(logical_id)
        if attribute == "FunctionUrl":
            return f"https://{self.name(logical_id)}.lambda-url.{REGION}.on.aws/"
        return f"{self.name(logical_id)}.{attribute}"

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self.ref(argument)
            if key == "Fn::GetAtt":
                return self.get_att(*argument)
            if key == "Fn::Join":
                separator, parts = argument
                return str(separator).join(str(self.resolve(part)) for part in parts)
            if key == "Fn::Sub":
                return re.sub(r"\$\{([^}]+)\}", lambda match: self._sub(match.group(1)), argument)
        return {key: self.resolve(item) for key, item in value.items()}

    def _sub(self, name: str) -> str:
        if "." in name:
            logical_id, attribute = name.split(".", 1)
            return self.get_att(logical_id, attribute)
        return self.ref(name)


@dataclass(frozen=True)
class Principal:
    """A role as IAM sees it: its ARN, identity policies and permissions boundary."""

    arn: str
    policies: tuple[dict[str, Any], ...]
    boundary: dict[str, Any] | None = None


@dataclass(frozen=True)
class Request:
    principal: Principal
    action: str
    resource: str
    context: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    resource_policy: dict[str, Any] | None = None

    def payload(self) -> dict[str, Any]:
        context = {
            key: value if isinstance(value, str) else list(value) for key, value in self.context.items()
        }
        if self.principal.arn.startswith("arn:"):
            # AWS sets it on every request of a role's session (a bucket policy names flow roles by it).
            context.setdefault("aws:PrincipalArn", self.principal.arn)
        return {
            "principal": self.principal.arn,
            "action": self.action,
            "resource": self.resource,
            "accountId": ACCOUNT,
            "context": context,
            "identityPolicies": list(self.principal.policies),
            "resourcePolicy": self.resource_policy,
            "boundaries": [self.principal.boundary] if self.principal.boundary is not None else None,
        }


class Simulator:
    """Batches requests to one node process per call of `evaluate`."""

    def __init__(self) -> None:
        node = shutil.which("node")
        package = REPO_ROOT / "node_modules" / "@cloud-copilot" / "iam-simulate"
        if node is None or not package.is_dir():
            raise RuntimeError("the IAM simulator needs node and `make install-dev` (package-lock.json)")
        self.node = node

    def evaluate(self, requests: Sequence[Request]) -> list[str]:
        """Each request's result: Allowed, ImplicitlyDenied or ExplicitlyDenied."""
        completed = subprocess.run(
            [self.node, str(SCRIPT)],
            input=json.dumps([request.payload() for request in requests]),
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            check=True,
        )
        answers = json.loads(completed.stdout)
        results = []
        for request, answer in zip(requests, answers, strict=True):
            if "error" in answer:
                raise SimulatorError(f"{request.action} on {request.resource}: {answer['error']}")
            results.append(str(answer["result"]))
        return results


class Template:
    """The synthesized stack's roles with their policies, resolved."""

    def __init__(self, cfn: Mapping[str, Any]):
        self.cfn = cfn
        self.resolver = Resolver(cfn)

    def of_type(self, kind: str) -> dict[str, Any]:
        return {key: value for key, value in self.cfn["Resources"].items() if value["Type"] == kind}

    def role(self, logical_id: str) -> Principal:
        """The role's policies: inline `AWS::IAM::Policy` and customer managed ones attached to it."""
        ref = {"Ref": logical_id}
        policies = []
        for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for policy in self.of_type(kind).values():
                if ref in policy["Properties"].get("Roles", []):
                    policies.append(self.resolver.resolve(policy["Properties"]["PolicyDocument"]))
        properties = self.cfn["Resources"][logical_id]["Properties"]
        for inline in properties.get("Policies", []):
            policies.append(self.resolver.resolve(inline["PolicyDocument"]))
        boundary = properties.get("PermissionsBoundary")
        return Principal(
            self.resolver.arn(logical_id),
            tuple(policies),
            self.managed_policy(self.resolver.resolve(boundary)) if boundary else None,
        )

    def managed_policy(self, arn: str) -> dict[str, Any]:
        for logical_id, policy in self.of_type("AWS::IAM::ManagedPolicy").items():
            if self.resolver.ref(logical_id) == arn:
                document: dict[str, Any] = self.resolver.resolve(policy["Properties"]["PolicyDocument"])
                return document
        raise KeyError(f"no managed policy {arn} in the template")

    def resource_policy(self, kind: str, target_key: str, target_logical_id: str) -> dict[str, Any] | None:
        """The resource policy (`AWS::SQS::QueuePolicy` and kin) of one resource, if any."""
        for policy in self.of_type(kind).values():
            targets = policy["Properties"][target_key]
            if {"Ref": target_logical_id} in (targets if isinstance(targets, list) else [targets]):
                document: dict[str, Any] = self.resolver.resolve(policy["Properties"]["PolicyDocument"])
                return document
        return None


class SimulatedStack:
    """The synthesized template resolved for one account, with the names the call list refers to."""

    def __init__(self, synth: Any):
        self.synth = synth
        self.template = Template(synth.cfn)
        platform = synth.platform
        resolve = self.template.resolver
        ids = {
            "table": platform.storage.table,
            "data_bucket": platform.storage.data_bucket,
            "flows_bucket": platform.storage.flows_bucket,
            "alert_topic": platform.alerts.topic,
            "state_machine_role": platform.deployer.state_machine_role.role,
            "scheduler_role": platform.triggers.scheduler_role,
            "flow_boundary": platform.deployer.flow_role_boundary.policy,
            "pipe_boundary": platform.triggers.pipe_role_boundary,
            "base_policy": platform.deployer.state_machine_role.base_policy,
            "admission": platform.functions.admission,
            "task_runner": platform.functions.task_runner,
        }
        self.names: dict[str, str] = {"partition": PARTITION, "region": REGION, "account": ACCOUNT}
        self.names["stack"] = synth.stack.stack_name
        for name, construct in ids.items():
            logical_id = synth.logical_id(construct)
            kind = synth.cfn["Resources"][logical_id]["Type"]
            by_arn = kind in ("AWS::IAM::Role", "AWS::Lambda::Function", "AWS::SNS::Topic")
            self.names[name] = resolve.arn(logical_id) if by_arn else resolve.ref(logical_id)
        self.names["schedule_group"] = resolve.ref(synth.logical_id(platform.triggers.schedule_group))
        self.names["platform_layer"] = resolve.ref(synth.logical_id(platform.functions.layer))
        code = platform.script_sandboxes.code
        self.names["sandbox_code"] = resolve.resolve(
            synth.stack.resolve(code.bucket.arn_for_objects(code.s3_object_key))
        )

    def role(self, function: str) -> Principal:
        return self.template.role(self.synth.logical_id(self.synth.platform.functions.roles[function]))

    def fill(self, text: str, **names: str) -> str:
        return text.format(**{**self.names, **names})

    def request(self, principal: Principal, call: AwsCall, **names: str) -> Request:
        context = {key: self.fill(value, **names) for key, value in call.context.items()}
        return Request(principal, call.action, self.fill(call.resource, **names), context)

    def managed(self, name: str) -> dict[str, Any]:
        return self.template.managed_policy(self.names[name])


def allowed(results: Iterable[str]) -> list[bool]:
    return [result == "Allowed" for result in results]
