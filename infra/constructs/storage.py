"""Where Stratoflow keeps things: the flows bucket, the data bucket and the one DynamoDB table."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stratoflow.storage_layout import SANDBOX_EXPIRY_DAYS, SANDBOX_TAG
from stratoflow.store.s3 import HISTORY_TAG

from ..config import StratoflowProps

# The execution store depends on this exact key schema (stratoflow.store's DynamoDB adapter).
PARTITION_KEY = "pk"
SORT_KEY = "sk"
GLOBAL_INDEXES = {
    "gsi1": ("gsi1pk", "gsi1sk"),
    "gsi2": ("gsi2pk", "gsi2sk"),
    "gsi3": ("gsi3pk", "gsi3sk"),
}
# What listings filter on. Only these (and the keys) are copied into the indexes, so an update of an
# execution that changes none of them (its outputs, labels, an error) does not write the indexes.
# gsi3 (every namespace, by month) holds only what never changes: an execution writes it once.
INDEX_PROJECTIONS = {"gsi1": ("flowId", "state"), "gsi2": ("flowId", "state"), "gsi3": ("namespace",)}
# A fourth index, gsi4 (task runs by parent), was retired: a loop's end reads its children by key. A
# stack that has it loses it on its next deployment (CloudFormation deletes one index in that update;
# DynamoDB allows one index creation or deletion per table update, and this is the only change).
TTL_ATTRIBUTE = "ttl"
# DynamoDB deletes an expired item within days, not at once: an object lives that much longer than
# the records pointing at it, so none still readable points at a deleted object.
HISTORY_MARGIN_DAYS = 2


class Storage(Construct):
    """Flows bucket (uploads deploy flows), data bucket (large outputs, files) and the records table."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StratoflowProps) -> None:
        super().__init__(scope, construct_id)
        self._config = config

        # cdk-nag accepts that this bucket logs nowhere: it is where the other buckets log.
        self.access_logs_bucket = self._bucket(
            "AccessLogsBucket",
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(config.log_retention_days))],
        )
        self.flows_bucket = self._bucket(
            "FlowsBucket",
            versioned=True,  # every uploaded revision of a flow stays recoverable
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="flows-bucket/",
        )
        _send_events_to_eventbridge(self.flows_bucket)
        self.data_bucket = self._bucket(
            "DataBucket",
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="data-bucket/",
            lifecycle_rules=[
                # Objects of executions only (tagged by S3BlobStore): namespace files never expire.
                # They outlive the records that point at them (DynamoDB TTL, `dataRetentionDays`) by
                # HISTORY_MARGIN_DAYS, the time DynamoDB may take to delete an expired record.
                s3.LifecycleRule(
                    id="ExecutionData",
                    expiration=Duration.days(config.data_retention_days + HISTORY_MARGIN_DAYS),
                    tag_filters=dict([HISTORY_TAG]),
                ),
                # A script sandbox's hand-over (`cloud.runtime.script_sandbox`): the runner deletes by
                # name what it knows of; what a script posted unreported, or a failed delete left,
                # expires by the tag every such object carries (its POST policy requires it).
                s3.LifecycleRule(
                    id="SandboxHandover",
                    expiration=Duration.days(SANDBOX_EXPIRY_DAYS),
                    tag_filters=dict([SANDBOX_TAG]),
                ),
                s3.LifecycleRule(
                    id="IncompleteUploads", abort_incomplete_multipart_upload_after=Duration.days(1)
                ),
            ],
        )
        self.table = self._table()

    def _bucket(self, construct_id: str, **props: Any) -> s3.Bucket:
        destroy = self._config.destroy_on_delete
        return s3.Bucket(
            self,
            construct_id,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            removal_policy=self._config.removal_policy,
            auto_delete_objects=destroy,  # a bucket that still holds objects cannot be deleted
            **props,
        )

    def _table(self) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=TTL_ATTRIBUTE,
            removal_policy=self._config.removal_policy,
            deletion_protection=not self._config.destroy_on_delete,
        )
        for index_name, (partition, sort) in GLOBAL_INDEXES.items():
            table.add_global_secondary_index(
                index_name=index_name,
                partition_key=dynamodb.Attribute(name=partition, type=dynamodb.AttributeType.STRING),
                sort_key=dynamodb.Attribute(name=sort, type=dynamodb.AttributeType.STRING),
                projection_type=dynamodb.ProjectionType.INCLUDE,
                non_key_attributes=list(INDEX_PROJECTIONS[index_name]),
            )
        return table


def _send_events_to_eventbridge(bucket: s3.Bucket) -> None:
    """Turn on EventBridge notifications ("Object Created/Deleted" start the deployer).

    Set on the CloudFormation bucket itself rather than with `event_bridge_enabled=True`, which CDK
    implements with a custom-resource Lambda function (and its managed-policy role) for a setting
    that CloudFormation supports natively.
    """
    resource = bucket.node.default_child
    assert isinstance(resource, s3.CfnBucket)
    resource.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
        event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True)
    )
