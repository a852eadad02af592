"""Flow-role boundaries that hold the operator's ceiling and the stack's namespace rules at once.

With `flowPermissionsBoundaryArn` the stack's administrators cap every flow role with a managed policy
of their own. IAM gives a role one permissions boundary, so the operator's policy cannot simply sit
beside the namespace boundaries. Two ways were possible:

- keep the operator's policy as the boundary and attach the namespace rules as a second managed policy
  of explicit denials. IAM has no condition key that makes the deployer *attach* a policy when it
  creates a role, so a deployer bug could create a role without it: the rules would again hold by
  the deployer's code only;
- make each boundary the operator's statements plus the stack's denials. A boundary is what IAM
  does make the deployer set (`iam:PermissionsBoundary` conditions its CreateRole and policy writes),
  and a Deny in a boundary refuses whatever the Allows allow, so the boundary allows exactly the
  intersection: what the operator's policy allows, minus what the namespace may not reach.

This module does the second. When the stack is deployed, its housekeeping custom resource reads the
operator's policy (the default version: `iam:GetPolicy`, `iam:GetPolicyVersion`) and writes one
managed policy per boundary, `/stratoflow/<StackName>-flow-boundary-<key>`: the operator's statements
unchanged, then the stack's denials for that key (infra/constructs/operator_boundary.py builds them:
never the stack's records, KMS only through the task services, and with namespace grants nothing of
the task services outside the namespace's patterns). The deployer may give flow roles only these.

An edit of the operator's policy reaches these copies when the stack is deployed again with a change
to them (the custom resource runs on a change of its properties only). Copies that roles still have
when an update drops them stay until the stack's deletion (teardown deletes what is left).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from stratoflow.cloud.config.clients import error_code
from stratoflow.cloud.config.naming import FLOW_ROLE_PATH, boundary_policy_name
from stratoflow.cloud.deploy.flow_roles import compact, policy_document
from stratoflow.errors import StratoflowError

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_iam import IAMClient

log = logging.getLogger(__name__)

RESOURCE_TYPE = "Custom::StratoflowFlowBoundaries"
# IAM's limit on a managed policy, counted without white space.
MAX_MANAGED_POLICY_CHARS = 6_144
# IAM keeps five versions of a managed policy; the oldest that is not the default goes first.
MAX_POLICY_VERSIONS = 5
_POLICY_VERSION = "2012-10-17"


class BoundaryTooLarge(StratoflowError):
    """The operator's policy and the stack's denials do not fit in one managed policy."""


def compose(
    operator: Mapping[str, Any], denials: Sequence[Mapping[str, Any]], whose: str = ""
) -> dict[str, Any]:
    """The operator's statements, unchanged, followed by the stack's denials (each a Deny)."""
    statements = operator.get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]
    if any(denial.get("Effect") != "Deny" for denial in denials):
        raise ValueError("the stack adds only Deny statements to the operator's boundary")
    document = {"Version": _POLICY_VERSION, "Statement": [*statements, *denials]}
    size = len(compact(document))
    if size > MAX_MANAGED_POLICY_CHARS:
        raise BoundaryTooLarge(
            f"the flow-role boundary{' of ' + whose if whose else ''} takes {size} characters (the operator's "
            f"policy and the stack's denials); IAM accepts {MAX_MANAGED_POLICY_CHARS} in a managed policy: "
            "shorten the policy flowPermissionsBoundaryArn names, or the namespace's grants"
        )
    return document


class FlowBoundaries:
    """Reads the operator's policy and writes the stack's composed boundaries; safe to repeat."""

    def __init__(self, client: IAMClient, stack_name: str, partition: str, account: str):
        self.client = client
        self.stack_name = stack_name
        self.policies_arn = f"arn:{partition}:iam::{account}:policy{FLOW_ROLE_PATH}"

    def operator_document(self, arn: str) -> dict[str, Any]:
        """The default version of the operator's policy."""
        version = self.client.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        found = self.client.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]
        document: dict[str, Any] = policy_document(found["Document"])
        return document

    def arn(self, key: str) -> str:
        return self.policies_arn + boundary_policy_name(self.stack_name, key)

    def put(self, key: str, document: Mapping[str, Any]) -> str:
        """The boundary `key` holds `document` (a new default version when it changed); its ARN."""
        name, arn = boundary_policy_name(self.stack_name, key), self.arn(key)
        try:
            self.client.create_policy(
                PolicyName=name,
                Path=FLOW_ROLE_PATH,
                PolicyDocument=compact(document),
                Description=f"Stratoflow: flow-role boundary ({key}), the operator's policy and the stack's denials",
            )
            log.info("created boundary %s", name)
            return arn
        except Exception as error:
            if error_code(error) != "EntityAlreadyExists":
                raise
        versions = self.client.list_policy_versions(PolicyArn=arn)["Versions"]
        default = next(version for version in versions if version["IsDefaultVersion"])
        current = self.client.get_policy_version(PolicyArn=arn, VersionId=default["VersionId"])
        if policy_document(current["PolicyVersion"]["Document"]) == document:
            return arn
        if len(versions) >= MAX_POLICY_VERSIONS:
            oldest = min((v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"])
            self.client.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])
        self.client.create_policy_version(PolicyArn=arn, PolicyDocument=compact(document), SetAsDefault=True)
        log.info("updated boundary %s", name)
        return arn

    def written(self) -> list[str]:
        """The keys of every boundary of the stack, the ones an update dropped included."""
        prefix = boundary_policy_name(self.stack_name, "")
        pages = self.client.get_paginator("list_policies").paginate(Scope="Local", PathPrefix=FLOW_ROLE_PATH)
        return [
            policy["PolicyName"].removeprefix(prefix)
            for page in pages
            for policy in page["Policies"]
            if policy["PolicyName"].startswith(prefix)
        ]

    def delete(self, key: str) -> bool:
        """Delete the boundary `key` and its versions; False when a role still has it (IAM refuses:
        the deployer moves the role at its flow's next deployment) or it is gone already."""
        arn = self.arn(key)
        try:
            for version in self.client.list_policy_versions(PolicyArn=arn)["Versions"]:
                if not version["IsDefaultVersion"]:
                    self.client.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
            self.client.delete_policy(PolicyArn=arn)
        except Exception as error:
            if error_code(error) not in ("NoSuchEntity", "DeleteConflict"):
                raise
            log.warning("boundary %s not deleted: %s", arn, error_code(error))
            return False
        return True


