"""`aws.cli.AwsCLI`: the real AWS CLI (the awscli package) run by the task against a moto server on
loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from stratoflow.cloudsim.loopback import loopback_moto
from stratoflow.engine import VirtualClock
from stratoflow.local import LocalPlatform
from stratoflow.states import State
from tests.unit.tasks.task_helpers import flow_source, logs_of, outputs_of, run_on


@pytest.fixture
def moto_server() -> Iterator[str]:
    with loopback_moto() as endpoint:
        yield endpoint


def test_aws_cli_commands_run_with_the_given_keys_region_and_endpoint(
    moto_server: str, tmp_path: Path
) -> None:
    # Given: Kestra's AwsCLI shape, keys given on the task
    platform = LocalPlatform(tmp_path / "home", clock=VirtualClock())
    source = flow_source(
        f"""
        - id: cli
          type: io.kestra.plugin.aws.cli.AwsCLI
          region: eu-west-1
          endpointOverride: "{moto_server}"
          accessKeyId: AKIAEXAMPLE
          secretKeyId: example-secret
          commands:
            - aws s3 mb s3://cli-bucket
            - echo "hello" > note.txt
            - aws s3 cp note.txt s3://cli-bucket/notes/note.txt
            - aws s3api list-objects-v2 --bucket cli-bucket --query 'Contents[].Key' --output text
            - echo "region=$AWS_DEFAULT_REGION"
        """
    )

    # When
    try:
        outcome = run_on(platform, source)
        logs = [entry.message for entry in logs_of(platform, outcome, "cli")]
        outputs = outputs_of(platform, outcome, "cli")
    finally:
        platform.close()

    # Then: the object is in the (moto) bucket, put there by the CLI
    assert outcome.execution.state == State.SUCCESS, [(r.task_id, r.error) for r in outcome.task_runs]
    assert "notes/note.txt" in logs
    assert "region=eu-west-1" in logs and outputs["exitCode"] == 0
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_server,
        region_name="eu-west-1",
        aws_access_key_id="AKIAEXAMPLE",
        aws_secret_access_key="example-secret",
    )
    assert s3.get_object(Bucket="cli-bucket", Key="notes/note.txt")["Body"].read() == b"hello\n"


def test_a_failing_aws_command_fails_the_task_with_the_clis_error(moto_server: str, tmp_path: Path) -> None:
    # Given
    platform = LocalPlatform(tmp_path / "home", clock=VirtualClock())
    source = flow_source(
        f"""
        - id: cli
          type: aws.cli.AwsCLI
          region: us-east-1
          endpointOverride: "{moto_server}"
          accessKeyId: AKIAEXAMPLE
          secretKeyId: example-secret
          commands: [aws s3 ls s3://no-such-bucket]
        """
    )

    # When
    try:
        outcome = run_on(platform, source)
    finally:
        platform.close()

    # Then
    assert outcome.execution.state == State.FAILED
    assert "NoSuchBucket" in (outcome.task_runs[-1].error or "")
