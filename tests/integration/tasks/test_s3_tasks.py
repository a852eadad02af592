"""S3 tasks on moto, through the real runner: files move between S3 and Stratoflow's storage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from stratoflow.engine import LocalEngine
from stratoflow.execution.admission import execution_input
from stratoflow.local import LocalPlatform
from stratoflow.states import State
from stratoflow.tasks.aws import AwsNotFound
from stratoflow.tasks.errors import TaskStopped
from tests.unit.tasks.task_helpers import (
    RunFlow,
    direct_context,
    flow_source,
    load_task,
    logs_of,
    outputs_of,
    task_run,
)


@pytest.fixture
def s3(aws: None) -> Any:
    client = boto3.client("s3")
    client.create_bucket(Bucket="lake")
    return client


def test_upload_download_list_copy_delete_round_trip(
    run_flow: RunFlow, platform: LocalPlatform, s3: Any
) -> None:
    # Given
    source = flow_source(
        """
        - id: make
          type: scripts.Commands
          commands: ["printf 'id,name\\n1,ada\\n' > people.csv"]
          outputFiles: [people.csv]
        - id: upload
          type: aws.s3.Upload
          bucket: lake
          key: "raw/{{ execution.id }}/people.csv"
          from: "{{ outputs.make.outputFiles['people.csv'] }}"
          contentType: text/csv
          metadata: {source: stratoflow}
        - {id: inline, type: aws.s3.Upload, bucket: lake, key: raw/config.json, content: {limit: 10}}
        - {id: copy, type: aws.s3.Copy, from: {bucket: lake, key: raw/config.json}, to: {key: archive/config.json}}
        - {id: list, type: aws.s3.List, bucket: lake, prefix: raw/, regexp: '\\.csv$'}
        - {id: download, type: aws.s3.Download, bucket: lake, key: "{{ outputs.upload.key }}"}
        - {id: text, type: Return, format: "{{ read(outputs.download.uri) }}"}
        - {id: delete, type: aws.s3.Delete, bucket: lake, key: raw/config.json}
        """
    )

    # When
    outcome = run_flow(source)

    # Then
    assert outcome.execution.state == State.SUCCESS, [(r.task_id, r.error) for r in outcome.task_runs]
    upload = outputs_of(platform, outcome, "upload")
    key = f"raw/{outcome.execution.id}/people.csv"
    assert upload["uri"] == f"s3://lake/{key}" and upload["size"] == 14 and upload["eTag"]
    stored = s3.get_object(Bucket="lake", Key=key)
    assert stored["Body"].read() == b"id,name\n1,ada\n"
    assert stored["ContentType"] == "text/csv" and stored["Metadata"] == {"source": "stratoflow"}
    assert [o["key"] for o in outputs_of(platform, outcome, "list")["objects"]] == [key]
    assert json.loads(s3.get_object(Bucket="lake", Key="archive/config.json")["Body"].read()) == {"limit": 10}
    download = outputs_of(platform, outcome, "download")
    assert download["contentLength"] == 14 and download["contentType"] == "text/csv"
    assert outputs_of(platform, outcome, "text")["value"] == "id,name\n1,ada\n"
    assert "Contents" not in s3.list_objects_v2(Bucket="lake", Prefix="raw/config.json")
    assert any("uploaded 14 bytes" in e.message for e in logs_of(platform, outcome, "upload"))


def test_list_stops_at_max_keys_across_pages(tmp_path: Path, s3: Any) -> None:
    for index in range(7):
        s3.put_object(Bucket="lake", Key=f"p/{index:02d}", Body=b"x")
    task = load_task("{id: l, type: aws.s3.List, bucket: lake, prefix: p/, maxKeys: 5}")

    objects = task.run(direct_context(tmp_path))["objects"]

    assert [o["key"] for o in objects] == ["p/00", "p/01", "p/02", "p/03", "p/04"]
    assert objects[0]["size"] == 1 and objects[0]["uri"] == "s3://lake/p/00"


def test_explicit_credentials_are_rendered_and_used(
    tmp_path: Path, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given
    monkeypatch.setenv("SECRET_AWS_KEY", "AKIAEXAMPLE")
    s3.put_object(Bucket="lake", Key="k", Body=b"x")
    task = load_task(
        "{id: l, type: aws.s3.List, bucket: lake, region: us-east-1, accessKeyId: \"{{ secret('AWS_KEY') }}\", "
        "secretKeyId: example-secret}"
    )
    ctx = direct_context(tmp_path)

    # When
    objects = task.run(ctx)["objects"]

    # Then
    assert [o["key"] for o in objects] == ["k"]
    assert ctx.secrets == {"AKIAEXAMPLE"}


def test_copy_with_delete_moves_the_object(tmp_path: Path, s3: Any) -> None:
    s3.put_object(Bucket="lake", Key="in/a", Body=b"a")
    s3.create_bucket(Bucket="archive")
    task = load_task(
        "{id: c, type: aws.s3.Copy, from: {bucket: lake, key: in/a}, to: {bucket: archive}, delete: true}"
    )

    outputs = task.run(direct_context(tmp_path))

    assert (outputs["bucket"], outputs["key"]) == ("archive", "in/a")
    assert s3.get_object(Bucket="archive", Key="in/a")["Body"].read() == b"a"
    assert "Contents" not in s3.list_objects_v2(Bucket="lake", Prefix="in/")


def test_a_missing_key_is_aws_not_found(tmp_path: Path, s3: Any) -> None:
    task = load_task("{id: d, type: aws.s3.Download, bucket: lake, key: nothing/here}")

    with pytest.raises(AwsNotFound) as caught:
        task.run(direct_context(tmp_path))

    assert caught.value.code == "NoSuchKey"


def test_a_missing_bucket_fails_the_task_run_with_the_typed_error(
    run_flow: RunFlow, platform: LocalPlatform, s3: Any
) -> None:
    # When
    outcome = run_flow(
        flow_source("- {id: up, type: aws.s3.Upload, bucket: no-such-bucket, key: k, content: x}")
    )

    # Then
    run = task_run(outcome, "up")
    assert run.state == State.FAILED and "NoSuchBucket" in (run.error or "")
    assert any(
        e.message.startswith("AwsNotFound: aws.s3.Upload: NoSuchBucket")
        for e in logs_of(platform, outcome, "up")
    )


def test_step_functions_sees_the_family_as_the_error_name(platform: LocalPlatform, s3: Any) -> None:
    # Given
    flow, record = platform.deploy_source(
        flow_source("- {id: up, type: aws.s3.Upload, bucket: no-such-bucket, key: k, content: x}"),
        "flow.yaml",
    )
    execution = platform.admit(flow, record, {})
    definition = platform.definition(execution.namespace, execution.flow_id, execution.revision)
    engine = LocalEngine(definition, platform.resources, platform.clock, record_history=True)

    # When
    result = engine.run(execution_input(execution), name=execution.id)

    # Then: what Retry and Catch match on
    failed = [e for e in result.history if e.type == "TaskFailed"]
    assert [e.details["error"] for e in failed] == ["AwsNotFound"]


def test_upload_from_must_be_a_storage_uri(tmp_path: Path, s3: Any) -> None:
    task = load_task("{id: u, type: aws.s3.Upload, bucket: lake, key: k, from: /etc/passwd}")

    with pytest.raises(Exception, match="must be a storage URI"):
        task.run(direct_context(tmp_path))


def test_an_abandoned_attempt_makes_no_more_aws_calls(tmp_path: Path, aws: None) -> None:
    # Given an S3 task's client, made while its attempt ran
    task = load_task("{id: list, type: aws.s3.List, bucket: data, region: us-east-1}")
    ctx = direct_context(tmp_path)
    client = task.client(ctx)
    client.create_bucket(Bucket="data")

    # When the runner abandons the attempt
    ctx.stop("killed: task 'outer' timed out")

    # Then the task's next call is refused before it is sent
    with pytest.raises(TaskStopped, match="the attempt was abandoned: killed: task 'outer' timed out"):
        client.put_object(Bucket="data", Key="late.txt", Body=b"late")
    assert "Contents" not in boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket="data")


def test_an_upload_with_a_kms_key_writes_the_object_encrypted_with_that_key(
    run_flow: RunFlow, s3: Any
) -> None:
    # Given a customer managed key, and a flow uploading with it
    key = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
    source = flow_source(
        f"""
        - {{id: up, type: aws.s3.Upload, bucket: lake, key: raw/secret.json, content: {{a: 1}}, kmsKeyArn: '{key}'}}
        """
    )

    # When
    outcome = run_flow(source)

    # Then the object is encrypted with that key (the role's boundary lets S3 use it: test_iam_attacks.py)
    assert outcome.execution.state == State.SUCCESS, [(r.task_id, r.error) for r in outcome.task_runs]
    head = s3.head_object(Bucket="lake", Key="raw/secret.json")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == key
