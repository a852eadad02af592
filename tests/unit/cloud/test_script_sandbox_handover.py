"""The task runner's side of a sandbox run, with fake Lambda and S3 clients: what it hands over, and
what it refuses to believe from the answer."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from stratoflow.cloud.runtime.script_sandbox import LambdaScriptSandboxes, SandboxMissing
from stratoflow.sandbox_call import INLINE_FILE_BYTES, HandedFile, SandboxReply, ScriptAnswer, ScriptJob
from stratoflow.tasks.errors import TaskFailed


class FakeError(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.response = {"Error": {"Code": code}}


class FakeS3:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.deleted: list[str] = []

    def put_object(self, Bucket: str, Key: str, Body: bytes, **_: Any) -> None:
        self.objects[Key] = Body

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        return {"Body": io.BytesIO(self.objects[Key])}

    def generate_presigned_url(self, operation: str, Params: dict[str, str], ExpiresIn: int) -> str:
        return f"https://s3.test/{Params['Key']}?signed"

    def generate_presigned_post(
        self, Bucket: str, Key: str, Conditions: list[Any], ExpiresIn: int
    ) -> dict[str, Any]:
        self.conditions = Conditions
        return {"url": "https://s3.test/", "fields": {"key": Key, "policy": "p", "x-amz-signature": "s"}}

    def get_paginator(self, name: str) -> Any:
        s3 = self

        class Pages:
            def paginate(self, Bucket: str, Prefix: str) -> list[dict[str, Any]]:
                return [{"Contents": [{"Key": key} for key in s3.objects if key.startswith(Prefix)]}]

        return Pages()

    def delete_objects(self, Bucket: str, Delete: dict[str, Any]) -> None:
        for item in Delete["Objects"]:
            self.deleted.append(item["Key"])
            self.objects.pop(item["Key"], None)


class FakeLambda:
    def __init__(self, reply: Any = None, error: str | None = None, function_error: bool = False):
        self.reply, self.error, self.function_error = reply, error, function_error
        self.requests: list[dict[str, Any]] = []

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        self.requests.append({"name": FunctionName, "job": json.loads(Payload)})
        if self.error:
            raise FakeError(self.error)
        response: dict[str, Any] = {"Payload": io.BytesIO(json.dumps(self.reply).encode())}
        if self.function_error:
            response["FunctionError"] = "Unhandled"
        return response


def sandbox(lambda_client: FakeLambda, s3: FakeS3) -> Any:
    sandboxes = LambdaScriptSandboxes(lambda_client, s3, "data", "Stack")
    return sandboxes.for_task_run("team.app", "etl", "exec1", "run1", 2)


def job(*files: HandedFile) -> ScriptJob:
    return ScriptJob(
        folders=["/tmp/stratoflow-x"],
        cwd="/tmp/stratoflow-x/work",
        argv=["/bin/sh", "-c", "true"],
        env={},
        files=list(files),
        whole_line_limit=1024,
    )


def answer(**fields: Any) -> dict[str, Any]:
    return SandboxReply(answer=ScriptAnswer(exit_code=0, **fields)).model_dump(mode="json", exclude_none=True)


def test_large_inputs_go_by_presigned_url_under_the_task_runs_prefix_and_are_deleted_after() -> None:
    # Given a job with a small and a large file
    s3, lambda_client = FakeS3(), FakeLambda(reply=answer())
    small = HandedFile.inline("/tmp/stratoflow-x/a", b"a")
    large = HandedFile.inline("/tmp/stratoflow-x/b", b"b" * (INLINE_FILE_BYTES + 1))
    # When it runs
    sandbox(lambda_client, s3).run(job(small, large))
    # Then the small one went inline, the large one by URL under the run's own prefix, since deleted
    (request,) = lambda_client.requests
    prefix = "team.app/etl/executions/exec1/run1/sandbox/2/"
    assert request["name"].startswith("Stack-sbx-")
    sent = {file["path"]: file for file in request["job"]["files"]}
    assert sent["/tmp/stratoflow-x/a"]["data"] and "url" not in sent["/tmp/stratoflow-x/a"]
    assert sent["/tmp/stratoflow-x/b"]["url"] == f"https://s3.test/{prefix}in/1?signed"
    assert "data" not in sent["/tmp/stratoflow-x/b"]
    upload = request["job"]["upload"]
    assert upload["prefix"] == f"{prefix}out/" and "key" not in upload["fields"]
    assert ["starts-with", "$key", f"{prefix}out/"] in s3.conditions
    assert s3.deleted == [f"{prefix}in/1"] and not s3.objects


def test_an_answer_naming_a_key_outside_the_runs_uploads_is_refused() -> None:
    # Given a sandbox that answers with another execution's object as its output file
    s3 = FakeS3()
    s3.objects["team.other/x/executions/e/secret.csv"] = b"theirs"
    stolen = HandedFile(path="out.csv", size=6, key="team.other/x/executions/e/secret.csv")
    # When the runner takes the answer
    # Then it refuses it, naming the key
    with pytest.raises(TaskFailed, match="outside the task run's own uploads"):
        sandbox(FakeLambda(reply=answer(files=[stolen])), s3).run(job())


def test_an_answer_uploaded_whole_is_read_back_from_the_runs_own_prefix() -> None:
    # Given a sandbox whose answer was too large to return, posted under the run's uploads
    s3 = FakeS3()
    key = "team.app/etl/executions/exec1/run1/sandbox/2/out/answer.json"
    s3.objects[key] = ScriptAnswer(exit_code=3, lines=[("stdout", "x" * 10)]).model_dump_json().encode()
    reply = SandboxReply(answer_key=key).model_dump(mode="json", exclude_none=True)
    # When the runner takes it
    taken = sandbox(FakeLambda(reply=reply), s3).run(job())
    # Then it is the posted answer
    assert taken.exit_code == 3 and taken.lines == [("stdout", "x" * 10)]


def test_a_flow_without_its_sandbox_fails_the_task_naming_the_function() -> None:
    # Given a flow deployed before sandboxes existed
    # When a script task runs
    # Then it fails, and nothing ran in the runner instead
    with pytest.raises(SandboxMissing, match=r"Stack-sbx-\w+ does not exist: upload the flow again"):
        sandbox(FakeLambda(error="ResourceNotFoundException"), FakeS3()).run(job())


def test_a_crashed_sandbox_is_a_failed_task_with_its_error() -> None:
    # Given a sandbox function that failed (Lambda's error document)
    failed = FakeLambda(
        reply={"errorType": "Runtime.OutOfMemory", "errorMessage": "out of memory"}, function_error=True
    )
    # When it is invoked, Then the task fails naming it
    with pytest.raises(TaskFailed, match=r"Runtime\.OutOfMemory: out of memory"):
        sandbox(failed, FakeS3()).run(job())


def test_a_command_too_large_to_hand_over_fails_naming_the_limit() -> None:
    # Given a command of 6 MB
    huge = job().model_copy(update={"argv": ["/bin/sh", "-c", "x" * (6 * 1024**2)]})
    # When it is handed over, Then the task fails naming the size and the limit
    with pytest.raises(TaskFailed, match="a sandbox takes 5242880 inline"):
        sandbox(FakeLambda(reply=answer()), FakeS3()).run(huge)
