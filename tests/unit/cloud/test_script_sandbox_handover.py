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
    """S3 as the runner uses it; it has no listing: the runner must know what it deletes."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.tags: dict[str, str] = {}
        self.deleted: list[str] = []
        self.delete_requests = 0
        self.requests: list[str] = []  # every request sent to S3 (presigning sends none)

    def put_object(self, Bucket: str, Key: str, Body: bytes, Tagging: str = "", **_: Any) -> None:
        self.requests.append("PutObject")
        self.objects[Key], self.tags[Key] = Body, Tagging

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        self.requests.append("GetObject")
        return {"Body": io.BytesIO(self.objects[Key])}

    def generate_presigned_url(self, operation: str, Params: dict[str, str], ExpiresIn: int) -> str:
        return f"https://s3.test/{Params['Key']}?signed"

    def generate_presigned_post(
        self, Bucket: str, Key: str, Fields: dict[str, str], Conditions: list[Any], ExpiresIn: int
    ) -> dict[str, Any]:
        self.conditions = Conditions
        fields = {**Fields, "key": Key, "policy": "p", "x-amz-signature": "s"}
        return {"url": "https://s3.test/", "fields": fields}

    def delete_objects(self, Bucket: str, Delete: dict[str, Any]) -> dict[str, Any]:
        self.delete_requests += 1
        self.requests.append("DeleteObjects")
        assert len(Delete["Objects"]) <= 1000, "S3 takes at most 1000 keys per DeleteObjects"
        for item in Delete["Objects"]:
            self.deleted.append(item["Key"])
            self.objects.pop(item["Key"], None)
        return {}


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
    assert s3.tags[f"{prefix}in/1"] == "stratoflow=sandbox"  # expires, should the delete fail


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


PREFIX = "team.app/etl/executions/exec1/run1/sandbox/2/"


def test_what_the_answer_reports_under_the_runs_uploads_is_deleted_by_name_after_the_run() -> None:
    # Given a sandbox that posted a large output file, a shared working directory's file and its
    # whole answer under the run's uploads
    s3 = FakeS3()
    posted = {f"{PREFIX}out/files/7-out.csv": b"o" * 10, f"{PREFIX}out/files/6-w.bin": b"w" * 10}
    s3.objects.update(posted)
    files = [HandedFile(path="out.csv", size=10, key=f"{PREFIX}out/files/7-out.csv")]
    workdir = [HandedFile(path="w.bin", size=10, key=f"{PREFIX}out/files/6-w.bin")]
    answer_key = f"{PREFIX}out/answer.json"
    s3.objects[answer_key] = (
        ScriptAnswer(exit_code=0, files=files, workdir=workdir).model_dump_json().encode()
    )
    reply = SandboxReply(answer_key=answer_key).model_dump(mode="json", exclude_none=True)

    # When the runner takes the answer
    taken = sandbox(FakeLambda(reply=reply), s3).run(job())

    # Then it has the files' bytes, and deleted exactly what was reported, in one request
    assert [f.content() for f in taken.files] == [b"o" * 10]
    assert taken.workdir is not None and [f.content() for f in taken.workdir] == [b"w" * 10]
    assert sorted(s3.deleted) == sorted([answer_key, *posted])
    assert s3.delete_requests == 1 and not s3.objects


def test_a_run_whose_files_all_travel_inline_makes_no_storage_request() -> None:
    # Given a script whose input, output file and answer all travel inline
    s3 = FakeS3()
    small = HandedFile.inline("/tmp/stratoflow-x/a", b"a")
    # When it runs
    sandbox(FakeLambda(reply=answer(files=[HandedFile.inline("o.txt", b"o")])), s3).run(job(small))
    # Then the runner sent S3 nothing: no put, no read, no delete, and no listing (the fake has none)
    assert s3.requests == []


def test_an_answer_naming_another_runs_object_never_gets_it_deleted() -> None:
    # Given a sandbox that names another execution's object as its output file
    s3 = FakeS3()
    theirs = "team.other/x/executions/e/r/sandbox/1/out/answer.json"
    s3.objects[theirs] = b"theirs"
    stolen = HandedFile(path="out.csv", size=6, key=theirs)
    # When the runner refuses the answer
    with pytest.raises(TaskFailed, match="outside the task run's own uploads"):
        sandbox(FakeLambda(reply=answer(files=[stolen])), s3).run(job())
    # Then the object is still there: the runner deletes only under its own run's uploads
    assert s3.objects == {theirs: b"theirs"} and s3.deleted == []


def test_more_handed_back_files_than_one_delete_takes_are_deleted_in_batches() -> None:
    # Given a shared working directory of 1,001 large files, each posted under the run's uploads
    s3 = FakeS3()
    workdir = []
    for number in range(1001):
        key = f"{PREFIX}out/files/{number}"
        s3.objects[key] = b"x"
        workdir.append(HandedFile(path=f"f{number}", size=1, key=key))
    # When the runner takes them
    sandbox(FakeLambda(reply=answer(workdir=workdir)), s3).run(job())
    # Then all were deleted, in two requests
    assert s3.delete_requests == 2 and not s3.objects


def test_the_upload_requires_the_tag_that_the_bucket_expires() -> None:
    # Given a job handed over
    s3, lambda_client = FakeS3(), FakeLambda(reply=answer())
    # When the runner signs the sandbox's upload
    sandbox(lambda_client, s3).run(job())
    # Then the POST policy requires the `tagging` field with the sandbox tag (S3 refuses a form that
    # lacks a field its policy names, or that has another value), and the sandbox is given the field
    xml = "<Tagging><TagSet><Tag><Key>stratoflow</Key><Value>sandbox</Value></Tag></TagSet></Tagging>"
    assert {"tagging": xml} in s3.conditions
    (request,) = lambda_client.requests
    assert request["job"]["upload"]["fields"]["tagging"] == xml
