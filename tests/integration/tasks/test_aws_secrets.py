"""Secrets in the cloud: Secrets Manager first, then SSM Parameter Store, nearest namespace first."""

from __future__ import annotations

import uuid
from pathlib import Path

import boto3
import pytest

from stratoflow.cloud.config.secrets import AwsSecrets
from stratoflow.execution.secrets import SecretNotFound, SecretUnavailable
from tests.unit.tasks.task_helpers import direct_context


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def stored(aws: None) -> None:
    secrets = boto3.client("secretsmanager")
    secrets.create_secret(Name="stratoflow/company.team/DB_PASSWORD", SecretString="team-pw")
    secrets.create_secret(Name="stratoflow/company/DB_PASSWORD", SecretString="company-pw")
    secrets.create_secret(Name="stratoflow/company/BLOB", SecretBinary=b"bin-value")
    boto3.client("ssm").put_parameter(
        Name="/stratoflow/company/API_KEY", Value="ssm-key", Type="SecureString"
    )


def test_secrets_manager_then_parameter_store_nearest_namespace_first(stored: None) -> None:
    source = AwsSecrets()

    assert source.get("company.team.etl", "DB_PASSWORD") == "team-pw"
    assert source.get("company.other", "DB_PASSWORD") == "company-pw"
    assert source.get("company.team", "API_KEY") == "ssm-key"
    assert source.get("company", "BLOB") == "bin-value"
    with pytest.raises(SecretNotFound, match="stratoflow/<namespace>/NOPE"):
        source.get("company.team", "NOPE")


def test_values_are_cached_for_a_while(stored: None) -> None:
    # Given
    clock = Clock()
    source = AwsSecrets(cache_seconds=60, clock=clock)
    assert source.get("company", "DB_PASSWORD") == "company-pw"
    boto3.client("secretsmanager").put_secret_value(
        SecretId="stratoflow/company/DB_PASSWORD", SecretString="rotated"
    )

    # Then
    clock.now = 59
    assert source.get("company", "DB_PASSWORD") == "company-pw"
    clock.now = 61
    assert source.get("company", "DB_PASSWORD") == "rotated"


def test_an_error_other_than_not_found_is_reported(aws: None) -> None:
    class Refusing:
        def get_secret_value(self, **_: str) -> None:
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetSecretValue")

    with pytest.raises(SecretUnavailable, match="AccessDeniedException"):
        AwsSecrets(secretsmanager=Refusing()).get("ns", "X")


def test_a_task_run_reads_cloud_secrets_when_the_backend_is_aws(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: a prefix of this test's own (the process keeps one cached source per prefix)
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    boto3.client("secretsmanager").create_secret(Name=f"{prefix}/company/DB_PASSWORD", SecretString="pw-1")
    monkeypatch.setenv("STRATOFLOW_SECRETS_BACKEND", "aws")
    monkeypatch.setenv("STRATOFLOW_SECRETS_PREFIX", prefix)
    ctx = direct_context(tmp_path, namespace="company.team")

    # When
    ctx.log("INFO", ctx.render("password is {{ secret('DB_PASSWORD') }}"))

    # Then
    assert [e.message for e in ctx.logs] == ["password is ******"]
