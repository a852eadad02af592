"""Acknowledgements of the wildcards that CDK's own `grant_*` methods write, with their reasons.

A grant is the least privilege CDK offers for the access it names; its wildcards are the object
keys of one bucket, the indexes of one table or the versions of one function.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import IConstruct

from stratoflow.storage_layout import FLOW_RECORDS_PREFIX

from .nag import acknowledge, wildcard_actions, wildcard_resource

BUCKET_READ_ACTIONS = ("s3:GetBucket*", "s3:GetObject*", "s3:List*")
BUCKET_WRITE_ACTIONS = ("s3:Abort*", "s3:DeleteObject*")


def grant_table(table: dynamodb.ITable, role: iam.IRole, *, write: bool) -> None:
    if write:
        table.grant_read_write_data(role)
    else:
        table.grant_read_data(role)
    acknowledge(
        role,
        "Access to the table includes its global secondary indexes (gsi1, gsi2), which the store queries.",
        wildcard_resource(role, f"{table.table_arn}/index/*"),
    )


def grant_bucket(bucket: s3.IBucket, role: iam.IRole, *, write: bool) -> None:
    actions = BUCKET_READ_ACTIONS + (BUCKET_WRITE_ACTIONS if write else ())
    if write:
        bucket.grant_read_write(role)
    else:
        bucket.grant_read(role)
    acknowledge(
        role,
        "Objects of the stack's own bucket, keyed by flow and execution ids that exist only at run time.",
        wildcard_resource(role, bucket.arn_for_objects("*")),
        *wildcard_actions(*actions),
    )


def grant_invoke(function: lambda_.IFunction, role: iam.IRole) -> None:
    function.grant_invoke(role)
    acknowledge(
        role,
        "Invoking one function, any of its versions or aliases (the ':*' is the qualifier).",
        wildcard_resource(role, f"{function.function_arn}:*"),
    )


def pass_role(sid: str, role_arns: list[str], service: str) -> iam.PolicyStatement:
    """iam:PassRole on these roles, to one service only (`<service>.amazonaws.com`)."""
    return iam.PolicyStatement(
        sid=sid,
        actions=["iam:PassRole"],
        resources=role_arns,
        conditions={"StringEquals": {"iam:PassedToService": f"{service}.amazonaws.com"}},
    )


def acknowledge_tracing(role: iam.IRole) -> None:
    acknowledge(
        role,
        "X-Ray's PutTraceSegments and PutTelemetryRecords take no resource: active tracing needs '*'.",
        wildcard_resource(role, "*"),
    )


def service_for(scope: IConstruct, service: str, source_arn: str) -> iam.ServicePrincipal:
    """`service` (e.g. "pipes.amazonaws.com") as a role's trusted principal, for the stack's account
    and the resources matching `source_arn` only: no other account's resource can make the service
    act with the role (the confused-deputy guard)."""
    return iam.ServicePrincipal(
        service,
        conditions={
            "StringEquals": {"aws:SourceAccount": Stack.of(scope).account},
            "ArnLike": {"aws:SourceArn": source_arn},
        },
    )


def grant_flow_records(bucket: s3.IBucket, role: iam.IRole, *, write: bool) -> None:
    """The objects of flow records kept in the data bucket (`stratoflow.store.flow_objects`) only."""
    actions = ["s3:GetObject"] + (["s3:PutObject"] if write else [])
    records = bucket.arn_for_objects(f"{FLOW_RECORDS_PREFIX}/*")
    role.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=[records]))
    acknowledge(
        role,
        "Flow records of any flow: their keys hold namespace and flow ids known only at deploy time.",
        wildcard_resource(role, records),
    )
