"""Buckets and the table: protections, key schema, retention and removal."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match
from infra_synth import Synthesized
from stratoflow._platform.infra.constructs.storage import HISTORY_MARGIN_DAYS


def _bucket(synth: Synthesized, name: str) -> dict[str, Any]:
    return synth.resource(getattr(synth.platform.storage, name))


def _denies_insecure_transport(synth: Synthesized, bucket: Any) -> bool:
    bucket_ref = {"Ref": synth.logical_id(bucket)}
    for policy in synth.resources("AWS::S3::BucketPolicy").values():
        if policy["Properties"]["Bucket"] != bucket_ref:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement.get("Condition") == {
                "Bool": {"aws:SecureTransport": "false"}
            }:
                return True
    return False


def test_every_bucket_is_encrypted_private_and_tls_only(synth: Synthesized) -> None:
    storage = synth.platform.storage
    for bucket in (storage.flows_bucket, storage.data_bucket, storage.access_logs_bucket):
        properties = synth.resource(bucket)["Properties"]
        assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
        ]
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert _denies_insecure_transport(synth, bucket), bucket.node.path


def test_flows_bucket_is_versioned_and_sends_events_to_eventbridge(synth: Synthesized) -> None:
    properties = _bucket(synth, "flows_bucket")["Properties"]

    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert properties["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    # Set natively: no custom-resource Lambda function for bucket notifications.
    assert not synth.resources("Custom::S3BucketNotifications")


def test_flows_and_data_buckets_log_access_to_the_logs_bucket(synth: Synthesized) -> None:
    logs_bucket = {"Ref": synth.logical_id(synth.platform.storage.access_logs_bucket)}
    for name in ("flows_bucket", "data_bucket"):
        logging = _bucket(synth, name)["Properties"]["LoggingConfiguration"]
        assert logging["DestinationBucketName"] == logs_bucket
        assert logging["LogFilePrefix"]


def test_execution_data_expires_after_the_retention_and_namespace_files_never(
    synth: Synthesized, custom_synth: Synthesized
) -> None:
    # Given the default context (30 days) and a custom one (7 days)
    for synthesized, days in ((synth, 30), (custom_synth, 7)):
        rules = _bucket(synthesized, "data_bucket")["Properties"]["LifecycleConfiguration"]["Rules"]
        by_id = {rule["Id"]: rule for rule in rules}
        # Then only objects tagged as execution data expire (the blob store tags all but namespace
        # files), a margin after the records that point at them (DynamoDB TTL of `days`), and the
        # script sandboxes' hand-over objects (a tag of their own, test below)
        expiring = [rule for rule in rules if "ExpirationInDays" in rule]
        assert expiring == [by_id["ExecutionData"], by_id["SandboxHandover"]]
        assert by_id["ExecutionData"]["ExpirationInDays"] == days + HISTORY_MARGIN_DAYS
        assert by_id["ExecutionData"]["TagFilters"] == [{"Key": "stratoflow", "Value": "history"}]
        assert "Prefix" not in by_id["ExecutionData"]
        assert by_id["IncompleteUploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
        assert all(rule["Status"] == "Enabled" for rule in rules)
        # ... and the functions write records with a TTL of the same setting
        runner = synthesized.environment(synthesized.platform.functions.task_runner)
        assert runner["STRATOFLOW_HISTORY_DAYS"] == str(days)


def test_a_sandboxs_hand_over_objects_expire_a_day_after_they_were_written(synth: Synthesized) -> None:
    # Given the data bucket's lifecycle
    rules = _bucket(synth, "data_bucket")["Properties"]["LifecycleConfiguration"]["Rules"]
    (rule,) = [rule for rule in rules if rule["Id"] == "SandboxHandover"]
    # Then every object tagged as a sandbox's hand-over (the tag the runner writes and the upload's
    # POST policy requires: what a script posted without reporting it) expires a day later, wherever
    # it is in the bucket (a sandbox folder is deep inside an execution's keys: no prefix filter)
    assert rule["TagFilters"] == [{"Key": "stratoflow", "Value": "sandbox"}]
    assert rule["ExpirationInDays"] == 1 and rule["Status"] == "Enabled"
    assert "Prefix" not in rule


def test_table_key_schema_is_the_one_the_store_uses(synth: Synthesized) -> None:
    synth.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": Match.array_equals(
                [
                    {"AttributeName": name, "AttributeType": "S"}
                    for name in (*("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk"),)
                ]
            ),
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": f"gsi{n}",
                    "KeySchema": [
                        {"AttributeName": f"gsi{n}pk", "KeyType": "HASH"},
                        {"AttributeName": f"gsi{n}sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": projection},
                }
                # gsi4 (task runs by parent) is retired: a stack that has it loses it in one update
                for n, projection in ((1, ["flowId", "state"]), (2, ["flowId", "state"]), (3, ["namespace"]))
            ],
            "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
        },
    )
    synth.template.resource_count_is("AWS::DynamoDB::Table", 1)


def test_data_is_retained_by_default(synth: Synthesized) -> None:
    storage = synth.platform.storage
    for construct in (storage.table, storage.flows_bucket, storage.data_bucket, storage.access_logs_bucket):
        resource = synth.resource(construct)
        assert resource["DeletionPolicy"] == "Retain", construct.node.path
        assert resource["UpdateReplacePolicy"] == "Retain", construct.node.path
    assert synth.resource(storage.table)["Properties"]["DeletionProtectionEnabled"] is True
    assert not synth.resources("Custom::S3AutoDeleteObjects")


def test_destroy_context_lets_a_dev_stack_be_deleted(custom_synth: Synthesized) -> None:
    # Given removalPolicy=destroy
    storage = custom_synth.platform.storage
    # Then the table and buckets are deleted with the stack, buckets emptied first
    for construct in (storage.table, storage.flows_bucket, storage.data_bucket):
        assert custom_synth.resource(construct)["DeletionPolicy"] == "Delete", construct.node.path
    assert custom_synth.resource(storage.table)["Properties"]["DeletionProtectionEnabled"] is False
    # The three buckets of Storage and the console's pages bucket.
    assert len(custom_synth.resources("Custom::S3AutoDeleteObjects")) == 4


def test_what_holds_no_data_is_always_removed_with_the_stack(synth: Synthesized) -> None:
    # A retained schedule group would keep firing at deleted functions; a retained key would bill.
    platform = synth.platform
    for construct in (platform.triggers.schedule_group, platform.alerts.key, platform.functions.layer):
        assert synth.resource(construct)["DeletionPolicy"] == "Delete", construct.node.path
