"""Context options: defaults, values from the command line, and clear errors."""

from __future__ import annotations

import pytest
from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

from infra.config import ConfigError, StackConfig


def test_defaults() -> None:
    config = StackConfig.from_mapping({})

    assert config == StackConfig(
        stack_name="Stratoflow",
        removal_policy=RemovalPolicy.RETAIN,
        data_retention_days=30,
        log_retention_days=30,
        alert_email=None,
        log_level="INFO",
    )
    assert config.log_retention == logs.RetentionDays.ONE_MONTH
    assert not config.destroy_on_delete


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
        }
    )

    assert config.stack_name == "StratoDev"
    assert config.destroy_on_delete
    assert config.data_retention_days == 7
    assert config.log_retention == logs.RetentionDays.THREE_MONTHS
    assert config.alert_email == "ops@example.com"
    assert config.log_level == "DEBUG"


def test_empty_alert_email_means_none() -> None:
    assert StackConfig.from_mapping({"alertEmail": ""}).alert_email is None


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
        ({"webhookConcurrency": "-1"}, "webhookConcurrency '-1': expected a whole number from 0 to 1000"),
        ({"webhookConcurrency": 5000}, "webhookConcurrency 5000"),
        ({"namespaceGrants": "{"}, "namespaceGrants '{': not JSON"),
        ({"namespaceGrants": {"team": ["s3://bucket"]}}, "namespaceGrants: expected"),
        ({"reservedConcurrency": {"runner": 5}}, "reservedConcurrency: unknown function 'runner'"),
        ({"reservedConcurrency": {"task_runner": 0}}, "reservedConcurrency.task_runner 0"),
        ({"reservedConcurrency": "fifty"}, "reservedConcurrency 'fifty': expected JSON"),
    ],
)
def test_bad_values_are_refused_naming_the_key(context: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        StackConfig.from_mapping(context)