def answer(event: Mapping[str, Any], client: IAMClient) -> dict[str, Any]:
    """The custom resource's answer to CloudFormation: the boundaries written (Data: key -> ARN), or
    deleted. Properties: `StackName`, `OperatorPolicyArn`, `Denials` ({key: [Deny statements]})."""
    properties = event["ResourceProperties"]
    stack_id = str(event["StackId"]).split(":")  # arn:<partition>:cloudformation:<region>:<account>:stack/...
    boundaries = FlowBoundaries(client, properties["StackName"], stack_id[1], stack_id[4])
    physical_id = event.get("PhysicalResourceId") or f"{properties['StackName']}-flow-boundaries"
    denials: Mapping[str, Sequence[Mapping[str, Any]]] = properties["Denials"]
    if event["RequestType"] == "Delete":
        # The stack's deletion deletes the flow roles first (housekeeping); a template that drops the
        # operator's boundary leaves roles on these until their flows are deployed again.
        for key in boundaries.written():
            boundaries.delete(key)
        return {"PhysicalResourceId": physical_id}
    operator = boundaries.operator_document(properties["OperatorPolicyArn"])
    documents = {key: compose(operator, statements, key) for key, statements in denials.items()}
    data = {key: boundaries.put(key, document) for key, document in documents.items()}
    # Keys an update dropped (a namespace left the grants): no role may get them any more.
    for key in set(event.get("OldResourceProperties", {}).get("Denials", {})) - set(denials):
        boundaries.delete(key)
    return {"PhysicalResourceId": physical_id, "Data": data}
