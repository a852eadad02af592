"""The platform's settings: the construct's props, and the same settings read from CDK context
(defaults, values from the command line, and clear errors naming the prop or the context key)."""

from __future__ import annotations

import pytest
from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from stratoflow._platform.infra.config import CONTEXT_KEYS, StackConfig

from stratoflow.cdk import ConfigError, StratoflowProps


def test_defaults() -> None:
    config = StackConfig.from_mapping({})

    assert config == StackConfig(
        stack_name="Stratoflow",
        props=StratoflowProps(
            removal_policy=RemovalPolicy.RETAIN,
            data_retention_days=30,
            log_retention_days=30,
            alert_email=None,
            log_level="INFO",
            reserved_concurrency={},
            console=True,
        ),
    )
    assert config.props.log_retention == logs.RetentionDays.ONE_MONTH
    assert not config.props.destroy_on_delete


def test_command_line_strings_are_accepted() -> None:
    # Given `cdk deploy -c key=value`, which passes every value as a string
    config = StackConfig.from_mapping(
        {
            "stackName": "StratoDev",
            "removalPolicy": "DESTROY",
            "dataRetentionDays": "7",
            "logRetentionDays": "90",
            "alertEmail": " ops@example.com ",
            "logLevel": "debug",
            "webhookConcurrency": "0",
            "reservedConcurrency": '{"task_runner": 50}',
            "namespaceGrants": '{"team.a": ["arn:aws:s3:::team-a-*"]}',
            "console": "false",
        }
    )

    # Then each becomes the typed prop
    props = config.props
    assert config.stack_name == "StratoDev"
    assert props.destroy_on_delete
    assert props.data_retention_days == 7
    assert props.log_retention == logs.RetentionDays.THREE_MONTHS
    assert props.alert_email == "ops@example.com"
    assert props.log_level == "DEBUG"
    assert props.webhook_concurrency == 0
    assert props.reserved_concurrency == {"task_runner": 50}
    assert props.namespace_grants == {"team.a": ["arn:aws:s3:::team-a-*"]}
    assert props.console is False


def test_every_prop_has_a_context_key() -> None:
    assert set(CONTEXT_KEYS) == set(StratoflowProps.__dataclass_fields__)


def test_empty_alert_email_means_none() -> None:
    assert StackConfig.from_mapping({"alertEmail": ""}).props.alert_email is None


def test_props_keep_their_own_copy_of_a_callers_mapping() -> None:
    # Given a dict the caller changes after building the props
    reserved = {"task_runner": 50}
    props = StratoflowProps(reserved_concurrency=reserved)

    # When
    reserved["deployer"] = 5

    # Then
    assert props.reserved_concurrency == {"task_runner": 50}


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"stackName": "Stratoflow-dev"}, "stackName 'Stratoflow-dev'"),
        ({"stackName": "9lives"}, "starting with a letter"),
        ({"removalPolicy": "snapshot"}, "removalPolicy 'snapshot'"),
        ({"logRetentionDays": 31}, "logRetentionDays 31: CloudWatch Logs accepts 1, 3, 5"),
        ({"dataRetentionDays": "a month"}, "dataRetentionDays 'a month': expected a whole number"),
        ({"dataRetentionDays": 0}, "dataRetentionDays 0: expected at least 1 day"),
        ({"dataRetentionDays": True}, "dataRetentionDays True"),
        ({"alertEmail": "ops"}, "alertEmail 'ops' is not an e-mail address"),
        ({"logLevel": "LOUD"}, "logLevel 'LOUD'"),
        ({"webhookConcurrency": "-1"}, "webhookConcurrency -1: expected a whole number from 0 to 1000"),
        ({"webhookConcurrency": 5000}, "webhookConcurrency 5000"),
        ({"namespaceGrants": "{"}, "namespaceGrants '{': expected JSON"),
        ({"namespaceGrants": {"team": ["s3://bucket"]}}, "namespaceGrants: expected"),
        ({"reservedConcurrency": {"runner": 5}}, "reservedConcurrency: unknown function 'runner'"),
        ({"reservedConcurrency": {"task_runner": 0}}, "reservedConcurrency.task_runner 0"),
        ({"reservedConcurrency": "fifty"}, "reservedConcurrency 'fifty': expected JSON"),
        ({"console": "maybe"}, "console 'maybe': expected True or False"),
    ],
)
def test_bad_context_values_are_refused_naming_the_key(context: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        StackConfig.from_mapping(context)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"alert_email": "ops"}, "alert_email 'ops' is not an e-mail address"),
        ({"data_retention_days": "30"}, "data_retention_days '30': expected a whole number of days"),
        ({"log_retention_days": 31}, "log_retention_days 31: CloudWatch Logs accepts"),
        ({"removal_policy": RemovalPolicy.SNAPSHOT}, "removal_policy .*: expected RETAIN or DESTROY"),
        ({"reserved_concurrency": {"runner": 5}}, "reserved_concurrency: unknown function 'runner'"),
        ({"namespace_grants": {"team": "arn:aws:s3:::x"}}, "namespace_grants: expected"),
        ({"webhook_concurrency": 1001}, "webhook_concurrency 1001"),
    ],
)
def test_bad_props_are_refused_naming_the_prop(props: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        StratoflowProps(**props)  # type: ignore[arg-type]
